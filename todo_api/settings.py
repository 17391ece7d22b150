"""The one settings object, read from the environment once at start and validated there.

Each field is the lower-case name of its environment variable (`LOG_LEVEL` is `log_level`);
each default and each bound is written once, here. A bad value never reaches the code that uses
it: `load_settings` raises SettingsError with one line naming every bad variable, and the CLI
turns that into that line on stderr and exit status 2.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

MIN_JWT_SECRET_BYTES = 32
DAY = 86_400
DATABASE_SCHEMES = (
    "postgresql",
    "postgres",
    "postgresql+psycopg",
    "postgresql+asyncpg",
    "postgresql+psycopg2",
)
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
# Values whose text must never be echoed in an error line.
_SECRET_FIELDS = frozenset({"jwt_secret", "database_url"})

Seconds = Annotated[float, Field(gt=0, le=3600)]


class SettingsError(Exception):
    """The environment cannot make a safe configuration; the message says why, in one line."""


def _default_hashing_slots() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


class Settings(BaseSettings):
    """Every setting of the service. Frozen: made once by `load_settings`, never changed."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", validate_default=True)

    # Where the data lives.
    # unset: an embedded PostgreSQL under todo_data_dir
    database_url: str | None = Field(None, repr=False)
    todo_data_dir: Path = Path(".todo-data")
    # unset without DATABASE_URL: generated once, kept in todo_data_dir
    jwt_secret: str = Field("", repr=False)
    # Tokens, sessions, logins.
    access_token_ttl_seconds: int = Field(3600, ge=1, le=31 * DAY)
    refresh_token_ttl_seconds: int = Field(30 * DAY, ge=60, le=3650 * DAY)
    session_max_seconds: int = Field(90 * DAY, ge=60, le=3650 * DAY)
    login_max_failures: int = Field(10, ge=1, le=100_000)
    login_window_seconds: int = Field(900, ge=1, le=30 * DAY)
    auth_jwks_url: str | None = None
    auth_issuer: str | None = None
    auth_audience: str | None = None
    bcrypt_rounds: int = Field(12, ge=4, le=31)
    bcrypt_concurrency: int = Field(default_factory=_default_hashing_slots, ge=1, le=256)
    bcrypt_wait_seconds: Seconds = 5.0  # how long a login waits for a hashing slot before 429
    # Sync.
    sync_history_days: int = Field(30, ge=1, le=3650)
    # HTTP.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ("http://localhost:3000",)
    host: str = "0.0.0.0"  # noqa: S104 - a service in a container listens on every interface
    port: int = Field(8000, ge=0, le=65535)
    web_concurrency: int = Field(1, ge=1, le=64)  # worker processes
    forwarded_allow_ips: str = "127.0.0.1"  # proxies whose X-Forwarded-For is believed
    metrics: bool = True
    # Database.
    db_pool_min: int = Field(1, ge=0, le=1000)
    db_pool_max: int = Field(10, ge=1, le=1000)
    db_connect_timeout: Seconds = 30.0  # how long start-up waits for the database
    db_request_timeout: Seconds = 3.0  # how long a request waits for a connection before 503
    db_command_timeout: Seconds = 5.0
    db_statement_cache: bool | None = None  # None: automatic (off behind a pooler)
    migrate_on_start: bool = True
    # Logs.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what the caller passes: `load_settings` is the one reader of the environment.
        return (init_settings,)

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def data_dir(self) -> Path:
        return self.todo_data_dir

    @property
    def workers(self) -> int:
        return self.web_concurrency

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url", "auth_jwks_url", "auth_issuer", "auth_audience", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in DATABASE_SCHEMES:
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("auth_jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("https", "http") or not parts.hostname:
                raise ValueError("must be an https:// URL")
        return value

    @field_validator("db_statement_cache", mode="before")
    @classmethod
    def _auto(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "auto"):
            return None
        return value

    @field_validator("todo_data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(o.strip().rstrip("/") for o in value if o.strip())
        return value

    @field_validator("host", "forwarded_allow_ips")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError("must list IP addresses or networks, or be *") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.db_pool_min > self.db_pool_max:
            raise ValueError(
                f"DB_POOL_MIN ({self.db_pool_min}) is larger than DB_POOL_MAX ({self.db_pool_max})"
            )
        if self.database_url is not None:
            if not self.jwt_secret:
                raise ValueError("JWT_SECRET is required when DATABASE_URL is set")
            if len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
                raise ValueError(f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes")
        elif not self.jwt_secret:
            # Frozen: the one field filled in after validation, before anyone sees the object.
            object.__setattr__(self, "jwt_secret", _dev_secret(self.todo_data_dir))
        return self


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


class _Environment(EnvSettingsSource):
    """pydantic-settings' reading of environment variables (names case-insensitive, NoDecode
    honoured), over any mapping rather than only os.environ; a blank value counts as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Settings, case_sensitive=False, env_ignore_empty=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        set_values = {name: value for name, value in self._environ.items() if value.strip()}
        return parse_env_vars(
            set_values, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def _one_line(exc: ValidationError) -> str:
    """Every broken rule, each naming its variable, on one line (secrets never echoed)."""
    reasons = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        if not field:  # a rule over several fields states its variables itself
            reasons.append(message)
            continue
        reason = f"{field.upper()}: {message[:1].lower()}{message[1:]}"
        if field not in _SECRET_FIELDS and isinstance(error.get("input"), str):
            reason += f", got {error['input']!r}"
        reasons.append(reason)
    return "; ".join(reasons)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the environment (or `env`) into Settings, or raise SettingsError with a one-line
    reason."""
    try:
        values = _Environment(os.environ if env is None else env)()
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None
    except OSError as exc:  # the data folder for the development secret cannot be written
        raise SettingsError(f"TODO_DATA_DIR: {exc.strerror}: {exc.filename}") from None
