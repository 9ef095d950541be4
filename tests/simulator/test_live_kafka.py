"""Live production to a real Kafka broker: every record comes back and matches the manifest."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest

from sensorlake.simulator.bad_records import BAD_KINDS, InjectionSettings, RecordClassifier
from sensorlake.simulator.fleet import Fleet, FleetSettings
from sensorlake.simulator.live import backdated_start, produce_live

pytestmark = pytest.mark.integration


def consume_all(cfg, topic: str, expected: int, timeout_s: float = 120.0) -> list:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": cfg.kafka_bootstrap, "group.id": f"sim-test-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    messages, deadline = [], time.monotonic() + timeout_s
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            messages += [m for m in consumer.consume(10_000, 1.0) if not m.error()]
        for m in consumer.consume(10_000, 2.0):  # nothing beyond what the manifest counts
            if not m.error():
                messages.append(m)
    finally:
        consumer.close()
    return messages


def test_a_stream_with_bad_records_comes_back_exactly_as_the_manifest_counts(kafka, types, tmp_path):
    cfg = kafka
    topic = f"sim-test-{time.time_ns()}"
    start = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    fleet = Fleet(types, FleetSettings(seed=31, equipment_per_type=2, start=start, rate_scale=1.0))
    injection = InjectionSettings(bad_rate=0.03, seed=31)
    began = time.monotonic()
    manifest = produce_live(cfg, fleet, injection, topic=topic, rate=30_000, count=60_000,
                            manifest_path=tmp_path / "manifest.json")
    assert time.monotonic() - began >= 1.5          # paced: 60k records at 30k/s take about 2 s
    counts = manifest["counts"]
    assert counts["total_records_emitted"] == counts["delivered"] == 60_000
    assert all(counts["injected"][kind] > 0 for kind in BAD_KINDS)

    messages = consume_all(cfg, topic, 60_000)
    assert len(messages) == 60_000
    per_partition = {}
    for m in messages:
        per_partition.setdefault(m.partition(), RecordClassifier(types, injection.allowed_lateness_s)).classify(m.value())
        try:
            record = json.loads(m.value())
        except ValueError:
            continue
        if isinstance(record, dict) and "equipment_id" in record:
            assert m.key().decode() == record["equipment_id"]
    total = RecordClassifier.total(per_partition.values())
    assert total == {k: counts[k] for k in total}
    for partition, classifier in per_partition.items():
        expected = counts["per_partition"][str(partition)]
        assert classifier.summary() == {k: expected[k] for k in classifier.summary()}
    assert json.loads((tmp_path / "manifest.json").read_text())["counts"] == counts


def test_a_fast_run_that_reaches_the_wall_clock_goes_on_in_real_time_and_never_sends_a_future_reading(kafka, types):
    cfg = kafka
    topic = f"sim-clock-{time.time_ns()}"
    fleet = Fleet(types, FleetSettings(seed=32, equipment_per_type=2, rate_scale=1.0,
                                       start=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=20)))
    manifest = produce_live(cfg, fleet, InjectionSettings(), topic=topic, rate=5_000, duration_s=4)
    sent = manifest["counts"]["delivered"]
    # 20 s of backlog plus ~4 s in real time, far from the 20,000 records the rate alone allows
    assert 0 < sent < 30 * fleet.readings_per_second
    for m in consume_all(cfg, topic, sent):
        event_ms = dt.datetime.fromisoformat(json.loads(m.value())["event_time"]).timestamp() * 1000
        assert event_ms <= m.timestamp()[1] + 50, "a reading was sent before its event time"


def test_a_backdated_start_ends_the_run_about_now():
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
    assert backdated_start(20.0, rate=2000, duration_s=15, count=None, now=now) == now - dt.timedelta(seconds=1500)
    assert backdated_start(20.0, rate=None, duration_s=None, count=600, now=now) == now - dt.timedelta(seconds=30)
    assert backdated_start(20.0, rate=None, duration_s=None, count=None, now=now) == now


def test_a_paced_run_goes_on_as_fast_as_possible_once_unpaced_is_set(kafka, types):
    cfg = kafka
    topic = f"sim-unpaced-{time.time_ns()}"
    fleet = Fleet(types, FleetSettings(seed=33, equipment_per_type=1, start=dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)))
    released = threading.Event()
    threading.Timer(1.0, released.set).start()          # paced for ~1 s (~10 records), then the rest at once
    manifest = produce_live(cfg, fleet, InjectionSettings(), topic=topic, rate=10, count=2_000, unpaced=released)
    # paced throughout, 2,000 records at 10/s would take 200 s
    assert manifest["counts"]["delivered"] == 2_000
    assert manifest["parameters"]["wall_seconds"] < 100
    assert len(consume_all(cfg, topic, 2_000)) == 2_000
