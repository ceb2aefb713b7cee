"""The ASGI application: `create_app(config)` wires routes, refusals, metrics and logs.

    app = create_app(ServerConfig(tokens=TokenRegistry.load("tokens.json")))
    uvicorn.run(app, host="127.0.0.1", port=8000)

The app owns a `Runtime` (event store, batching writer, message index, projector thread)
that starts with the app's lifespan and stops with it. Every refusal is JSON
`{"error", "reason"}` with its status (401/403/4xx/503), request validation problems included.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.http import intake, ops, reads
from adapters.http.logs import event
from adapters.http.metrics import Metrics
from adapters.http.models import ApiError
from adapters.http.reads import ReadStores
from adapters.http.runtime import Runtime, ServerConfig

log = logging.getLogger("iwmo_hub.http")
VERSION: Final = "1.0.0"
DESCRIPTION: Final = """\
The iwmo-hub HTTP API. Aanbieders post their WMO305/WMO307 and gemeenten their WMO301 to
`POST /v1/messages` and fetch the retour; back-offices read their arrangements and mismatches.
Every call except `/healthz` and these docs needs `Authorization: Bearer TOKEN`; a token
belongs to one gemeente, one aanbieder or the operator, and each sees only its own data.
"""


def create_app(config: ServerConfig) -> FastAPI:
    """The API for `config`; its lifespan starts and stops `app.state.runtime` (a caller
    without lifespan events, such as httpx's ASGITransport, calls `runtime.start()` itself)."""
    metrics = Metrics()
    runtime = Runtime(config, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = HubApp(
        title="iwmo-hub",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.tokens = config.tokens
    app.state.read_stores = ReadStores(config.projections)
    app.include_router(intake.router)
    app.include_router(reads.router)
    app.include_router(ops.router)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_middleware(AccessLog, metrics=metrics)
    app.direct_post = AccessLog(_PostDirectly(app), metrics=metrics)
    return app


class HubApp(FastAPI):
    """FastAPI, with `POST /v1/messages` (the hot path) handed straight to its handler.

    The same handler, refusals and access log as through the framework, without the ten
    layers of middleware and routing in between, which cost about as much per post as the
    handler itself. Every other request, and the OpenAPI description of this one, goes
    through FastAPI as usual.
    """

    direct_post: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        direct = self.direct_post
        if (
            direct is not None
            and scope["type"] == "http"
            and scope["path"] == intake.MESSAGES_PATH
            and scope["method"] == "POST"
        ):
            await direct(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class _PostDirectly:
    """`intake.post_message` as an ASGI app of its own (see `HubApp`)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        #: The route, for the access log's label and anyone reading `scope["route"]`.
        self.route = next(
            r
            for r in intake.router.routes
            if getattr(r, "path", None) == intake.MESSAGES_PATH
            and "POST" in getattr(r, "methods", ())
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self.app
        scope["route"] = self.route
        try:
            response = await intake.post_message(Request(scope, receive))
        except ApiError as e:
            response = _refusal(e)
        await response(scope, receive, send)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _refusal(exc)


def _refusal(exc: ApiError) -> JSONResponse:
    """A refusal as its JSON answer (`{"error", "reason"}`, its status and headers)."""
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """A bad path or query parameter: 400 with what was wrong (422 is for messages)."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    body = {"error": "bad_request", "reason": "; ".join(problems) or "invalid request"}
    return JSONResponse(body, status_code=400)


class AccessLog:
    """Counts and times every request by route template; logs one JSON line per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status[0])).inc()
            self.metrics.request_seconds.labels(method, route).observe(elapsed)
            state: dict[str, Any] = scope.get("state") or {}
            event(
                log,
                logging.INFO,
                "request",
                method=method,
                route=route,
                status=status[0],
                party=state.get("party"),
                duration_ms=round(elapsed * 1000, 2),
            )


def _route_of(scope: Scope) -> str:
    """The route template ('/v1/messages/{message_id}'), never the raw path (bounded labels)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
