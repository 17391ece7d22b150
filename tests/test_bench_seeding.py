"""The benchmark's seeding (bench/seeding.py) loads what the service itself would have written:
rows the table's checks accept, a manual order the position functions can keep working with,
change numbers, every index back, and the spread the data-size curves rely on."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest

from bench.seeding import COMMON_WORD, NOUNS, QUALIFIERS, TAGS, VERBS, Plan, load, position
from todo_api.db.migrations import apply_migrations
from todo_api.testing import fresh_database

PLAN = Plan(
    background_users=20, tasks_per_background_user=100, measured=(100, 2_000), listed=(200, 1_000)
)


@pytest.fixture(scope="module")
def seeded(server_url: str) -> Iterator[tuple[str, dict[int, str]]]:
    """The loaded database; its measured users by size, and the user with many lists as -1."""
    with fresh_database(server_url) as url:
        apply_migrations(url)
        with psycopg.connect(url) as conn:
            indexes_before = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'tasks' ORDER BY 1"
            ).fetchall()
        loaded = load(url, PLAN)
        with psycopg.connect(url) as conn:
            indexes_after = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'tasks' ORDER BY 1"
            ).fetchall()
        assert indexes_after == indexes_before
        yield url, {**loaded.measured, -1: loaded.listed}


def test_positions_are_base_62_increasing_and_ending_in_no_zero() -> None:
    made = [position(rank) for rank in range(0, 250_000, 997)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(re.fullmatch(r"[0-9A-Za-z]*[1-9A-Za-z]", p) for p in made)


def test_no_noun_is_part_of_another_word_of_the_vocabulary() -> None:
    for noun in NOUNS:
        assert [other for other in NOUNS if noun in other] == [noun]
        assert not any(noun in tag for tag in TAGS)
    words = [*NOUNS, *TAGS, *VERBS, *QUALIFIERS]
    assert not any(COMMON_WORD in w.lower() or w.lower() in COMMON_WORD for w in words)


def test_every_user_gets_their_tasks(seeded: tuple[str, dict[int, str]]) -> None:
    url, measured = seeded
    with psycopg.connect(url) as conn:
        counts = dict(conn.execute("SELECT user_id, count(*) FROM tasks GROUP BY 1").fetchall())
        users = conn.execute("SELECT count(*) FROM users").fetchone()
    assert users == (PLAN.background_users + len(PLAN.measured) + 1,)
    assert {size: counts[user] for size, user in measured.items()} == {
        100: 100,
        2_000: 2_000,
        -1: 1_000,
    }
    assert sum(counts.values()) == PLAN.rows


def test_the_manual_order_is_newest_first_and_the_service_can_add_to_it(
    seeded: tuple[str, dict[int, str]],
) -> None:
    url, measured = seeded
    user = measured[2_000]
    with psycopg.connect(url) as conn:
        by_position = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM tasks WHERE user_id = %s ORDER BY position", (user,)
            )
        ]
        by_created = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM tasks WHERE user_id = %s ORDER BY created_at DESC, id DESC",
                (user,),
            )
        ]
        assert by_position == by_created
        top = conn.execute(
            "INSERT INTO tasks (user_id, title) VALUES (%s, 'new') RETURNING position", (user,)
        ).fetchone()
        moved = conn.execute(
            "SELECT task_move_position(%s, %s, (SELECT list_id FROM tasks WHERE id = %s), %s)",
            (user, by_position[0], by_position[0], by_position[1000]),
        ).fetchone()
        first, between = conn.execute(
            "SELECT min(position), (SELECT position FROM tasks WHERE id = %s) FROM tasks "
            "WHERE user_id = %s",
            (by_position[1001], user),
        ).fetchone() or (None, None)
        conn.rollback()
    assert top is not None and top[0] == first
    assert moved is not None and moved[0] < between


def test_the_spread_is_a_planners(seeded: tuple[str, dict[int, str]]) -> None:
    url, measured = seeded
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """SELECT avg(completed::int), avg((due_date IS NOT NULL)::int),
                      avg((description IS NOT NULL)::int), avg((priority = 'none')::int),
                      avg(('work' = ANY (tags))::int), avg((title ILIKE '%%dentist%%'
                          OR description ILIKE '%%dentist%%')::int),
                      avg((title ILIKE '%%milk%%')::int),
                      avg((due_date < current_date - 300)::int),
                      avg((due_date > current_date + 300)::int),
                      bool_and(updated_at >= created_at), bool_and(completed_at >= created_at),
                      count(DISTINCT change_seq), count(*), max(version)
               FROM tasks WHERE user_id = %s""",
            (measured[2_000],),
        ).fetchone()
    assert row is not None
    (completed, due, described, no_priority, work, dentist, milk, long_ago, far_ahead,
     updated_ok, done_ok, seqs, n, top) = row  # fmt: skip
    assert 0.25 < completed < 0.35 and 0.55 < due < 0.65 and 0.45 < described < 0.55
    assert 0.07 < milk < 0.13  # the common search word: in a tenth of the titles
    # Of the due tasks, about 65 days in 730 are more than 300 days away on either side.
    assert 0.05 < long_ago < 0.13 and 0.05 < far_ahead < 0.13  # due dates over two years
    assert 0.45 < no_priority < 0.55
    assert 0.15 < work < 0.40  # the common tag
    assert 0.01 < dentist < 0.06  # a searched word: a few percent, not a third
    assert updated_ok and done_ok and seqs == n and top > 1


def test_the_user_with_many_lists_has_tasks_in_each_in_a_manual_order_per_list(
    seeded: tuple[str, dict[int, str]],
) -> None:
    url, measured = seeded
    with psycopg.connect(url) as conn:
        lists = conn.execute(
            "SELECT l.id, count(t.id), c.tasks FROM lists AS l "
            "LEFT JOIN tasks AS t ON t.list_id = l.id "
            "LEFT JOIN task_counts AS c"
            " ON c.user_id = l.user_id AND c.list_id = l.id AND c.tag = '' "
            "WHERE l.user_id = %s GROUP BY l.id, c.tasks",
            (measured[-1],),
        ).fetchall()
        orders = conn.execute(
            "SELECT bool_and(by_position = by_created) FROM ("
            " SELECT array_agg(id ORDER BY position) AS by_position,"
            "        array_agg(id ORDER BY created_at DESC, id DESC) AS by_created"
            " FROM tasks WHERE user_id = %s GROUP BY list_id) AS per_list",
            (measured[-1],),
        ).fetchone()
        others = conn.execute(
            "SELECT count(*) FROM lists WHERE user_id <> %s AND NOT is_default", (measured[-1],)
        ).fetchone()
    assert len(lists) == 200
    # 1,000 tasks drawn at random over 200 lists: about 5 in each, and the kept counts agree.
    assert all(count == kept for _, count, kept in lists if count)
    assert sum(count for _, count, _ in lists) == 1_000 and max(c for _, c, _ in lists) < 25
    assert orders == (True,)  # each list: newest on top
    assert others == (0,)  # everyone else has their Inbox alone
