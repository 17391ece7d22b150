"""Webhooks over HTTP (API.md, "Webhooks"): the routes and their rules, and deliveries made by
the app's own worker to receivers on loopback sockets, checked on the receiver's side with the
`standardwebhooks` library. The suite's settings (todo_api.testing.TEST_SETTINGS) allow http and
loopback urls, a 2 s attempt and retries after 0.3 s and 0.3 s."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import User, assert_problem, create_task, register
from tests.test_replicas import kill_and_await_restart, needs_replicas, replica_pid
from tests.webhook_receiver import Answer, Receiver, receiving
from todo_api.models.webhooks import WebhookCreate

pytestmark = pytest.mark.anyio
ALL_EVENTS = ["task.created", "task.updated", "task.completed", "task.deleted", "reminder"]


def hooks(owner: User) -> str:
    return f"/api/{owner.id}/webhooks"


async def add_webhook(
    client: httpx.AsyncClient, owner: User, url: str, events: list[str] | None = None, **more: Any
) -> dict[str, Any]:
    body = {"url": url, "events": events or ALL_EVENTS, **more}
    response = await client.post(hooks(owner), json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    webhook: dict[str, Any] = response.json()
    return webhook


async def deliveries(client: httpx.AsyncClient, owner: User, webhook_id: int) -> list[Any]:
    response = await client.get(
        f"{hooks(owner)}/{webhook_id}/deliveries?limit=100", headers=owner.headers
    )
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()
    return found


async def settled(
    client: httpx.AsyncClient, owner: User, webhook_id: int, count: int, within: float = 15
) -> list[Any]:
    """The deliveries once `count` of them are no longer pending."""
    deadline = time.monotonic() + within
    while True:
        found = await deliveries(client, owner, webhook_id)
        done = [d for d in found if d["status"] != "pending"]
        if len(done) >= count:
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)


# The routes.


async def test_a_webhook_is_created_with_a_secret_shown_only_then(
    client: httpx.AsyncClient, user: User
) -> None:
    body = {"url": "https://example.com/hook", "events": ["task.created", "task.created"]}
    response = await client.post(hooks(user), json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{hooks(user)}/{created['id']}"
    assert created["events"] == ["task.created"]
    assert created["active"] is True and created["description"] is None
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
    assert set(created) == {
        "id",
        "url",
        "events",
        "description",
        "active",
        "secret",
        "created_at",
        "updated_at",
    }
    listed = (await client.get(hooks(user), headers=user.headers)).json()
    assert [w["id"] for w in listed] == [created["id"]]
    one = (await client.get(f"{hooks(user)}/{created['id']}", headers=user.headers)).json()
    for shown in (listed[0], one):
        assert "secret" not in shown
        assert shown == {k: v for k, v in created.items() if k != "secret"}


async def test_a_change_touches_only_the_given_fields_and_never_shows_the_secret(
    client: httpx.AsyncClient, user: User
) -> None:
    created = await add_webhook(client, user, "https://example.com/a", description="mine")
    item = f"{hooks(user)}/{created['id']}"
    response = await client.patch(item, json={"events": ["reminder"]}, headers=user.headers)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert "secret" not in changed
    assert changed["events"] == ["reminder"] and changed["description"] == "mine"
    assert changed["url"] == "https://example.com/a"
    assert changed["updated_at"] > created["updated_at"]
    response = await client.patch(
        item, json={"description": None, "active": False}, headers=user.headers
    )
    assert response.json()["description"] is None and response.json()["active"] is False
    same = await client.patch(item, json={"active": False}, headers=user.headers)
    assert same.json()["updated_at"] == response.json()["updated_at"]
    for body in ({}, {"url": None}, {"events": None}, {"active": None}, {"events": []}):
        assert_problem(await client.patch(item, json=body, headers=user.headers), 422)


async def test_rotating_the_secret_shows_a_new_one(client: httpx.AsyncClient, user: User) -> None:
    created = await add_webhook(client, user, "https://example.com/a")
    response = await client.post(f"{hooks(user)}/{created['id']}/secret", headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.json()["secret"].startswith("whsec_")
    assert response.json()["secret"] != created["secret"]


async def test_another_users_webhook_is_not_found(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    created = await add_webhook(client, user, "https://example.com/a")
    item = f"{hooks(other)}/{created['id']}"
    for method, path in (
        ("GET", item),
        ("PATCH", item),
        ("DELETE", item),
        ("POST", f"{item}/secret"),
        ("GET", f"{item}/deliveries"),
    ):
        body = {"active": False} if method == "PATCH" else None
        response = await client.request(method, path, json=body, headers=other.headers)
        assert_problem(response, 404)
    assert_problem(await client.get(hooks(user), headers=other.headers), 403)
    for bad in ("0", "abc", "99999999999999999999"):
        assert_problem(await client.get(f"{hooks(user)}/{bad}", headers=user.headers), 404)
    assert (await client.get(f"{hooks(user)}/{created['id']}", headers=user.headers)).json()[
        "active"
    ] is True


async def test_a_deleted_webhook_is_gone(client: httpx.AsyncClient, user: User) -> None:
    created = await add_webhook(client, user, "https://example.com/a")
    item = f"{hooks(user)}/{created['id']}"
    assert (await client.delete(item, headers=user.headers)).status_code == 204
    assert_problem(await client.get(item, headers=user.headers), 404)
    assert_problem(await client.delete(item, headers=user.headers), 404)


async def test_at_most_ten_webhooks_a_user_even_when_added_at_once(
    client: httpx.AsyncClient, user: User
) -> None:
    body = {"url": "https://example.com/a", "events": ["reminder"]}
    responses = await asyncio.gather(
        *(client.post(hooks(user), json=body, headers=user.headers) for _ in range(14))
    )
    assert sorted(r.status_code for r in responses) == [201] * 10 + [422] * 4
    assert len((await client.get(hooks(user), headers=user.headers)).json()) == 10


@pytest.mark.parametrize(
    "body",
    [
        {"events": ["task.created"]},
        {"url": "https://example.com/a"},
        {"url": "https://example.com/a", "events": []},
        {"url": "https://example.com/a", "events": ["task.moved"]},
        {"url": "https://example.com/a", "events": "task.created"},
        {"url": "ftp://example.com/a", "events": ["reminder"]},
        {"url": "example.com/a", "events": ["reminder"]},
        {"url": "https:///a", "events": ["reminder"]},
        {"url": "https://user:pw@example.com/a", "events": ["reminder"]},
        {"url": "https://example.com/" + "a" * 2000, "events": ["reminder"]},
        {"url": "https://example.com/a", "events": ["reminder"], "description": "d" * 501},
        {"url": "https://exa mple.com/a", "events": ["reminder"]},
    ],
)
async def test_a_webhook_breaking_a_rule_is_422(
    client: httpx.AsyncClient, user: User, body: dict[str, Any]
) -> None:
    assert_problem(await client.post(hooks(user), json=body, headers=user.headers), 422)


def test_only_https_urls_unless_http_is_allowed() -> None:
    body = {"url": "http://example.com/a", "events": ["reminder"]}
    with pytest.raises(ValueError, match="https"):
        WebhookCreate.model_validate(body, context={"allow_http": False})
    assert WebhookCreate.model_validate(body, context={"allow_http": True}).url == body["url"]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f.0.0.1",
        "[::1]",
        "localhost",
        "api.localhost",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "[fe80::1]",
        "[fd00::1]",
        "224.0.0.1",
        "0.0.0.0",
        "[::]",
        "[::ffff:127.0.0.1]",
        "100.64.0.1",
    ],
)
def test_a_url_naming_a_refused_address_is_refused_unless_private_is_allowed(host: str) -> None:
    body = {"url": f"https://{host}:8443/hook", "events": ["reminder"]}
    with pytest.raises(ValueError, match="refused"):
        WebhookCreate.model_validate(body, context={"allow_private": False})
    assert WebhookCreate.model_validate(body, context={"allow_private": True})


def test_a_url_naming_a_public_address_or_a_name_is_accepted() -> None:
    for host in ("93.184.216.34", "[2606:2800:220:1:248:1893:25c8:1946]", "hooks.example.com"):
        body = {"url": f"https://{host}/hook", "events": ["reminder"]}
        assert WebhookCreate.model_validate(body, context={"allow_private": False})


# Deliveries, by the app's worker.


async def test_each_task_event_is_delivered_signed_with_the_task_as_the_api_shows_it(
    client: httpx.AsyncClient, user: User
) -> None:
    with receiving() as receiver:
        webhook = await add_webhook(client, user, receiver.url())
        receiver.secrets = [webhook["secret"]]
        created = await create_task(client, user, title="Buy milk", tags=["errands"])
        item = f"{user.tasks}/{created['id']}"
        updated = (await client.put(item, json={"priority": "high"}, headers=user.headers)).json()
        completed = (await client.patch(f"{item}/complete", headers=user.headers)).json()
        reopened = (await client.patch(f"{item}/complete", headers=user.headers)).json()
        assert (await client.delete(item, headers=user.headers)).status_code == 204
        got = await receiver.wait_for(5)
    assert all(r.verified for r in got)
    assert all(r.headers["content-type"] == "application/json" for r in got)
    assert all(abs(int(r.headers["webhook-timestamp"]) - time.time()) < 30 for r in got)
    assert len({r.id for r in got}) == 5
    by_version = {r.json["data"]["task"].get("version", 99): r.json for r in got}
    assert by_version[1] == {
        "type": "task.created",
        "timestamp": by_version[1]["timestamp"],
        "data": {"task": created},
    }
    assert by_version[2]["type"] == "task.updated" and by_version[2]["data"]["task"] == updated
    assert by_version[3]["type"] == "task.completed" and by_version[3]["data"]["task"] == completed
    assert by_version[4]["type"] == "task.updated" and by_version[4]["data"]["task"] == reopened
    tombstone = by_version[99]
    assert tombstone["type"] == "task.deleted"
    assert tombstone["data"]["task"] == {
        "id": created["id"],
        "deleted": True,
        "deleted_at": tombstone["data"]["task"]["deleted_at"],
    }
    assert all(r.json["timestamp"].endswith("Z") for r in got)
    log = await settled(client, user, webhook["id"], 5)
    assert {d["id"] for d in log} == {r.id for r in got}
    for d in log:
        assert d["status"] == "delivered" and d["attempts"] == 1
        assert d["last_status_code"] == 200 and d["last_error"] is None
        assert d["next_attempt_at"] is None and d["delivered_at"] is not None


async def test_a_reminder_recorded_by_any_transaction_is_delivered_with_its_fires_at(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    # The reminder firing (events) calls webhook_enqueue in its own transaction, so.
    with receiving() as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["reminder"])
        receiver.secrets = [webhook["secret"]]
        task = await create_task(client, user, title="call mum")
        recorded = await db.fetchval(
            """SELECT webhook_enqueue(t.user_id, 'reminder', jsonb_build_object(
                   'task', to_jsonb(t), 'fires_at', '2026-12-08T08:15:00Z'))
               FROM tasks AS t WHERE t.id = $1""",
            task["id"],
        )
        assert recorded == 1
        (got,) = await receiver.wait_for(1)
    assert got.verified
    assert got.json["type"] == "reminder"
    assert got.json["data"] == {"task": task, "fires_at": "2026-12-08T08:15:00Z"}


async def test_the_first_attempt_follows_the_commit_within_five_seconds(
    client: httpx.AsyncClient, user: User
) -> None:
    with receiving() as receiver:
        await add_webhook(client, user, receiver.url(), ["task.created"])
        start = time.monotonic()
        await create_task(client, user)
        (got,) = await receiver.wait_for(1, within=5)
    assert got.at - start < 5


async def test_only_subscribed_event_types_are_sent(client: httpx.AsyncClient, user: User) -> None:
    with receiving() as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.completed"])
        task = await create_task(client, user)
        item = f"{user.tasks}/{task['id']}"
        await client.put(item, json={"title": "renamed"}, headers=user.headers)
        await client.put(item, json={"completed": True}, headers=user.headers)
        await client.post(f"{user.tasks}/clear-completed", headers=user.headers)
        await settled(client, user, webhook["id"], 1)
        await asyncio.sleep(1.5)
    assert [r.json["type"] for r in receiver.received] == ["task.completed"]


async def test_a_user_without_webhooks_writes_no_outbox_row(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    before = await db.fetchval("SELECT count(*) FROM webhook_deliveries")
    task = await create_task(client, user)
    await client.patch(f"{user.tasks}/{task['id']}/complete", headers=user.headers)
    await client.delete(f"{user.tasks}/{task['id']}", headers=user.headers)
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == before


async def test_each_webhook_of_the_user_gets_the_event_and_other_users_webhooks_do_not(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    with receiving() as receiver:
        await add_webhook(client, user, receiver.url("/one"), ["task.created"])
        await add_webhook(client, user, receiver.url("/two"), ["task.created"])
        await add_webhook(client, other, receiver.url("/other"), ["task.created"])
        await create_task(client, user)
        got = await receiver.wait_for(2)
        await asyncio.sleep(1.5)
    assert sorted(r.path for r in receiver.received) == ["/one", "/two"]
    assert len({r.id for r in got}) == 2


async def test_an_inactive_webhook_gets_no_event_of_a_change_made_meanwhile(
    client: httpx.AsyncClient, user: User
) -> None:
    with receiving() as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
        item = f"{hooks(user)}/{webhook['id']}"
        await client.patch(item, json={"active": False}, headers=user.headers)
        await create_task(client, user, title="unseen")
        await client.patch(item, json={"active": True}, headers=user.headers)
        await create_task(client, user, title="seen")
        await receiver.wait_for(1)
        await asyncio.sleep(1.5)
    assert [r.json["data"]["task"]["title"] for r in receiver.received] == ["seen"]


async def test_each_attempt_is_made_once_whichever_process_claims_it(
    client: httpx.AsyncClient, user: User
) -> None:
    """Bursts of writes, each event claimed by one of the processes serving (the replicas'
    workers, in remote mode): every event arrives once, in one attempt."""
    with receiving(answer=lambda n, path: Answer(200, delay=0.05)) as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
        receiver.secrets = [webhook["secret"]]
        for _ in range(3):
            await asyncio.gather(*(create_task(client, user) for _ in range(10)))
            await asyncio.sleep(0.5)
        log = await settled(client, user, webhook["id"], 30)
        await asyncio.sleep(1.5)  # any second attempt would arrive by now
    assert len(receiver.received) == 30 and all(r.verified for r in receiver.received)
    assert {r.id for r in receiver.received} == {d["id"] for d in log}
    assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 1)] * 30


@needs_replicas
async def test_a_replica_killed_in_the_middle_of_a_delivery_loses_no_event(
    client: httpx.AsyncClient, user: User
) -> None:
    """The replica sending the first event is killed (SIGKILL) while the receiver holds it;
    its claim expires and another replica sends it again, with the same id."""
    held = threading.Event()
    answer = lambda n, path: Answer(hold=held) if n == 0 else Answer(200)  # noqa: E731
    with receiving(answer=answer) as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
        receiver.secrets = [webhook["secret"]]
        created = [(await create_task(client, user, title=f"t{n}"))["id"] for n in range(6)]
        (in_flight, *_) = await receiver.wait_for(1)
        sender = replica_pid(lambda conn: conn.laddr.port == in_flight.peer_port)
        await kill_and_await_restart(sender)
        held.set()
        log = await settled(client, user, webhook["id"], 6, within=30)
        got = receiver.received
    assert {(d["status"]) for d in log} == {"delivered"}
    assert all(r.verified for r in got)
    assert {r.json["data"]["task"]["id"] for r in got} == set(created)  # none lost
    ids = [r.id for r in got]
    assert ids.count(in_flight.id) >= 2  # the interrupted one was sent again, with the same id
    assert set(ids) == {d["id"] for d in log}


async def test_failed_attempts_are_retried_until_one_succeeds(
    client: httpx.AsyncClient, user: User
) -> None:
    answers = {0: Answer(500), 1: Answer(503)}
    with receiving(answer=lambda n, path: answers.get(n, Answer(204))) as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
        receiver.secrets = [webhook["secret"]]
        await create_task(client, user)
        got = await receiver.wait_for(3)
        (log,) = await settled(client, user, webhook["id"], 1)
    assert len({r.id for r in got}) == 1 and all(r.verified for r in got)
    assert len({r.body for r in got}) == 1
    assert log["status"] == "delivered" and log["attempts"] == 3
    assert log["last_status_code"] == 204


async def test_a_delivery_fails_after_one_attempt_more_than_there_are_delays(
    client: httpx.AsyncClient, user: User
) -> None:
    with receiving(answer=lambda n, path: Answer(500)) as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
        await create_task(client, user)
        (log,) = await settled(client, user, webhook["id"], 1)
        await asyncio.sleep(1.5)
    assert len(receiver.received) == 3  # WEBHOOK_RETRY_SECONDS=0.3,0.3
    assert log["status"] == "failed" and log["attempts"] == 3
    assert log["last_status_code"] == 500 and "500" in log["last_error"]
    assert log["next_attempt_at"] is None and log["delivered_at"] is None


async def test_a_redirect_is_a_failed_attempt_and_never_followed(
    client: httpx.AsyncClient, user: User
) -> None:
    def answer(n: int, path: str) -> Answer:
        if path == "/hook":
            return Answer(307, headers={"Location": "/elsewhere"})
        return Answer(200)

    with receiving(answer=answer) as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
        await create_task(client, user)
        (log,) = await settled(client, user, webhook["id"], 1)
    assert {r.path for r in receiver.received} == {"/hook"}
    assert log["status"] == "failed" and log["last_status_code"] == 307


async def test_an_answer_slower_than_the_time_limit_in_total_is_a_timeout(
    client: httpx.AsyncClient, user: User
) -> None:
    # Each byte comes well within the limit; the whole answer takes far longer than 2 s.
    with receiving(answer=lambda n, path: Answer(200, trickle=0.2)) as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
        await create_task(client, user)
        got = await receiver.wait_for(1)
        deliveries_now = await settled(client, user, webhook["id"], 1, within=30)
    (log,) = deliveries_now
    assert log["status"] == "failed" and log["attempts"] == 3
    assert log["last_status_code"] is None and "no answer within 2 s" in log["last_error"]
    assert got


async def test_a_refused_connection_is_a_failed_attempt(
    client: httpx.AsyncClient, user: User
) -> None:
    receiver = Receiver()  # never started: nothing listens on its port
    receiver._server.server_close()
    webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
    await create_task(client, user)
    (log,) = await settled(client, user, webhook["id"], 1)
    assert log["status"] == "failed" and log["last_status_code"] is None
    assert "connection failed" in log["last_error"]


async def test_after_a_rotation_events_are_signed_with_the_new_secret_only(
    client: httpx.AsyncClient, user: User
) -> None:
    with receiving() as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
        rotated = await client.post(f"{hooks(user)}/{webhook['id']}/secret", headers=user.headers)
        receiver.secrets = [webhook["secret"]]
        await create_task(client, user)
        (got,) = await receiver.wait_for(1)
    assert got.verified is False
    receiver.secrets = [rotated.json()["secret"]]
    assert receiver._verify(got.body, got.headers) is True


async def test_deleting_a_webhook_stops_its_pending_deliveries(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    with receiving(answer=lambda n, path: Answer(500)) as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
        await create_task(client, user)
        await receiver.wait_for(1)
        await client.delete(f"{hooks(user)}/{webhook['id']}", headers=user.headers)
        seen = len(receiver.received)
        await asyncio.sleep(2.5)
        assert len(receiver.received) <= seen + 1  # at most the attempt already under way
    count = "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1"
    assert await db.fetchval(count, webhook["id"]) == 0


async def test_the_deliveries_log_is_newest_first_and_limited(
    client: httpx.AsyncClient, user: User
) -> None:
    with receiving() as receiver:
        webhook = await add_webhook(client, user, receiver.url(), ["task.created"])
        for i in range(3):
            await create_task(client, user, title=f"t{i}")
        await receiver.wait_for(3)
    path = f"{hooks(user)}/{webhook['id']}/deliveries"
    found = (await client.get(f"{path}?limit=2", headers=user.headers)).json()
    assert len(found) == 2
    assert found[0]["created_at"] >= found[1]["created_at"]
    for bad in ("0", "101", "x"):
        assert_problem(await client.get(f"{path}?limit={bad}", headers=user.headers), 422)


async def test_an_account_deleted_takes_its_webhooks_along(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    owner = await register(client)
    webhook = await add_webhook(client, owner, "https://example.com/a", ["task.deleted"])
    await create_task(client, owner)
    response = await client.request(
        "DELETE", "/api/auth/me", json={"password": owner.password}, headers=owner.headers
    )
    assert response.status_code == 204
    assert await db.fetchval("SELECT count(*) FROM webhooks WHERE id = $1", webhook["id"]) == 0
