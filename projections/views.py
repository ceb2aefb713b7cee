"""How arrangements and mismatches look outside the fold: store columns and JSON objects.

One place decides the shape, so the projection store, the as-of query (which derives from
facts on the fly) and the CLI all show an arrangement the same way. Times are ISO 8601 in UTC
with milliseconds ('2025-06-30T09:15:00.000Z'); dates are ISO dates.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from hub.masking import mask_bsn
from projections.derive import Arrangement, CareLine
from projections.facts import ProductKey

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DATE = _EPOCH.date()
_SECONDS: dict[int, str] = {}


def iso_ms(ms: int | None) -> str | None:
    """'2025-06-30T09:15:00.000Z' for milliseconds since the epoch (None stays None)."""
    if ms is None:
        return None
    # Hot path (several per arrangement row): everything up to the second is looked up (the
    # hub receives many messages per second, and a group's times recur in every row written
    # for it); only the milliseconds are formatted.
    second, millis = divmod(ms, 1000)
    prefix = _SECONDS.get(second)
    if prefix is None:
        if len(_SECONDS) > 20_000:
            _SECONDS.clear()
        day, rest = divmod(second, 86_400)
        prefix = _SECONDS[second] = (
            f"{_EPOCH_DATE + dt.timedelta(days=day)}T"
            f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}."
        )
    return f"{prefix}{millis:03d}Z"


def json_texts(items: Sequence[str]) -> str:
    """`json.dumps` of a list of strings; message ids of plain printable ASCII (the usual
    case, and the hot path of every arrangement row) are joined without the encoder."""
    plain = "".join(items)
    if plain.isascii() and '"' not in plain and "\\" not in plain and plain.isprintable():
        return '["' + '", "'.join(items) + '"]' if items else "[]"
    return json.dumps(list(items))


def ms_of(text: str | None) -> int | None:
    """The milliseconds `iso_ms` wrote."""
    if text is None:
        return None
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def _iso(value: dt.date | dt.time | None) -> str | None:
    return None if value is None else value.isoformat()


def product_json(product: ProductKey | None) -> dict[str, Any] | None:
    return None if product is None else {"categorie": product[0], "code": product[1]}


def _care_json(line: CareLine) -> dict[str, Any]:
    c = line.line
    out: dict[str, Any] = {
        "begindatum": _iso(c.begindatum),
        "product": product_json(c.product),
        "toewijzing_ingangsdatum": _iso(c.toewijzing_ingangsdatum),
    }
    if c.stop:
        out["reden_beeindiging"] = c.reden_beeindiging
        out["einddatum"] = _iso(c.einddatum)
    out["live"] = line.live
    out["message_ids"] = sorted({f.message_id for f in line.adds})
    out["deleted_by"] = sorted({f.message_id for f in line.deletes})
    return out


def history_json(a: Arrangement) -> dict[str, Any]:
    """Every version, start and stop of an arrangement with the message ids behind each."""
    versions = []
    for entry in a.versions:
        v = entry.version
        versions.append(
            {
                "toewijzingsdatum": _iso(v.toewijzingsdatum),
                "toewijzingstijd": _iso(v.toewijzingstijd),
                "ingangsdatum": _iso(v.ingangsdatum),
                "einddatum": _iso(v.einddatum),
                "reden_wijziging": v.reden_wijziging,
                "product": product_json(v.product),
                "omvang": None
                if v.omvang is None
                else dict(zip(("volume", "eenheid", "frequentie"), v.omvang, strict=True)),
                "budget": v.budget,
                "message_ids": list(entry.message_ids),
            }
        )
    return {
        "versions": versions,
        "starts": [_care_json(line) for line in a.starts],
        "stops": [_care_json(line) for line in a.stops],
    }


#: The arrangements table's columns, in the order `arrangement_row` gives them.
ARRANGEMENT_COLUMNS = (
    "gemeente",
    "aanbieder",
    "toewijzing_nummer",
    "bsn",
    "status",
    "referentie_aanbieder",
    "product_categorie",
    "product_code",
    "toewijzingsdatum",
    "toewijzingstijd",
    "ingangsdatum",
    "einddatum",
    "reden_wijziging",
    "omvang_volume",
    "omvang_eenheid",
    "omvang_frequentie",
    "budget",
    "commentaar",
    "care_open",
    "open_mismatches",
    "assigned_at",
    "version_received_at",
    "first_start_at",
    "care_closed_at",
    "message_ids",
    "updated_at",
)


def arrangement_row(a: Arrangement, updated_ms: int, open_mismatches: int) -> tuple[Any, ...]:
    """The arrangements table row of an arrangement (JSON columns as text)."""
    v = a.current.version
    omvang = v.omvang or (None, None, None)
    product = v.product or (None, None)
    einddatum = v.einddatum
    # The fold writes one row per changed toewijzing per batch: no helper calls for the
    # columns that are never None (a Version always has these dates and the time).
    return (
        a.key.gemeente,
        a.key.aanbieder,
        a.key.toewijzing_nummer,
        v.bsn,
        a.status,
        v.referentie_aanbieder,
        product[0],
        product[1],
        v.toewijzingsdatum.isoformat(),
        v.toewijzingstijd.isoformat(),
        v.ingangsdatum.isoformat(),
        None if einddatum is None else einddatum.isoformat(),
        v.reden_wijziging,
        *omvang,
        v.budget,
        v.commentaar,
        int(a.care_open),
        open_mismatches,
        iso_ms(a.assigned_ms),
        iso_ms(a.version_ms),
        iso_ms(a.first_start_ms),
        iso_ms(a.care_closed_ms),
        json_texts(a.message_ids),
        iso_ms(updated_ms),
    )


def arrangement_output(
    row: Mapping[str, Any], *, show_bsn: bool = False, history: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An arrangements row as the CLI's JSON object (Bsn masked unless asked for)."""
    product = None
    if row["product_categorie"] is not None:
        product = {"categorie": row["product_categorie"], "code": row["product_code"]}
    omvang = None
    if row["omvang_volume"] is not None:
        omvang = {
            "volume": row["omvang_volume"],
            "eenheid": row["omvang_eenheid"],
            "frequentie": row["omvang_frequentie"],
        }
    out: dict[str, Any] = {
        "gemeente": row["gemeente"],
        "aanbieder": row["aanbieder"],
        "toewijzingnummer": row["toewijzing_nummer"],
        "bsn_masked": mask_bsn(row["bsn"]),
    }
    if show_bsn:
        out["bsn"] = row["bsn"]
    out.update(
        {
            "status": row["status"],
            "product": product,
            "toewijzingsdatum": row["toewijzingsdatum"],
            "toewijzingstijd": row["toewijzingstijd"],
            "ingangsdatum": row["ingangsdatum"],
            "einddatum": row["einddatum"],
            "reden_wijziging": row["reden_wijziging"],
            "omvang": omvang,
            "budget": row["budget"],
            "referentie_aanbieder": row["referentie_aanbieder"],
            "care_open": bool(row["care_open"]),
            "open_mismatches": row["open_mismatches"],
            "message_ids": json.loads(row["message_ids"]),
            "updated_at": row["updated_at"],
        }
    )
    if history is not None:
        out["history"] = history
    return out


def row_of(a: Arrangement, updated_ms: int, open_mismatches: int) -> dict[str, Any]:
    """An arrangement as a mapping shaped like a stored row (for derived, unstored views)."""
    row = arrangement_row(a, updated_ms, open_mismatches)
    return dict(zip(ARRANGEMENT_COLUMNS, row, strict=True))
