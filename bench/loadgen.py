"""The fallback load generator, for machines without wrk: the same workloads over httpx, N
connections each looping, in its own process. Slower than wrk, so its absolute figures are
lower; the ratio to the floor, measured the same way, stays comparable.

    python -m bench.loadgen URL WORKLOAD USERS_JSON CONNECTIONS SECONDS CHAINS_FILE
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any

import httpx

from bench.workloads import SEARCH


def request_for(
    workload: str, u: dict[str, Any], chain: list[str]
) -> tuple[str, str, dict[str, str], Any]:
    auth = {"Authorization": f"Bearer {u['token']}"}
    keyed = {**auth, "Idempotency-Key": f"{random.random()}"}
    base = f"/api/{u['id']}/tasks"
    task = random.choice(u["tasks"])
    return {
        "list": ("GET", f"{base}?limit=50", auth, None),
        "get": ("GET", f"{base}/{task}", auth, None),
        "create": ("POST", base, auth, {"title": "bench task"}),
        "update": ("PUT", f"{base}/{task}", auth, {"title": f"renamed {random.random()}"}),
        "toggle": ("PATCH", f"{base}/{task}/complete", auth, None),
        "search": ("GET", f"{base}?{SEARCH}", auth, None),
        "sync": ("GET", f"{base}/changes?since={u['sync']}", auth, None),
        "idempotent_create": ("POST", base, keyed, {"title": "bench task"}),
        "refresh": (
            "POST",
            "/api/auth/refresh",
            {},
            {"refresh_token": chain.pop() if chain else "spent"},
        ),
        "login": (
            "POST",
            "/api/auth/login",
            {},
            {"username": u["name"], "password": "bench-password"},
        ),
        "bad_token": ("GET", base, {"Authorization": "Bearer not.a.token"}, None),
    }[workload]


async def run(
    url: str,
    workload: str,
    users: list[dict[str, Any]],
    connections: int,
    seconds: float,
    chain: list[str],
) -> dict[str, int]:
    latencies: list[float] = []
    non2xx = errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def loop() -> None:
            nonlocal non2xx, errors
            while time.monotonic() < deadline:
                method, path, headers, body = request_for(workload, random.choice(users), chain)
                started = time.perf_counter()
                try:
                    r = await client.request(method, path, headers=headers, json=body)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                non2xx += r.status_code >= 400
                if workload == "refresh" and r.status_code == 200:
                    chain.append(r.json()["refresh_token"])

        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(connections)))
        duration = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> int:
        return (
            int(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1e6)
            if latencies
            else 0
        )

    return {
        "requests": len(latencies),
        "duration_us": int(duration * 1e6),
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "non2xx": non2xx,
        "errors": errors,
    }


if __name__ == "__main__":
    url, workload, users_json, connections, seconds, chains = sys.argv[1:7]
    users = json.loads(open(users_json).read())  # noqa: SIM115
    chain = open(chains).read().split() if workload == "refresh" else []  # noqa: SIM115
    result = asyncio.run(run(url, workload, users, int(connections), float(seconds), chain))
    print("BENCH " + json.dumps(result))
