"""The fleet: identity of the equipment, determinism, physical ranges, degradation and maintenance."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sensorlake.simulator.fleet import SENSOR_MODELS, Fleet, FleetSettings

MINUTE_MS = 60_000


def readings_frame(fleet: Fleet) -> pd.DataFrame:
    chunks = list(fleet.chunks())
    return pd.DataFrame({
        "eq": np.concatenate([c.equipment_index for c in chunks]),
        "sensor": np.array(fleet.sensor_names)[np.concatenate([c.sensor_code for c in chunks])],
        "t": np.concatenate([c.event_time_ms for c in chunks]),
        "value": np.concatenate([c.value for c in chunks]),
    })


@pytest.fixture(scope="module")
def two_day_readings(two_day_fleet):
    return readings_frame(two_day_fleet)


def test_equipment_ids_sites_and_install_dates_follow_the_contract(types):
    fleet = Fleet(types, FleetSettings(equipment_per_type=2, sites=("plant-a", "plant-b", "plant-c")))
    ids = [e.equipment_id for e in fleet.equipment]
    assert ids[:2] == ["conveyor_motor-001", "conveyor_motor-002"] and "pump-002" in ids and "fan-001" in ids
    assert all(re.fullmatch(r"[a-z_]+-\d{3}", i) for i in ids)
    assert [e.site_id for e in fleet.equipment] == ["plant-a", "plant-b", "plant-c"] * 2
    assert all(e.install_date < fleet.settings.start.date() for e in fleet.equipment)
    assert {e.criticality for e in fleet.equipment if e.equipment_type == "pump"} == {types["pump"].criticality}


def test_the_same_seed_gives_the_same_readings_and_events(types):
    settings = FleetSettings(seed=3, equipment_per_type=1, days=0.2, rate_scale=0.5)
    a, b = Fleet(types, settings), Fleet(types, settings)
    for ca, cb in zip(a.chunks(), b.chunks()):
        assert np.array_equal(ca.event_time_ms, cb.event_time_ms)
        assert np.array_equal(ca.value, cb.value)
    assert a.events() == b.events()


def test_a_chunk_is_the_same_whether_generated_alone_or_in_sequence(types):
    settings = FleetSettings(seed=3, equipment_per_type=1, days=0.2)
    in_sequence = list(Fleet(types, settings).chunks())[3]
    alone = Fleet(types, settings).chunk(3)
    assert np.array_equal(in_sequence.value, alone.value)


def test_another_seed_gives_other_readings(types):
    a = Fleet(types, FleetSettings(seed=1, equipment_per_type=1, days=0.05)).chunk(0)
    b = Fleet(types, FleetSettings(seed=2, equipment_per_type=1, days=0.05)).chunk(0)
    assert not np.array_equal(a.value[:100], b.value[:100])


def test_every_generated_value_lies_within_its_physical_range(two_day_fleet, two_day_readings, types):
    df = two_day_readings
    df = df.assign(type=[two_day_fleet.equipment[i].equipment_type for i in df["eq"]])
    for (type_name, sensor), group in df.groupby(["type", "sensor"]):
        spec = types[type_name].sensors[sensor]
        assert group["value"].between(spec.min, spec.max).all(), (type_name, sensor)
        assert np.isfinite(group["value"]).all()


def test_sampling_follows_each_sensors_rate(small_fleet):
    chunk = small_fleet.chunk(0)
    pump = next(e.index for e in small_fleet.equipment if e.equipment_type == "pump")
    vib = small_fleet.sensor_names.index("vibration")
    times = chunk.event_time_ms[(chunk.equipment_index == pump) & (chunk.sensor_code == vib)]
    assert set(np.diff(times)) <= {2000} or np.diff(times).min() == 2000   # 2 Hz x 0.25 (gaps are downtime)


def test_two_days_at_default_degradation_give_several_failures_per_equipment(two_day_fleet, types):
    summary = two_day_fleet.failure_summary()
    assert summary["failures"] >= 2 * len(two_day_fleet.equipment)
    declared = {m for t in types.values() for m in t.failure_modes}
    assert set(summary["failures_per_mode"]) == declared


def test_events_follow_the_contract(two_day_fleet):
    events = two_day_fleet.events()
    assert {e["event_type"] for e in events} == {"failure", "maintenance", "inspection"}
    for e in events:
        assert (e["failure_mode"] is not None) == (e["event_type"] == "failure")
        assert two_day_fleet.settings.start_ms <= e["event_time_ms"] < two_day_fleet.settings.end_ms
    assert len({e["event_id"] for e in events}) == len(events)
    assert any("preventive" in e["notes"] for e in events) and any("corrective repair of" in e["notes"] for e in events)


def _healthy_expectation(fleet, eq, sensor, times):
    base, gain, _ = SENSOR_MODELS[eq.equipment_type][sensor]
    expected = base + gain * fleet.load(eq, times)
    if sensor == "temperature":
        expected = expected + fleet.ambient_temperature(eq, times)
    return expected


# mode -> (sensor, statistic of the load-normalised signal, check(before failure, after repair))
SIGNATURES = {
    "bearing_wear": ("vibration", "residual_mean", lambda pre, post: pre > post + 5),
    "overheating": ("temperature", "residual_mean", lambda pre, post: pre > post + 20),
    "electrical_fault": ("current", "residual_std", lambda pre, post: pre > 2 * post),
    "seal_leak": ("pressure", "ratio_mean", lambda pre, post: pre < 0.75 and post > 0.9),
    "imbalance": ("vibration", "residual_mean", lambda pre, post: pre > post + 2),
}


@pytest.mark.parametrize("mode", sorted(SIGNATURES))
def test_degradation_shows_in_the_modes_sensor_before_a_failure(mode, two_day_fleet, two_day_readings):
    sensor, statistic, check = SIGNATURES[mode]
    fleet, df = two_day_fleet, two_day_readings
    by_id = {e.equipment_id: e for e in fleet.equipment}
    failures = [e for e in fleet.events() if e["event_type"] == "failure" and e["failure_mode"] == mode]
    assert failures, f"no {mode} failure in the test fleet"
    checked = 0
    for failure in failures:
        eq = by_id[failure["equipment_id"]]
        life = next(l for l in fleet.timelines[eq.index].lives if l.failure_ms == failure["event_time_ms"])
        rows = df[(df["eq"] == eq.index) & (df["sensor"] == sensor)]
        pre = rows[rows["t"].between(life.failure_ms - 10 * MINUTE_MS, life.failure_ms - 1)]
        post = rows[rows["t"].between(life.restart_ms, life.restart_ms + 30 * MINUTE_MS)]
        if len(pre) < 20 or len(post) < 20:
            continue  # the window falls outside the simulated span
        stats = []
        for window in (pre, post):
            expected = _healthy_expectation(fleet, eq, sensor, window["t"].to_numpy())
            values = window["value"].to_numpy()
            stats.append({"residual_mean": np.mean(values - expected), "residual_std": np.std(values - expected),
                          "ratio_mean": np.mean(values / expected)}[statistic])
        assert check(*stats), (mode, eq.equipment_id, stats)
        checked += 1
    assert checked


def test_no_readings_while_down_and_maintenance_resets_wear(two_day_fleet, two_day_readings):
    fleet, df = two_day_fleet, two_day_readings
    for eq, timeline in zip(fleet.equipment, fleet.timelines):
        times = df.loc[df["eq"] == eq.index, "t"].to_numpy()
        for life in timeline.lives:
            if life.end_ms >= fleet.settings.end_ms:
                continue
            assert not ((times >= life.end_ms) & (times < life.restart_ms)).any()
            wear, running, _ = timeline.wear_at(np.array([life.end_ms - 1, life.restart_ms]))
            assert running[1] and wear[1] == 0.0
            if life.outcome == "failure":
                assert wear[0] > 0.95


def test_a_shorter_degradation_time_scale_gives_more_failures(types):
    def failures(hours):
        fleet = Fleet(types, FleetSettings(seed=4, equipment_per_type=2, days=2.0, degradation_hours=hours))
        return fleet.failure_summary()["failures"]

    assert failures(4.0) > failures(20.0)
