"""The data-size curves (issue 13): `python -m bench.sizes [--quick]` (README, Performance).

Loads a realistic database (bench/seeding.py: 10,000 users with 100 tasks each, one user
each with 100, 1,000, 10,000 and 100,000 tasks, all in their Inbox, and one user with 10,000
tasks spread over 200 lists), starts one `todo-api serve` (1 worker), and
for each of the measured users times requests sent one after another over one keep-alive
connection: the first list page (limit 50) in every sort order, plain and with `status`, `tag`,
`q` (a word in 10% of the titles) and `overdue`; the first page of one list (`list`, issue 20:
the Inbox of a user with one list; a random one of the 200 of the user with many lists, who is
measured for these figures alone and set beside the one-list user of as many tasks);
a page deep in (after 90% of the rows); get;
create; move; the change feed from a token one change old. Figure after figure, each figure
measured at every size in turn (so a burst of noise from elsewhere on the machine falls on one
figure, not on one size). Every response's
status is checked (a wrong one is an error in the report, never timed), and X-Total-Count (with
X-Total-Count-Exact where a count may stop at 10,000) and the deep page's first row are compared
with what SQL says.

Writes bench/results/sizes-<time>.json and a PNG of the curves (data size on a log axis); a
full run also writes the stable bench/results/sizes.png the README shows. --quick (the smoke
run): 50 background users, users of 100 and 1,000 tasks (and 1,000 tasks in 200 lists), 10
requests per figure. A full run
times up to 200 requests per figure and size, and at least 40, for 15 s at most past those."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.seeding import COMMON_WORD, NOUNS, TAGS, Plan, load
from bench.workloads import SECRET, session_for
from todo_api.auth.tokens import issue_token
from todo_api.caller import Caller
from todo_api.cursors import CursorCodec
from todo_api.db.migrations import apply_migrations
from todo_api.db.tasks import COUNT_LIMIT, SORTS, like_pattern
from todo_api.sync_tokens import FeedPosition, SyncTokens
from todo_api.testing import ROOT, TODO_API, Server, fresh_database, throwaway_server

RESULTS = ROOT / "bench" / "results"
TAG = TAGS[0]  # the most common tag: on about a quarter of the tasks
WORD = COMMON_WORD  # in 10% of the titles
ZONE = "Europe/Berlin"
FILTERS = {
    "": {},
    "status=pending": {"status": "pending"},
    "tag": {"tag": TAG},
    "q": {"q": WORD},
    "overdue": {"overdue": "true", "tz": ZONE},
}
DEEP_SORTS = ("created", "position", "title", "due")
DEEP_AT = 0.9
LIMIT = 50
TARGET = 2.0  # at the largest size, within this factor of the smallest
TARGET_SEARCH = 5.0
# A list's first page for the user with 200 lists, within this factor of the one-list user's
# with as many tasks (issue 20: "as fast as a user with one list").
TARGET_LISTS = 1.25


@dataclass(frozen=True)
class Mode:
    plan: Plan
    warmup: int  # requests per figure and size before timing
    requests: int  # timed requests per figure and size, unless the budget runs out first
    budget: float  # seconds of timed requests per figure and size, once `least` are done
    least: int


FULL = Mode(Plan(), warmup=10, requests=200, budget=15, least=40)
QUICK = Mode(
    Plan(background_users=50, measured=(100, 1_000), listed=(200, 1_000)),
    warmup=2,
    requests=10,
    budget=5,
    least=10,
)


@dataclass
class User:
    """A measured user: its size, id, token, tasks, deep-page cursors, feed token."""

    size: int
    id: str
    token: str
    task_ids: list[int]
    deep: dict[str, tuple[str, int]] = field(default_factory=dict)  # sort: (cursor, next id)
    feed_token: str = ""
    list_ids: list[int] = field(default_factory=list)  # their lists, in their order


@dataclass(frozen=True)
class Call:
    """One request, and what it must answer; `after`: an untimed request that undoes it."""

    method: str
    path: str
    params: dict[str, str] | None = None
    body: dict[str, Any] | None = None
    status: int = 200
    after: Callable[[httpx.Response], Call] | None = None


@dataclass(frozen=True)
class Figure:
    name: str
    family: str  # the plot the figure is drawn in
    series: str  # its line there
    call: Callable[[User, random.Random], Call]
    search: bool = False  # a `q` search: its target is TARGET_SEARCH
    in_list: bool = False  # one list's page: the user with many lists is measured too


@dataclass
class Result:
    figure: str
    family: str
    series: str
    size: int
    median_ms: float | None
    p99_ms: float | None
    requests: int
    errors: int
    lists: int = 1  # the user's lists


def _list_call(sort: str, extra: dict[str, str]) -> Callable[[User, random.Random], Call]:
    def call(user: User, rng: random.Random) -> Call:
        params = {"limit": str(LIMIT), "sort": sort, **extra}
        return Call("GET", f"/api/{user.id}/tasks", params)

    return call


def _in_list_call(sort: str) -> Callable[[User, random.Random], Call]:
    def call(user: User, rng: random.Random) -> Call:
        params = {"limit": str(LIMIT), "sort": sort, "list": str(rng.choice(user.list_ids))}
        return Call("GET", f"/api/{user.id}/tasks", params)

    return call


def _deep_call(sort: str) -> Callable[[User, random.Random], Call]:
    def call(user: User, rng: random.Random) -> Call:
        params = {"limit": str(LIMIT), "sort": sort, "cursor": user.deep[sort][0]}
        return Call("GET", f"/api/{user.id}/tasks", params)

    return call


def _get(user: User, rng: random.Random) -> Call:
    return Call("GET", f"/api/{user.id}/tasks/{rng.choice(user.task_ids)}")


def _feed(user: User, rng: random.Random) -> Call:
    return Call("GET", f"/api/{user.id}/tasks/changes", {"since": user.feed_token})


def _move(user: User, rng: random.Random) -> Call:
    moved, after = rng.sample(user.task_ids, 2)
    return Call("POST", f"/api/{user.id}/tasks/{moved}/move", body={"after": after})


def _create(user: User, rng: random.Random) -> Call:
    """A task as a planner makes one; deleted again (untimed) so the user keeps their size."""
    due = (dt.date.today() + dt.timedelta(days=rng.randint(0, 30))).isoformat()
    body = {"title": f"Call the {rng.choice(NOUNS)}", "priority": "medium", "tags": [TAG]}
    body["due_date"] = due

    def delete(created: httpx.Response) -> Call:
        return Call("DELETE", f"/api/{user.id}/tasks/{created.json()['id']}", status=204)

    return Call("POST", f"/api/{user.id}/tasks", body=body, status=201, after=delete)


def figures() -> list[Figure]:
    """Every figure, reads first: the feed's token stays one change old until the writes."""
    listed = [
        Figure(
            f"list sort={sort}{f' {name}' if name else ''}",
            f"list {name or 'plain'}",
            sort,
            _list_call(sort, extra),
            search=name == "q",
        )
        for name, extra in FILTERS.items()
        for sort in SORTS
    ]
    in_list = [
        Figure(f"in list sort={sort}", "one list", sort, _in_list_call(sort), in_list=True)
        for sort in SORTS
    ]
    deep = [Figure(f"deep sort={sort}", "deep page", sort, _deep_call(sort)) for sort in DEEP_SORTS]
    single = [
        Figure("get", "one task", "get", _get),
        Figure("feed", "one task", "feed (1 change)", _feed),
        Figure("move", "one task", "move", _move),
        Figure("create", "one task", "create", _create),
    ]
    return [*listed, *in_list, *deep, *single]


def prepare(url: str, measured: list[tuple[int, str]]) -> list[User]:
    """Sessions and tokens for the measured users, their task ids and list ids, a cursor after
    90% of their rows in each DEEP_SORTS order (made as the service makes them, from the row's
    sort key), and a sync token one change old (at their second latest change)."""
    codec = CursorCodec(SECRET)
    users = []
    with psycopg.connect(url, autocommit=True) as conn:
        for size, user_id in measured:
            conn.execute(
                "INSERT INTO sessions (id, user_id, ends_at) VALUES (%s, %s, now() + '1 day')",
                (session_for(user_id), user_id),
            )
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM tasks WHERE user_id = %s ORDER BY id", (user_id,)
                )
            ]
            token = issue_token(SECRET, Caller(user_id, session_for(user_id)), 86400)
            user = User(size, user_id, token, ids)
            user.list_ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM lists WHERE user_id = %s ORDER BY position", (user_id,)
                )
            ]
            for sort in DEEP_SORTS:
                spec = SORTS[sort]
                order = spec.default_order
                # The sort's key as the service orders by it: its column, then its second
                # column if it has one (sort=due: the date, then due_at), then the id.
                then = spec.then
                second = f"t.{then.column}" if then is not None else "NULL"
                keys = [spec.key(f"t.{spec.column}", order)]
                if then is not None:
                    keys.append(then.key(second, order))
                order_by = ", ".join(f"{k} {order}" for k in [*keys, "t.id"])
                rows = conn.execute(
                    f"SELECT t.{spec.column}, {second}, t.id FROM tasks AS t "
                    f"WHERE t.user_id = %s ORDER BY {order_by} OFFSET %s LIMIT 2",
                    (user_id, int(size * DEEP_AT) - 1),
                ).fetchall()
                (value, then_value, last_id), (_, _, next_id) = rows
                cursor_key = (value, then_value) if then is not None else value
                cursor = codec.encode(sort, order, spec.key_type, cursor_key, last_id)
                user.deep[sort] = (cursor, next_id)
            changes = conn.execute(
                """SELECT change_seq, id FROM tasks WHERE user_id = %(u)s
                   UNION ALL SELECT change_seq, task_id FROM task_tombstones WHERE user_id = %(u)s
                   ORDER BY 1 DESC, 2 DESC LIMIT 2""",
                {"u": user_id},
            ).fetchall()
            user.feed_token = SyncTokens(SECRET, 30).encode(user_id, FeedPosition(*changes[1]))
            users.append(user)
    return users


def expected_total(conn: psycopg.Connection[Any], user_id: str, params: dict[str, str]) -> int:
    """What X-Total-Count must say for a list with these filters, counted by SQL."""
    where = ["user_id = %(u)s"]
    if params.get("status") == "pending":
        where.append("NOT completed")
    if "tag" in params:
        where.append("tags @> ARRAY[%(tag)s]")
    if "list" in params:
        where.append("list_id = %(list)s::bigint")
    if "q" in params:
        where.append("(title ILIKE %(pattern)s OR description ILIKE %(pattern)s)")
    if params.get("overdue") == "true":
        where.append("NOT completed AND due_date < (now() AT TIME ZONE %(zone)s)::date")
    row = conn.execute(
        f"SELECT count(*) FROM tasks WHERE {' AND '.join(where)}",
        {"u": user_id, "tag": params.get("tag"), "list": params.get("list"),
         "pattern": like_pattern(params.get("q", "")), "zone": params.get("tz", "UTC")},
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


class Checks:
    """What was checked besides the timings, and what went wrong."""

    def __init__(self) -> None:
        self.totals: list[dict[str, Any]] = []
        self.deep: list[dict[str, Any]] = []
        self.feed: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []

    def error(self, figure: str, size: int, call: Call, response: httpx.Response) -> None:
        if sum(1 for e in self.errors if e["figure"] == figure and e["size"] == size) < 3:
            self.errors.append(
                {"figure": figure, "size": size, "request": f"{call.method} {call.path}",
                 "status": response.status_code, "body": response.text[:300]}
            )  # fmt: skip

    def first_response(
        self, conn: psycopg.Connection[Any], figure: Figure, user: User, response: httpx.Response
    ) -> None:
        """Checks made on a figure's first good response at each size."""
        request = response.request
        params = dict(request.url.params)
        if figure.family.startswith("list") or figure.in_list or figure.family == "deep page":
            # A count that may stop at COUNT_LIMIT says so (X-Total-Count-Exact: false).
            expected = expected_total(conn, user.id, params)
            bounded = "q" in params or "overdue" in params
            stops = bounded and expected > COUNT_LIMIT
            got = int(response.headers.get("x-total-count", "-1"))
            exact = response.headers.get("x-total-count-exact") != "false"
            self.totals.append(
                {"figure": figure.name, "size": user.size, "x_total_count": got,
                 "exact": exact, "sql_count": expected,
                 "ok": got == (min(expected, COUNT_LIMIT) if bounded else expected)
                       and exact is not stops}
            )  # fmt: skip
        if figure.family == "deep page":
            rows = response.json()
            want = user.deep[figure.series][1]
            first = rows[0]["id"] if rows else None
            self.deep.append(
                {"figure": figure.name, "size": user.size, "first_id": first,
                 "expected_id": want, "ok": first == want}
            )  # fmt: skip
        if figure.name == "feed":
            changes = len(response.json()["changes"])
            self.feed.append({"size": user.size, "changes": changes, "ok": changes == 1})


def measure(
    client: httpx.Client,
    conn: psycopg.Connection[Any],
    figure: Figure,
    user: User,
    mode: Mode,
    rng: random.Random,
    checks: Checks,
) -> Result:
    samples: list[float] = []
    errors = 0
    checked = False
    timed_from = 0.0
    for n in range(mode.warmup + mode.requests):
        if n == mode.warmup:
            timed_from = time.monotonic()
        elif len(samples) >= mode.least and time.monotonic() - timed_from > mode.budget:
            break
        call = figure.call(user, rng)
        headers = {"Authorization": f"Bearer {user.token}"}
        began = time.perf_counter()
        response = client.request(
            call.method, call.path, params=call.params, json=call.body, headers=headers
        )
        elapsed = time.perf_counter() - began
        if response.status_code != call.status:
            errors += 1
            checks.error(figure.name, user.size, call, response)
            continue
        if n >= mode.warmup:
            samples.append(elapsed * 1000)
        if not checked:
            checks.first_response(conn, figure, user, response)
            checked = True
        if call.after is not None:
            undo = call.after(response)
            done = client.request(undo.method, undo.path, headers=headers)
            if done.status_code != undo.status:
                errors += 1
                checks.error(figure.name, user.size, undo, done)
    many = len(user.list_ids) > 1
    return Result(
        figure.name,
        figure.family,
        f"{figure.series}, {len(user.list_ids)} lists" if many else figure.series,
        user.size,
        statistics.median(samples) if samples else None,
        percentile(samples, 99) if samples else None,
        len(samples),
        errors,
        len(user.list_ids),
    )


def percentile(samples: list[float], p: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


Point = tuple[int, int]  # a measured user: (tasks, lists)


def points(results: list[Result]) -> list[Point]:
    """The measured users, the one-list ones by size, then the one with many lists."""
    return sorted({(r.size, r.lists) for r in results}, key=lambda p: (p[1] > 1, p[0]))


def ratios(results: list[Result], figs: list[Figure]) -> list[dict[str, Any]]:
    """Each figure at the largest size against the smallest, and whether it meets its target;
    and each figure of one list's page for the user with many lists against the one-list user
    with as many tasks."""
    one_list = [p for p in points(results) if p[1] == 1]
    by = {(r.figure, r.size, r.lists): r for r in results}
    out = []
    for fig in figs:
        target = TARGET_SEARCH if fig.search else TARGET
        pairs = [(f"{one_list[0][0]:,}", one_list[0], f"{one_list[-1][0]:,}", one_list[-1], target)]
        pairs += [
            (f"{size:,} in 1 list", (size, 1), f"{size:,} in {lists} lists", (size, lists),
             TARGET_LISTS)
            for size, lists in points(results)
            if lists > 1 and fig.in_list and (fig.name, size, 1) in by
        ]  # fmt: skip
        for name_from, small_at, name_to, large_at, goal in pairs:
            small, large = by[(fig.name, *small_at)], by[(fig.name, *large_at)]
            row: dict[str, Any] = {"figure": fig.name, "from": name_from, "to": name_to,
                                   "target": goal}  # fmt: skip
            for stat in ("median_ms", "p99_ms"):
                a, b = getattr(small, stat), getattr(large, stat)
                ratio = b / a if a and b is not None else None
                row[stat.replace("_ms", "_ratio")] = ratio
                row[stat.replace("_ms", "_over")] = ratio is None or ratio > goal
            out.append(row)
    return out


def table(results: list[Result], rows: list[dict[str, Any]]) -> str:
    at = points(results)
    by = {(r.figure, r.size, r.lists): r for r in results}

    def cell(r: Result | None) -> str:
        if r is None:
            return ""
        if r.median_ms is None or r.p99_ms is None:
            return "failed"
        return f"{r.median_ms:.1f} / {r.p99_ms:.1f}"

    head = [
        "figure",
        *(f"{s:,} tasks{f' in {n} lists' if n > 1 else ''}: median / p99 ms" for s, n in at),
        "ratio of",
        "median x",
        "p99 x",
        "target",
    ]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for row in rows:
        fmt = [
            f"{row[k]:.2f}x" if row[k] is not None else "-" for k in ("median_ratio", "p99_ratio")
        ]
        missed = [k.split("_")[0] for k in ("median_over", "p99_over") if row[k]]
        flag = f"over {row['target']:g}x: {', '.join(missed)}" if missed else ""
        cells = [
            row["figure"],
            *(cell(by.get((row["figure"], *p))) for p in at),
            f"{row['to']} / {row['from']}",
            *fmt,
            flag,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: list[Result], title: str, paths: list[Path]) -> None:
    """One panel per family; a colour per series, the median solid and the p99 dashed; the
    data size (and the time) on log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}")

    families = list(dict.fromkeys(r.family for r in results))
    columns = 3
    rows = -(-len(families) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(16, 4.8 * rows), squeeze=False)
    for ax, family in zip(axes.flat, families, strict=False):
        mine = [r for r in results if r.family == family]
        # The user with many lists: one point (a diamond) in the colour of its sort order.
        curves = list(dict.fromkeys(r.series for r in mine if r.lists == 1))
        for series in dict.fromkeys(r.series for r in mine):
            points = sorted((r.size, r.median_ms, r.p99_ms) for r in mine if r.series == series)
            many = series not in curves
            colour = f"C{curves.index(series.split(',')[0]) if many else curves.index(series)}"
            good = [(s, m, p) for s, m, p in points if m is not None and p is not None]
            sizes = [s for s, _, _ in good]
            ax.plot(sizes, [m for _, m, _ in good], "D" if many else "o-", color=colour,
                    label=series)  # fmt: skip
            ax.plot(sizes, [p for _, _, p in good], "x" if many else "x--", color=colour,
                    alpha=0.6)  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.set_title(family)
        ax.set_xlabel("tasks of the user")
        ax.set_ylabel("ms per request")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
    for ax in list(axes.flat)[len(families) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    for path in paths:
        fig.savefig(path, dpi=90)
    plt.close(fig)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(server_url: str, folder: Path, quick: bool, only: str = "") -> dict[str, Any]:
    """Seed a fresh database on the PostgreSQL server at `server_url`, measure every figure at
    every size against one `todo-api serve` (logs under `folder`), write the JSON and PNGs to
    bench/results/, print the table; the report."""
    mode = QUICK if quick else FULL
    figs = [f for f in figures() if only in f.name]
    rng = random.Random(13)
    checks = Checks()
    results: list[Result] = []
    began = time.monotonic()
    load_before = load_average()
    with fresh_database(server_url, "todo_sizes") as url:
        apply_migrations(url)
        loaded = load(url, mode.plan)
        print(
            f"seeded {loaded.users:,} users and {loaded.rows:,} tasks in {loaded.seconds:.1f} s "
            f"({', '.join(f'{k} {v:.1f} s' for k, v in loaded.phases.items())})",
            flush=True,
        )
        users = prepare(
            url, [*sorted(loaded.measured.items()), (mode.plan.listed[1], loaded.listed)]
        )
        env = {"DATABASE_URL": url, "JWT_SECRET": SECRET, "MIGRATE_ON_START": "false",
               "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1"}  # fmt: skip
        server = Server([*TODO_API, "--workers", "1"], env)
        try:
            server.wait_until_up()
            with (
                httpx.Client(base_url=server.base, timeout=60) as client,
                psycopg.connect(url, autocommit=True) as conn,
            ):
                for figure in figs:
                    measured = [u for u in users if figure.in_list or len(u.list_ids) == 1]
                    for user in measured:
                        results.append(measure(client, conn, figure, user, mode, rng, checks))
                    print(f"  {figure.name}: " + ", ".join(
                        f"{r.size:,}{f' in {r.lists} lists' if r.lists > 1 else ''} "
                        f"{r.median_ms or 0:.1f} ms" for r in results[-len(measured):]
                    ), flush=True)  # fmt: skip
        finally:
            server.terminate()
            (folder / "sizes-server.log").write_text(server.output)
    rows = ratios(results, figs)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "when": stamp,
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": load_average(),
        },
        "settings": {
            "quick": quick,
            "plan": asdict(mode.plan),
            "warmup": mode.warmup,
            "requests": mode.requests,
            "budget_seconds": mode.budget,
            "least_requests": mode.least,
            "limit": LIMIT,
            "tag": TAG,
            "q": WORD,
            "overdue_tz": ZONE,
            "deep_at": DEEP_AT,
            "targets": {"default": TARGET, "q": TARGET_SEARCH, "lists": TARGET_LISTS},
        },
        "seeding": asdict(loaded),
        "seconds": round(time.monotonic() - began, 1),
        "results": [asdict(r) for r in results],
        "ratios": rows,
        "checks": {"x_total_count": checks.totals, "deep_page": checks.deep, "feed": checks.feed},
        "errors": checks.errors,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"sizes{'-quick' if quick else ''}-{stamp}"
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2, default=str))
    pngs = [RESULTS / f"{name}.png"] + ([] if quick else [RESULTS / "sizes.png"])
    title = (
        f"todo-api, 1 worker: one user's requests by their number of tasks ({stamp}; "
        f"{mode.least} to {mode.requests} requests a point; median solid, p99 dashed)"
    )
    plot(results, title, pngs)
    failed = [c for group in report["checks"].values() for c in group if not c["ok"]]
    report["ok"] = not checks.errors and not failed
    print()
    print(table(results, rows))
    print(
        f"\n{len(checks.errors)} error responses kept ({sum(r.errors for r in results)} in all); "
        f"{len(failed)} failed checks of {sum(len(g) for g in report['checks'].values())}; "
        f"load average before {load_before}, after {report['machine']['load_average_after']}"
    )
    print(
        f"results: {', '.join(str(p.relative_to(ROOT)) for p in [RESULTS / f'{name}.json', *pngs])}"
    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sizes", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, 10 requests a figure")
    parser.add_argument("--only", default="", help="only the figures whose name has this text")
    args = parser.parse_args()
    configured = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="todo-api-sizes-") as scratch:
        folder = Path(scratch)
        with throwaway_server(configured, folder) as server_url:
            report = run(server_url, folder, args.quick, args.only)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
