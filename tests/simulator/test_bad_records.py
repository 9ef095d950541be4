"""Bad-record injection and the manifest: every injected record is accounted for, exactly."""
from __future__ import annotations

import json
import re

import numpy as np
import pyarrow.parquet as pq
import pytest

from sensorlake.simulator.bad_records import BAD_KINDS, InjectionSettings, RecordClassifier
from sensorlake.simulator.fleet import Fleet, FleetSettings
from sensorlake.simulator.history import write_history
from sensorlake.simulator.records import READING_KEYS, event_time_ms


@pytest.fixture(scope="module")
def bad_jsonl_history(types, tmp_path_factory):
    """Six hours of JSON lines with 3 % bad records of every kind."""
    out = tmp_path_factory.mktemp("bad-jsonl")
    fleet = Fleet(types, FleetSettings(seed=21, equipment_per_type=2, days=0.25, rate_scale=0.3))
    manifest = write_history(fleet, out, "jsonl", InjectionSettings(bad_rate=0.03, seed=21))
    lines = []
    for part in sorted((out / "readings").glob("part-*.jsonl")):
        lines += part.read_text().splitlines()
    return out, manifest, lines


def test_every_kind_is_injected(bad_jsonl_history):
    _, manifest, _ = bad_jsonl_history
    assert set(manifest["counts"]["injected"]) == set(BAD_KINDS)
    assert all(n > 0 for n in manifest["counts"]["injected"].values())


def test_manifest_counts_equal_the_counts_recomputed_from_the_emitted_records(bad_jsonl_history, types):
    _, manifest, lines = bad_jsonl_history
    classifier = RecordClassifier(types, manifest["parameters"]["allowed_lateness_s"])
    for line in lines:
        classifier.classify(line)
    assert classifier.summary() == {k: manifest["counts"][k] for k in classifier.summary()}
    assert manifest["counts"]["total_records_emitted"] == len(lines)


def test_counts_hold_per_equipment_stream_as_in_a_kafka_partition(bad_jsonl_history, types):
    _, manifest, lines = bad_jsonl_history
    per_equipment = {}
    for line in lines:
        match = re.search(r'"equipment_id": "([^"]+)"', line) or re.search(r"'equipment_id': '([^']+)'", line)
        key = match.group(1) if match else None
        per_equipment.setdefault(key, RecordClassifier(types, 60.0)).classify(line)
    total = RecordClassifier.total(per_equipment.values())
    # Only records that lost their equipment_id (malformed, missing key) cannot be grouped this way.
    assert total["injected"]["late"] == manifest["counts"]["injected"]["late"]
    assert total["injected"]["out_of_order"] == manifest["counts"]["injected"]["out_of_order"]
    assert total["injected"]["duplicate"] == manifest["counts"]["injected"]["duplicate"]


def test_valid_unique_readings_counts_distinct_keys_bronze_keeps(bad_jsonl_history, types):
    _, manifest, lines = bad_jsonl_history
    classifier = RecordClassifier(types, 60.0)
    keys = set()
    for line in lines:
        if classifier.classify(line) in ("valid", "out_of_order", "duplicate"):
            r = json.loads(line)
            keys.add((r["site_id"], r["equipment_id"], r["sensor"], r["event_time"]))
    assert len(keys) == manifest["counts"]["valid_unique_readings"]


def test_late_records_carry_keys_not_otherwise_emitted(bad_jsonl_history, types):
    _, _, lines = bad_jsonl_history
    classifier = RecordClassifier(types, 60.0)
    late, others = set(), set()
    for line in lines:
        kind = classifier.classify(line)
        if kind in ("valid", "out_of_order", "duplicate", "late", "nan_value", "out_of_range", "unknown_sensor"):
            r = json.loads(line)
            (late if kind == "late" else others).add((r["equipment_id"], r["sensor"], r["event_time"]))
    assert late and not late & others


def test_bad_values_look_the_part(bad_jsonl_history, types):
    _, _, lines = bad_jsonl_history
    classifier = RecordClassifier(types, 60.0)
    for line in lines:
        kind = classifier.classify(line)
        if kind == "nan_value":
            assert '"value": NaN' in line
        elif kind == "missing_key":
            assert len(json.loads(line)) == len(READING_KEYS) - 1
        elif kind == "out_of_range":
            r = json.loads(line)
            spec = types[r["equipment_id"].rsplit("-", 1)[0]].sensors[r["sensor"]]
            assert not spec.min <= r["value"] <= spec.max


def test_out_of_order_records_stay_within_the_allowed_lateness(bad_jsonl_history, types):
    _, manifest, lines = bad_jsonl_history
    lateness_ms = manifest["parameters"]["allowed_lateness_s"] * 1000
    classifier, newest = RecordClassifier(types, 60.0), None
    for line in lines:
        kind = classifier.classify(line)
        if kind in ("valid", "out_of_order"):
            t = event_time_ms(json.loads(line)["event_time"])
            if kind == "out_of_order":
                assert newest - lateness_ms / 2 <= t < newest
            newest = t if newest is None else max(newest, t)


def test_injection_is_deterministic_for_a_seed(types, tmp_path):
    fleet_settings = FleetSettings(seed=8, equipment_per_type=1, days=0.1)
    a = write_history(Fleet(types, fleet_settings), tmp_path / "a", "jsonl", InjectionSettings(0.05, seed=8))
    b = write_history(Fleet(types, fleet_settings), tmp_path / "b", "jsonl", InjectionSettings(0.05, seed=8))
    assert a["counts"] == b["counts"]
    assert (tmp_path / "a/readings/part-00000.jsonl").read_bytes() == (tmp_path / "b/readings/part-00000.jsonl").read_bytes()


def test_parquet_history_follows_the_contract_and_counts_its_value_level_bad_records(types, tmp_path):
    fleet = Fleet(types, FleetSettings(seed=9, equipment_per_type=1, days=0.25, rate_scale=0.5))
    manifest = write_history(fleet, tmp_path, "parquet", InjectionSettings(bad_rate=0.01, seed=9))
    readings = pq.read_table(tmp_path / "readings")
    assert str(readings.schema) == str(pq.read_schema(next((tmp_path / "readings").glob("part-*.parquet"))))
    assert [(f.name, str(f.type)) for f in readings.schema] == [
        ("site_id", "string"), ("equipment_id", "string"), ("sensor", "string"),
        ("event_time", "timestamp[us, tz=UTC]"), ("value", "double"), ("unit", "string")]
    df = readings.to_pandas()
    nan = int(df["value"].isna().sum())
    ranges = {(t, s): (spec.min, spec.max) for t, ty in types.items() for s, spec in ty.sensors.items()}
    kind = df["equipment_id"].str.rsplit("-", n=1).str[0]
    lo = np.array([ranges[(k, s)][0] for k, s in zip(kind, df["sensor"])])
    hi = np.array([ranges[(k, s)][1] for k, s in zip(kind, df["sensor"])])
    out_of_range = int(((df["value"] < lo) | (df["value"] > hi)).sum())
    injected = manifest["counts"]["injected"]
    assert (nan, out_of_range) == (injected["nan_value"], injected["out_of_range"]) and nan > 0 and out_of_range > 0
    assert sum(injected.values()) == nan + out_of_range
    assert manifest["counts"]["total_records_emitted"] == len(df)
    events = pq.read_table(tmp_path / "events.parquet")
    assert events.schema.names == ["event_id", "site_id", "equipment_id", "event_time", "event_type", "failure_mode", "notes"]
    assert str(events.schema.field("event_time").type) == "timestamp[us, tz=UTC]"
    equipment = pq.read_table(tmp_path / "equipment.parquet")
    assert equipment.schema.names == ["equipment_id", "site_id", "equipment_type", "install_date", "criticality"]
    assert str(equipment.schema.field("install_date").type) == "date32[day]"
    saved = json.loads((tmp_path / "manifest.json").read_text())
    assert saved["seed"] == 9 and saved["counts"] == manifest["counts"]
    assert sum(saved["fleet"]["failures_per_mode"].values()) == saved["fleet"]["failures"]


def test_a_late_record_is_older_than_the_stream_by_more_than_the_allowed_lateness():
    with pytest.raises(ValueError, match="late_by_s"):
        InjectionSettings(bad_rate=0.1, allowed_lateness_s=60, late_by_s=90)
