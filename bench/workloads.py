"""The workloads, as wrk Lua scripts over the seeded users and tasks. Each script picks a random
user (and task) per request and prints its figures as one JSON line when wrk is done."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SEARCH = "status=completed&sort=title&q=milk"
# The refresh workload's chains: each is a session whose refresh token is traded for the next
# one, request after request. A token works once, so every run starts from chains made for it.
REFRESH_CHAINS = 128
REFRESH_TOKEN_PATTERN = '"refresh_token":"([^"]+)"'


def session_for(user_id: str) -> str:
    """The session the benchmark seeds for each user; its tokens name it, and the floor passes
    it to the service's statements, whose caller rule checks it."""
    return f"bench-session-{user_id}"


# Workload name -> (Lua body of request(), whether the floor can serve it).
REQUESTS: dict[str, tuple[str, bool]] = {
    "list": ('return get("/api/" .. u.id .. "/tasks?limit=50", auth(u))', True),
    "get": ('return get("/api/" .. u.id .. "/tasks/" .. pick(u.tasks), auth(u))', True),
    "create": (
        'return send("POST", "/api/" .. u.id .. "/tasks", auth(u), \'{"title": "bench task"}\')',
        True,
    ),
    "update": (
        'return send("PUT", "/api/" .. u.id .. "/tasks/" .. pick(u.tasks), auth(u), '
        """'{"title": "renamed ' .. math.random(1000000) .. '"}')""",
        True,
    ),
    "toggle": (
        'return send("PATCH", "/api/" .. u.id .. "/tasks/" .. pick(u.tasks) .. "/complete", '
        "auth(u), nil)",
        True,
    ),
    "search": (f'return get("/api/" .. u.id .. "/tasks?{SEARCH}", auth(u))', True),
    # A client up to date, polling the change feed with its token.
    "sync": ('return get("/api/" .. u.id .. "/tasks/changes?since=" .. u.sync, auth(u))', True),
    # Every create with a fresh Idempotency-Key, as a careful client sends them.
    "idempotent_create": (
        'local h = auth(u); h["Idempotency-Key"] = math.random(1000000000) .. "-" .. '
        "math.random(1000000000); "
        'return send("POST", "/api/" .. u.id .. "/tasks", h, \'{"title": "bench task"}\')',
        True,
    ),
    # A client staying logged in: each connection trades its refresh token for the next.
    "refresh": (
        'local t = table.remove(chain) or "spent"; '
        'return send("POST", "/api/auth/refresh", {}, \'{"refresh_token": "\' .. t .. \'"}\')',
        True,
    ),
    "login": (
        'return send("POST", "/api/auth/login", {}, '
        '\'{"username": "\' .. u.name .. \'", "password": "bench-password"}\')',
        False,
    ),
    "bad_token": (
        'return get("/api/" .. u.id .. "/tasks", {["Authorization"] = "Bearer not.a.token"})',
        False,
    ),
}

_PRELUDE = """
local users = %(users)s
local thread_id = 0
local chain = {}
function setup(thread) thread:set("id", thread_id); thread_id = thread_id + 1 end
function init(args)
  math.randomseed(os.time() + (id or 0) * 7919)
  -- args: the thread count and the file of refresh chains (one token a line), shared out.
  local threads, file = tonumber(args[1]) or 1, args[2] and io.open(args[2])
  if file then
    local n = 0
    for line in file:lines() do
      if n %% threads == (id or 0) then table.insert(chain, line) end
      n = n + 1
    end
    file:close()
  end
end
local function pick(list) return list[math.random(#list)] end
local function auth(u) return {["Authorization"] = "Bearer " .. u.token} end
local function get(path, headers) return wrk.format("GET", path, headers) end
local function send(method, path, headers, body)
  if body ~= nil then headers["Content-Type"] = "application/json" end
  return wrk.format(method, path, headers, body)
end
request = function()
  local u = pick(users)
  %(request)s
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"non2xx": %%d, "errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class SeededUser:
    id: str
    name: str
    token: str
    tasks: list[int]
    sync: str  # a change-feed token past every change the user has


def _lua_users(users: list[SeededUser]) -> str:
    entries = [
        f"{{id={json.dumps(u.id)}, name={json.dumps(u.name)}, token={json.dumps(u.token)}, "
        f"sync={json.dumps(u.sync)}, tasks={{{', '.join(map(str, u.tasks))}}}}}"
        for u in users
    ]
    return "{\n" + ",\n".join(entries) + "\n}"


def write_scripts(folder: Path, users: list[SeededUser]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    table = _lua_users(users)
    scripts = {}
    for name, (request, _) in REQUESTS.items():
        path = folder / f"{name}.lua"
        text = _PRELUDE % {"users": table, "request": request}
        if name == "refresh":  # the next token of the chain comes back in the response
            text += (
                "response = function(status, headers, body)\n"
                f"  local t = string.match(body, '{REFRESH_TOKEN_PATTERN}')\n"
                "  if t then table.insert(chain, t) end\n"
                "end\n"
            )
        path.write_text(text)
        scripts[name] = path
    return scripts
