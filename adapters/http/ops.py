"""Operations: `/healthz` (the process answers), `/readyz` and `/metrics` (the operator's).

`/healthz` is open: a liveness probe carries no credentials and the answer says nothing but
"this process runs". `/readyz` says whether the event store answers and how far the
projection and the message index are behind; it is 503 while the store is unavailable or the
in-process projector fails or lags more than `max_lag` records. Both it and `/metrics` need the
operator's token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from adapters.http.auth import Caller, require_operator
from adapters.http.metrics import CONTENT_TYPE
from adapters.http.models import Health, Problem, Readiness
from adapters.http.runtime import Runtime, lag_between
from hub.records import EVENTS

router = APIRouter(tags=["operations"])
_OPERATOR_ONLY: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no or unknown bearer token"},
    403: {"model": Problem, "description": "not the operator"},
}


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: store reachable, projection and index lag (operator)",
    responses={**_OPERATOR_ONLY, 503: {"model": Readiness, "description": "not ready"}},
)
def readyz(request: Request, party: Caller) -> Response:
    require_operator(party, "readiness")
    runtime: Runtime = request.app.state.runtime
    config = runtime.config
    store_ok = runtime.hub is not None and runtime.store_error is None
    store = {"reachable": store_ok, "error": runtime.store_error}
    projector: dict[str, Any]
    if config.run_projector:
        state = runtime.projector_state
        lag = state.get("lag")
        projector = {"in_process": True, **state, "max_lag": config.max_lag}
        projector_ok = (
            bool(state.get("running")) and state.get("error") is None
            and lag is not None and lag <= config.max_lag
        )  # fmt: skip
    else:
        projector = {"in_process": False, "lag": _external_lag(request, runtime)}
        projector_ok = True  # `iwmo-hub project --follow` runs elsewhere; its lag is shown
    index = {"messages": len(runtime.index), "loaded": runtime.index.loaded}
    ready = store_ok and projector_ok and runtime.index.loaded
    body = Readiness(ready=ready, store=store, projector=projector, message_index=index)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


def _external_lag(request: Request, runtime: Runtime) -> int | None:
    """The projection store's distance to the log when another process projects."""
    hub = runtime.hub
    if hub is None:
        return None
    try:
        store = request.app.state.read_stores.get()
        return lag_between(hub.log.end_position(EVENTS), store.position())
    except Exception:  # an unreadable store is reported by `store.error`
        return None


@router.get(
    "/metrics",
    summary="Prometheus metrics (operator)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}, **_OPERATOR_ONLY},
)
def metrics(request: Request, party: Caller) -> Response:
    require_operator(party, "/metrics")
    runtime: Runtime = request.app.state.runtime
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE)
