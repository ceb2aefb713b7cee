"""An independent reading of the generated traffic: re-derive the mismatches and statuses from
the XML alone, with the semantics of docs/generator.md ("Ground truth"), and compare them
with the generator's own `expected` ground truth.

The oracle knows nothing of scenarios or anomalies: it parses the messages in arrival order
and applies issue 5's table. Where the generator's by-construction truth and this reading
disagree, one of them is wrong.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from hub.codec import from_bytes, to_xml
from hub.generator import Emitted, Finished, GeneratorConfig, build, generate
from hub.model import StartProduct, StopProduct, ToegewezenProduct, Wmo301, Wmo305, Wmo307

Key = tuple[str, str, int]  # gemeente, aanbieder, ToewijzingNummer
Flag = tuple[str, str, str, int]  # code, gemeente, aanbieder, ToewijzingNummer
AS_OF_CODES = frozenset({"ASSIGNMENT_NOT_STARTED"})


@dataclass
class _Record:
    dagtekening: dt.date
    seq: int
    bsn: str
    line: StartProduct | StopProduct


@dataclass
class _Toewijzing:
    versions: list[ToegewezenProduct] = field(default_factory=list)
    records: list[_Record] = field(default_factory=list)


def _current(t: _Toewijzing) -> ToegewezenProduct | None:
    if not t.versions:
        return None
    return max(t.versions, key=lambda v: (v.toewijzingsdatum, v.toewijzingstijd))


def _deleted(v: ToegewezenProduct) -> bool:
    return v.reden_wijziging == "13" and v.einddatum == v.ingangsdatum


def _same_product(a: object, b: object) -> bool:
    return a is None or b is None or a == b


Starts = dict[tuple[object, dt.date], list[StopProduct]]


def evaluate(
    t: _Toewijzing, key: Key, as_of: dt.date | None, threshold: int
) -> tuple[set[Flag], Starts]:
    """The flags of one toewijzing (as-of flags only when `as_of` is given) and its accepted
    starts with their stops, processing records by Dagtekening (arrival order breaks ties)."""
    flags: set[Flag] = set()
    current = _current(t)
    starts: Starts = {}
    stop_keys: set[tuple[object, ...]] = set()

    def flag(code: str) -> None:
        flags.add((code, *key))

    for rec in sorted(t.records, key=lambda r: (r.dagtekening, r.seq)):
        line = rec.line
        skey = (line.product, line.begindatum)
        if current is None:
            flag("TR019")
            continue
        if isinstance(line, StartProduct):
            if line.status_aanlevering == "3":
                if skey not in starts:
                    flag("TR063")
                elif starts[skey]:
                    flag("TR071")
                else:
                    del starts[skey]
                continue
            if skey in starts:
                flag("TR074")
                continue
            if any(not stops for stops in starts.values()):
                flag("TR326")
                continue
            starts[skey] = []
        else:
            full = (line.product, line.begindatum, line.einddatum, line.reden_beeindiging)
            if line.status_aanlevering == "3":
                if full not in stop_keys:
                    flag("TR063")
                else:
                    stop_keys.discard(full)
                    starts[skey] = [
                        s
                        for s in starts[skey]
                        if s.einddatum != line.einddatum
                        or s.reden_beeindiging != line.reden_beeindiging
                    ]
                continue
            if full in stop_keys:
                flag("TR074")
                continue
            if skey not in starts:
                flag("TR382")
                continue
            stops = starts[skey]
            if line.reden_beeindiging == "20" and any(s.reden_beeindiging == "20" for s in stops):
                flag("TR413")
                continue
            if stops and line.einddatum < max(s.einddatum for s in stops):
                flag("TR414")
                continue
            if any(s.reden_beeindiging != "20" for s in stops):
                flag("TR415")
                continue
            stops.append(line)
            stop_keys.add(full)
        # Checks that do not refuse the record (no 9xxx retour code).
        if _deleted(current):
            flag("CARE_ON_DELETED_ASSIGNMENT")
            continue
        if isinstance(line, StartProduct):
            if line.begindatum < current.ingangsdatum:
                flag("START_BEFORE_ASSIGNMENT")
            if current.einddatum and line.begindatum > current.einddatum:
                flag("CARE_AFTER_ASSIGNMENT_END")
        elif current.einddatum and line.einddatum > current.einddatum:
            flag("CARE_AFTER_ASSIGNMENT_END")
        if line.toewijzing_ingangsdatum not in (None, current.ingangsdatum):
            flag("INGANGSDATUM_MISMATCH")
        if not _same_product(line.product, current.product):
            flag("PRODUCT_MISMATCH")
    if as_of is not None and current is not None and not _deleted(current):
        if not starts and current.ingangsdatum + dt.timedelta(days=threshold) <= as_of:
            flag("ASSIGNMENT_NOT_STARTED")
        if (
            current.einddatum
            and current.einddatum < as_of
            and any(not stops for stops in starts.values())
        ):
            flag("CARE_AFTER_ASSIGNMENT_END")
    return flags, starts


def status(t: _Toewijzing, starts: Starts) -> str:
    """Issue 5's status: verwijderd > gestopt > ingetrokken > tijdelijk_gestopt > gestart."""
    current = _current(t)
    assert current is not None
    if _deleted(current):
        return "verwijderd"
    latest = starts[max(starts, key=lambda k: k[1])] if starts else None
    if latest and any(s.reden_beeindiging != "20" for s in latest):
        return "gestopt"
    moments = sorted({(v.toewijzingsdatum, v.toewijzingstijd) for v in t.versions})
    if len(moments) > 1 and current.einddatum is not None:
        before = next(
            v for v in t.versions if (v.toewijzingsdatum, v.toewijzingstijd) == moments[-2]
        )
        if before.einddatum is None or current.einddatum < before.einddatum:
            return "ingetrokken"
    if latest is not None:
        return "tijdelijk_gestopt" if latest else "gestart"
    return "toegewezen"


@dataclass
class Reading:
    open: set[Flag]
    resolved: set[Flag]
    statuses: dict[Key, tuple[str, dt.date | None]]
    duplicates: int


def read(messages: Iterable[tuple[int, bytes]], as_of: dt.date, threshold: int) -> Reading:
    """What a correct hub makes of these messages (arrival order), per docs/generator.md."""
    world: dict[Key, _Toewijzing] = defaultdict(_Toewijzing)
    seen: set[tuple[str, str, str]] = set()
    ever: set[Flag] = set()
    duplicates = 0
    for seq, data in messages:
        message = from_bytes(data)
        header = message.header
        ident = (header.afzender, header.bericht_code, header.bericht_identificatie.identificatie)
        if ident in seen:  # TR056: the same message again changes nothing
            duplicates += 1
            continue
        seen.add(ident)
        touched: set[Key] = set()
        if isinstance(message, Wmo301):
            for line in message.client.toegewezen_producten:
                key = (header.afzender, header.ontvanger, line.toewijzing_nummer)
                world[key].versions.append(line)
                touched.add(key)
        else:
            assert isinstance(message, Wmo305 | Wmo307)
            lines = (
                message.client.start_producten
                if isinstance(message, Wmo305)
                else message.client.stop_producten
            )
            for rec in lines:
                assert rec.toewijzing_nummer is not None
                key = (header.ontvanger, header.afzender, rec.toewijzing_nummer)
                world[key].records.append(
                    _Record(header.bericht_identificatie.dagtekening, seq, message.client.bsn, rec)
                )
                touched.add(key)
        for key in touched:
            ever |= evaluate(world[key], key, None, threshold)[0]
    final: set[Flag] = set()
    statuses: dict[Key, tuple[str, dt.date | None]] = {}
    for key, t in world.items():
        flags, starts = evaluate(t, key, as_of, threshold)
        final |= flags
        current = _current(t)
        if current is not None:
            statuses[key] = (status(t, starts), current.einddatum)
    resolved = {f for f in ever - final if f[0] not in AS_OF_CODES}
    return Reading(final, resolved, statuses, duplicates)


def _run(config: GeneratorConfig) -> tuple[Reading, list[Finished]]:
    messages: list[tuple[int, bytes]] = []
    finished: list[Finished] = []
    for item in generate(config):
        if isinstance(item, Emitted):
            messages.append((item.seq, to_xml(build(item.message))))
        else:
            finished.append(item)
    return read(messages, config.as_of, config.not_started_days), finished


@pytest.mark.parametrize(
    ("months", "clients", "rate", "seed"),
    [(1, 1_000, 0.1, 7), (12, 600, 0.15, 3), (3, 400, 1.0, 11), (24, 300, 0.05, 5)],
)
def test_the_ground_truth_is_what_the_messages_say(
    months: int, clients: int, rate: float, seed: int
) -> None:
    config = GeneratorConfig(
        gemeenten=3, aanbieders=10, clients=clients, months=months, anomaly_rate=rate, seed=seed
    )
    reading, finished = _run(config)
    mismatches = [m for f in finished for m in f.truth.mismatches]
    expected_open = {m.key() for m in mismatches if m.status == "open"}
    expected_resolved = {m.key() for m in mismatches if m.status == "resolved"}
    assert reading.open == expected_open
    assert reading.resolved == expected_resolved
    expected_status = {
        (t.gemeente, t.aanbieder, t.toewijzingnummer): (t.status, t.einddatum)
        for f in finished
        for t in f.truth.toewijzingen
    }
    assert reading.statuses == expected_status
    assert reading.duplicates == sum(len(f.truth.duplicates) for f in finished)
