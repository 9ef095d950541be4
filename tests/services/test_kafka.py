"""A real single-node KRaft broker: topics, produce and consume."""
from __future__ import annotations

import json
import time
import uuid

import pytest

from sensorlake.services import kafka as broker

pytestmark = pytest.mark.integration


def test_messages_produced_as_json_are_all_consumed_back(kafka):
    from confluent_kafka import Consumer, Producer

    topic = f"readings-{uuid.uuid4().hex[:8]}"
    broker.ensure_topic(kafka, topic, partitions=4)
    sent = [{"equipment_id": f"pump-{i % 7}", "seq": i, "value": i * 0.5} for i in range(500)]
    producer = Producer({"bootstrap.servers": kafka.kafka_bootstrap, "acks": "all"})
    for msg in sent:
        producer.produce(topic, key=msg["equipment_id"], value=json.dumps(msg))
    assert producer.flush(30) == 0

    consumer = Consumer({"bootstrap.servers": kafka.kafka_bootstrap, "group.id": f"g-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    received, deadline = [], time.monotonic() + 60
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                received.append(json.loads(msg.value()))
    finally:
        consumer.close()
    assert sorted(received, key=lambda m: m["seq"]) == sent


def test_ensure_topic_is_idempotent(kafka):
    topic = f"idem-{uuid.uuid4().hex[:8]}"
    assert broker.ensure_topic(kafka, topic, partitions=3) == 3
    assert broker.ensure_topic(kafka, topic, partitions=3) == 3
    assert broker.ensure_topic(kafka, topic, partitions=5) == 3, "an existing topic is left as it is"


def test_broker_logs_go_to_the_log_folder(kafka):
    from sensorlake.services import process

    text = process.log_file(kafka, "kafka").read_text()
    assert "Kafka Server started" in text or "started (kafka.server" in text


def test_cluster_ids_never_start_with_a_dash_the_storage_tool_would_read_as_an_option(monkeypatch):
    ids = iter([uuid.UUID(bytes=b"\xfb" + bytes(15)), uuid.UUID(bytes=bytes(16))])   # "-wAA..." then "AAAA..."
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    assert broker.new_cluster_id() == "A" * 22
