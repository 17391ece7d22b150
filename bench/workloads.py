"""The workloads, as wrk Lua scripts over the seeded users and tasks. Each script picks a random
user (and task) per request and prints its figures as one JSON line when wrk is done."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SEARCH = "status=completed&sort=title&q=milk"
PASSWORD = "bench-password"  # every seeded user's
# The servers' JWT_SECRET: the benchmark makes tokens, cursors and sync tokens with it.
SECRET = "bench-secret-that-is-long-enough-0123456789abcdef"
# The refresh workload's chains: each is a session whose refresh token is traded for the next
# one, request after request. A token works once, so every run starts from chains made for it.
REFRESH_CHAINS = 128
REFRESH_TOKEN_PATTERN = '"refresh_token":"([^"]+)"'


def session_for(user_id: str) -> str:
    """The session the benchmark seeds for each user; its tokens name it, and the floor passes
    it to the service's statements, whose caller rule checks it."""
    return f"bench-session-{user_id}"


# The list workloads' query strings (the Python load generator sends the same). The seed
# (bench/__main__.py) gives tasks due dates, priorities and tags, so each filter keeps a
# realistic share of a user's 50 tasks: about 17 carry "home", about 7 are overdue.
LISTS = {
    "list": "limit=50",
    "list_due": "sort=due",
    "list_position": "sort=position",
    "list_tag": "tag=home",
    "list_overdue": "overdue=true&tz=Europe/Paris",
    "search": SEARCH,
}
# The task workloads with a `list` filter (issue 20): the first page of the user's Inbox, which
# holds their seeded tasks, in its manual order and in another order (read from that order's
# index, keeping the list's rows).
IN_LIST = {
    "list_in_list": "sort=position&limit=50",
    "list_in_list_due": "sort=due&limit=50",
}


@dataclass(frozen=True)
class Workload:
    """One workload: the Lua body of wrk's request() (`u` is a random seeded user), the floors
    that serve it too, the status every request of it must get, whether
    4xx/5xx answers are allowed (a login storm gets 429s by design, auth/passwords.py; wrk counts
    every 4xx/5xx alike), and whether it uses the seeded tasks: then every load run starts from
    the seed (bench/__main__.py puts the tasks back as seeded), so each run, the floor's and
    the service's, sees the same data, and no earlier write leaves a stale ETag or a deleted id
    behind."""

    lua: str
    # The floors that serve it too (then it has a ratio to each): "plain" (bench/plain.py) and
    # "floor" (bench/floor.py, the same SQL).
    floors: tuple[str, ...] = ("plain", "floor")
    status: int = 200
    refusals_allowed: bool = False
    tasks: bool = True
    recurring: bool = False  # the run starts with every seeded task pending and recurring
    one_user: bool = False  # every request for the first seeded user: their clients at once


_TOGGLE = (
    'return send("PATCH", "/api/" .. u.id .. "/tasks/" .. pick(u.tasks) .. "/complete", '
    "auth(u), nil)"
)
_CREATE = 'send("POST", "/api/" .. u.id .. "/tasks", h, \'{"title": "bench task"}\')'
# Issue 19: the same writes with the time fields, to compare with create, update and toggle: a
# task due at a time (in the owner's zone), recurring, with a reminder; a due time and reminder
# set on a task; a recurring task completed (it advances to its next occurrence).
TIMED_TASK = {
    "title": "bench task",
    "due_date": "2026-12-21",
    "due_time": "09:30",
    "recurrence": "FREQ=WEEKLY;BYDAY=MO,WE",
    "reminders": [{"before": 15}],
}
TIMED_UPDATE = {"due_date": "2026-12-21", "due_time": "10:15", "reminders": [{"before": 30}]}
WORKLOADS: dict[str, Workload] = {
    **{
        name: Workload(f'return get("/api/" .. u.id .. "/tasks?{query}", auth(u))')
        for name, query in LISTS.items()
    },
    "get": Workload('return get("/api/" .. u.id .. "/tasks/" .. pick(u.tasks), auth(u))'),
    # The same with the user's personal access token: what checking one costs beside a JWT.
    "get_personal": Workload(
        'return get("/api/" .. u.id .. "/tasks/" .. pick(u.tasks), '
        '{["Authorization"] = "Bearer " .. u.personal})',
        floors=(),
    ),
    # A client revalidating a task it holds: If-None-Match with the task's current ETag, 304.
    "conditional_get": Workload(
        "local i = math.random(#u.tasks); local h = auth(u); "
        "h[\"If-None-Match\"] = '\"' .. u.versions[i] .. '\"'; "
        'return get("/api/" .. u.id .. "/tasks/" .. u.tasks[i], h)',
        status=304,
    ),
    # A client up to date, polling the change feed with its token.
    "sync": Workload('return get("/api/" .. u.id .. "/tasks/changes?since=" .. u.sync, auth(u))'),
    "tags": Workload('return get("/api/" .. u.id .. "/tags", auth(u))'),
    # A sidebar: the user's lists with their counts (the floor has no list routes).
    "lists": Workload('return get("/api/" .. u.id .. "/lists", auth(u))', floors=()),
    **{
        name: Workload(
            f'return get("/api/" .. u.id .. "/tasks?list=" .. u.inbox .. "&{query}", auth(u))'
        )
        for name, query in IN_LIST.items()
    },
    # One list, as a client opening it reads it.
    "list_get": Workload('return get("/api/" .. u.id .. "/lists/" .. u.inbox, auth(u))', floors=()),
    "update": Workload(
        'return send("PUT", "/api/" .. u.id .. "/tasks/" .. pick(u.tasks), auth(u), '
        """'{"title": "renamed ' .. math.random(1000000) .. '"}')"""
    ),
    "toggle": Workload(_TOGGLE),
    # A random task of the user's put right after another random task of theirs.
    "move": Workload(
        "local i = math.random(#u.tasks); local j = math.random(#u.tasks - 1); "
        "if j >= i then j = j + 1 end; "
        'return send("POST", "/api/" .. u.id .. "/tasks/" .. u.tasks[i] .. "/move", auth(u), '
        """'{"after": ' .. u.tasks[j] .. '}')"""
    ),
    "create": Workload(f"local h = auth(u); return {_CREATE}", status=201),
    "create_timed": Workload(
        f'return send("POST", "/api/" .. u.id .. "/tasks", auth(u), \'{json.dumps(TIMED_TASK)}\')',
        floors=("floor",),
        status=201,
    ),
    "update_timed": Workload(
        'return send("PUT", "/api/" .. u.id .. "/tasks/" .. pick(u.tasks), auth(u), '
        f"'{json.dumps(TIMED_UPDATE)}')",
        floors=("floor",),
    ),
    "complete_recurring": Workload(
        'return send("PATCH", "/api/" .. u.id .. "/tasks/" .. pick(u.tasks) .. "/complete", '
        """auth(u), '{"completed": true}')""",
        floors=("floor",),
        recurring=True,
    ),
    # One user's 32 clients writing at once (a user's writes share their row lock and counts).
    "create_one_user": Workload(f"local h = auth(u); return {_CREATE}", status=201, one_user=True),
    "toggle_one_user": Workload(_TOGGLE, one_user=True),
    # Every create with a fresh Idempotency-Key, as a careful client sends them.
    "idempotent_create": Workload(
        'local h = auth(u); h["Idempotency-Key"] = math.random(1000000000) .. "-" .. '
        f"math.random(1000000000); return {_CREATE}",
        status=201,
    ),
    # Each run starts from the seed, where half of each user's tasks are completed: a user's
    # first clear deletes their 25, every later one finds nothing to delete. So the figure is
    # the steady state of a client clearing often, a handful of tasks or none at a time: the
    # statement's fixed cost (the user's row locked, the caller rule, the completed tasks
    # looked up), plus at most one real clear per user per run. The floor runs the same.
    "clear_completed": Workload(
        'return send("POST", "/api/" .. u.id .. "/tasks/clear-completed", auth(u), nil)'
    ),
    # A client staying logged in: each connection trades its refresh token for the next.
    "refresh": Workload(
        'local t = table.remove(chain) or "spent"; '
        'return send("POST", "/api/auth/refresh", {}, \'{"refresh_token": "\' .. t .. \'"}\')',
        tasks=False,
    ),
    "login": Workload(
        'return send("POST", "/api/auth/login", {}, '
        f'\'{{"username": "\' .. u.name .. \'", "password": "{PASSWORD}"}}\')',
        floors=(),
        refusals_allowed=True,
        tasks=False,
    ),
    "bad_token": Workload(
        'return get("/api/" .. u.id .. "/tasks", {["Authorization"] = "Bearer not.a.token"})',
        floors=(),
        status=401,
        tasks=False,
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
  local u = %(user)s
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
    versions: list[int]  # each task's version as seeded: its ETag, while the seed holds
    sync: str  # a change-feed token past every change the user has
    inbox: int = 0  # the user's default list, which holds their seeded tasks
    personal: str = ""  # a personal access token of the user's (write scope)


def _lua_list(numbers: list[int]) -> str:
    return "{" + ", ".join(map(str, numbers)) + "}"


def _lua_users(users: list[SeededUser]) -> str:
    entries = [
        f"{{id={json.dumps(u.id)}, name={json.dumps(u.name)}, token={json.dumps(u.token)}, "
        f"personal={json.dumps(u.personal)}, "
        f"sync={json.dumps(u.sync)}, tasks={_lua_list(u.tasks)}, versions={_lua_list(u.versions)}, "
        f"inbox={u.inbox}}}"
        for u in users
    ]
    return "{\n" + ",\n".join(entries) + "\n}"


def write_scripts(folder: Path, users: list[SeededUser]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    table = _lua_users(users)
    scripts = {}
    for name, workload in WORKLOADS.items():
        path = folder / f"{name}.lua"
        user = "users[1]" if workload.one_user else "pick(users)"
        text = _PRELUDE % {"users": table, "request": workload.lua, "user": user}
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
