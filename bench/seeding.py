"""A realistic database, loaded fast: users and their tasks written with COPY into the ordinary
tables (so every trigger fires and every derived table stays right), then VACUUM and ANALYZE.

What "realistic" means here (issue 13, "Data-size curves"): titles made from a vocabulary, so
that a searched word matches a few percent of a user's tasks, and one word ("milk") is in 10% of
the titles; about half with a description; about 30% completed; about 60% with a due date
spread over two years (a year ago to a year ahead; issue 23);
priorities none / low / medium / high at 50 / 20 / 20 / 10 percent; 0 to 3 tags out of 25,
chosen Zipf-like (a few tags are on many tasks, most on few); created over two years, with
the users' tasks interleaved in time (and so on disk) as they would be in a real table; a
manual order with the newest task on top, as the API's creates leave it; versions above 1 for
tasks that changed. Every user's tasks are in their Inbox, except one user's (issue 20), whose
tasks are spread at random over as many lists as a user may have (200), each list with its own
manual order. Ids and change numbers come from the table's own defaults, in created
order. Everything is drawn from a seeded random generator: the same plan loads the same data."""

from __future__ import annotations

import bisect
import itertools
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import bcrypt
import psycopg

from bench.workloads import PASSWORD

VERBS = (
    "Buy", "Call", "Email", "Fix", "Book", "Pay", "Review", "Plan", "Write", "Clean", "Order",
    "Schedule", "Prepare", "Check", "Update", "Send", "Pick up", "Return", "Renew", "Finish",
    "Read", "Cancel", "Organise", "Sort out", "Print", "Research", "Ask about", "Reply about",
    "Find", "Tidy",
)  # fmt: skip
# No noun is a part of another (nor of a verb, qualifier or tag), so a search for one matches
# exactly the tasks that name it.
NOUNS = (
    "invoice", "dentist", "groceries", "passport", "report", "slides", "budget", "insurance",
    "tickets", "plumber", "birthday", "presents", "laundry", "mortgage", "contract",
    "newsletter", "library", "taxes", "receipts", "bicycle", "fridge", "bills", "landlord",
    "meeting", "agenda", "proposal", "website", "backup", "laptop", "printer", "recipe",
    "flights", "hotel", "visa", "doctor", "prescription", "boiler", "windows", "gutter",
    "shelves", "curtains", "parcel", "pension", "homework", "piano", "wedding", "photos",
    "vacuum", "spreadsheet", "interview", "roadmap", "tyres", "sofa", "broadband", "uniform",
    "cheque", "kettle", "calendar", "blender", "dishwasher",
)  # fmt: skip
QUALIFIERS = (
    "today", "this week", "before Friday", "for mum", "for the team", "again", "online",
    "at the weekend", "next month", "asap",
)  # fmt: skip
PEOPLE = ("Sam", "Alex", "Priya", "Jonas", "Mia", "Tom", "Lena", "Omar")
DESCRIPTIONS = (
    "Remember the {0} too.",
    "Ask {p} about the {0} first.",
    "Notes: {0}, {1} and {2}.",
    "Waiting for {p} to send the {0}. Then sort out the {1}.",
    "Last time this took an afternoon; start early and bring the {0}.",
)
TAGS = (
    "work", "home", "errands", "family", "finance", "health", "shopping", "urgent", "someday",
    "waiting", "calls", "email", "reading", "travel", "garden", "kids", "admin", "projects",
    "ideas", "fitness", "house", "friends", "pets", "school", "car",
)  # fmt: skip
# Zipf-like (weight 1/rank): "work" is on about a quarter of the tasks, "car" on about 1%.
TAG_WEIGHTS = tuple(1 / rank for rank in range(1, len(TAGS) + 1))
TAG_COUNTS = ((0, 0.30), (1, 0.35), (2, 0.25), (3, 0.10))
PRIORITIES = (("none", 0.5), ("low", 0.2), ("medium", 0.2), ("high", 0.1))
COMPLETED = 0.30
DESCRIBED = 0.5
DUE = 0.6
DUE_DAYS = (-365, 365)
# A word in 10% of the titles and in no other word of the vocabulary: a common search.
COMMON_WORD = "milk"
COMMON_SHARE = 0.10
HISTORY = timedelta(days=730)
DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TASK_COLUMNS = (
    "user_id", "title", "description", "completed", "completed_at", "created_at", "updated_at",
    "due_date", "priority", "tags", "position", "version", "list_id",
)  # fmt: skip
CHUNK = 20_000  # rows per write to the COPY stream


@dataclass(frozen=True)
class Plan:
    """Who gets how many tasks: the background users, and one measured user per size."""

    background_users: int = 10_000
    tasks_per_background_user: int = 100
    measured: tuple[int, ...] = (100, 1_000, 10_000, 100_000)
    # The user with many lists: (lists, tasks); its tasks spread at random over its lists.
    listed: tuple[int, int] = (200, 10_000)
    seed: int = 13

    @property
    def rows(self) -> int:
        return (
            self.background_users * self.tasks_per_background_user
            + sum(self.measured)
            + self.listed[1]
        )


@dataclass
class Loaded:
    """What was loaded: the measured users' ids by size, and how long it took."""

    measured: dict[int, str]
    listed: str  # the id of the user with Plan.listed's lists
    users: int
    rows: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SeedUser:
    id: str
    username: str
    tasks: int
    lists: int = 1


def users_for(plan: Plan) -> list[SeedUser]:
    """The measured users (named by their size) first, then the user with many lists, then
    the background users."""
    rng = random.Random(plan.seed)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    measured = [SeedUser(new_id(), f"size-{n}", n) for n in plan.measured]
    lists, tasks = plan.listed
    listed = SeedUser(new_id(), f"lists-{lists}-{tasks}", tasks, lists)
    background = [
        SeedUser(new_id(), f"user{n:05d}", plan.tasks_per_background_user)
        for n in range(plan.background_users)
    ]
    return [*measured, listed, *background]


def position(rank: int) -> str:
    """The manual-order position of a user's task `rank` places from the top (0: the top): the
    format migration 0003 gave existing tasks ('a', four base-62 digits, 'V'): increasing in
    code-point order with the rank, never ending in '0', with room before and between."""
    n = rank + 1
    digits = []
    for _ in range(4):
        n, d = divmod(n, 62)
        digits.append(DIGITS[d])
    if n:
        raise ValueError(f"rank {rank} is past what four base-62 digits hold")
    return "a" + "".join(reversed(digits)) + "V"


def _tags(rng: random.Random, cumulative: list[float]) -> str:
    """A COPY text array of 0 to 3 distinct tags, chosen Zipf-like."""
    count = rng.choices((0, 1, 2, 3), cum_weights=_TAG_COUNT_CUMULATIVE)[0]
    chosen: list[str] = []
    while len(chosen) < count:
        tag = TAGS[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
        if tag not in chosen:
            chosen.append(tag)
    return "{" + ",".join(chosen) + "}"


_TAG_COUNT_CUMULATIVE = list(itertools.accumulate(w for _, w in TAG_COUNTS))
_PRIORITY_CUMULATIVE = list(itertools.accumulate(w for _, w in PRIORITIES))


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def task_lines(
    plan: Plan, users: Sequence[SeedUser], now: datetime, lists: dict[str, list[int]]
) -> Iterator[str]:
    """Every task of every user, as lines of COPY text (columns TASK_COLUMNS), in created order
    across all users: each user's tasks are spread evenly over the two years of HISTORY. A user
    in `lists` (their list ids) has each task in one of them, drawn at random, and a manual
    order per list; everyone else's tasks go to their Inbox (list_id NULL: the default list)."""
    rng = random.Random(plan.seed + 1)
    # Which list each task of a user with lists goes to, in created order (a generator of its
    # own, so the other users' tasks are the same whatever the lists).
    spread = random.Random(plan.seed + 2)
    chosen = {
        owner: [spread.randrange(len(lists[user.id])) for _ in range(user.tasks)]
        for owner, user in enumerate(users)
        if user.id in lists
    }
    in_list = {
        owner: [picks.count(n) for n in range(len(lists[users[owner].id]))]
        for owner, picks in chosen.items()
    }
    made_in_list = {owner: [0] * len(counts) for owner, counts in in_list.items()}
    owners = [i for i, user in enumerate(users) for _ in range(user.tasks)]
    rng.shuffle(owners)
    end = now.timestamp()
    start = end - HISTORY.total_seconds()
    created_times = sorted(rng.uniform(start, end) for _ in owners)
    made = [0] * len(users)  # tasks of each user so far, in created order
    today = now.date()
    cumulative_tags = list(itertools.accumulate(TAG_WEIGHTS))
    priorities = [p for p, _ in PRIORITIES]
    for owner, created in zip(owners, created_times, strict=True):
        user = users[owner]
        made[owner] += 1
        # The newest task is on top (rank 0): the API puts each new task above the others.
        rank = user.tasks - made[owner]
        list_id = "\\N"
        if owner in chosen:
            n = chosen[owner][made[owner] - 1]
            made_in_list[owner][n] += 1
            rank = in_list[owner][n] - made_in_list[owner][n]
            list_id = str(lists[user.id][n])
        noun = rng.choice(NOUNS)
        title = f"{rng.choice(VERBS)} the {noun}"
        if rng.random() < 0.5:
            title += " " + rng.choice(QUALIFIERS)
        if rng.random() < COMMON_SHARE:
            title += f" and {COMMON_WORD}"
        description = "\\N"
        if rng.random() < DESCRIBED:
            description = rng.choice(DESCRIPTIONS).format(
                *rng.sample(NOUNS, 3), p=rng.choice(PEOPLE)
            )
        completed = rng.random() < COMPLETED
        completed_at = "\\N"
        if completed:
            done = created + rng.random() * (end - created)
            completed_at = _stamp(done)
            updated = done
            version = rng.randint(2, 6)
        elif rng.random() < 0.6:
            updated = created + rng.random() * (end - created)
            version = rng.randint(2, 5)
        else:
            updated = created
            version = 1
        due = "\\N"
        if rng.random() < DUE:
            due = (today + timedelta(days=rng.randint(*DUE_DAYS))).isoformat()
        priority = rng.choices(priorities, cum_weights=_PRIORITY_CUMULATIVE)[0]
        yield (
            f"{user.id}\t{title}\t{description}\t{'t' if completed else 'f'}\t{completed_at}\t"
            f"{_stamp(created)}\t{_stamp(updated)}\t{due}\t{priority}\t"
            f"{_tags(rng, cumulative_tags)}\t{position(rank)}\t{version}\t{list_id}\n"
        )


# The tasks table's indexes that back no constraint (the sort orders', the tag filter's, any
# search index), as their definitions: dropped before the load and built again after it.
SECONDARY_INDEXES = """
SELECT pg_get_indexdef(i.indexrelid), i.indexrelid::regclass::text
FROM pg_index AS i
WHERE i.indrelid = 'tasks'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
ORDER BY 2
"""


def load(url: str, plan: Plan | None = None, now: datetime | None = None) -> Loaded:
    """Load the plan's users and tasks into the migrated, empty database at `url`, then VACUUM
    and ANALYZE.
    One password for everyone (PASSWORD, hashed once at bcrypt's cheapest cost).

    The rows go through the tasks table itself, so its checks, triggers and foreign key run for
    each of them. Only the indexes that back no constraint are dropped for the load and built
    again from their own definitions after it, in the same transaction (PostgreSQL's advice for
    populating a database: inserting 1.1 million rows interleaved across users into a dozen
    indexes touches a random leaf of each per row, several times slower than building them)."""
    plan = plan or Plan()
    now = now or datetime.now(UTC)
    users = users_for(plan)
    began = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = time.monotonic() - began - sum(phases.values())

    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    joined = _stamp(now.timestamp() - HISTORY.total_seconds() - 86400)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        with cur.copy(
            "COPY users (id, email, username, hashed_password, created_at, updated_at) FROM STDIN"
        ) as copy:
            for user in users:
                copy.write_row(
                    (user.id, f"{user.username}@example.com", user.username, password_hash,
                     joined, joined)
                )  # fmt: skip
        # The lists of the users with more than their Inbox (which the account came with),
        # made as the API makes them, each at the bottom; their ids, in the users' order.
        with cur.copy("COPY lists (user_id, name) FROM STDIN") as copy:
            for user in users:
                for n in range(2, user.lists + 1):
                    copy.write_row((user.id, f"List {n}"))
        many = [user.id for user in users if user.lists > 1]
        lists: dict[str, list[int]] = {user_id: [] for user_id in many}
        for user_id, list_id in cur.execute(
            "SELECT user_id, id FROM lists WHERE user_id = ANY(%s) ORDER BY position", (many,)
        ):
            lists[user_id].append(list_id)
        phase("users")
        indexes = cur.execute(SECONDARY_INDEXES).fetchall()
        for _, name in indexes:
            cur.execute(f"DROP INDEX {name}")
        columns = ", ".join(TASK_COLUMNS)
        with cur.copy(f"COPY tasks ({columns}) FROM STDIN") as copy:
            lines = task_lines(plan, users, now, lists)
            while chunk := "".join(itertools.islice(lines, CHUNK)):
                copy.write(chunk)
        phase("tasks")
        for definition, _ in indexes:
            cur.execute(definition)
        phase("indexes")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        # VACUUM as well: a table in service has been vacuumed (its visibility map lets counts
        # and index-only scans skip the heap), and autovacuum must not start on the fresh rows
        # in the middle of a measurement.
        conn.execute("VACUUM (ANALYZE) tasks")
        conn.execute("ANALYZE")
    phase("vacuum")
    return Loaded(
        measured={user.tasks: user.id for user in users[: len(plan.measured)]},
        listed=users[len(plan.measured)].id,
        users=len(users),
        rows=plan.rows,
        seconds=time.monotonic() - began,
        phases=phases,
    )


def main() -> int:
    """Load the full plan into the database at the URL given (migrated and empty)."""
    import sys

    loaded = load(sys.argv[1])
    print(
        f"loaded {loaded.users:,} users and {loaded.rows:,} tasks in {loaded.seconds:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in loaded.phases.items())})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
