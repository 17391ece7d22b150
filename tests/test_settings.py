"""Configuration from the environment: safe development defaults, refusal in production."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from todo_api.settings import SettingsError, load_settings
from todo_api.testing import BIN

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
        }
    )
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert (settings.host, settings.port) == ("127.0.0.1", 9000)
    assert (settings.db_pool_min, settings.db_pool_max) == (2, 5)
    assert settings.bcrypt_rounds == 4
    assert settings.migrate_on_start is False
    assert settings.db_statement_cache is False
    assert settings.access_token_ttl_seconds == 60


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
        ("METRICS", "maybe"),
        ("SYNC_HISTORY_DAYS", "0"),
        ("WEB_CONCURRENCY", "0"),
        ("LOGIN_MAX_FAILURES", "ten"),
        ("DB_STATEMENT_CACHE", "sometimes"),
        ("EVENTS_HEARTBEAT_SECONDS", "0"),
        ("EVENTS_MAX_STREAMS", "none"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(name: str, value: str) -> None:
    env = {"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": GOOD_SECRET, name: value}
    with pytest.raises(SettingsError, match=name) as refused:
        load_settings(env)
    assert "\n" not in str(refused.value) and value in str(refused.value)


def test_pool_min_above_max_is_refused() -> None:
    env = {
        "DATABASE_URL": "postgresql://db/x",
        "JWT_SECRET": GOOD_SECRET,
        "DB_POOL_MIN": "5",
        "DB_POOL_MAX": "2",
    }
    with pytest.raises(SettingsError, match="DB_POOL_MIN"):
        load_settings(env)


def test_this_rounds_variables_have_the_contracts_defaults(tmp_path: Path) -> None:
    settings = load_settings({"TODO_DATA_DIR": str(tmp_path)})
    assert settings.refresh_token_ttl_seconds == 2_592_000
    assert settings.session_max_seconds == 7_776_000
    assert (settings.login_max_failures, settings.login_window_seconds) == (10, 900)
    assert settings.forwarded_allow_ips == "127.0.0.1"
    assert settings.auth_jwks_url is None and settings.auth_issuer is None
    assert settings.sync_history_days == 30 and settings.metrics is True
    assert (settings.log_level, settings.log_format, settings.workers) == ("info", "text", 1)


def test_empty_values_mean_unset_and_names_are_case_insensitive(tmp_path: Path) -> None:
    env = {"TODO_DATA_DIR": str(tmp_path), "PORT": "", "log_level": "DEBUG", "METRICS": "off"}
    settings = load_settings(env)
    assert (settings.port, settings.log_level, settings.metrics) == (8000, "debug", False)


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_a_bad_value_is_one_line_and_exit_status_2(command: str, tmp_path: Path) -> None:
    env = {**os.environ, "TODO_DATA_DIR": str(tmp_path), "LOG_LEVEL": "verbose"}
    result = subprocess.run(
        [str(BIN / "todo-api"), command], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "LOG_LEVEL" in result.stderr
    assert "Traceback" not in result.stderr


def test_secrets_never_show_in_the_settings_text_nor_in_an_error_line() -> None:
    url = "postgresql://u:db-password-1@db/x"
    settings = load_settings({"DATABASE_URL": url, "JWT_SECRET": GOOD_SECRET})
    assert GOOD_SECRET not in repr(settings) and "db-password-1" not in repr(settings)
    for env in (
        {"DATABASE_URL": "mysql://u:db-password-1@db/x", "JWT_SECRET": GOOD_SECRET},
        {"DATABASE_URL": url, "JWT_SECRET": "db-password-1"},
    ):
        with pytest.raises(SettingsError) as refused:
            load_settings(env)
        assert "db-password-1" not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://u@h/db"),
        ("DATABASE_URL", "db.example.com:5432"),
        ("FORWARDED_ALLOW_IPS", "my-proxy"),
        ("FORWARDED_ALLOW_IPS", "10.0.0.1, proxy.internal"),
        ("AUTH_JWKS_URL", "ftp://keys.example/jwks"),
        ("AUTH_JWKS_URL", "keys.example/jwks"),
    ],
)
def test_urls_and_addresses_are_checked_at_start(name: str, value: str) -> None:
    env = {"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": GOOD_SECRET, name: value}
    with pytest.raises(SettingsError, match=name) as refused:
        load_settings(env)
    assert "\n" not in str(refused.value)


def test_good_proxy_lists_are_kept_as_uvicorn_reads_them() -> None:
    env = {"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": GOOD_SECRET}
    for value in ("*", "10.0.0.0/8, 192.168.1.1", "::1", "127.0.0.1"):
        assert load_settings({**env, "FORWARDED_ALLOW_IPS": value}).forwarded_allow_ips == value


def test_a_data_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SettingsError, match="TODO_DATA_DIR") as refused:
        load_settings({"TODO_DATA_DIR": str(blocker / "data")})
    assert "\n" not in str(refused.value)


# Hardening (docs/api.md): the key set's deadlines, absolute URLs and
# hosts, connections per client address.


def test_hardening_settings_have_the_contracts_defaults(tmp_path: Path) -> None:
    settings = load_settings({"TODO_DATA_DIR": str(tmp_path)})
    assert (settings.auth_jwks_timeout_seconds, settings.auth_jwks_refresh_seconds) == (5, 600)
    assert settings.public_url is None and settings.allowed_hosts == ("*",)
    assert settings.max_connections_per_address == 100


def test_hardening_settings_are_parsed(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "TODO_DATA_DIR": str(tmp_path),
            "AUTH_JWKS_TIMEOUT_SECONDS": "2.5",
            "AUTH_JWKS_REFRESH_SECONDS": "60",
            "PUBLIC_URL": "https://api.example.com/todo/",
            "ALLOWED_HOSTS": "API.example.com, *.example.org,",
            "MAX_CONNECTIONS_PER_ADDRESS": "20",
        }
    )
    assert (settings.auth_jwks_timeout_seconds, settings.auth_jwks_refresh_seconds) == (2.5, 60)
    assert settings.public_url == "https://api.example.com/todo"
    assert settings.allowed_hosts == ("api.example.com", "*.example.org")
    assert settings.max_connections_per_address == 20


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTH_JWKS_TIMEOUT_SECONDS", "0"),
        ("AUTH_JWKS_TIMEOUT_SECONDS", "soon"),
        ("AUTH_JWKS_TIMEOUT_SECONDS", "3600"),
        ("AUTH_JWKS_REFRESH_SECONDS", "-5"),
        ("PUBLIC_URL", "api.example.com"),
        ("PUBLIC_URL", "ftp://api.example.com"),
        ("PUBLIC_URL", "https://api.example.com/?x=1"),
        ("ALLOWED_HOSTS", "api.*.example.com"),
        ("ALLOWED_HOSTS", "*example.com"),
        ("ALLOWED_HOSTS", " , "),
        ("MAX_CONNECTIONS_PER_ADDRESS", "0"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "many"),
    ],
)
def test_bad_hardening_values_are_one_line_naming_the_variable(name: str, value: str) -> None:
    env = {"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": GOOD_SECRET, name: value}
    with pytest.raises(SettingsError, match=name) as refused:
        load_settings(env)
    assert "\n" not in str(refused.value)
