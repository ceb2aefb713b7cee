"""The read side: arrangements and mismatches as JSON-ready objects, from the projection store.

Without an as-of date, arrangements come straight from the `arrangements` table. With one,
they are derived again from the facts the hub had received by the end of that day, with the
same pure functions that fill the table, so both answers have the same shape. Mismatches come
from the `mismatches` table plus the two date-judged flags (`projections.timed`), which are
judged at the as-of date (the caller's today by default).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from typing import Any, Final

from projections import rules
from projections.derive import arrangement, index
from projections.facts import GroupKey
from projections.rules import CODES
from projections.store import ProjectionStore
from projections.timed import (
    DEFAULT_NOT_STARTED_DAYS,
    OPEN,
    RESOLVED,
    Judged,
    Standing,
    day_start_ms,
    judge,
)
from projections.views import arrangement_output, history_json, iso_ms, ms_of, row_of

ALL: Final = "all"
STATUSES: Final = (OPEN, RESOLVED, ALL)


def _where(filters: Iterable[tuple[str, object]]) -> tuple[str, list[object]]:
    """A WHERE clause from (column, value) pairs, skipping None values."""
    parts, params = [], []
    for column, value in filters:
        if value is not None:
            parts.append(f"{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _mapping(row: sqlite3.Row) -> dict[str, Any]:
    return {name: row[name] for name in row.keys()}  # noqa: SIM118 - Row has no __iter__ of keys


def arrangements(
    store: ProjectionStore,
    gemeente: str,
    aanbieder: str | None = None,
    *,
    as_of: dt.date | None = None,
    history: bool = False,
    show_bsn: bool = False,
) -> list[dict[str, Any]]:
    """A gemeente's arrangements (with one aanbieder), ordered by aanbieder and number."""
    if as_of is not None:
        return _arrangements_as_of(store, gemeente, aanbieder, as_of, show_bsn)
    where, params = _where((("gemeente", gemeente), ("aanbieder", aanbieder)))
    rows = store.query(
        f"SELECT * FROM arrangements{where} ORDER BY aanbieder, toewijzing_nummer", params
    )
    histories: dict[tuple[str, int], dict[str, Any]] = {}
    if history:
        for key, facts in store.groups_of(gemeente, aanbieder):
            found = arrangement(index(key, dict(facts)))
            if found is not None and key.toewijzing_nummer is not None:
                histories[(key.aanbieder, key.toewijzing_nummer)] = history_json(found)
    return [
        arrangement_output(
            _mapping(row),
            show_bsn=show_bsn,
            history=histories.get((row["aanbieder"], row["toewijzing_nummer"])),
        )
        for row in rows
    ]


def _arrangements_as_of(
    store: ProjectionStore, gemeente: str, aanbieder: str | None, as_of: dt.date, show_bsn: bool
) -> list[dict[str, Any]]:
    """Arrangements as the facts received by the end of `as_of` make them (with history)."""
    until = day_start_ms(as_of + dt.timedelta(days=1))
    out = []
    for key, facts in store.groups_of(gemeente, aanbieder):
        known = {fact: ms for fact, ms in facts if ms < until}
        if not known:
            continue
        group = index(key, known)
        found = arrangement(group)
        if found is not None:
            row = row_of(found, max(known.values()), len(rules.mismatches(group)))
            out.append(arrangement_output(row, show_bsn=show_bsn, history=history_json(found)))
    out.sort(key=lambda a: (a["aanbieder"], a["toewijzingnummer"]))
    return out


def mismatches(
    store: ProjectionStore,
    *,
    gemeente: str | None = None,
    aanbieder: str | None = None,
    status: str = OPEN,
    as_of: dt.date,
    not_started_days: int = DEFAULT_NOT_STARTED_DAYS,
) -> list[dict[str, Any]]:
    """Mismatches as they stand at the end of `as_of`, filtered; ordered by where and code."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    until = iso_ms(day_start_ms(as_of + dt.timedelta(days=1)))
    where, params = _where((("gemeente", gemeente), ("aanbieder", aanbieder)))
    rows = store.query(f"SELECT * FROM mismatches{where}", params)
    found: list[dict[str, Any]] = []
    for row in rows:
        if row["opened_at"] >= str(until):
            continue  # raised after the as-of date
        resolved_at = row["resolved_at"]
        if row["status"] == RESOLVED and resolved_at is not None and resolved_at < str(until):
            state = RESOLVED
        else:
            state, resolved_at = OPEN, None
        found.append(
            _output(
                row["id"],
                row["code"],
                state,
                row["gemeente"],
                row["aanbieder"],
                row["toewijzing_nummer"],
                row["bsn_masked"],
                json.loads(row["message_ids"]),
                row["reason"],
                row["opened_at"],
                resolved_at,
            )
        )
    for judged in _timed(store, gemeente, aanbieder, as_of, not_started_days):
        m = judged.mismatch
        found.append(
            _output(
                m.id,
                m.code,
                judged.status,
                m.gemeente,
                m.aanbieder,
                m.toewijzing_nummer,
                m.bsn_masked,
                list(m.message_ids),
                m.reason,
                iso_ms(judged.opened_ms),
                iso_ms(judged.resolved_ms),
            )
        )
    if status != ALL:
        found = [m for m in found if m["status"] == status]
    found.sort(
        key=lambda m: (
            m["gemeente"],
            m["aanbieder"],
            m["toewijzingnummer"] is None,
            m["toewijzingnummer"] or 0,
            m["code"],
            m["id"],
        )
    )
    return found


def _timed(
    store: ProjectionStore,
    gemeente: str | None,
    aanbieder: str | None,
    as_of: dt.date,
    not_started_days: int,
) -> list[Judged]:
    where, params = _where((("gemeente", gemeente), ("aanbieder", aanbieder)))
    rows = store.query(
        "SELECT gemeente, aanbieder, toewijzing_nummer, bsn, status, ingangsdatum, einddatum,"
        " care_open, assigned_at, version_received_at, first_start_at, care_closed_at,"
        f" message_ids FROM arrangements{where}",
        params,
    )
    out: list[Judged] = []
    for row in rows:
        standing = Standing(
            key=GroupKey(row["gemeente"], row["aanbieder"], row["toewijzing_nummer"]),
            bsn=row["bsn"],
            status=row["status"],
            ingangsdatum=dt.date.fromisoformat(row["ingangsdatum"]),
            einddatum=None if row["einddatum"] is None else dt.date.fromisoformat(row["einddatum"]),
            care_open=bool(row["care_open"]),
            assigned_ms=ms_of(row["assigned_at"]) or 0,
            version_ms=ms_of(row["version_received_at"]) or 0,
            first_start_ms=ms_of(row["first_start_at"]),
            care_closed_ms=ms_of(row["care_closed_at"]),
            message_ids=tuple(json.loads(row["message_ids"])),
        )
        out.extend(judge(standing, as_of, not_started_days))
    return out


def _output(
    mid: str,
    code: str,
    status: str,
    gemeente: str,
    aanbieder: str,
    nummer: int | None,
    bsn_masked: str,
    message_ids: list[str],
    reason: str,
    opened_at: str | None,
    resolved_at: str | None,
) -> dict[str, Any]:
    return {
        "id": mid,
        "code": code,
        "retour_code": CODES.get(code),
        "status": status,
        "gemeente": gemeente,
        "aanbieder": aanbieder,
        "toewijzingnummer": nummer,
        "bsn_masked": bsn_masked,
        "message_ids": message_ids,
        "reason": reason,
        "opened_at": opened_at,
        "resolved_at": resolved_at,
    }
