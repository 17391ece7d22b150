"""/docs in a real headless Chromium (Debian's package), driven over the DevTools protocol:
the page lists the routes, "Authorize" with a username and password gets a token, and no
request leaves the machine."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import TEST_SECRET
from todo_api.testing import Server

pytestmark = pytest.mark.anyio


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER_TEST"):
            pytest.fail(message)
        pytest.skip(message)
    return found


class Page:
    """One browser tab over the DevTools protocol: commands, and the events seen so far."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if "id" in message and message["id"] in self.replies:
                self.replies.pop(message["id"]).set_result(message)
            else:
                self.events.append(message)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[ident] = reply
        await self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        message = await asyncio.wait_for(reply, 30)
        assert "error" not in message, message
        result: dict[str, Any] = message.get("result", {})
        return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return result["result"].get("value")

    async def wait_for(self, expression: str, within: float = 30) -> Any:
        deadline = time.monotonic() + within
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            await asyncio.sleep(0.1)

    def requested_urls(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def responses(self) -> list[tuple[str, int]]:
        return [
            (e["params"]["response"]["url"], e["params"]["response"]["status"])
            for e in self.events
            if e.get("method") == "Network.responseReceived"
        ]


# Types into React's inputs the way a person's keystrokes do, then presses Authorize.
FILL_AUTHORIZE_FORM = """(() => {
  const set = (el, value) => {
    const input = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value');
    input.set.call(el, value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  };
  set(document.querySelector('#oauth_username'), USERNAME);
  set(document.querySelector('#oauth_password'), PASSWORD);
  [...document.querySelectorAll('.auth-btn-wrapper .btn.modal-btn.auth.authorize')]
    .forEach(b => b.click());
})()"""


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    binary = chromium_binary()
    profile = Path(tempfile.mkdtemp(prefix="todo-api-chromium-"))
    browser = await asyncio.create_subprocess_exec(
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "about:blank",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert browser.returncode is None and time.monotonic() < deadline, (
                "Chromium did not start"
            )
            await asyncio.sleep(0.1)
        port = port_file.read_text().split()[0]
        async with httpx.AsyncClient() as client:
            targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        async with websockets.connect(url, max_size=None) as socket:
            tab = Page(socket)
            await tab.send("Network.enable")
            await tab.send("Page.enable")
            yield tab
            tab.reader.cancel()
    finally:
        browser.terminate()
        await browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def test_docs_render_offline_and_authorize_works(
    page: Page, database_url: str, serve: Callable[..., Server]
) -> None:
    server = serve({"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET})
    name = f"docs{time.monotonic_ns()}"
    body = {"email": f"{name}@example.com", "username": name, "password": "password1"}
    async with httpx.AsyncClient(base_url=server.base) as client:
        assert (await client.post("/api/auth/register", json=body)).status_code == 201

    # Every Content-Security-Policy violation the page meets, recorded from its first moment.
    await page.send(
        "Page.addScriptToEvaluateOnNewDocument",
        source="window.__violations = []; document.addEventListener("
        "'securitypolicyviolation', e => window.__violations.push("
        "e.violatedDirective + ' ' + e.blockedURI));",
    )
    await page.send("Page.navigate", url=f"{server.base}/docs")
    paths = await page.wait_for(
        "(() => { const p = [...document.querySelectorAll('.opblock-summary-path')]"
        ".map(e => e.getAttribute('data-path')); return p.length ? p : null })()"
    )
    for path in (
        "/api/auth/login",
        "/api/{user_id}/tasks",
        "/api/{user_id}/tasks/{task_id}/complete",
    ):
        assert path in paths

    # Authorize through the OAuth2 password form, as a person would.
    await page.evaluate("document.querySelector('.btn.authorize').click()")
    await page.wait_for("!!document.querySelector('#oauth_username')")
    fill = FILL_AUTHORIZE_FORM.replace("USERNAME", json.dumps(name))
    await page.evaluate(fill.replace("PASSWORD", json.dumps("password1")))
    await page.wait_for(
        "[...document.querySelectorAll('button')].some(b => b.textContent.trim() === 'Logout')"
    )
    assert (f"{server.base}/api/auth/login", 200) in page.responses()
    # The token lives in the page's memory only: nothing in the browser's storage.
    stored = await page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert json.loads(stored) == [[], []], stored
    assert await page.evaluate("window.__violations") == []

    requested = page.requested_urls()
    assert any(u.endswith("/docs/assets/swagger-ui-bundle.js") for u in requested)
    strangers = [
        u for u in requested if not u.startswith(f"{server.base}/") and not u.startswith("data:")
    ]
    assert strangers == [], f"requests left the machine: {strangers}"


async def test_docs_is_served_with_csp_frame_denial_and_nosniff(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "persistAuthorization: false" in r.text
