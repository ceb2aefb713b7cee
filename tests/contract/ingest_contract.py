"""The ingest service's contract: the same tests against every event store.

Subclass `IngestContract` (as `Test...`) and implement `create_log()`; a second call must open
the same storage again (a restarted process). Expected values come from independent sources:
the message objects the factory built (what the XML says), `hub.codec.from_bytes` (the
codec's full parse, not ingest's partial one) and `Validator.check` (the verdict).
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator

import pytest

from adapters.bootstrap import Hub, event_mapper, open_hub
from adapters.sqlite_log import SqliteEventLog
from hub.codec import from_bytes, to_xml
from hub.eventlog import EventLog
from hub.events import (
    AssignmentIssued,
    CareStarted,
    CareStopped,
    MessageReceived,
    MessageRejected,
)
from hub.factory import MessageFactory
from hub.ingest import ACCEPTED, DUPLICATE, REJECTED
from hub.messagetypes import MessageType
from hub.model import Wmo301
from hub.records import EVENTS
from hub.records import REJECTED as REJECTED_STREAM
from hub.settings import HubSettings
from hub.validation import Validator

# A whole millisecond, recent enough for a broker (it refuses timestamps far from now).
NOW = dt.datetime.now(dt.UTC).replace(microsecond=123000)


def read_events(log: EventLog, stream: str = EVENTS) -> list[object]:
    mapper = event_mapper()
    return [mapper.to_event(r) for r in log.read(stream)]  # type: ignore[arg-type]


def received(log: EventLog) -> list[MessageReceived]:
    return [e for e in read_events(log) if isinstance(e, MessageReceived)]


class IngestContract(ABC):
    """What ingest guarantees on any `EventLog`."""

    seed = 17

    @abstractmethod
    def create_log(self) -> EventLog:
        """A log on this test's own storage; a second call opens the same storage again."""

    def open(self, log: EventLog | None = None, **settings: object) -> Hub:
        return open_hub(
            HubSettings(**settings),  # type: ignore[arg-type]
            log=log if log is not None else self.create_log(),
            clock=lambda: NOW,
        )

    @pytest.fixture
    def hub(self) -> Iterator[Hub]:
        with self.open() as hub:
            yield hub

    @pytest.fixture
    def factory(self) -> MessageFactory:
        return MessageFactory(self.seed)

    # -- accepted messages -------------------------------------------------------------------

    def test_a_wmo301_yields_one_assignment_per_line_and_its_message_last(
        self, hub: Hub, factory: MessageFactory
    ) -> None:
        message = factory.wmo301(producten=3, bsn="999900006")
        data = to_xml(message)

        result = hub.ingest.ingest(data)

        assert result.status == ACCEPTED, result
        assert result.message_type == "WMO301"
        events = [e for e in read_events(hub.log) if getattr(e, "hub_message_id", None)]
        assert [type(e) for e in events] == [AssignmentIssued] * 3 + [MessageReceived]
        header = message.header
        stored = events[-1]
        assert isinstance(stored, MessageReceived)
        assert stored.content == data
        assert stored.hub_message_id == result.message_id
        assert (stored.message_type, stored.sender, stored.receiver) == (
            "WMO301",
            header.afzender,
            header.ontvanger,
        )
        assert stored.identificatie == header.bericht_identificatie.identificatie
        assert stored.dagtekening == header.bericht_identificatie.dagtekening
        assert stored.received_at == NOW
        for event, line in zip(events, message.client.toegewezen_producten, strict=False):
            assert isinstance(event, AssignmentIssued)
            assert (event.gemeente, event.aanbieder, event.bsn) == (
                header.afzender,
                header.ontvanger,
                "999900006",
            )
            assert event.hub_message_id == result.message_id
            assert event.toewijzing_nummer == line.toewijzing_nummer
            assert event.ingangsdatum == line.ingangsdatum
            assert event.einddatum == line.einddatum
            assert event.reden_wijziging == line.reden_wijziging
            tijd = line.toewijzingstijd
            assert event.toewijzingstijd == tijd.replace(
                microsecond=tijd.microsecond // 1000 * 1000
            )
            assert (event.product.categorie if event.product else None) == (
                line.product.categorie if line.product else None
            )
            assert (event.omvang.volume if event.omvang else None) == (
                line.omvang.volume if line.omvang else None
            )
            assert event.budget == line.budget

    def test_all_records_of_a_message_share_the_gemeente_key_and_partition(
        self, hub: Hub, factory: MessageFactory
    ) -> None:
        messages = [factory.wmo301(producten=2), factory.wmo305(producten=2)]
        messages.append(factory.wmo307(producten=2))
        for message in messages:
            assert hub.ingest.ingest(to_xml(message)).status == ACCEPTED
        records = list(hub.log.read(EVENTS))
        mapper = event_mapper()
        for message in messages:
            header = message.header
            gemeente = header.afzender if isinstance(message, Wmo301) else header.ontvanger
            mine = [
                r
                for r in records
                if getattr(mapper.to_event(r), "hub_message_id", None)
                == received_id(records, header.bericht_identificatie.identificatie)
            ]
            assert mine, "the message's records are in the log"
            assert {r.key for r in mine} == {gemeente}
            assert len({r.position.partition for r in mine if r.position}) == 1
            assert mine[-1].event_type == "MessageReceived"

    def test_start_and_stop_messages_yield_one_event_per_line_with_status(
        self, hub: Hub, factory: MessageFactory
    ) -> None:
        toewijzing = factory.wmo301(producten=2)
        start = factory.wmo305(toewijzing)
        stop = factory.wmo307(start, toewijzing=toewijzing)
        for message in (start, stop):
            data = to_xml(message)
            result = hub.ingest.ingest(data)
            assert result.status == ACCEPTED, result
            parsed = from_bytes(data)  # the codec's full parse as the oracle
            events = [
                e
                for e in read_events(hub.log)
                if getattr(e, "hub_message_id", None) == result.message_id
            ]
            lines = (
                parsed.client.start_producten if message is start else parsed.client.stop_producten
            )  # type: ignore[union-attr]
            kind = CareStarted if message is start else CareStopped
            assert [type(e) for e in events] == [kind] * len(lines) + [MessageReceived]
            for event, line in zip(events, lines, strict=False):
                assert isinstance(event, CareStarted | CareStopped)
                assert event.gemeente == parsed.header.ontvanger
                assert event.aanbieder == parsed.header.afzender
                assert event.status_aanlevering == line.status_aanlevering
                assert event.begindatum == line.begindatum
                assert event.toewijzing_nummer == line.toewijzing_nummer
                if isinstance(event, CareStopped):
                    assert event.einddatum == line.einddatum  # type: ignore[union-attr]
                    assert event.reden_beeindiging == line.reden_beeindiging  # type: ignore[union-attr]

    # -- rejections ----------------------------------------------------------------------------

    def test_an_invalid_message_is_rejected_with_every_error_on_the_dead_letter_stream(
        self, hub: Hub, factory: MessageFactory
    ) -> None:
        data = to_xml(factory.wmo301(bsn="123456789", producten=1))
        expected = Validator().check(data).errors
        assert expected, "the test message must be invalid"

        result = hub.ingest.ingest(data)

        assert result.status == REJECTED
        assert [(e.rule, e.path) for e in result.errors] == [(e.rule, e.path) for e in expected]
        assert "123456789" not in json.dumps(result.as_dict()), "a BSN leaked into the result"
        assert read_events(hub.log) == []
        (rejection,) = read_events(hub.log, REJECTED_STREAM)
        assert isinstance(rejection, MessageRejected)
        assert rejection.content == data
        assert rejection.hub_message_id == result.message_id
        assert [e.rule for e in rejection.errors] == [e.rule for e in expected]
        assert rejection.message_type == "WMO301"

    def test_a_retour_is_rejected_because_the_hub_does_not_ingest_retours(
        self, hub: Hub, factory: MessageFactory
    ) -> None:
        retour = to_xml(factory.wmo302(factory.wmo301()))
        assert Validator().check(retour).valid, "a valid retour, refused only for being one"

        result = hub.ingest.ingest(retour)

        assert result.status == REJECTED
        assert result.message_type == "WMO302"
        assert "retour" in result.errors[0].message
        assert len(read_events(hub.log, REJECTED_STREAM)) == 1

    def test_bytes_that_are_not_xml_are_kept_on_the_dead_letter_stream(self, hub: Hub) -> None:
        result = hub.ingest.ingest(b"\x00 not xml")
        assert result.status == REJECTED
        (rejection,) = read_events(hub.log, REJECTED_STREAM)
        assert isinstance(rejection, MessageRejected)
        assert rejection.content == b"\x00 not xml"
        assert rejection.key == "unknown"

    # -- duplicates (TR056) ---------------------------------------------------------------------

    def test_a_resubmission_is_a_duplicate_stored_once(
        self, hub: Hub, factory: MessageFactory
    ) -> None:
        data = to_xml(factory.wmo301(producten=2))
        first = hub.ingest.ingest(data)
        second = hub.ingest.ingest(data)

        assert first.status == ACCEPTED
        assert second.status == DUPLICATE
        assert second.message_id == first.message_id
        assert [m.hub_message_id for m in received(hub.log)] == [first.message_id]

    def test_a_duplicate_is_found_after_a_restart(self, factory: MessageFactory) -> None:
        data = to_xml(factory.wmo305())
        with self.open() as hub:
            first = hub.ingest.ingest(data)
        with self.open() as restarted:
            assert restarted.ingest.open() >= 1
            again = restarted.ingest.ingest(data)
            assert again.status == DUPLICATE
            assert again.message_id == first.message_id
            assert len(received(restarted.log)) == 1

    def test_the_same_message_gets_the_same_id_in_another_process(
        self, hub: Hub, factory: MessageFactory
    ) -> None:
        data = to_xml(factory.wmo307())
        first = hub.ingest.ingest(data)
        with open_hub(log=SqliteEventLog(":memory:")) as elsewhere:
            later = NOW + dt.timedelta(days=3)
            assert elsewhere.ingest.preparer.prepare(data, later).message_id == first.message_id

    def test_a_reused_identificatie_with_another_dagtekening_violates_tr056(
        self, hub: Hub, factory: MessageFactory
    ) -> None:
        day = dt.date.today() - dt.timedelta(days=30)
        first = factory.wmo301(afzender="0363", identificatie="HUB-TR056", dagtekening=day)
        reused = factory.wmo301(
            afzender="0363", identificatie="HUB-TR056", dagtekening=day + dt.timedelta(days=1)
        )
        assert hub.ingest.ingest(to_xml(first)).status == ACCEPTED

        result = hub.ingest.ingest(to_xml(reused))

        assert result.status == REJECTED
        assert [(e.rule, e.retour_code) for e in result.errors] == [("TR056", "9056")]
        assert len(received(hub.log)) == 1
        (rejection,) = read_events(hub.log, REJECTED_STREAM)
        assert isinstance(rejection, MessageRejected)
        assert rejection.identificatie == "HUB-TR056"

    def test_the_same_identificatie_from_another_sender_or_type_is_no_duplicate(
        self, hub: Hub, factory: MessageFactory
    ) -> None:
        day = dt.date.today() - dt.timedelta(days=30)
        common = {"identificatie": "HUB-SHARED", "dagtekening": day}
        messages = [
            factory.wmo301(afzender="0363", **common),
            factory.wmo301(afzender="0599", **common),
            factory.wmo305(ontvanger="0363", **common),
        ]
        results = [hub.ingest.ingest(to_xml(m)) for m in messages]
        assert [r.status for r in results] == [ACCEPTED] * 3
        assert len({r.message_id for r in results}) == 3

    # -- batches ----------------------------------------------------------------------------------

    def test_a_batch_reports_each_message_in_order_and_stores_each_once(
        self, factory: MessageFactory
    ) -> None:
        documents = [to_xml(factory.build(mt)) for mt in [MessageType.WMO301] * 9]
        documents += [to_xml(factory.build(MessageType.WMO305)) for _ in range(9)]
        documents.insert(5, b"<broken")
        documents.append(documents[0])  # a duplicate in a later batch
        documents.insert(3, documents[2])  # and one in the same batch
        with self.open(batch_size=4) as hub:
            results = list(hub.ingest.ingest_many(enumerate(documents)))

            assert [tag for tag, _ in results] == list(range(len(documents)))
            statuses = Counter(r.status for _, r in results)
            assert statuses == {ACCEPTED: 18, REJECTED: 1, DUPLICATE: 2}
            assert results[3][1].message_id == results[2][1].message_id
            stored = Counter(m.hub_message_id for m in received(hub.log))
            accepted = {r.message_id for _, r in results if r.status == ACCEPTED}
            assert set(stored) == accepted
            assert set(stored.values()) == {1}


def received_id(records: list, identificatie: str) -> str | None:  # type: ignore[type-arg]
    """The hub id of the MessageReceived whose Identificatie is `identificatie`."""
    mapper = event_mapper()
    for record in records:
        event = mapper.to_event(record)
        if isinstance(event, MessageReceived) and event.identificatie == identificatie:
            return event.hub_message_id
    return None
