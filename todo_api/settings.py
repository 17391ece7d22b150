"""The one settings object, read from the environment once at start and validated there.

Each setting is one field: its name is the environment variable's in lower case (two older
names are aliases), its default and bounds are written once, and pydantic-settings does the
reading. A bad value becomes one SettingsError line naming the variable; the CLI prints it and
exits with status 2."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    SettingsConfigDict,
)

MIN_JWT_SECRET_BYTES: Final = 32
LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")
# The URL schemes DATABASE_URL may have (db/pool.py gives each driver the one it wants).
DATABASE_SCHEMES: Final = (
    "postgresql",
    "postgres",
    "postgresql+psycopg",
    "postgresql+asyncpg",
    "postgresql+psycopg2",
)
# prometheus_client reads it itself, in each worker process, when it is first imported; the CLI
# sets it up (todo_api/cli.py, `_metrics_directory`).
METRICS_DIR_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
# Settings whose values are never shown: not in the object's repr, not in an error line.
_SECRET: Final = frozenset({"database_url", "jwt_secret", "todo_api_token"})


class SettingsError(Exception):
    """The environment cannot make a safe configuration; the message says why, in one line."""


def _default_bcrypt_concurrency() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


Seconds = Annotated[float, Field(gt=0)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    database_url: str | None = Field(default=None, repr=False)  # may hold a password
    data_dir: Path = Field(
        default=Path(".todo-data"), validation_alias=AliasChoices("todo_data_dir", "data_dir")
    )
    # development: generated once and kept in data_dir (load_settings)
    jwt_secret: str = Field(default="", repr=False)
    access_token_ttl_seconds: int = Field(default=3600, ge=1, le=31 * 86400)
    refresh_token_ttl_seconds: int = Field(default=2_592_000, ge=60, le=10 * 365 * 86400)
    session_max_seconds: int = Field(default=7_776_000, ge=60, le=10 * 365 * 86400)
    login_max_failures: int = Field(default=10, ge=1, le=1_000_000)
    login_window_seconds: int = Field(default=900, ge=1, le=30 * 86400)
    forwarded_allow_ips: str = "127.0.0.1"
    auth_jwks_url: str | None = None
    auth_issuer: str | None = None
    auth_audience: str | None = None
    # The key set's whole-download limit, and how often it is fetched again (auth/issuer.py).
    auth_jwks_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    auth_jwks_refresh_seconds: float = Field(default=600.0, gt=0, le=30 * 86400)
    # The base of every absolute URL the service builds (unset: the request's own, from one
    # of allowed_hosts, whose other hosts get 400; "*" allows any).
    public_url: str | None = None
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ("*",)
    sync_history_days: int = Field(default=30, ge=1, le=3650)
    metrics: bool = True
    # Where the workers' metrics files go (emptied at start); unset: a private temporary folder.
    prometheus_multiproc_dir: Path | None = None
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ("http://localhost:3000",)
    host: str = "0.0.0.0"  # noqa: S104 - a service in a container listens on every interface
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(
        default=1, ge=1, le=64, validation_alias=AliasChoices("web_concurrency", "workers")
    )
    db_pool_min: int = Field(default=1, ge=0, le=1000)
    db_pool_max: int = Field(default=10, ge=1, le=1000)
    db_connect_timeout: Seconds = 30.0  # how long start-up waits for the database
    db_request_timeout: Seconds = 3.0  # how long a request waits for a connection before 503
    db_command_timeout: Seconds = 5.0
    db_statement_cache: bool | None = None  # None: decided from the connection (db/pool.py)
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    bcrypt_concurrency: int = Field(default_factory=_default_bcrypt_concurrency, ge=1, le=256)
    bcrypt_wait_seconds: Seconds = 5.0  # how long a login waits for a hashing slot before 429
    # Slow and hostile clients (todo_api/serving.py, README "Limits"):
    limit_concurrency: int = Field(default=1000, ge=1, le=1_000_000)  # connections at once
    max_connections_per_address: int = Field(default=100, ge=1, le=1_000_000)  # of one client
    keep_alive_seconds: int = Field(default=5, ge=1, le=3600)  # an idle connection's life
    header_timeout_seconds: Seconds = 10.0  # for a request's line and headers to arrive
    body_timeout_seconds: Seconds = 30.0  # for its body to arrive
    send_timeout_seconds: Seconds = 30.0  # for a client to take each part of a response
    migrate_on_start: bool = True
    # Event streams (routes/events.py): the idle interval between heartbeats, which is also how
    # soon a stream ends once its session does; and how many streams a user may hold at once.
    events_heartbeat_seconds: Seconds = 15.0
    events_max_streams: int = Field(default=10, ge=1, le=100_000)
    # Webhooks (API.md, "Webhooks"; todo_api/webhook_worker.py):
    webhook_allow_http: bool = False  # plain http:// urls (development and tests)
    webhook_allow_private: bool = False  # loopback, private, link-local, ... addresses
    webhook_timeout_seconds: Seconds = 10.0  # one attempt, whole: resolve, connect, send, answer
    # The delays between attempts: a delivery has at most one attempt more than there are delays.
    webhook_retry_seconds: Annotated[tuple[float, ...], NoDecode] = (
        5.0,
        300.0,
        1800.0,
        7200.0,
        18000.0,
        36000.0,
    )
    webhook_disable_after: int = Field(default=20, ge=1, le=1_000_000)  # failed in a row
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    # `todo-api mcp`: the personal access token whose user the stdio server acts for.
    todo_api_token: str | None = Field(default=None, repr=False)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: Any, *_: Any, **__: Any
    ) -> tuple[Any, ...]:
        """Only what load_settings hands over: the environment is read there, once."""
        return (init_settings,)

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(h.strip().lower() for h in value.split(",") if h.strip())
            if not value:
                raise ValueError("must name at least one host, or *")
            for host in value:  # Starlette's TrustedHostMiddleware takes only these wildcards
                if host != "*" and ("*" in host[1:] or (host[0] == "*" and host[1] != ".")):
                    raise ValueError(f"{host!r}: a wildcard is only *.example.com (or * alone)")
        return value

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL, such as https://api.example.com")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must have no query, fragment or credentials")
        return value.rstrip("/")

    @field_validator("webhook_retry_seconds", mode="before")
    @classmethod
    def _delays(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        delays = []
        for item in (part.strip() for part in value.split(",")):
            try:
                delay = float(item)
            except ValueError:
                raise ValueError(f"{item!r} is not a number of seconds") from None
            if not 0 <= delay <= 7 * 86400:
                raise ValueError(f"{item!r} is not between 0 and 604800 seconds")
            delays.append(delay)
        return tuple(delays)

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in DATABASE_SCHEMES:
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, value: str) -> str:
        """What uvicorn reads it as: addresses or networks, comma-separated, or `*`. A name
        would be compared with the peer's address as text and never match: refused here."""
        for item in (part.strip() for part in value.split(",")):
            if item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(
                        f"{item!r} is not an IP address or network (a list of them, or *)"
                    ) from None
        return value

    @field_validator("auth_jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("https", "http") or not parts.hostname:
                raise ValueError("must be an https:// URL")
        return value

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("db_statement_cache", mode="before")
    @classmethod
    def _auto_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() == "auto" else value

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

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
        return self


class _Environment(EnvSettingsSource):
    """The environment, or a mapping standing in for it (tests); empty values mean unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = {k.lower(): v.strip() for k, v in environ.items() if v.strip()}
        super().__init__(Settings, case_sensitive=False)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._environ


def _variable(field: str) -> str:
    """The environment variable a field is read from."""
    return {"data_dir": "TODO_DATA_DIR", "workers": "WEB_CONCURRENCY"}.get(field, field.upper())


def _one_line(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:  # a rule across fields: its message names the variables
        return message
    field = str(first["loc"][0])
    if field in _SECRET:
        return f"{_variable(field)}: {message}"
    return f"{_variable(field)}: {message} (got {first['input']!r})"


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
    """Read the environment (or `env`) into Settings, or raise SettingsError in one line."""
    try:
        settings = Settings(**_Environment(os.environ if env is None else env)())
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None
    if settings.embedded and not settings.jwt_secret:
        try:
            secret = _dev_secret(settings.data_dir)
        except OSError as exc:  # the data folder cannot be made or written
            raise SettingsError(f"TODO_DATA_DIR: {exc.strerror}: {exc.filename}") from None
        settings = settings.model_copy(update={"jwt_secret": secret})
    return settings
