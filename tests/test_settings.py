"""Configuration from the environment: safe development defaults, refusal in production."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

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
    ],
)
def test_bad_values_are_refused_with_the_variable_named(name: str, value: str) -> None:
    env = {"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": GOOD_SECRET, name: value}
    with pytest.raises(SettingsError, match=name):
        load_settings(env)


def test_pool_min_above_max_is_refused() -> None:
    env = {
        "DATABASE_URL": "postgresql://db/x",
        "JWT_SECRET": GOOD_SECRET,
        "DB_POOL_MIN": "5",
        "DB_POOL_MAX": "2",
    }
    with pytest.raises(SettingsError, match="DB_POOL_MIN"):
        load_settings(env)
