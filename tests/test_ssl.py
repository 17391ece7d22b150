"""The TLS path for real: a PostgreSQL with ssl=on and a self-signed certificate made here,
that only accepts TLS with SCRAM passwords, reached with a Neon-style URL
(`sslmode=require&channel_binding=require`) by the app, by asyncpg and by the migrations."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest
import trustme

from tests.conftest import client_for, register, running
from todo_api.app import create_app
from todo_api.db.migrations import apply_migrations
from todo_api.db.pool import asyncpg_dsn
from todo_api.settings import Settings
from todo_api.testing import free_port

PASSWORD = "tls-test-password"


def _ssl_capable_bindir() -> Path | None:
    """A PostgreSQL built with TLS (the embedded package's is not): the system's, if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
    )
    on_path = shutil.which("postgres")
    candidates = [p.parent for p in reversed(found)] + ([Path(on_path).parent] if on_path else [])
    return next((d for d in candidates if (d / "initdb").exists()), None)


def _run_as() -> int | None:
    """postgres refuses to run as root: under root, run it as the system's postgres user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres").pw_uid
    except KeyError:
        pytest.skip("running as root with no 'postgres' system user to run a server as")


@pytest.fixture(scope="module")
def tls_server_url() -> Iterator[str]:
    bindir = _ssl_capable_bindir()
    if bindir is None:
        message = "no TLS-capable PostgreSQL installed (the embedded one has no TLS)"
        if os.environ.get("REQUIRE_TLS_TEST"):
            pytest.fail(message)
        pytest.skip(message)
    user = _run_as()
    # Not under pytest's temporary root, which only root may enter.
    folder = Path(tempfile.mkdtemp(prefix="todo-api-tls-"))
    pgdata = folder / "pg"
    (folder / "pw").write_text(PASSWORD)
    if user is not None:
        os.chown(folder, user, -1)
        os.chown(folder / "pw", user, -1)
    subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(pgdata),
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            f"--pwfile={folder / 'pw'}",
            "--encoding=UTF8",
        ],
        user=user,
        check=True,
        capture_output=True,
    )
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(str(pgdata / "server.crt"))
    cert.private_key_pem.write_to_path(str(pgdata / "server.key"))
    for name in ("server.crt", "server.key"):
        if user is not None:
            os.chown(pgdata / name, user, -1)
        (pgdata / name).chmod(0o600)
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
    # TLS with a password, or nothing: no plain TCP, no trust.
    (pgdata / "pg_hba.conf").write_text(
        "hostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n"
    )
    port = free_port()
    log = folder / "log"
    command = [
        str(bindir / "postgres"),
        "-D",
        str(pgdata),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-k",
        str(folder),
    ]
    with log.open("w") as err:
        proc = subprocess.Popen(command, user=user, stdout=subprocess.DEVNULL, stderr=err)
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(f"{url}?sslmode=require", connect_timeout=2).close()
            break
        except psycopg.OperationalError:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def neon_style(url: str) -> str:
    return f"{url}?sslmode=require&channel_binding=require"


@pytest.mark.anyio
async def test_asyncpg_connects_over_tls_with_a_neon_url(tls_server_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(neon_style(tls_server_url)))
    try:
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await conn.close()


def test_plain_tcp_is_refused_so_the_tls_path_is_the_one_tested(tls_server_url: str) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"{tls_server_url}?sslmode=disable", connect_timeout=2).close()


@pytest.mark.anyio
async def test_migrations_and_the_api_work_over_tls(
    tls_server_url: str, settings: Settings
) -> None:
    url = neon_style(tls_server_url)
    assert apply_migrations(url) >= 1  # psycopg, with channel binding for real
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone() == (True,)
    async with (
        running(create_app(settings.model_copy(update={"database_url": url}))) as app,
        client_for(app) as client,
    ):
        assert (await client.get("/ready")).status_code == 200
        user = await register(client)
        r = await client.post(user.tasks, json={"title": "over tls"}, headers=user.headers)
        assert r.status_code == 201
