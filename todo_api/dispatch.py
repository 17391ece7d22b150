"""One path's handlers, chosen by the request's method: what Starlette's HTTPEndpoint does,
without building and inspecting a handler on every request (a measurable share of a fast
one). The Route it is given to answers other methods with 405 and an Allow header."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


def by_method(**handlers: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A request-response function calling `handlers[method]` (`get` also serves HEAD). Its
    `handlers` attribute lists them by lower-case method, for the OpenAPI document; give it
    to `method_route`."""
    table = {method.upper(): handler for method, handler in handlers.items()}
    if "GET" in table:
        table["HEAD"] = table["GET"]

    async def endpoint(request: Request) -> Response:
        return await table[request.method](request)

    endpoint.handlers = dict(handlers)  # type: ignore[attr-defined]
    return endpoint


def method_route(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
    """The Route of an endpoint made by `by_method`, allowing exactly its methods."""
    return Route(path, endpoint, methods=[m.upper() for m in handlers_of(endpoint)])


def handlers_of(endpoint: Any) -> dict[str, Handler]:
    """The handlers by lower-case method of an endpoint made by `by_method`, else {}."""
    found: dict[str, Handler] = getattr(endpoint, "handlers", {})
    return found
