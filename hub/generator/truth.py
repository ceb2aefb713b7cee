"""Ground truth of a case: the final status of every toewijzing and every mismatch the hub
must report, once all of the case's messages have been sent.

Statuses follow issue 5 (see docs/generator.md, "Ground truth"): the current version of a
toewijzing is the one with the latest Toewijzingsdatum and Toewijzingstijd; records refused
by a cross-message rule (the 9xxx retour codes) change nothing; of the accepted starts the
latest one decides between gestart, tijdelijk_gestopt and gestopt.

`settle` works out everything but the sequence numbers as soon as a case is planned and lets
go of the plan's working data, so an open case holds little more than its pending messages;
`case_truth` completes the record when the case's last message has been emitted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hub.generator.plan import CasePlan, Delivery, Planned, message_of
from hub.generator.results import (
    GESTART,
    GESTOPT,
    INGETROKKEN,
    TIJDELIJK_GESTOPT,
    TOEGEWEZEN,
    VERWIJDERD,
    CaseTruth,
    MismatchTruth,
    ToewijzingTruth,
)
from hub.masking import mask_bsn
from hub.model import StartProduct, StopProduct, ToegewezenProduct


def settle(plan: CasePlan) -> None:
    """Work out a freshly planned case's truth (statuses, the messages behind each mismatch)
    and drop the decisions and deliveries it was planned from."""
    bsn = mask_bsn(plan.identity.bsn)
    versions: dict[int, list[ToegewezenProduct]] = {n: [] for n in plan.nummers}
    for decision in plan.decisions:
        for line in decision.lines:
            versions[line.toewijzing_nummer].append(line)
    records: dict[int, list[Delivery]] = {n: [] for n in plan.nummers}
    for delivery in plan.deliveries:
        nummer = delivery.record.toewijzing_nummer
        if nummer in records and not delivery.rejected:
            records[nummer].append(delivery)
    toewijzingen = []
    for nummer in plan.nummers:
        current = max(versions[nummer], key=lambda v: (v.toewijzingsdatum, v.toewijzingstijd))
        product = current.product
        toewijzingen.append(
            ToewijzingTruth(
                gemeente=plan.gemeente,
                aanbieder=plan.aanbieder,
                toewijzingnummer=nummer,
                bsn=bsn,
                status=status_of(versions[nummer], [d.record for d in records[nummer]]),
                ingangsdatum=current.ingangsdatum,
                einddatum=current.einddatum,
                categorie=product.categorie if product else None,
                code=product.code if product else None,
            )
        )
    plan.toewijzing_truth = tuple(toewijzingen)
    plan.expected = [
        (e, tuple(p if isinstance(p, Planned) else message_of(plan, p) for p in e.parts))
        for e in plan.expectations
    ]
    plan.duplicate_pairs = [
        (m, m.duplicate_of) for m in plan.messages if m and m.duplicate_of is not None
    ]
    plan.decisions, plan.deliveries, plan.expectations = [], [], []
    for message in plan.messages:
        if message is not None:
            message.parts = ()


def case_truth(plan: CasePlan) -> CaseTruth:
    """The ground truth of a settled case whose messages have all been emitted (seq set)."""
    bsn = mask_bsn(plan.identity.bsn)
    mismatches = tuple(
        MismatchTruth(
            code=e.code,
            status=e.status,
            gemeente=plan.gemeente,
            aanbieder=plan.aanbieder,
            toewijzingnummer=e.nummer,
            bsn=bsn,
            anomaly=e.anomaly,
            messages=tuple((m.seq, m.message_type.short, m.identificatie) for m in messages),
        )
        for e, messages in plan.expected
    )
    duplicates = tuple(
        ((dup.seq, dup.message_type.short), (original.seq, original.message_type.short))
        for dup, original in plan.duplicate_pairs
    )
    return CaseTruth(plan.toewijzing_truth, mismatches, duplicates, tuple(plan.anomalies))


def status_of(
    versions: Sequence[ToegewezenProduct], records: Sequence[StartProduct | StopProduct]
) -> str:
    """The status of a toewijzing from its versions and its accepted records, in the order
    they were sent. verwijderd > gestopt > ingetrokken > tijdelijk_gestopt > gestart."""
    ordered = sorted(versions, key=lambda v: (v.toewijzingsdatum, v.toewijzingstijd))
    current = ordered[-1]
    if current.reden_wijziging == "13" and current.einddatum == current.ingangsdatum:
        return VERWIJDERD
    starts: dict[tuple[object, dt.date], list[StopProduct]] = {}
    for record in records:
        key = (record.product, record.begindatum)
        if isinstance(record, StartProduct):
            if record.status_aanlevering == "3":
                starts.pop(key, None)
            else:
                starts[key] = []
        elif key in starts:
            stops = starts[key]
            if record.status_aanlevering == "3":
                stops[:] = [s for s in stops if not _same_stop(s, record)]
            else:
                stops.append(record)
    latest = starts[max(starts, key=lambda k: k[1])] if starts else None
    if latest is not None and any(s.reden_beeindiging != "20" for s in latest):
        return GESTOPT
    if _withdrawn(ordered):
        return INGETROKKEN
    if latest is not None:
        return TIJDELIJK_GESTOPT if latest else GESTART
    return TOEGEWEZEN


def _same_stop(a: StopProduct, b: StopProduct) -> bool:
    return (a.begindatum, a.einddatum, a.reden_beeindiging, a.product) == (
        b.begindatum,
        b.einddatum,
        b.reden_beeindiging,
        b.product,
    )


def _withdrawn(ordered: Sequence[ToegewezenProduct]) -> bool:
    """Whether the current version ends earlier than the version before it (intrekking)."""
    moments = sorted({(v.toewijzingsdatum, v.toewijzingstijd) for v in ordered})
    if len(moments) < 2:
        return False
    before = [v for v in ordered if (v.toewijzingsdatum, v.toewijzingstijd) == moments[-2]][-1]
    now = ordered[-1]
    if now.einddatum is None:
        return False
    return before.einddatum is None or now.einddatum < before.einddatum
