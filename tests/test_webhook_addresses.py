"""Which addresses a webhook reaches (API.md, "Webhooks", "Addresses"): refused when written in
the url (422), a failed attempt when the name resolves to one at delivery, and no second look
for a name to change its answer in: the address resolved and checked is the one connected to,
while the request and TLS still name the url's host. Resolvers here are test hooks whose
answers the test chooses; the receivers are real servers on loopback."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
import trustme

from tests.conftest import assert_problem, client_for, create_task, register, running
from tests.test_webhooks import add_webhook, hooks, settled
from tests.webhook_receiver import receiving
from todo_api.app import create_app
from todo_api.db.migrations import apply_migrations
from todo_api.settings import Settings, load_settings
from todo_api.testing import TEST_SETTINGS, fresh_database
from todo_api.webhook_http import AddressRefused, CheckedBackend

pytestmark = pytest.mark.anyio
PUBLIC = "93.184.216.34"  # an address of the public internet (never really reached here)


class Answers:
    """A resolver hook: each name's answers, the next one per lookup (the last one repeats)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        queue = self.answers.get(host)
        if not queue:
            raise OSError(f"unknown name {host}")
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture(scope="module")
def strict_database(server_url: str) -> Iterator[str]:
    """A database of its own: the suite's app (which allows loopback) never claims these."""
    with fresh_database(server_url) as url:
        apply_migrations(url)
        yield url


def strict_settings(database_url: str, folder: Path, **more: str) -> Settings:
    return load_settings(
        {
            **TEST_SETTINGS,
            "DATABASE_URL": database_url,
            "TODO_DATA_DIR": str(folder),
            "WEBHOOK_ALLOW_PRIVATE": "false",
            "WEBHOOK_TIMEOUT_SECONDS": "1",
            "WEBHOOK_RETRY_SECONDS": "0.2",
            "WEBHOOK_DISABLE_AFTER": "2",
            **more,
        }
    )


@pytest.fixture(scope="module")
def answers() -> Answers:
    return Answers()


@pytest.fixture(scope="module")
async def strict_client(
    strict_database: str, answers: Answers, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with WEBHOOK_ALLOW_PRIVATE=false, its worker resolving through `answers`."""
    settings = strict_settings(strict_database, tmp_path_factory.mktemp("strict"))
    async with running(create_app(settings, resolve=answers)) as app, client_for(app) as client:
        yield client


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "10.0.0.8", "169.254.169.254", "localhost"])
async def test_a_refused_address_written_in_the_url_is_422(
    strict_client: httpx.AsyncClient, host: str
) -> None:
    owner = await register(strict_client)
    body = {"url": f"http://{host}:8080/hook", "events": ["task.created"]}
    problem = assert_problem(
        await strict_client.post(hooks(owner), json=body, headers=owner.headers), 422
    )
    assert problem["errors"][0]["loc"] == ["body", "url"]
    created = await add_webhook(strict_client, owner, "https://hooks.example.com/a")
    item = f"{hooks(owner)}/{created['id']}"
    response = await strict_client.patch(item, json={"url": body["url"]}, headers=owner.headers)
    assert_problem(response, 422)


async def test_a_name_resolving_to_loopback_at_delivery_is_a_failed_attempt_naming_why(
    strict_client: httpx.AsyncClient, answers: Answers
) -> None:
    owner = await register(strict_client)
    with receiving() as receiver:
        answers.answers["inside.test"] = [["127.0.0.1"]]
        webhook = await add_webhook(
            strict_client, owner, receiver.url(host="inside.test"), ["task.created"]
        )
        await create_task(strict_client, owner)
        (log,) = await settled(strict_client, owner, webhook["id"], 1)
    assert receiver.received == []
    assert log["status"] == "failed" and log["attempts"] == 2
    assert log["last_status_code"] is None
    assert "refused" in log["last_error"] and "loopback" in log["last_error"]


async def test_every_address_of_a_name_is_checked(
    strict_client: httpx.AsyncClient, answers: Answers
) -> None:
    owner = await register(strict_client)
    with receiving() as receiver:
        answers.answers["mixed.test"] = [[PUBLIC, "127.0.0.1"]]
        webhook = await add_webhook(
            strict_client, owner, receiver.url(host="mixed.test"), ["task.created"]
        )
        await create_task(strict_client, owner)
        (log,) = await settled(strict_client, owner, webhook["id"], 1)
    assert receiver.received == []
    assert "refused" in log["last_error"] and "127.0.0.1" in log["last_error"]


async def test_failed_deliveries_in_a_row_turn_the_webhook_off(
    strict_client: httpx.AsyncClient, answers: Answers
) -> None:
    owner = await register(strict_client)
    answers.answers["off.test"] = [["10.9.9.9"]]
    webhook = await add_webhook(strict_client, owner, "http://off.test/hook", ["task.created"])
    item = f"{hooks(owner)}/{webhook['id']}"
    await create_task(strict_client, owner)
    await settled(strict_client, owner, webhook["id"], 1)
    assert (await strict_client.get(item, headers=owner.headers)).json()["active"] is True
    await create_task(strict_client, owner)
    found = await settled(strict_client, owner, webhook["id"], 2)
    assert [d["status"] for d in found] == ["failed", "failed"]
    assert (await strict_client.get(item, headers=owner.headers)).json()["active"] is False
    await create_task(strict_client, owner)  # an inactive webhook gets no event
    assert len(await settled(strict_client, owner, webhook["id"], 2)) == 2
    # On again: counted afresh.
    await strict_client.patch(item, json={"active": True}, headers=owner.headers)
    await create_task(strict_client, owner)
    await settled(strict_client, owner, webhook["id"], 3)
    assert (await strict_client.get(item, headers=owner.headers)).json()["active"] is True


class Recorder(httpcore.AsyncNetworkBackend):
    """The real network, with every address connected to recorded, and the "public" address
    routed to the receiver on loopback (as if the receiver were on the internet)."""

    def __init__(self, receiver_port: int) -> None:
        self.connected: list[str] = []
        self._inner = httpcore.AnyIOBackend()
        self._port = receiver_port

    async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.connected.append(host)
        target = "127.0.0.1" if host == PUBLIC else host
        return await self._inner.connect_tcp(target, self._port, **kwargs)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def test_a_name_that_changes_its_answer_is_connected_to_at_the_address_checked() -> None:
    answers = Answers()
    # DNS rebinding: a public answer for the check, loopback for anyone who asks again.
    answers.answers["rebind.test"] = [[PUBLIC], ["127.0.0.1"]]
    with receiving() as receiver:
        recorder = Recorder(receiver.port)
        backend = CheckedBackend(allow_private=False, resolve=answers)
        backend._inner = recorder  # type: ignore[assignment]
        async with httpcore.AsyncConnectionPool(network_backend=backend) as pool:
            url = f"http://rebind.test:{receiver.port}/hook"
            response = await pool.request("POST", url, content=b"{}")
            assert response.status == 200
            assert answers.lookups == ["rebind.test"]  # one look, no second one to slip past
            assert recorder.connected == [PUBLIC]
            (got,) = await receiver.wait_for(1)
            assert got.headers["host"] == f"rebind.test:{receiver.port}"
            # A new connection looks again, and this answer is refused before connecting.
            async with httpcore.AsyncConnectionPool(network_backend=backend) as fresh:
                with pytest.raises(AddressRefused, match="loopback"):
                    await fresh.request("POST", url, content=b"{}")
            assert recorder.connected == [PUBLIC]
    assert len(receiver.received) == 1


async def test_https_connects_to_the_checked_address_and_verifies_the_urls_name(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = trustme.CA()
    certificate = ca.issue_cert("hooks.tls.test")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the worker's TLS trusts this CA
    answers = Answers()
    answers.answers["hooks.tls.test"] = [["127.0.0.1"]]
    answers.answers["wrong.tls.test"] = [["127.0.0.1"]]
    with fresh_database(server_url) as url, receiving(ssl_context=server_context) as receiver:
        apply_migrations(url)
        settings = strict_settings(url, tmp_path, WEBHOOK_ALLOW_PRIVATE="true")
        async with (
            running(create_app(settings, resolve=answers)) as app,
            client_for(app) as client,
        ):
            owner = await register(client)
            good = await add_webhook(
                client, owner, receiver.url(host="hooks.tls.test", scheme="https"), ["task.created"]
            )
            # A name the certificate does not name: verification fails, nothing is sent.
            bad = await add_webhook(
                client, owner, receiver.url(host="wrong.tls.test", scheme="https"), ["task.created"]
            )
            receiver.secrets = [good["secret"]]
            await create_task(client, owner)
            (delivered,) = await settled(client, owner, good["id"], 1)
            (refused,) = await settled(client, owner, bad["id"], 1)
    assert delivered["status"] == "delivered"
    assert refused["status"] == "failed" and refused["last_status_code"] is None
    assert "certificate" in refused["last_error"].lower()
    (got,) = receiver.received
    assert got.verified and got.headers["host"] == f"hooks.tls.test:{receiver.port}"
    assert set(answers.lookups) == {"hooks.tls.test", "wrong.tls.test"}
