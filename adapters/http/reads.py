"""The read side: a gemeente's or an aanbieder's arrangements and mismatches, page by page.

Answers come from the projection store through `projections.queries`, the same functions the
`arrangements` and `mismatches` commands use, so both show the same objects. Each party reads
only under its own code (`/v1/gemeenten/{own code}/...`, `/v1/aanbieders/{own AGB}/...`) and
filters by the other party with a query parameter. Lists are in a total order (gemeente,
aanbieder, ToewijzingNummer; for mismatches then code and id), and the cursor names the last
item sent, so a page never repeats or skips an item that was there when the first was read,
whatever is added in between. The cursor is opaque and bound to the query it came from.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request

from adapters.http.auth import AANBIEDER, GEMEENTE, Caller, require_party
from adapters.http.models import ApiError, Page, Problem
from adapters.live_projections import LiveProjections
from projections import queries
from projections.derive import STATUSES as ARRANGEMENT_STATUSES
from projections.rules import CODES
from projections.store import ProjectionStore
from projections.timed import LOCAL

router = APIRouter(tags=["read side"])

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": Problem, "description": "a bad filter or cursor"},
    401: {"model": Problem, "description": "no or unknown bearer token"},
    403: {"model": Problem, "description": "another party's data"},
}

GemeenteCode = Annotated[str, Path(pattern=r"^\d{4}$", description="gemeente code (4 digits)")]
AgbCode = Annotated[str, Path(pattern=r"^\d{8}$", description="AGB code of the aanbieder")]
ArrangementStatus = Literal[
    "toegewezen", "gestart", "tijdelijk_gestopt", "gestopt", "ingetrokken", "verwijderd"
]
assert set(ArrangementStatus.__args__) == set(ARRANGEMENT_STATUSES)  # type: ignore[attr-defined]


class ReadStores:
    """One projection store connection per worker thread (SQLite connections stay in theirs),
    reopened when `iwmo-hub replay --swap` points the live path at a rebuilt store."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def get(self) -> ProjectionStore:
        live: LiveProjections | None = getattr(self._local, "live", None)
        if live is None:
            live = self._local.live = LiveProjections(self.path)
        return live.get()


# --- paging ----------------------------------------------------------------------------------


def _scope(**query: Any) -> str:
    text = json.dumps(query, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(scope: str, key: Sequence[Any]) -> str:
    raw = json.dumps([scope, list(key)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str) -> tuple[Any, ...]:
    """The key a cursor names; 400 if it is not one of ours or belongs to another query."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found_scope, key = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise ApiError(400, "bad_cursor", "the cursor is not one this API gave out") from None
    if found_scope != scope or not isinstance(key, list):
        raise ApiError(400, "bad_cursor", "the cursor belongs to another query; start over")
    return tuple(key)


def paginate(
    items: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], tuple[Any, ...]],
    limit: int,
    cursor: str | None,
    scope: str,
) -> tuple[list[dict[str, Any]], str | None]:
    """The page after `cursor` (in `key` order) and the cursor of the next page, if any."""
    ordered = sorted(items, key=key)
    if cursor:
        after = decode_cursor(cursor, scope)
        ordered = [item for item in ordered if key(item) > after]
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, encode_cursor(scope, key(page[-1])) if more and page else None


def arrangement_key(a: dict[str, Any]) -> tuple[Any, ...]:
    return (a["gemeente"], a["aanbieder"], a["toewijzingnummer"])


def mismatch_key(m: dict[str, Any]) -> tuple[Any, ...]:
    nummer = m["toewijzingnummer"]
    return (m["gemeente"], m["aanbieder"], nummer is None, nummer or 0, m["code"], m["id"])


# --- queries -----------------------------------------------------------------------------


def _stores(request: Request) -> ProjectionStore:
    stores: ReadStores = request.app.state.read_stores
    return stores.get()


def arrangements_of(
    store: ProjectionStore,
    gemeente: str | None,
    aanbieder: str | None,
    as_of: dt.date | None,
    include_bsn: bool,
) -> list[dict[str, Any]]:
    """Arrangements of a gemeente (with an aanbieder), or of an aanbieder in every gemeente."""
    if gemeente is None:
        # `queries.arrangements` takes one gemeente; an aanbieder works for several.
        rows = store.query(
            "SELECT DISTINCT gemeente FROM facts WHERE aanbieder = ? ORDER BY gemeente",
            (aanbieder,),
        )
        gemeenten = [str(row["gemeente"]) for row in rows]
    else:
        gemeenten = [gemeente]
    found: list[dict[str, Any]] = []
    for code in gemeenten:
        found.extend(
            queries.arrangements(store, code, aanbieder, as_of=as_of, show_bsn=include_bsn)
        )
    return found


def today() -> dt.date:
    """Today on the Dutch calendar (the default as-of date of mismatches)."""
    return dt.datetime.now(LOCAL).date()


def _arrangement_page(
    request: Request,
    gemeente: str | None,
    aanbieder: str | None,
    status: str | None,
    as_of: dt.date | None,
    include_bsn: bool,
    limit: int,
    cursor: str | None,
) -> Page:
    store = _stores(request)
    items = arrangements_of(store, gemeente, aanbieder, as_of, include_bsn)
    if status is not None:
        items = [a for a in items if a["status"] == status]
    scope = _scope(what="arrangements", g=gemeente, a=aanbieder, s=status, d=as_of, b=include_bsn)
    page, next_cursor = paginate(items, arrangement_key, limit, cursor, scope)
    return Page(items=page, next_cursor=next_cursor, as_of=as_of.isoformat() if as_of else None)


def _mismatch_page(
    request: Request,
    gemeente: str | None,
    aanbieder: str | None,
    status: str,
    code: str | None,
    as_of: dt.date | None,
    limit: int,
    cursor: str | None,
) -> Page:
    if code is not None and code not in CODES:
        raise ApiError(
            400, "bad_filter", f"unknown mismatch code {code!r}; known: {', '.join(CODES)}"
        )
    day = as_of or today()
    store = _stores(request)
    items = queries.mismatches(
        store, gemeente=gemeente, aanbieder=aanbieder, status=status, as_of=day
    )
    if code is not None:
        items = [m for m in items if m["code"] == code]
    scope = _scope(what="mismatches", g=gemeente, a=aanbieder, s=status, c=code, d=day)
    page, next_cursor = paginate(items, mismatch_key, limit, cursor, scope)
    return Page(items=page, next_cursor=next_cursor, as_of=day.isoformat())


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
AsOf = Annotated[
    dt.date | None, Query(description="as the messages received by the end of that day made it")
]
MismatchStatus = Annotated[Literal["open", "resolved", "all"], Query(description="default open")]
MismatchCode = Annotated[
    str | None, Query(alias="code", description="only this mismatch code (e.g. TR019)")
]
OtherAgb = Annotated[str | None, Query(pattern=r"^\d{8}$", description="only this aanbieder")]
OtherGemeente = Annotated[str | None, Query(pattern=r"^\d{4}$", description="only this gemeente")]
IncludeBsn = Annotated[bool, Query(description="also the full BSN (masked by default)")]


@router.get(
    "/v1/gemeenten/{code}/arrangements",
    response_model=Page,
    responses=_RESPONSES,
    summary="A gemeente's arrangements: where each toewijzing stands",
)
def gemeente_arrangements(
    request: Request,
    code: GemeenteCode,
    party: Caller,
    aanbieder: OtherAgb = None,
    status: ArrangementStatus | None = None,
    as_of: AsOf = None,
    include_bsn: IncludeBsn = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page:
    require_party(party, GEMEENTE, code, "arrangements")
    return _arrangement_page(request, code, aanbieder, status, as_of, include_bsn, limit, cursor)


@router.get(
    "/v1/gemeenten/{code}/mismatches",
    response_model=Page,
    responses=_RESPONSES,
    summary="A gemeente's mismatches between what it assigned and what aanbieders report",
)
def gemeente_mismatches(
    request: Request,
    code: GemeenteCode,
    party: Caller,
    aanbieder: OtherAgb = None,
    status: MismatchStatus = "open",
    mismatch_code: MismatchCode = None,
    as_of: AsOf = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page:
    require_party(party, GEMEENTE, code, "mismatches")
    return _mismatch_page(request, code, aanbieder, status, mismatch_code, as_of, limit, cursor)


@router.get(
    "/v1/aanbieders/{agb}/arrangements",
    response_model=Page,
    responses=_RESPONSES,
    summary="An aanbieder's arrangements with every gemeente (or one)",
)
def aanbieder_arrangements(
    request: Request,
    agb: AgbCode,
    party: Caller,
    gemeente: OtherGemeente = None,
    status: ArrangementStatus | None = None,
    as_of: AsOf = None,
    include_bsn: IncludeBsn = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page:
    require_party(party, AANBIEDER, agb, "arrangements")
    return _arrangement_page(request, gemeente, agb, status, as_of, include_bsn, limit, cursor)


@router.get(
    "/v1/aanbieders/{agb}/mismatches",
    response_model=Page,
    responses=_RESPONSES,
    summary="An aanbieder's mismatches with every gemeente (or one)",
)
def aanbieder_mismatches(
    request: Request,
    agb: AgbCode,
    party: Caller,
    gemeente: OtherGemeente = None,
    status: MismatchStatus = "open",
    mismatch_code: MismatchCode = None,
    as_of: AsOf = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page:
    require_party(party, AANBIEDER, agb, "mismatches")
    return _mismatch_page(request, gemeente, agb, status, mismatch_code, as_of, limit, cursor)
