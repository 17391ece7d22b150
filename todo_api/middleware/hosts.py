"""ALLOWED_HOSTS: a request naming a host this service does not serve gets a 400 problem.

Starlette's TrustedHostMiddleware does the check (host parsing, `*.example.com` patterns); its
own refusal is plain text, so here it is only asked, and the refusal is a problem like every
other error (with X-Request-ID and request_id, from the request-context layer around it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.problems import ProblemResponse

_HOST_ALLOWED: Final = "todo_api.host_allowed"  # set in the scope by the check when it passes
REFUSED: Final = "The Host header names a host this service does not serve"


async def _allowed(scope: Scope, receive: Receive, send: Send) -> None:
    scope[_HOST_ALLOWED] = True


async def _discard(message: Message) -> None:
    """Where the check's own plain-text refusal goes."""


class AllowedHostsMiddleware:
    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.check = TrustedHostMiddleware(_allowed, allowed_hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.check.allow_any:
            await self.check(scope, receive, _discard)
            if not scope.pop(_HOST_ALLOWED, False):
                await ProblemResponse(400, REFUSED)(scope, receive, send)
                return
        await self.app(scope, receive, send)
