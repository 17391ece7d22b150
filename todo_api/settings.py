"""The one settings object, read from the environment once at start."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MIN_JWT_SECRET_BYTES = 32


class SettingsError(Exception):
    """The environment cannot make a safe configuration; the message says why, in one line."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    jwt_secret: str
    access_token_ttl_seconds: int = 3600
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)
    host: str = "0.0.0.0"  # noqa: S104 - a service in a container listens on every interface
    port: int = 8000
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_connect_timeout: float = 30.0  # how long start-up waits for the database
    db_request_timeout: float = 3.0  # how long a request waits for a connection before 503
    db_command_timeout: float = 5.0
    db_statement_cache: bool | None = None
    bcrypt_rounds: int = 12
    bcrypt_concurrency: int = max(1, (os.cpu_count() or 2) - 1)
    bcrypt_wait_seconds: float = 5.0  # how long a login waits for a hashing slot before 429
    migrate_on_start: bool = True
    log_format: str = "text"
    log_level: str = "info"
    workers: int = 1

    @property
    def embedded(self) -> bool:
        return self.database_url is None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(env: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    raw = env.get(name, "").strip().lower()
    if not raw or raw == "auto":
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _dev_secret(data_dir: Path) -> str:
    """A development secret made once and kept in the data folder, so tokens survive restarts."""
    path = data_dir / "jwt-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the environment into Settings, or raise SettingsError with a one-line reason."""
    env = os.environ if env is None else env
    database_url = env.get("DATABASE_URL", "").strip() or None
    data_dir = Path(env.get("TODO_DATA_DIR", "").strip() or ".todo-data").resolve()
    jwt_secret = env.get("JWT_SECRET", "")
    if database_url is not None:
        if not jwt_secret:
            raise SettingsError("JWT_SECRET is required when DATABASE_URL is set")
        if len(jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise SettingsError(f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes")
    elif not jwt_secret:
        jwt_secret = _dev_secret(data_dir)
    origins = tuple(
        o.strip().rstrip("/") for o in env.get("CORS_ORIGINS", "http://localhost:3000").split(",")
    )
    pool_min = _int(env, "DB_POOL_MIN", 1, 0, 1000)
    pool_max = _int(env, "DB_POOL_MAX", 10, 1, 1000)
    if pool_min > pool_max:
        raise SettingsError(f"DB_POOL_MIN ({pool_min}) is larger than DB_POOL_MAX ({pool_max})")
    log_format = env.get("LOG_FORMAT", "text").strip().lower() or "text"
    if log_format not in {"text", "json"}:
        raise SettingsError(f"LOG_FORMAT must be text or json, got {log_format!r}")
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        jwt_secret=jwt_secret,
        access_token_ttl_seconds=_int(env, "ACCESS_TOKEN_TTL_SECONDS", 3600, 1, 31 * 86400),
        cors_origins=tuple(o for o in origins if o),
        host=env.get("HOST", "").strip() or "0.0.0.0",  # noqa: S104
        port=_int(env, "PORT", 8000, 0, 65535),
        db_pool_min=pool_min,
        db_pool_max=pool_max,
        db_connect_timeout=_float(env, "DB_CONNECT_TIMEOUT", 30.0),
        db_request_timeout=_float(env, "DB_REQUEST_TIMEOUT", 3.0),
        db_command_timeout=_float(env, "DB_COMMAND_TIMEOUT", 5.0),
        db_statement_cache=_bool(env, "DB_STATEMENT_CACHE", None),
        bcrypt_rounds=_int(env, "BCRYPT_ROUNDS", 12, 4, 31),
        bcrypt_concurrency=_int(
            env, "BCRYPT_CONCURRENCY", max(1, (os.cpu_count() or 2) - 1), 1, 256
        ),
        bcrypt_wait_seconds=_float(env, "BCRYPT_WAIT_SECONDS", 5.0),
        migrate_on_start=bool(_bool(env, "MIGRATE_ON_START", True)),
        log_format=log_format,
        log_level=env.get("LOG_LEVEL", "info").strip().lower() or "info",
        workers=_int(env, "WEB_CONCURRENCY", 1, 1, 64),
    )
