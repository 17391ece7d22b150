"""The one place things are wired: routes, middleware, exception handlers, lifespan."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from todo_api import metrics
from todo_api.addresses import Resolve, system_resolve
from todo_api.agents.endpoint import McpEndpoint
from todo_api.auth.backend import AccountUnavailable, BearerTokenBackend, TokenRefused
from todo_api.auth.passwords import PasswordHasher
from todo_api.auth.personal import MCP_PATH, PersonalTokens
from todo_api.caller import Caller
from todo_api.cursors import CursorCodec
from todo_api.db import users
from todo_api.db.pool import DatabaseMisconfigured, DatabaseUnavailable, open_database
from todo_api.dispatch import method_route
from todo_api.event_hub import EventHub
from todo_api.handlers import EXCEPTION_HANDLERS, database_unavailable
from todo_api.logs import access_log, configure_logging
from todo_api.middleware.body_limit import BodyLimitMiddleware
from todo_api.middleware.cors import (
    ALLOWED_HEADERS,
    ALLOWED_METHODS,
    EXPOSED_HEADERS,
    PREFLIGHT_MAX_AGE,
    ProblemCORSMiddleware,
)
from todo_api.middleware.hosts import AllowedHostsMiddleware
from todo_api.middleware.request_context import RequestContextMiddleware
from todo_api.models.auth import external_profile
from todo_api.problems import ProblemResponse
from todo_api.reminder_firing import firing
from todo_api.routes import (
    auth,
    docs,
    events,
    health,
    lists,
    sync,
    tasks,
    time,
    tokens,
    webhooks,
)
from todo_api.routes import metrics as metrics_route
from todo_api.services import Services, services
from todo_api.serving import configure_protocol
from todo_api.settings import Settings, load_settings
from todo_api.sync_tokens import SyncTokens
from todo_api.webhook_worker import WebhookWorker

if TYPE_CHECKING:
    from todo_api.auth.issuer import ExternalClaims, TrustedIssuer

log = logging.getLogger("todo_api")

# Most frequent first: the router tries each route in turn. `{task_id:task_id}` never matches a
# literal path under /tasks/ (routes/tasks.py, LITERAL_TASK_PATHS), so those keep their own
# 405s; the templates (path_format) read /api/{user_id}/tasks/{task_id}.
ROUTES = [
    Route("/api/{user_id}/tasks/clear-completed", tasks.clear_completed, methods=["POST"]),
    Route("/api/{user_id}/tasks/changes", sync.task_changes, methods=["GET"]),
    method_route("/api/{user_id}/tasks/{task_id:task_id}", tasks.task_item),
    method_route("/api/{user_id}/tasks", tasks.task_collection),
    Route(
        "/api/{user_id}/tasks/{task_id:task_id}/complete", tasks.complete_task, methods=["PATCH"]
    ),
    Route("/api/{user_id}/tasks/{task_id:task_id}/move", tasks.move_task, methods=["POST"]),
    Route("/api/{user_id}/tags", tasks.list_tags, methods=["GET"]),
    Route(
        "/api/{user_id}/tasks/{task_id:task_id}/occurrences",
        time.list_occurrences,
        methods=["GET"],
    ),
    Route("/api/{user_id}/reminders", time.list_reminders, methods=["GET"]),
    Route("/api/{user_id}/events", events.event_stream, methods=["GET"]),
    Route("/api/{user_id}/events/tickets", events.create_ticket, methods=["POST"]),
    method_route("/api/{user_id}/lists", lists.list_collection),
    method_route("/api/{user_id}/lists/{list_id}", lists.list_item),
    Route("/api/{user_id}/lists/{list_id}/move", lists.move_list, methods=["POST"]),
    method_route("/api/{user_id}/webhooks", webhooks.webhook_collection),
    method_route("/api/{user_id}/webhooks/{webhook_id}", webhooks.webhook_item),
    Route("/api/{user_id}/webhooks/{webhook_id}/secret", webhooks.rotate_secret, methods=["POST"]),
    Route(
        "/api/{user_id}/webhooks/{webhook_id}/deliveries",
        webhooks.list_deliveries,
        methods=["GET"],
    ),
    Route("/api/auth/login", auth.login, methods=["POST"]),
    Route("/api/auth/refresh", auth.refresh, methods=["POST"]),
    Route("/api/auth/register", auth.register, methods=["POST"]),
    Route("/api/auth/logout", auth.logout, methods=["POST"]),
    method_route("/api/auth/me", auth.me_routes),
    Route("/api/auth/password", auth.change_password, methods=["PUT"]),
    method_route("/api/auth/sessions", auth.sessions_routes),
    Route("/api/auth/sessions/{session_id}", auth.end_session, methods=["DELETE"]),
    method_route("/api/auth/tokens", tokens.token_collection),
    Route("/api/auth/tokens/{token_id}", tokens.delete_token, methods=["DELETE"]),
    Route("/health", health.health, methods=["GET"]),
    Route("/ready", health.ready, methods=["GET"]),
    Route("/openapi.json", docs.openapi_json, methods=["GET"]),
    Route("/docs", docs.docs, methods=["GET"]),
    Mount(docs.ASSETS_PATH, app=docs.assets()),
]
# The background work's own pool (webhook deliveries, reminder firing): one connection to poll
# with, one more while the other records.
WORKER_POOL = {"db_pool_min": 0, "db_pool_max": 2}
METRICS_ROUTE = Route("/metrics", metrics_route.metrics_text, methods=["GET"])


def routes(settings: Settings, mcp: McpEndpoint | None = None) -> list[BaseRoute]:
    """The routes these settings serve: /metrics only when METRICS is on; /mcp by `mcp` (each
    app has its own: what serves it runs in the app's lifespan)."""
    served = [*ROUTES, METRICS_ROUTE] if settings.metrics else list(ROUTES)
    return [*served, Route(MCP_PATH, mcp or McpEndpoint(), methods=["POST"])]


async def provision_external_user(conn: HTTPConnection, claims: ExternalClaims) -> None:
    """Make the account of a trusted issuer's `sub` on its first accepted token."""
    profile = external_profile(claims.email, claims.name)
    try:
        await users.ensure_external_user(
            services(conn).db, claims.subject, profile.email, profile.base_username, profile.name
        )
    except DatabaseUnavailable as exc:
        raise AccountUnavailable(str(exc)) from exc


def personal_lookup(known: PersonalTokens) -> Callable[[HTTPConnection, str], Awaitable[Caller]]:
    """The caller of a personal access token, from the tokens this process has seen."""

    async def lookup(conn: HTTPConnection, token: str) -> Caller:
        try:
            return await known.caller(services(conn).db, token)
        except DatabaseUnavailable as exc:
            raise AccountUnavailable(str(exc)) from exc

    return lookup


def authentication_failed(conn: HTTPConnection, exc: Exception) -> Response:
    """A personal token used beyond its reach (403), or the backend could not reach the
    database (to look up a personal token, or to make an issuer's account)."""
    if isinstance(exc, TokenRefused):
        return ProblemResponse(403, str(exc))
    return database_unavailable(exc)


def trusted_issuer(settings: Settings) -> TrustedIssuer | None:
    """The issuer's key set, when one is configured. Imported only then: its HTTP client
    (httpx) is several MB of memory a service without one does not need."""
    if settings.auth_jwks_url is None:
        return None
    from todo_api.auth.issuer import TrustedIssuer

    return TrustedIssuer(
        settings.auth_jwks_url,
        settings.auth_issuer,
        settings.auth_audience,
        fetch_timeout=settings.auth_jwks_timeout_seconds,
        refresh_interval=settings.auth_jwks_refresh_seconds,
    )


def create_app(settings: Settings, *, resolve: Resolve = system_resolve) -> ASGIApp:
    """The ASGI app for these settings; `settings.database_url` must be set. `resolve`: how
    webhook deliveries resolve names (tests give a resolver whose answers they choose)."""
    if settings.database_url is None:
        raise ValueError("create_app needs a database URL; the CLI starts an embedded one")
    database_url = settings.database_url
    issuer = trusted_issuer(settings)
    mcp = McpEndpoint()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            db = await open_database(settings, database_url)
        except (DatabaseUnavailable, DatabaseMisconfigured) as exc:
            log.error("cannot start: %s", exc)
            raise
        hasher = PasswordHasher(
            settings.bcrypt_rounds, settings.bcrypt_concurrency, settings.bcrypt_wait_seconds
        )
        hub = EventHub(db)
        app.state.services = Services(
            settings=settings,
            db=db,
            hasher=hasher,
            cursors=CursorCodec(settings.jwt_secret),
            sync_tokens=SyncTokens(settings.jwt_secret, settings.sync_history_days),
            events=hub,
        )
        if issuer is not None:
            await issuer.start()
        publishing = (
            metrics.publishing(db, hasher) if settings.metrics else contextlib.nullcontext()
        )
        # Every process sends webhook deliveries and fires reminders; claims in PostgreSQL keep
        # the processes apart. That background work has a pool of its own, so requests never
        # wait behind it for a connection.
        worker_db = await open_database(settings.model_copy(update=WORKER_POOL), database_url)
        deliveries = WebhookWorker(worker_db, settings, resolve=resolve)
        deliveries.start()
        # Everything made so far lives as long as the process: keep the garbage collector from
        # walking it again and again (long pauses show up as p99 latency).
        gc.freeze()
        try:
            async with publishing, hub.running(), firing(worker_db), mcp.running():
                yield
        finally:
            await deliveries.stop()
            await worker_db.pool.close()
            access_log.flush()
            hasher.close()
            if issuer is not None:
                await issuer.aclose()
            await db.pool.close()

    app = Starlette(
        routes=routes(settings, mcp),
        middleware=[
            Middleware(AllowedHostsMiddleware, allowed_hosts=list(settings.allowed_hosts)),
            Middleware(
                ProblemCORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=list(ALLOWED_METHODS),
                allow_headers=list(ALLOWED_HEADERS),
                expose_headers=list(EXPOSED_HEADERS),
                max_age=PREFLIGHT_MAX_AGE,
            ),
            Middleware(BodyLimitMiddleware, timeout=settings.body_timeout_seconds),
            Middleware(
                AuthenticationMiddleware,
                backend=BearerTokenBackend(
                    settings.jwt_secret,
                    issuer,
                    provision_external_user,
                    personal_lookup(PersonalTokens()),
                ),
                on_error=authentication_failed,
            ),
        ],
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    # Paths are exact: "/api/x/tasks/" is unknown, never a redirect.
    app.router.redirect_slashes = False
    observe = metrics.record if settings.metrics else None
    return RequestContextMiddleware(
        app, send_timeout=settings.send_timeout_seconds, observe=observe
    )


def app_from_environment() -> ASGIApp:
    """The factory uvicorn calls in each worker (`todo_api.app:app_from_environment`); a
    worker process starts afresh, so it sets up its own logging."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    configure_protocol(settings.header_timeout_seconds, settings.max_connections_per_address)
    return create_app(settings)
