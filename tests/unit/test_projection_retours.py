"""Retours: the cross-message retour codes of each line as they stood at receipt, and the
302/306/308 with RetourCodes on every class, valid against the project's retour XSDs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from adapters.bootstrap import Hub, event_mapper, open_hub
from adapters.cli.project import write_retours
from adapters.sqlite_log import SqliteEventLog
from hub.codec import from_bytes, to_xml
from hub.events import DomainEvent
from hub.factory import MessageFactory
from hub.model import Wmo302, Wmo305, Wmo306, Wmo307, Wmo308
from hub.settings import HubSettings
from hub.validation import Validator
from projections.projector import Projector
from projections.retours import NotFolded, build_retour, retour_for
from projections.store import ProjectionStore
from tests.unit.projection_scenarios import T0_MS, assign, start, stop


def receipts(events: Sequence[DomainEvent], tmp_path: Path) -> dict[str, list[str]]:
    """Per message id, every retour code its lines got (sorted; [] for a clean message)."""
    log = SqliteEventLog(":memory:")
    mapper = event_mapper()
    log.append([mapper.to_record(e, timestamp_ms=T0_MS + i) for i, e in enumerate(events)])
    store = ProjectionStore(tmp_path / f"p{len(list(tmp_path.iterdir()))}.db")
    Projector(log, store, mapper.to_event, source="t", batch_size=2).catch_up()
    out = {}
    for event in events:
        found = store.receipt(event.hub_message_id)
        assert found is not None
        out[event.hub_message_id] = sorted(c for codes in found.values() for c in codes)
    return out


def test_a_clean_history_is_0200_everywhere(tmp_path: Path) -> None:
    history = [assign("t1"), start("s1"), stop("p1", reden="20", eind="2025-02-28"),
               stop("p2", eind="2025-03-31"), start("s2", begin="2025-04-07")]  # fmt: skip
    assert all(codes == [] for codes in receipts(history, tmp_path).values())


def test_codes_are_judged_against_what_was_received_before(tmp_path: Path) -> None:
    got = receipts(
        [
            start("s0"),  # no toewijzing yet
            assign("t1"),
            start("s1"),  # the same key again, and s0 is still open
            stop("p0", begin="2025-02-01"),  # no start with this key
            start("x1", begin="2025-03-01", status="3"),  # deletes a start never sent
        ],
        tmp_path,
    )
    assert got == {
        "s0": ["9019"],
        "t1": [],
        "s1": ["9074", "9326"],
        "p0": ["9069"],
        "x1": ["9063"],
    }


def test_stop_sequence_codes(tmp_path: Path) -> None:
    got = receipts(
        [
            assign("t1"),
            start("s1"),
            stop("p1", reden="20", eind="2025-03-31"),
            stop("p2", reden="20", eind="2025-04-30"),  # a second temporary stop
            stop("p3", reden="19", eind="2025-03-15"),  # ends before the temporary stops
            stop("p4", reden="19", eind="2025-05-31"),  # p3 was refused: the first that counts
            stop("p5", reden="19", eind="2025-06-30"),  # after a definitive stop
            start("x1", status="3"),  # deleting a start that has stops
            stop("x2", reden="19", eind="2025-06-30", status="3"),  # deleting p5: fine
        ],
        tmp_path,
    )
    assert got["p2"] == ["9413"]
    assert got["p3"] == ["9414"]
    assert got["p4"] == []
    assert got["p5"] == ["9415"]
    assert got["x1"] == ["9071"]
    assert got["x2"] == []


def test_a_refused_deletion_leaves_the_start_for_later_receipts(tmp_path: Path) -> None:
    got = receipts(
        [
            assign("t1"),
            start("s1"),
            stop("p1"),
            start("x1", status="3"),  # the start has a stop: refused
            start("x2", status="3"),  # s1 still stands, so again TR071 (not TR063)
            start("s2"),  # the same start again while it stands
        ],
        tmp_path,
    )
    assert (got["x1"], got["x2"], got["s2"]) == (["9071"], ["9071"], ["9074"])


def test_lines_of_one_message_do_not_judge_each_other(tmp_path: Path) -> None:
    two_starts = [start("m2", begin="2025-01-06"), start("m2", begin="2025-02-03")]
    got = receipts([assign("t1"), *two_starts], tmp_path)
    assert got["m2"] == []  # no TR326: the second start is not "after" the first


# --- whole retours ---------------------------------------------------------------------------


Folding = tuple[Hub, ProjectionStore, Projector]


@pytest.fixture
def hub_and_store(tmp_path: Path) -> Iterator[Folding]:
    log = SqliteEventLog(":memory:")
    clock = iter(dt.datetime(2025, 7, 1, 9, m, tzinfo=dt.UTC) for m in range(60))
    with open_hub(HubSettings(), log=log, clock=lambda: next(clock)) as hub:
        store = ProjectionStore(tmp_path / "p.db")
        projector = Projector(log, store, event_mapper().to_event, source="t")
        yield hub, store, projector
        store.close()


def test_retours_with_codes_on_every_class_validate(hub_and_store: Folding) -> None:
    hub, store, projector = hub_and_store
    factory = MessageFactory(44)
    toewijzing = factory.wmo301(producten=2)
    started = factory.wmo305(toewijzing)
    stray = dataclasses.replace(
        factory.wmo305(toewijzing),
        client=dataclasses.replace(
            started.client,
            start_producten=tuple(
                dataclasses.replace(s, toewijzing_nummer=s.toewijzing_nummer + 7_000_000)
                for s in started.client.start_producten
            ),
        ),
    )
    stopped = factory.wmo307(started, toewijzing=toewijzing)
    sent: dict[type, list[tuple[bytes, str]]] = {}
    for message in (toewijzing, started, stray, stopped):
        content = to_xml(message)
        result = hub.ingest.ingest(content)
        assert result.status == "accepted", result
        sent.setdefault(type(message), []).append((content, result.message_id))
    projector.catch_up()
    validator = Validator(today=dt.date(2025, 7, 1))
    received = dt.datetime(2025, 7, 1, 9, 0, tzinfo=dt.UTC)

    (t_content, t_id), = sent[type(toewijzing)]  # fmt: skip
    xml = retour_for(store, t_content, t_id, received)
    assert xml is not None and validator.check(xml).valid
    retour = from_bytes(xml)
    assert isinstance(retour, Wmo302) and retour.client is not None
    assert retour.header.retour_codes == ("0200",)
    assert all(p.retour_codes == ("0200",) for p in retour.client.toegewezen_producten)
    assert retour.client.retour_codes == ("0200",)

    (s_content, s_id), (x_content, x_id) = sent[Wmo305]
    ok = from_bytes(retour_for(store, s_content, s_id, received) or b"")
    assert isinstance(ok, Wmo306) and ok.client is not None
    assert [s.retour_codes for s in ok.client.start_producten] == [("0200",)] * 2
    bad_xml = retour_for(store, x_content, x_id, received)
    assert bad_xml is not None and validator.check(bad_xml).valid
    bad = from_bytes(bad_xml)
    assert isinstance(bad, Wmo306) and bad.client is not None
    # Starts for toewijzingen the gemeente never sent: 9019 on each line, 0200 elsewhere.
    assert bad.client.retour_codes == ("0200",)
    assert [s.retour_codes for s in bad.client.start_producten] == [("9019",)] * 2
    assert bad.header.identificatie_retour == x_id.replace("-", "")[:12].upper()

    (p_content, p_id), = sent[Wmo307]  # fmt: skip
    stop_retour = from_bytes(retour_for(store, p_content, p_id, received) or b"")
    assert isinstance(stop_retour, Wmo308) and stop_retour.client is not None
    assert all(s.retour_codes == ("0200",) for s in stop_retour.client.stop_producten)


def test_no_retour_before_the_message_is_folded(hub_and_store: Folding) -> None:
    hub, store, _ = hub_and_store
    content = to_xml(MessageFactory(45).wmo301())
    result = hub.ingest.ingest(content)
    with pytest.raises(NotFolded):
        retour_for(store, content, result.message_id, dt.datetime(2025, 7, 1, tzinfo=dt.UTC))


def test_build_retour_refuses_what_is_no_heen_message() -> None:
    retour = MessageFactory(46).wmo302(MessageFactory(46).wmo301())
    assert build_retour(to_xml(retour), "m", dt.datetime(2025, 7, 1, tzinfo=dt.UTC), {}) is None
    assert build_retour(b"<x/>", "m", dt.datetime(2025, 7, 1, tzinfo=dt.UTC), {}) is None


def test_write_retours_for_ingested_files(tmp_path: Path) -> None:
    """What `iwmo-hub ingest --retour-dir` needs: a retour file per ingested file."""
    factory = MessageFactory(47)
    toewijzing = factory.wmo301()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.xml").write_bytes(to_xml(toewijzing))
    (inbox / "b.xml").write_bytes(to_xml(factory.wmo305()))  # refers to no toewijzing
    broken = to_xml(factory.wmo301()).replace(b"<wmo301:Geslacht>", b"<wmo301:Geslacht>9", 1)
    (inbox / "c.xml").write_bytes(broken)  # fails the XSD: rejected with 0001
    settings = HubSettings(store=f"sqlite:{tmp_path / 'events.db'}")
    paths = sorted(inbox.iterdir())
    with open_hub(settings) as hub:
        results = [(p, hub.ingest.ingest(p.read_bytes())) for p in paths]
    assert [r.status for _, r in results] == ["accepted", "accepted", "rejected"]
    out = tmp_path / "retours"
    when = dt.datetime(2025, 7, 1, 12, tzinfo=dt.UTC)
    written = write_retours(settings, str(tmp_path / "p.db"), results, out, when)
    assert sorted(p.name for p in written) == ["a.WMO302.xml", "b.WMO306.xml", "c.WMO302.xml"]
    validator = Validator()
    for path in written:
        assert validator.check(path.read_bytes()).valid, path.name
    start_retour = from_bytes((out / "b.WMO306.xml").read_bytes())
    assert isinstance(start_retour, Wmo306) and start_retour.client is not None
    assert {s.retour_codes for s in start_retour.client.start_producten} == {("9019",)}
    rejected = from_bytes((out / "c.WMO302.xml").read_bytes())
    assert isinstance(rejected, Wmo302) and rejected.header.retour_codes == ("0001",)
