"""The replica check: `python -m bench.replicas [--quick]` (README, Architecture).

Three `todo-api serve` processes (1 worker each) on one fresh, migrated database, behind
Debian's nginx on loopback as a load balancer would be in production (round robin, keepalive,
no buffering: event streams pass each event on at once), and the pytest suite run through it
(tests/conftest.py, remote mode): every HTTP-level test goes to whichever replica nginx picks,
and tests/test_replicas.py (with the event, reminder and webhook tests) talks to each replica
directly. A replica killed by SIGKILL (as tests do, while reminders fall due or a delivery is
under way) is restarted on its port, as an orchestrator would. Passes when the suite passes,
every replica served a fair share of the balancer's requests and none is down at the end.

`run(server_url, folder, quick)` is what `python -m bench` calls: server_url is the PostgreSQL
server to make the database on, folder a scratch folder; it returns the figures."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from todo_api.db.migrations import apply_migrations
from todo_api.testing import (
    ROOT,
    TEST_SETTINGS,
    TODO_API,
    Server,
    free_port,
    fresh_database,
    throwaway_server,
)

REPLICAS = 3
NGINX = "/usr/sbin/nginx"  # Debian's path; /usr/sbin is not on every user's PATH
# The quick run: the cross-replica checks and the core route families (CI's smoke run).
QUICK_TESTS = [
    "tests/test_replicas.py",
    "tests/test_auth.py",
    "tests/test_tasks.py",
    "tests/test_sessions.py",
    "tests/test_idempotency.py",
    "tests/test_conditional.py",
    "tests/test_sync.py",
    # Streams read through the balancer while writes go to other replicas, reminders fired by
    # three racing processes, webhook attempts claimed across them, and a replica killed
    # (SIGKILL, then restarted) while reminders fall due and in the middle of a delivery. The
    # slowest (over a minute each) run in the full check only.
    "tests/test_events.py",
    "--deselect=tests/test_events.py::test_a_shutdown_is_not_held_up_by_open_streams",
    "tests/test_events_concurrency.py",
    "tests/test_reminder_firing.py",
    "--deselect=tests/test_reminder_firing.py::test_processes_killed_again_and_again",
    "--deselect=tests/test_reminder_firing.py::test_a_recurring_tasks_before_reminder",
    *(
        f"tests/test_webhooks.py::{name}"
        for name in (
            "test_each_task_event_is_delivered_signed_with_the_task_as_the_api_shows_it",
            "test_each_attempt_is_made_once_whichever_process_claims_it",
            "test_a_replica_killed_in_the_middle_of_a_delivery_loses_no_event",
            "test_failed_attempts_are_retried_until_one_succeeds",
        )
    ),
]
# A replica serving less than this share of what a fair round robin gives it fails the check.
FAIR_SHARE = 0.5

NGINX_CONF = """\
{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format balanced '$upstream_addr $status $request_method $uri';
    access_log {folder}/access.log balanced;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;

    # Every request and header goes to the service as the client sent it: the service sets
    # its own limits and answers its own problems.
    client_max_body_size 0;
    underscores_in_headers on;
    ignore_invalid_headers off;
    large_client_header_buffers 8 64k;

    upstream replicas {{
        {servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_pass_header Server;
            proxy_pass_header Date;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


class BalancerMissing(Exception):
    """Debian's nginx is not installed (`apt-get install nginx-light`)."""


def require_nginx() -> None:
    if not Path(NGINX).exists():
        raise BalancerMissing(f"{NGINX} is missing: install Debian's nginx-light")


def nginx_config(folder: Path, port: int, replicas: list[Server]) -> str:
    servers = "\n        ".join(f"server 127.0.0.1:{r.port};" for r in replicas)
    # Run as root (a container), nginx's workers would switch to `nobody`, who cannot write here.
    user = "user root;" if os.geteuid() == 0 else ""
    return NGINX_CONF.format(user=user, folder=folder, port=port, servers=servers)


@contextlib.contextmanager
def balancer(folder: Path, replicas: list[Server]) -> Iterator[str]:
    """nginx in the foreground in front of the replicas; its URL while the block runs."""
    require_nginx()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(nginx_config(folder, port, replicas))
    command = [NGINX, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"]
    lb = Server(command, {}, port=port)
    try:
        lb.wait_until_up()
        yield lb.base
    finally:
        lb.terminate()


def replica_env(database_url: str, data_dir: Path) -> dict[str, str]:
    """The suite's settings (todo_api.testing.TEST_SETTINGS), one worker, no migration."""
    return {
        **TEST_SETTINGS,
        "DATABASE_URL": database_url,
        "TODO_DATA_DIR": str(data_dir),
        "MIGRATE_ON_START": "false",
        "WORKERS": "1",
        "LOG_LEVEL": "warning",
    }


class Replicas:
    """The replicas, kept running as an orchestrator's restart policy keeps containers: one
    killed outright (SIGKILL: the OOM killer, a node lost, a test killing one while reminders
    fall due or a webhook delivery is under way) is started again on its own port, and
    counted; one that exits any other way (a crash, a refused start) stays down."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.envs = [replica_env(database_url, folder / f"replica{n}") for n in range(REPLICAS)]
        self.servers: list[Server] = []
        self.restarts = 0
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self.servers = [Server(TODO_API, env) for env in self.envs]
        for server in self.servers:
            server.wait_until_up()
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            for n, server in enumerate(self.servers):
                if server.proc.poll() == -signal.SIGKILL:
                    again = Server(TODO_API, self.envs[n], port=server.port)
                    self.servers[n] = again
                    self.restarts += 1
                    with contextlib.suppress(AssertionError):
                        again.wait_until_up()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher.is_alive():
            self._watcher.join()
        for server in self.servers:
            server.kill()


@contextlib.contextmanager
def replicas(database_url: str, folder: Path) -> Iterator[Replicas]:
    running = Replicas(database_url, folder)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def shares(access_log: Path, replicas: list[Server]) -> dict[str, int]:
    """Requests the balancer sent to each replica (a retried request names every one tried)."""
    counts: Counter[str] = Counter()
    for line in access_log.read_text().splitlines():
        for address in line.split(" ", 1)[0].split(","):
            counts[address.strip()] += 1
    return {r.base: counts[f"127.0.0.1:{r.port}"] for r in replicas}


def suite_counts(report: Path) -> dict[str, int]:
    root = ET.parse(report).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None, "pytest wrote no test suite"
    total, failed, errors, skipped = (
        int(suite.get(name, "0")) for name in ("tests", "failures", "errors", "skipped")
    )
    return {
        "passed": total - failed - errors - skipped,
        "failed": failed,
        "errors": errors,
        "skipped": skipped,
    }


def run(
    server_url: str, folder: Path, quick: bool, tests: list[str] | None = None
) -> dict[str, Any]:
    """The replica check on a fresh database of the server at server_url; the figures. `tests`
    (pytest's arguments) runs those tests instead of the quick or the full set."""
    require_nginx()
    started = time.monotonic()
    with fresh_database(server_url, prefix="todo_replicas") as database_url:
        apply_migrations(database_url)
        with (
            replicas(database_url, folder) as running,
            balancer(folder / "nginx", running.servers) as url,
        ):
            servers = running.servers
            report = folder / "pytest.xml"
            env = {
                **os.environ,
                "TEST_DATABASE_URL": server_url,  # the suite's own databases go there too
                "TEST_SERVICE_URL": url,
                "TEST_SERVICE_DATABASE_URL": database_url,
                "TEST_REPLICA_URLS": ",".join(s.base for s in servers),
            }
            command = [sys.executable, "-m", "pytest", f"--junitxml={report}"]
            suite = subprocess.run(
                [*command, *(tests or (QUICK_TESTS if quick else []))],
                cwd=ROOT,
                env=env,
                check=False,
            )
            down = [s.base for s in running.servers if s.proc.poll() is not None]
            restarts = running.restarts
        requests = shares(folder / "nginx" / "access.log", servers)
    total = sum(requests.values())
    fair = total > 0 and min(requests.values()) >= FAIR_SHARE * total / len(servers)
    counts = suite_counts(report) if report.exists() else {}
    return {
        "mode": "quick" if quick else "full",
        "replicas": len(servers),
        "balancer": nginx_version(),
        **counts,
        "suite_exit_code": suite.returncode,
        "requests_per_replica": requests,
        "fair_share": fair,
        "replicas_down": down,
        "replicas_restarted": restarts,
        "seconds": round(time.monotonic() - started, 1),
        "ok": suite.returncode == 0 and fair and not down,
    }


def nginx_version() -> str:
    out = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=False)
    return out.stderr.strip().removeprefix("nginx version: ")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="the cross-replica checks and core tests only"
    )
    parser.add_argument("tests", nargs="*", help="pytest's arguments: these tests only")
    args = parser.parse_args()
    configured = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    try:
        require_nginx()  # before starting an embedded PostgreSQL for nothing
        with (
            tempfile.TemporaryDirectory(prefix="todo-replicas-") as scratch,
            throwaway_server(configured, Path(scratch)) as server_url,
        ):
            figures = run(server_url, Path(scratch), args.quick, args.tests)
    except BalancerMissing as missing:
        print(f"replica check not run: {missing}", file=sys.stderr)
        return 2
    print(json.dumps(figures, indent=2))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
