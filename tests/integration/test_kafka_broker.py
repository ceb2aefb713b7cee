"""Smoke tests of the real Kafka broker the integration suite runs on (kafka-python client).

They check the things the event store relies on: explicit topics with their configs, the
idempotent acks=all producer, consumer groups with committed offsets, and that both the
records and the committed offsets survive a broker restart (clean or a crash).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaTimeoutError
from kafka.structs import OffsetAndMetadata

from tests.integration import KafkaBroker

pytestmark = pytest.mark.kafka

PARTITIONS = 3
TOPIC_CONFIGS = {"retention.ms": "-1", "min.insync.replicas": "1", "cleanup.policy": "delete"}


@pytest.fixture
def admin(kafka_broker: KafkaBroker) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap, client_id="smoke-admin")
    yield client
    client.close()


def new_topic(admin: KafkaAdminClient) -> str:
    """Create a uniquely named topic explicitly (the broker does not auto-create)."""
    name = f"smoke-{uuid.uuid4().hex[:12]}"
    spec = {"num_partitions": PARTITIONS, "replication_factor": 1, "configs": TOPIC_CONFIGS}
    admin.create_topics({name: spec}, wait_for_metadata=True)
    return name


def produce(
    bootstrap: str, topic: str, records: list[tuple[str, str]], max_block_ms: int = 30_000
) -> list[tuple[int, int]]:
    """Send key/value pairs with the idempotent acks=all producer; their (partition, offset)."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_block_ms=max_block_ms,
    )
    try:
        futures = [producer.send(topic, key=k.encode(), value=v.encode()) for k, v in records]
        producer.flush(timeout=30)
        sent = [future.get(timeout=30) for future in futures]
    finally:
        producer.close(timeout=10)
    return [(meta.partition, meta.offset) for meta in sent]


def consume(bootstrap: str, topic: str, group: str, expected: int) -> list[tuple[int, int, str]]:
    """Read until `expected` records came (or 30 s passed); (partition, offset, value) each."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    seen: list[tuple[int, int, str]] = []
    try:
        deadline = time.monotonic() + 30
        while len(seen) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                seen.extend((r.partition, r.offset, r.value.decode()) for r in batch)
        # A short extra poll: anything beyond `expected` must show up as a failure.
        for batch in consumer.poll(timeout_ms=300).values():
            seen.extend((r.partition, r.offset, r.value.decode()) for r in batch)
        consumer.commit()
    finally:
        consumer.close()
    return seen


def test_topic_produce_and_consume_with_committed_offsets(
    kafka_broker: KafkaBroker, admin: KafkaAdminClient
) -> None:
    topic = new_topic(admin)
    [described] = admin.describe_topics([topic])
    assert len(described["partitions"]) == PARTITIONS
    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    settings = {key: entry["value"] for key, entry in configs["topic"][topic].items()}
    assert {key: settings.get(key) for key in TOPIC_CONFIGS} == TOPIC_CONFIGS

    # Three clients, each with an ordered stream of events: one key goes to one partition.
    records = [(f"client-{n % 3}", f"event-{n}") for n in range(30)]
    placed = produce(kafka_broker.bootstrap, topic, records)
    partition_of: dict[str, int] = {}
    for (key, _), (partition, _) in zip(records, placed, strict=True):
        assert partition_of.setdefault(key, partition) == partition
    for partition in set(partition_of.values()):
        offsets = [offset for p, offset in placed if p == partition]
        assert offsets == list(range(len(offsets))), "offsets per partition must be gap-free"

    # Only an idempotent producer has broker-side state: a producer id and one sequence
    # number per record it wrote to the partition (they let the broker drop retried batches).
    states = admin.describe_producers(
        [TopicPartition(topic, p) for p in set(partition_of.values())]
    )
    for tp, state in states.items():
        [producer] = state.active_producers
        written = sum(1 for p, _ in placed if p == tp.partition)
        assert producer.producer_id >= 0 and producer.last_sequence == written - 1

    group = f"smoke-group-{uuid.uuid4().hex[:8]}"
    seen = consume(kafka_broker.bootstrap, topic, group, expected=len(records))
    assert sorted(value for _, _, value in seen) == sorted(value for _, value in records)
    # Each client's events come back in the order they were sent.
    key_of = {v: k for k, v in records}
    for key in partition_of:
        in_log_order = [v for _, _, v in sorted(seen) if key_of[v] == key]
        assert in_log_order == [v for k, v in records if k == key]

    committed = admin.list_group_offsets({group: None})[group]
    ends = {p: 1 + max(o for q, o in placed if q == p) for p in set(partition_of.values())}
    assert {tp.partition: meta.offset for tp, meta in committed.items()} == ends

    # The group resumes from its committed offsets: only the new event arrives.
    produce(kafka_broker.bootstrap, topic, [("client-0", "event-30")])
    assert [v for _, _, v in consume(kafka_broker.bootstrap, topic, group, 1)] == ["event-30"]


@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill"])
def test_records_and_offsets_survive_a_restart(
    kafka_broker: KafkaBroker, admin: KafkaAdminClient, crash: bool
) -> None:
    topic = new_topic(admin)
    records = [(f"client-{n % 2}", f"event-{n}") for n in range(20)]
    placed = produce(kafka_broker.bootstrap, topic, records)
    group = f"restart-group-{uuid.uuid4().hex[:8]}"
    assert len(consume(kafka_broker.bootstrap, topic, group, expected=len(records))) == 20
    # Rewind the group on client-0's partition to offset 2: the restart must keep that position.
    partition = placed[0][0]
    commit_consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, group_id=group)
    commit_consumer.commit({TopicPartition(topic, partition): OffsetAndMetadata(2, "", -1)})
    commit_consumer.close()
    admin.close()

    bootstrap = kafka_broker.bootstrap
    old_pid = kafka_broker.pid()
    try:
        assert kafka_broker.stop(kill=crash)
        assert kafka_broker.pid() is None and not kafka_broker.answers_metadata(timeout=2)
    finally:
        kafka_broker.start()  # later tests in the session need the broker back
    assert kafka_broker.bootstrap == bootstrap and kafka_broker.pid() not in (None, old_pid)

    everything = consume(bootstrap, topic, f"fresh-{uuid.uuid4().hex[:8]}", len(records))
    assert sorted(v for _, _, v in everything) == sorted(v for _, v in records)
    on_partition = sorted((o, v) for p, o, v in everything if p == partition)
    assert len(on_partition) >= 10
    resumed = consume(bootstrap, topic, group, expected=len(on_partition) - 2)
    assert sorted((o, v) for _, o, v in resumed) == on_partition[2:]


def test_the_broker_does_not_create_topics_on_first_use(
    kafka_broker: KafkaBroker, admin: KafkaAdminClient
) -> None:
    missing = f"never-created-{uuid.uuid4().hex[:12]}"
    with pytest.raises(KafkaTimeoutError):
        produce(kafka_broker.bootstrap, missing, [("k", "v")], max_block_ms=1500)
    assert missing not in admin.list_topics()
