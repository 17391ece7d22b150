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

from bench.workloads import IN_LIST, LISTS, PASSWORD, TIMED_TASK, TIMED_UPDATE, WORKLOADS

Request = tuple[str, str, dict[str, str], Any]  # method, path, headers, JSON body (or None)


def request_for(workload: str, u: dict[str, Any], chain: list[str]) -> Request:
    """One request of the workload, as bench/workloads.py's Lua script for it makes them."""
    workload = workload.removesuffix("_one_user")
    auth = {"Authorization": f"Bearer {u['token']}"}
    base = f"/api/{u['id']}/tasks"
    if workload in LISTS:
        return ("GET", f"{base}?{LISTS[workload]}", auth, None)
    i, j = random.sample(range(len(u["tasks"])), 2)
    task, other = u["tasks"][i], u["tasks"][j]
    if workload == "get":
        return ("GET", f"{base}/{task}", auth, None)
    if workload == "get_personal":
        return ("GET", f"{base}/{task}", {"Authorization": f"Bearer {u['personal']}"}, None)
    if workload == "conditional_get":
        return ("GET", f"{base}/{task}", {**auth, "If-None-Match": f'"{u["versions"][i]}"'}, None)
    if workload == "sync":
        return ("GET", f"{base}/changes?since={u['sync']}", auth, None)
    if workload == "tags":
        return ("GET", f"/api/{u['id']}/tags", auth, None)
    if workload == "lists":
        return ("GET", f"/api/{u['id']}/lists", auth, None)
    if workload in IN_LIST:
        return ("GET", f"{base}?list={u['inbox']}&{IN_LIST[workload]}", auth, None)
    if workload == "list_get":
        return ("GET", f"/api/{u['id']}/lists/{u['inbox']}", auth, None)
    if workload == "update":
        return ("PUT", f"{base}/{task}", auth, {"title": f"renamed {random.random()}"})
    if workload == "toggle":
        return ("PATCH", f"{base}/{task}/complete", auth, None)
    if workload == "move":
        return ("POST", f"{base}/{task}/move", auth, {"after": other})
    if workload == "create":
        return ("POST", base, auth, {"title": "bench task"})
    if workload == "idempotent_create":
        keyed = {**auth, "Idempotency-Key": f"{random.random()}"}
        return ("POST", base, keyed, {"title": "bench task"})
    if workload == "create_timed":
        return ("POST", base, auth, TIMED_TASK)
    if workload == "update_timed":
        return ("PUT", f"{base}/{task}", auth, TIMED_UPDATE)
    if workload == "complete_recurring":
        return ("PATCH", f"{base}/{task}/complete", auth, {"completed": True})
    if workload == "clear_completed":
        return ("POST", f"{base}/clear-completed", auth, None)
    if workload == "refresh":
        token = chain.pop() if chain else "spent"
        return ("POST", "/api/auth/refresh", {}, {"refresh_token": token})
    if workload == "login":
        return ("POST", "/api/auth/login", {}, {"username": u["name"], "password": PASSWORD})
    if workload == "bad_token":
        return ("GET", base, {"Authorization": "Bearer not.a.token"}, None)
    raise ValueError(f"no such workload: {workload}")


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
                user = users[0] if WORKLOADS[workload].one_user else random.choice(users)
                method, path, headers, body = request_for(workload, user, chain)
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
