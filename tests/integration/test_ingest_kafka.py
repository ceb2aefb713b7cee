"""The ingest service against a real Apache Kafka broker: the same contract as on SQLite, plus
what only Kafka shows (partitions, settings from the URL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient

from adapters.bootstrap import open_hub, open_log
from adapters.kafka_log import KafkaEventLog
from hub.codec import to_xml
from hub.eventlog import EventLog
from hub.factory import MessageFactory
from hub.ingest import ACCEPTED
from hub.records import EVENTS
from hub.settings import HubSettings
from tests.contract.ingest_contract import NOW, IngestContract, received
from tests.integration import KafkaBroker
from tests.integration.test_eventlog_kafka import delete_topics

PARTITIONS = {"events": 3, "rejected": 2}


def unique_prefix() -> str:
    return f"ingest-{uuid.uuid4().hex[:12]}"


@pytest.mark.kafka
class TestKafkaIngest(IngestContract):
    @pytest.fixture(autouse=True)
    def _topics(self, kafka_broker: KafkaBroker) -> Iterator[None]:
        self.bootstrap = kafka_broker.bootstrap
        self.prefix = unique_prefix()
        yield
        delete_topics(self.bootstrap, self.prefix)

    def create_log(self) -> EventLog:
        return KafkaEventLog(
            self.bootstrap, prefix=self.prefix, partitions=PARTITIONS, timeout_ms=15_000
        )


@pytest.mark.kafka
def test_the_store_url_and_settings_choose_the_topics(kafka_broker: KafkaBroker) -> None:
    prefix = unique_prefix()
    settings = HubSettings(
        store=f"kafka://{kafka_broker.bootstrap}?partitions=4",
        kafka_prefix=prefix,
        kafka_timeout_ms=10_000,
    )
    try:
        with open_hub(settings, clock=lambda: NOW) as hub:
            assert isinstance(hub.log, KafkaEventLog)
            assert hub.log.topics[EVENTS] == f"{prefix}.events"
            assert hub.log.timeout_ms == 10_000
            data = to_xml(MessageFactory(5).wmo301(producten=2))
            assert hub.ingest.ingest(data).status == ACCEPTED
            admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
            try:
                (topic,) = admin.describe_topics([f"{prefix}.events"])
            finally:
                admin.close()
            assert len(topic["partitions"]) == 4
        # A prefix in the URL wins over the setting.
        url_prefix = unique_prefix()
        with open_log(
            HubSettings(store=f"kafka://{kafka_broker.bootstrap}?prefix={url_prefix}")
        ) as log:
            assert isinstance(log, KafkaEventLog)
            assert log.prefix == url_prefix
        delete_topics(kafka_broker.bootstrap, url_prefix)
    finally:
        delete_topics(kafka_broker.bootstrap, prefix)


@pytest.mark.kafka
def test_many_gemeenten_spread_over_partitions_each_in_order(kafka_broker: KafkaBroker) -> None:
    prefix = unique_prefix()
    factory = MessageFactory(21)
    documents = [to_xml(factory.wmo301(producten=2)) for _ in range(60)]
    log = KafkaEventLog(kafka_broker.bootstrap, prefix=prefix, partitions=PARTITIONS)
    try:
        with open_hub(HubSettings(batch_size=25), log=log, clock=lambda: NOW) as hub:
            results = [r for _, r in hub.ingest.ingest_many(enumerate(documents))]
            assert {r.status for r in results} == {ACCEPTED}
            records = list(hub.log.read(EVENTS))
            by_key: dict[str, set[int]] = {}
            for record in records:
                assert record.position is not None
                by_key.setdefault(record.key, set()).add(record.position.partition)
            assert all(len(parts) == 1 for parts in by_key.values())
            assert len({p for parts in by_key.values() for p in parts}) > 1
            stored = [m.hub_message_id for m in received(hub.log)]
            assert sorted(stored) == sorted(r.message_id for r in results)
    finally:
        delete_topics(kafka_broker.bootstrap, prefix)
