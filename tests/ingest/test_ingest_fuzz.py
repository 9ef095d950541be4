"""Fuzzed JSON lines through the real Spark ingest: no crash, no loss, every rejected line quarantined with a reason.

One file holds control readings (valid, an exact repeat, a repeat with another value) and a
fixed corpus of hostile lines (tests/fuzz_inputs.py: arbitrary bytes, text that is not UTF-8,
JSON of the wrong types, huge and non-finite numbers, unicode ids, JSON nested thousands of
levels deep, strings of hundreds of kB, carriage returns). ``ingest_path`` reads it with Spark
and writes bronze.readings and quarantine.readings through delta-spark. Every line must be read
as one record and end in bronze, or in quarantine with a reason and its text, or be counted as a
repeat; nothing else of the run may appear.

The session's lake is shared: the readings use equipment of their own and February 2026.
"""
from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from sensorlake.ingest import ingest_path
from sensorlake.lake import delta_rs
from sensorlake.lake.tables import EQUIPMENT
from tests.fuzz_inputs import Target, corpus, deep_json, record_payloads

pytestmark = [pytest.mark.integration]

RUN_ID = "ingest-fuzz-run"
FILE = "fuzz-readings-2026-02.jsonl"
TARGET = Target("fuzz-site", "fuzz-pump-001", "pressure", "bar", 0.0, 60.0, "2026-02-02")
CONTROL = Target("fuzz-site", "fuzz-pump-001", "pressure", "bar", 0.0, 60.0, "2026-02-03")   # no fuzzed line reaches this day
FUZZED = 250
CONTROLS = 40
EXTRAS = (b"", b"\x01" * 180_000, deep_json(20_000, "array").encode(), b'{"a": 1}\r{"b": 2}',
          json.dumps(TARGET.reading(3000, 1.0)).encode() + b"\r")


def register_equipment(cfg) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    row = pa.table({"equipment_id": [TARGET.equipment_id], "site_id": [TARGET.site_id], "equipment_type": ["pump"],
                    "install_date": [dt.date(2024, 1, 1)], "criticality": ["high"], "source": ["test"],
                    "job_name": ["test-ingest-fuzz"], "run_id": [RUN_ID], "ingest_time": [now]}, schema=EQUIPMENT.arrow_schema())
    delta_rs.merge_on_key(delta_rs.ensure_table(cfg, EQUIPMENT), row, EQUIPMENT.key)


@pytest.fixture(scope="module")
def ingested(spark, cfg, tmp_path_factory):
    register_equipment(cfg)
    controls = [json.dumps(CONTROL.reading(i, round(0.5 * i, 3))).encode() for i in range(CONTROLS)]
    controls += [controls[7], json.dumps(CONTROL.reading(11, 39.5)).encode()]   # an exact and a conflicting repeat
    fuzz = [p.replace(b"\n", b" ") for p in corpus(record_payloads(TARGET, max_chars=300_000), FUZZED)]
    lines = controls + fuzz + list(EXTRAS)
    path = tmp_path_factory.mktemp("ingest-fuzz") / FILE
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = ingest_path(spark, cfg, path, run_id=RUN_ID)
    # What Spark decoded each line to (invalid UTF-8 becomes replacement characters), in file order.
    texts = [r["value"].removesuffix("\r") for r in spark.read.option("lineSep", "\n").text(str(path)).collect()]
    return report, lines, texts


def run_rows(spark, table: str):
    return spark.sql(f"SELECT * FROM {table} WHERE run_id = '{RUN_ID}'")


def test_every_line_is_read_as_exactly_one_record(ingested):
    report, lines, texts = ingested
    assert len(texts) == len(lines)
    assert report.read == len(lines)


def test_every_line_is_written_or_repeated_or_quarantined_once(spark, ingested):
    report, lines, texts = ingested
    quarantined = {r["raw_payload"]: r["reason"] for r in run_rows(spark, "quarantine.readings").collect()}
    assert run_rows(spark, "quarantine.readings").count() == len(quarantined), "a payload was quarantined twice"
    rejected_lines = [t for t in texts if t in quarantined]
    assert set(quarantined) == set(rejected_lines), "quarantine holds a payload that was not in the file"
    bronze = run_rows(spark, "bronze.readings")
    assert bronze.count() == report.written
    assert report.written + report.duplicates == len(texts) - len(rejected_lines)
    assert report.quarantined == len(rejected_lines)


def test_every_quarantined_line_has_a_reason(spark, ingested):
    reasons = [r["reason"] for r in run_rows(spark, "quarantine.readings").select("reason").collect()]
    assert reasons and all(reasons)


def test_bronze_holds_each_reading_key_once_and_only_the_declared_equipment_and_sensor(spark, ingested):
    bronze = run_rows(spark, "bronze.readings")
    assert bronze.select("site_id", "equipment_id", "sensor", "event_time").distinct().count() == bronze.count()
    assert {(r["equipment_id"], r["sensor"]) for r in bronze.select("equipment_id", "sensor").distinct().collect()} == \
        {(TARGET.equipment_id, TARGET.sensor)}


def test_control_readings_land_once_with_their_values_and_the_conflicting_repeat_is_quarantined(spark, ingested):
    report, _, _ = ingested
    start = dt.datetime(2026, 2, 3)
    rows = dict((r["event_time"], r["value"]) for r in run_rows(spark, "bronze.readings")
                .where("event_date = DATE'2026-02-03'").collect())
    expected = {start + dt.timedelta(seconds=i): round(0.5 * i, 3) for i in range(CONTROLS)}
    assert rows.keys() == expected.keys()
    # of the two values at 11 s the first in (file name, line text) order stays, the other is quarantined
    kept = rows.pop(start + dt.timedelta(seconds=11))
    expected.pop(start + dt.timedelta(seconds=11))
    assert rows == expected and kept in (5.5, 39.5)
    conflicting = run_rows(spark, "quarantine.readings").where(f"raw_payload LIKE '%{CONTROL.day}T00:00:11%'").collect()
    assert [r["reason"] for r in conflicting] == ["conflicting_duplicate"]
    assert json.loads(conflicting[0]["raw_payload"])["value"] == ({5.5, 39.5} - {kept}).pop()
    assert report.duplicates >= 1
