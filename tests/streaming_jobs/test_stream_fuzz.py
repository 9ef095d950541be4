"""Fuzzed records through the real streaming job: no crash, no loss, every rejected record quarantined with a reason.

A fixed corpus of hostile payloads (tests/fuzz_inputs.py: arbitrary bytes, text that is not
UTF-8, JSON of the wrong types, huge and non-finite numbers, unicode ids, JSON nested thousands
of levels deep, strings of hundreds of kB, Kafka tombstones) goes to partition 1 of a topic of
its own; partition 0 carries control readings (valid, exact repeats, repeats with another value).
``streaming_jobs/sensor_features.py`` runs over them once in its own process (PyFlink's mini
cluster, the real Kafka broker, delta-rs). Every produced record must then be in bronze.readings,
or in quarantine.readings with a reason and its payload, or be an exact repeat of a reading
bronze holds, exactly once; and nothing else of the run may appear.
"""
from __future__ import annotations

import datetime as dt
import json

import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable

from sensorlake.services import kafka as broker
from sensorlake.simulator.live import producer_config
from sensorlake.streaming.runner import start_stream_job, stop_stream_job, topic_end_offsets, wait_until_written
from tests.fuzz_inputs import Target, corpus, deep_json, record_payloads
from tests.streaming_jobs import known_stream as known

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPIC = "stream-fuzz"
FUZZED = 250
CONTROLS = 60
EXACT_REPEATS = (5, 17, 30, 44, 58)          # controls sent twice, the same payload
CONFLICTING_REPEATS = (9, 23, 51)            # controls sent again with another value
# after these controls, a reading 2 h ahead of the producer's clock (a device sending local time as
# UTC): quarantined as future_timestamp, and the controls after it must not count as late
CLOCK_SKEWED = (20, 40)
# Beyond what the strategies draw: a tombstone, an empty record, a row that grows past 1 MiB once
# Flink escapes it into the batch JSON, and JSON 20,000 levels deep.
EXTRAS = (None, b"", b"\x01" * 180_000, deep_json(20_000, "array").encode())


@pytest.fixture(scope="module")
def fuzzed(kafka, tmp_path_factory):
    work = tmp_path_factory.mktemp("stream-fuzz")
    stream = known.KnownStream(known.stream_cfg(kafka, TOPIC), run_id="stream-fuzz-run",
                               start="2026-02-01T00:00:00Z")   # a span no other test uses
    known.register_fleet(stream)
    pump = next(eq for eq in stream.fleet().equipment if eq.equipment_type == "pump")
    target = Target(pump.site_id, pump.equipment_id, "pressure", "bar", 0.0, 60.0, "2026-02-01")
    controls = []
    for i in range(CONTROLS):
        reading = json.dumps(target.reading(i, round(0.5 * i, 3))).encode()
        controls.append(reading)
        if i in EXACT_REPEATS:
            controls.append(reading)
        if i in CONFLICTING_REPEATS:
            controls.append(json.dumps(target.reading(i, round(0.5 * i + 1, 3))).encode())
        if i in CLOCK_SKEWED:
            ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
            controls.append(json.dumps({**target.reading(i, 1.0), "event_time": ahead.strftime("%Y-%m-%dT%H:%M:%S.000Z")}).encode())
    fuzz = [*corpus(record_payloads(target, max_chars=300_000), FUZZED), *EXTRAS]

    broker.ensure_topic(stream.cfg, TOPIC, partitions=2)
    produced = produce_to_partitions(stream.cfg, {0: controls, 1: fuzz})
    job = start_stream_job(stream.cfg, stream.run_id, work / "job.log")
    try:
        wait_until_written(stream.cfg, topic_end_offsets(stream.cfg, TOPIC), job, timeout_s=420, topic=TOPIC)
        assert job.poll() is None, "the streaming job stopped"
    finally:
        stop_stream_job(job)
    return stream, target, produced


def produce_to_partitions(cfg, payloads: dict[int, list]) -> dict[tuple[int, int], bytes | None]:
    """Produce each partition's payloads in order; return (partition, offset) -> payload."""
    from confluent_kafka import Producer

    produced, errors = {}, []

    def delivered(err, msg):
        if err:
            errors.append(err)
        else:
            produced[(msg.partition(), msg.offset())] = msg.value()

    producer = Producer(producer_config(cfg.kafka_bootstrap, on_delivery=delivered, **{"message.max.bytes": 2_000_000}))
    for partition, values in payloads.items():
        for value in values:
            producer.produce(TOPIC, value=value, partition=partition)
            producer.poll(0)
    assert producer.flush(60) == 0 and not errors, errors
    assert len(produced) == sum(len(v) for v in payloads.values())
    return produced


def rows_of_run(stream, table: str, columns: list[str]) -> list[dict]:
    dataset = DeltaTable(str(stream.cfg.table_path(table))).to_pyarrow_dataset()
    return dataset.to_table(columns=columns, filter=ds.field("run_id") == stream.run_id).to_pylist()


def accounting(stream, produced):
    """Bronze rows, quarantine rows and the records in neither, each keyed by (partition, offset)."""
    bronze = rows_of_run(stream, "bronze.readings", ["ingest_id", "site_id", "equipment_id", "sensor", "event_time", "value"])
    quarantine = rows_of_run(stream, "quarantine.readings", ["kafka_topic", "kafka_partition", "kafka_offset", "reason",
                                                             "raw_payload"])
    in_bronze = {}
    for row in bronze:
        topic, partition, offset = row["ingest_id"].rsplit("/", 2)
        assert topic == TOPIC
        assert (int(partition), int(offset)) not in in_bronze, f"{row['ingest_id']} is in bronze twice"
        in_bronze[(int(partition), int(offset))] = row
    in_quarantine = {}
    for row in quarantine:
        assert row["kafka_topic"] == TOPIC
        key = (row["kafka_partition"], row["kafka_offset"])
        assert key not in in_quarantine, f"record {key} is quarantined twice"
        in_quarantine[key] = row
    neither = {key: payload for key, payload in produced.items() if key not in in_bronze and key not in in_quarantine}
    return in_bronze, in_quarantine, neither


def reading_key(payload: bytes) -> tuple:
    """(site, equipment, sensor, event time) and value of a reading's payload, ids as the text JSON_VALUE gives."""
    record = json.loads(payload)
    when = dt.datetime.fromisoformat(record["event_time"].replace("Z", "+00:00"))   # impossible dates are quarantined
    return (record["site_id"], record["equipment_id"], record["sensor"], when), float(record["value"])


def same_id(sent, stored: str) -> bool:
    """An id as sent equals the text the stream stored (JSON_VALUE turns a number into Java's text of it)."""
    if isinstance(sent, str):
        return sent == stored
    if isinstance(sent, (int, float)) and not isinstance(sent, bool):
        return float(stored) == float(sent)
    return json.dumps(sent) == stored


def test_the_job_wrote_every_offset_of_the_fuzzed_topic(fuzzed):
    stream, _, produced = fuzzed
    assert len(produced) == CONTROLS + len(EXACT_REPEATS) + len(CONFLICTING_REPEATS) + len(CLOCK_SKEWED) + FUZZED + len(EXTRAS)


def test_every_record_is_in_bronze_or_quarantine_at_most_once_and_nothing_else_of_the_run_appears(fuzzed):
    stream, _, produced = fuzzed
    in_bronze, in_quarantine, _ = accounting(stream, produced)
    assert not set(in_bronze) & set(in_quarantine), "a record is both in bronze and in quarantine"
    assert set(in_bronze) <= set(produced) and set(in_quarantine) <= set(produced)


def test_a_record_in_neither_table_is_an_exact_repeat_of_an_earlier_reading_in_bronze(fuzzed):
    stream, _, produced = fuzzed
    in_bronze, _, neither = accounting(stream, produced)
    written = {}
    for (partition, offset), row in in_bronze.items():
        written[(row["site_id"], row["equipment_id"], row["sensor"], row["event_time"])] = (partition, offset, row["value"])
    for (partition, offset), payload in neither.items():
        assert payload is not None, f"tombstone at {partition}/{offset} vanished"
        (site, equipment, sensor, when), value = reading_key(payload)
        original = written.get((site if isinstance(site, str) else str(site), equipment, sensor, when))
        assert original is not None, f"record {partition}/{offset} is in no table: {payload[:200]!r}"
        assert original[0] == partition and original[1] < offset and original[2] == value


def test_every_quarantined_record_has_a_reason_and_its_payload_as_received(fuzzed):
    stream, _, produced = fuzzed
    _, in_quarantine, _ = accounting(stream, produced)
    assert in_quarantine
    for key, row in in_quarantine.items():
        assert row["reason"], f"record {key} quarantined without a reason"
        assert row["raw_payload"] is not None
        payload = produced[key]
        if payload is None or row["reason"] == "conflicting_duplicate":
            continue                                  # rebuilt from the parsed fields
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            continue                                  # decoded by Flink with replacement characters
        assert row["raw_payload"] == text, f"record {key}: payload changed on its way to quarantine"


def test_a_fuzzed_record_in_bronze_is_a_reading_with_the_fields_it_was_sent_with(fuzzed):
    stream, _, produced = fuzzed
    in_bronze, _, _ = accounting(stream, produced)
    for (partition, offset), row in in_bronze.items():
        if partition == 1:
            (site, equipment, sensor, when), value = reading_key(produced[(partition, offset)])
            assert same_id(site, row["site_id"]) and same_id(equipment, row["equipment_id"]) and same_id(sensor, row["sensor"])
            assert when == row["event_time"] and value == row["value"]


def test_controls_land_once_repeats_are_counted_or_quarantined_as_conflicting_and_future_readings_quarantined(fuzzed):
    stream, target, produced = fuzzed
    in_bronze, in_quarantine, neither = accounting(stream, produced)
    controls = sorted((row["event_time"], row["value"]) for (p, _), row in in_bronze.items() if p == 0)
    start = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    assert controls == [(start + dt.timedelta(seconds=i), round(0.5 * i, 3)) for i in range(CONTROLS)]
    assert len([k for k in neither if k[0] == 0]) == len(EXACT_REPEATS)
    reasons = sorted(r["reason"] for (p, _), r in in_quarantine.items() if p == 0)
    assert reasons == sorted(["conflicting_duplicate"] * len(CONFLICTING_REPEATS) + ["future_timestamp"] * len(CLOCK_SKEWED))
