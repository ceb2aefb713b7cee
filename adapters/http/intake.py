"""Intake: `POST /v1/messages`, `GET /v1/messages/{id}` and `GET /v1/messages/{id}/retour`.

A post is answered 202 only after the batch holding its events was durably appended. The
order of checks: token (401), may this party post at all (403), content type (415), the
store is open (503), size while reading (413), then validate and map in a worker thread,
check the Afzender and message type against the party (403, nothing stored), and queue for
the batching writer. Its result decides the answer: accepted or duplicate 202, rejected 422
(400 when the bytes are not XML at all), both kept on the dead-letter stream; failed 503.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from adapters.http.auth import (
    Caller,
    Party,
    authenticate,
    check_may_post,
    check_may_read_message,
    check_sender,
)
from adapters.http.index import Entry, read_record
from adapters.http.logs import event
from adapters.http.models import Accepted, ApiError, ErrorItem, MessageStatus, Problem, Rejected
from adapters.http.runtime import Runtime, unavailable
from adapters.http.writer import QueueFull
from hub.events import MessageRejected, RejectionError
from hub.ingest import ACCEPTED, DUPLICATE, FAILED, REJECTED, IngestResult
from hub.ingest_events import Prepared
from hub.messagetypes import MessageType
from hub.records import EVENTS
from hub.records import REJECTED as REJECTED_STREAM
from hub.retour import technical_retour

log = logging.getLogger("iwmo_hub.http")
router = APIRouter(tags=["intake"])

MESSAGES_PATH: Final = "/v1/messages"
XML_TYPES: Final = frozenset({"application/xml", "text/xml"})
_REFUSALS: Final[dict[int | str, dict[str, object]]] = {
    401: {"model": Problem, "description": "no or unknown bearer token"},
    403: {"model": Problem, "description": "this party may not do this"},
}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def retour_url(message_id: str) -> str:
    return f"/v1/messages/{message_id}/retour"


@router.post(
    MESSAGES_PATH,
    status_code=202,
    response_model=Accepted,
    summary="Submit an iWmo 3.2 message (WMO301, WMO305 or WMO307)",
    responses={
        **_REFUSALS,
        400: {"model": Rejected, "description": "not XML at all (kept on the dead-letter stream)"},
        413: {"model": Problem, "description": "over 25 MB (OP179)"},
        415: {"model": Problem, "description": "Content-Type is not application/xml"},
        422: {
            "model": Rejected,
            "description": "every validation error; on the dead-letter stream",
        },
        503: {
            "model": Problem,
            "description": "the store did not confirm; retry after Retry-After",
        },
    },
)
async def post_message(request: Request) -> Response:
    # The token is checked here rather than through a FastAPI dependency: this is the hot
    # path, and dependency resolution costs as much as the rest of the routing.
    started = time.perf_counter()
    runtime = _runtime(request)
    metrics = runtime.metrics
    outcome, message_type, party = "error", "unknown", None
    try:
        party = authenticate(request)
        check_may_post(party)
        _check_content_type(request.headers.get("content-type"))
        hub, writer = runtime.require_hub()
        body = await read_body(request, hub.validator.max_bytes)
        with writer.preparing():  # the batch being written may wait for this one
            prepared = await runtime.prepare(hub, body)
            message_type = prepared.header.message_type or "unknown"
            check_sender(party, prepared.header.message_type, prepared.header.sender)
            try:
                future = writer.submit(prepared)
            except QueueFull as e:
                raise unavailable(str(e), runtime.config.retry_after) from e
        result = await asyncio.wrap_future(future)
        outcome = result.status
        request.state.message_id = result.message_id
        _remember(runtime, result, prepared, party)
        return _answer(runtime, result)
    except ApiError as e:
        outcome = {403: "forbidden", 413: "too_large", 415: "unsupported_type"}.get(
            e.status, "failed" if e.status == 503 else "refused"
        )
        raise
    finally:
        elapsed = time.perf_counter() - started
        metrics.messages.labels(message_type, outcome).inc()
        metrics.intake_seconds.labels(outcome).observe(elapsed)
        event(
            log,
            logging.INFO,
            "message " + outcome,
            party=str(party) if party else None,
            message_type=message_type,
            outcome=outcome,
            message_id=getattr(request.state, "message_id", None),
            duration_ms=round(elapsed * 1000, 2),
        )


def _check_content_type(value: str | None) -> None:
    media, _, params = (value or "").partition(";")
    if media.strip().lower() not in XML_TYPES:
        shown = media.strip() or "none"
        raise ApiError(415, "unsupported_media_type", f"Content-Type {shown}: send application/xml")
    for param in params.split(";"):
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip(' "').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise ApiError(
                415, "unsupported_media_type", "iWmo messages are UTF-8; charset must be utf-8"
            )


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(int(declared), max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > max_bytes:
            raise _too_large(len(body) + len(chunk), max_bytes)
        body += chunk
    return bytes(body)


def _too_large(size: int, max_bytes: int) -> ApiError:
    return ApiError(
        413,
        "too_large",
        f"the message is over {max_bytes:,} bytes (OP179: 25 MB); at least {size:,} were sent",
    )


def _remember(runtime: Runtime, result: IngestResult, prepared: Prepared, party: Party) -> None:
    """Put what was stored into the message index at once (the follower reads it later)."""
    if result.status not in (ACCEPTED, REJECTED) or result.message_id is None:
        return
    header = prepared.header
    entry = Entry(
        status="accepted" if result.status == ACCEPTED else "rejected",
        stream=EVENTS if result.status == ACCEPTED else REJECTED_STREAM,
        position=result.position,
        message_type=header.message_type,
        sender=header.sender,
        receiver=header.receiver,
        received_ms=int(prepared.received_at.timestamp() * 1000),
        submitted_by=str(party),
    )
    runtime.index.record(result.message_id, entry)


def _answer(runtime: Runtime, result: IngestResult) -> Response:
    mid = result.message_id
    headers = {"Location": f"/v1/messages/{mid}"} if mid else {}
    if result.status in (ACCEPTED, DUPLICATE) and mid is not None:
        body = Accepted(
            message_id=mid,
            status="accepted" if result.status == ACCEPTED else "duplicate",
            message_type=result.message_type,
            retour_url=retour_url(mid),
            detail=result.detail,
        )
        return JSONResponse(body.model_dump(), status_code=202, headers=headers)
    if result.status == FAILED:
        raise unavailable(
            f"the store did not confirm the message; it may be submitted again safely"
            f" ({result.detail})",
            runtime.config.retry_after,
        )
    not_xml = all(e.rule == "XML" for e in result.errors)
    rejected = Rejected(
        message_id=mid,
        message_type=result.message_type,
        errors=[ErrorItem.of(e) for e in result.errors],
        retour_url=retour_url(mid) if mid and _answerable(result.message_type) else None,
    )
    return JSONResponse(rejected.model_dump(), status_code=400 if not_xml else 422, headers=headers)


def _answerable(message_type: str | None) -> bool:
    """A retour exists for heen messages whose type could be read."""
    return message_type is not None and not MessageType.from_name(message_type).is_retour


# --- reading back ------------------------------------------------------------------------


def _entry(runtime: Runtime, message_id: str, party: Party) -> Entry:
    entry = runtime.index.get(message_id)
    if entry is None:
        raise ApiError(404, "not_found", f"no message {message_id} is known to this hub (yet)")
    check_may_read_message(party, entry.sender, entry.submitted_by)
    return entry


@router.get(
    "/v1/messages/{message_id}",
    response_model=MessageStatus,
    summary="The status of a submitted message, with every error of a rejected one",
    responses={**_REFUSALS, 404: {"model": Problem}, 503: {"model": Problem}},
)
def message_status(message_id: str, request: Request, party: Caller) -> MessageStatus:
    runtime = _runtime(request)
    entry = _entry(runtime, message_id, party)
    errors: tuple[RejectionError, ...] = ()
    if entry.status == "rejected":
        hub, _ = runtime.require_hub()
        stored = read_record(hub.log, hub.mapper, entry)
        if isinstance(stored, MessageRejected):
            errors = stored.errors
    received = dt.datetime.fromtimestamp(entry.received_ms / 1000, dt.UTC)
    return MessageStatus(
        message_id=message_id,
        status="accepted" if entry.status == "accepted" else "rejected",
        message_type=entry.message_type,
        sender=entry.sender,
        receiver=entry.receiver,
        received_at=received.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        errors=[ErrorItem.of(e) for e in errors],
        retour_url=retour_url(message_id) if _answerable(entry.message_type) else None,
    )


@router.get(
    "/v1/messages/{message_id}/retour",
    summary="The retour (WMO302/306/308) on a submitted message, as XML",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "the retour message"},
        **_REFUSALS,
        404: {"model": Problem},
        503: {"model": Problem},
    },
)
def message_retour(message_id: str, request: Request, party: Caller) -> Response:
    runtime = _runtime(request)
    entry = _entry(runtime, message_id, party)
    if party.kind == "operator":
        raise ApiError(403, "forbidden", "the retour is for the message's sender, not the operator")
    hub, _ = runtime.require_hub()
    stored = read_record(hub.log, hub.mapper, entry)
    if stored is None:
        raise ApiError(
            404, "not_found", f"message {message_id} is not (yet) readable from the store"
        )
    errors = stored.errors if isinstance(stored, MessageRejected) else ()
    retour = technical_retour(stored.content, message_id, stored.received_at, errors)
    if retour is None:
        raise ApiError(
            404,
            "no_retour",
            "no retour can be made: the message's header is not readable as an iWmo header",
        )
    return Response(retour, media_type="application/xml")
