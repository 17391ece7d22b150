"""Outbound HTTP for webhook deliveries, imported by the worker only once it has a delivery to
send (httpx and httpcore are several MB of memory a process that never sends one does not need).

A url's name is resolved once per connection, by the network backend itself; every address it
gives is checked (unless WEBHOOK_ALLOW_PRIVATE), and the connection is made to one of those
checked addresses, while httpcore's TLS layer above still names (SNI) and verifies the url's
host. There is no second lookup a name that changes its answer could slip past. An attempt is
bounded as a whole by one deadline (httpx's and httpcore's own timeouts are per read)."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import httpcore
import httpx
from standardwebhooks import Webhook

from todo_api import __version__
from todo_api.addresses import Resolve, refusal
from todo_api.db.webhooks import Outcome
from todo_api.models.webhooks import event_body

USER_AGENT: Final = f"todo-api-webhooks/{__version__}"
ERROR_MAX_CHARS: Final = 500


class AddressRefused(Exception):
    """The url's name resolves to an address a webhook may not reach."""


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, but a connection goes only to an address just resolved and
    checked: the TCP connection is made to that address, while httpcore's TLS layer above
    still uses the url's host for SNI and certificate verification."""

    def __init__(self, allow_private: bool, resolve: Resolve) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._checked(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def _checked(self, host: str, port: int) -> list[str]:
        try:
            written = ipaddress.ip_address(host)
        except ValueError:
            written = None
        if written is not None:
            addresses = [str(written)]
        else:
            try:
                addresses = await self._resolve(host, port)
            except OSError as exc:
                raise httpcore.ConnectError(f"{host} does not resolve ({exc})") from exc
            if not addresses:
                raise httpcore.ConnectError(f"{host} has no address")
        if not self._allow_private:
            for address in addresses:
                reason = refusal(ipaddress.ip_address(address))
                if reason is not None:
                    raise AddressRefused(f"refused: {host} resolves to {address}, {reason}")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never connect to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _origin_url(url: str) -> httpcore.URL:
    parsed = httpx.URL(url)  # IDNA-encodes the host, splits off the fragment
    return httpcore.URL(
        scheme=parsed.raw_scheme,
        host=parsed.raw_host,
        port=parsed.port,
        target=parsed.raw_path,
    )


def _signed_headers(delivery: asyncpg.Record, body: bytes) -> list[tuple[bytes, bytes]]:
    """Content type and the Standard Webhooks headers: the delivery's id (the same on every
    retry), this attempt's time, and the signature over both and the body."""
    now = datetime.now(UTC)
    msg_id: str = delivery["delivery_id"]
    signature = Webhook(delivery["webhook_secret"]).sign(msg_id, now, body)
    return [
        (b"Content-Type", b"application/json"),
        (b"User-Agent", USER_AGENT.encode()),
        (b"webhook-id", msg_id.encode()),
        (b"webhook-timestamp", str(int(now.timestamp())).encode()),
        (b"webhook-signature", signature.encode()),
    ]


class Sender:
    """Sends deliveries: one connection pool (on a CheckedBackend) for the process."""

    def __init__(
        self,
        *,
        allow_private: bool,
        timeout: float,
        resolve: Resolve,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = timeout
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=CheckedBackend(allow_private, resolve),
        )

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def send(self, delivery: asyncpg.Record) -> Outcome:
        """One attempt: the whole of it (resolving, connecting, sending, the answer's status)
        within WEBHOOK_TIMEOUT_SECONDS; redirects are answers like any other, never followed."""
        body = event_body(delivery)
        headers = _signed_headers(delivery, body)
        limit = self._timeout
        timeouts = {"connect": limit, "read": limit, "write": limit, "pool": limit}
        try:
            async with asyncio.timeout(limit):
                url = _origin_url(delivery["webhook_url"])
                async with self._pool.stream(
                    "POST", url, headers=headers, content=body, extensions={"timeout": timeouts}
                ) as response:
                    status = response.status
        except TimeoutError:
            return _outcome(False, None, f"no answer within {limit:g} s")
        except httpcore.TimeoutException:
            return _outcome(False, None, f"no answer within {limit:g} s")
        except AddressRefused as exc:
            return _outcome(False, None, str(exc))
        except (httpcore.ConnectError, OSError) as exc:
            return _outcome(False, None, f"connection failed: {exc or type(exc).__name__}")
        except (httpcore.ProtocolError, httpcore.NetworkError, ssl.SSLError) as exc:
            return _outcome(False, None, f"{type(exc).__name__}: {exc}")
        except (httpcore.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return _outcome(False, None, f"bad url: {exc}")
        if 200 <= status < 300:
            return _outcome(True, status, None)
        return _outcome(False, status, f"answered {status}")


def _outcome(delivered: bool, status: int | None, error: str | None) -> Outcome:
    return Outcome(delivered, status, None if error is None else error[:ERROR_MAX_CHARS])
