"""Configuration from the environment: safe development defaults, refusal in production."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from todo_api.settings import SettingsError, load_settings

GOOD_SECRET = "s" * 32


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({"TODO_DATA_DIR": str(tmp_path)})
    assert settings.database_url is None and settings.embedded
    assert (settings.host, settings.port) == ("0.0.0.0", 8000)
    assert settings.cors_origins == ("http://localhost:3000",)
    assert settings.access_token_ttl_seconds == 3600
    assert (settings.db_pool_min, settings.db_pool_max) == (1, 10)
    assert settings.bcrypt_rounds == 12
    assert settings.migrate_on_start is True
    assert settings.db_statement_cache is None
    assert settings.log_level == "info" and settings.log_format == "text"
    # The variables of the contract's configuration table, with its defaults.
    assert settings.refresh_token_ttl_seconds == 2_592_000
    assert settings.session_max_seconds == 7_776_000
    assert (settings.login_max_failures, settings.login_window_seconds) == (10, 900)
    assert settings.forwarded_allow_ips == "127.0.0.1"
    assert (settings.auth_jwks_url, settings.auth_issuer, settings.auth_audience) == (None,) * 3
    assert settings.sync_history_days == 30
    assert settings.metrics is True
    assert settings.workers == 1


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings({"TODO_DATA_DIR": str(tmp_path)})
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]


def test_secrets_never_show_in_the_settings_text() -> None:
    url = "postgresql://u:db-password-1@db/x"
    settings = load_settings({"DATABASE_URL": url, "JWT_SECRET": GOOD_SECRET})
    assert GOOD_SECRET not in repr(settings) and "db-password-1" not in repr(settings)
    with pytest.raises(SettingsError) as refused:
        load_settings({"DATABASE_URL": url, "JWT_SECRET": GOOD_SECRET, "PORT": "x"})
    assert GOOD_SECRET not in str(refused.value) and "db-password-1" not in str(refused.value)


def test_empty_values_mean_the_default(tmp_path: Path) -> None:
    settings = load_settings({"TODO_DATA_DIR": str(tmp_path), "PORT": "", "LOG_LEVEL": " "})
    assert settings.port == 8000 and settings.log_level == "info"


def test_database_url_without_jwt_secret_refuses_to_start() -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET is required"):
        load_settings({"DATABASE_URL": "postgresql://db/x"})


def test_short_jwt_secret_refuses_to_start() -> None:
    with pytest.raises(SettingsError, match="at least 32 bytes"):
        load_settings({"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": "s" * 31})
    assert load_settings({"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": GOOD_SECRET})


def test_embedded_mode_generates_one_secret_and_keeps_it(tmp_path: Path) -> None:
    first = load_settings({"TODO_DATA_DIR": str(tmp_path / "data")})
    second = load_settings({"TODO_DATA_DIR": str(tmp_path / "data")})
    assert first.jwt_secret == second.jwt_secret
    assert len(first.jwt_secret.encode()) >= 32
    mode = (tmp_path / "data" / "jwt-secret").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_values_are_parsed(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://db/x",
            "JWT_SECRET": GOOD_SECRET,
            "CORS_ORIGINS": "https://a.example, https://b.example/",
            "PORT": "9000",
            "HOST": "127.0.0.1",
            "DB_POOL_MIN": "2",
            "DB_POOL_MAX": "5",
            "BCRYPT_ROUNDS": "4",
            "MIGRATE_ON_START": "false",
            "DB_STATEMENT_CACHE": "off",
            "ACCESS_TOKEN_TTL_SECONDS": "60",
            "REFRESH_TOKEN_TTL_SECONDS": "3600",
            "SESSION_MAX_SECONDS": "7200",
            "LOGIN_MAX_FAILURES": "3",
            "LOGIN_WINDOW_SECONDS": "60",
            "FORWARDED_ALLOW_IPS": "10.0.0.0/8, 192.168.1.1",
            "AUTH_JWKS_URL": "https://app.example.com/api/auth/jwks",
            "AUTH_ISSUER": "https://app.example.com",
            "AUTH_AUDIENCE": "todo",
            "SYNC_HISTORY_DAYS": "7",
            "METRICS": "off",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",
            "WEB_CONCURRENCY": "4",
        }
    )
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert (settings.host, settings.port) == ("127.0.0.1", 9000)
    assert (settings.db_pool_min, settings.db_pool_max) == (2, 5)
    assert settings.bcrypt_rounds == 4
    assert settings.migrate_on_start is False
    assert settings.db_statement_cache is False
    assert settings.access_token_ttl_seconds == 60
    assert (settings.refresh_token_ttl_seconds, settings.session_max_seconds) == (3600, 7200)
    assert (settings.login_max_failures, settings.login_window_seconds) == (3, 60)
    assert settings.forwarded_allow_ips == "10.0.0.0/8, 192.168.1.1"
    assert settings.auth_jwks_url == "https://app.example.com/api/auth/jwks"
    assert (settings.auth_issuer, settings.auth_audience) == ("https://app.example.com", "todo")
    assert settings.sync_history_days == 7 and settings.metrics is False
    assert (settings.log_level, settings.log_format) == ("warning", "json")
    assert settings.workers == 4


@pytest.mark.parametrize(("raw", "expected"), [("on", True), ("off", False), ("auto", None)])
def test_statement_cache_is_on_off_or_automatic(raw: str, expected: bool | None) -> None:
    env = {"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": GOOD_SECRET}
    assert load_settings({**env, "DB_STATEMENT_CACHE": raw}).db_statement_cache is expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("DB_POOL_MAX", "0"),
        ("BCRYPT_ROUNDS", "3"),
        ("MIGRATE_ON_START", "maybe"),
        ("LOG_FORMAT", "xml"),
        ("DB_CONNECT_TIMEOUT", "-1"),
        ("LOG_LEVEL", "verbose"),
        ("DB_STATEMENT_CACHE", "sometimes"),
        ("METRICS", "maybe"),
        ("ACCESS_TOKEN_TTL_SECONDS", "0"),
        ("REFRESH_TOKEN_TTL_SECONDS", "-5"),
        ("SESSION_MAX_SECONDS", "ninety days"),
        ("LOGIN_MAX_FAILURES", "0"),
        ("LOGIN_WINDOW_SECONDS", "1.5"),
        ("FORWARDED_ALLOW_IPS", "my-proxy"),
        ("AUTH_JWKS_URL", "ftp://keys.example"),
        ("SYNC_HISTORY_DAYS", "0"),
        ("WEB_CONCURRENCY", "0"),
        ("BCRYPT_CONCURRENCY", "0"),
        ("DATABASE_URL", "mysql://u@h/db"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(name: str, value: str) -> None:
    env = {"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": GOOD_SECRET, name: value}
    with pytest.raises(SettingsError, match=name) as refused:
        load_settings(env)
    assert "\n" not in str(refused.value)


def test_every_bad_value_is_named_in_the_one_line() -> None:
    env = {"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": GOOD_SECRET}
    with pytest.raises(SettingsError) as refused:
        load_settings({**env, "PORT": "x", "LOG_LEVEL": "loud"})
    assert "PORT" in str(refused.value) and "LOG_LEVEL" in str(refused.value)


def test_pool_min_above_max_is_refused() -> None:
    env = {
        "DATABASE_URL": "postgresql://db/x",
        "JWT_SECRET": GOOD_SECRET,
        "DB_POOL_MIN": "5",
        "DB_POOL_MAX": "2",
    }
    with pytest.raises(SettingsError, match="DB_POOL_MIN"):
        load_settings(env)
