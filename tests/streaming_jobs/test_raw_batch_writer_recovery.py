"""RawBatchWriter across a failure: restored from a checkpoint, replaying offsets it already wrote, it adds nothing twice.

No Flink here: the writer runs on plain batches with a stand-in for Flink's keyed state, and a
"checkpoint" is the pickled state (what Types.PICKLED_BYTE_ARRAY stores). The Delta tables are
real (delta-rs in a temporary lake).
"""
from __future__ import annotations

import json
import pickle

import pytest

from sensorlake.config import Config, load_config
from sensorlake.lake import delta_rs
from sensorlake.streaming.writers import RawBatchWriter

pytestmark = [pytest.mark.fault]

TOPIC, LATENESS_MS = "readings", 60_000


class KeyedState:
    def __init__(self, value=None):
        self._value = value

    def value(self):
        return self._value

    def update(self, value):
        self._value = value


class RuntimeContext:
    """What RawBatchWriter.open asks of Flink's runtime context: one keyed ValueState."""

    def __init__(self, restored: bytes | None = None):
        self.state = KeyedState(pickle.loads(restored) if restored else None)

    def get_state(self, descriptor):
        return self.state

    def checkpoint(self) -> bytes:
        return pickle.dumps(self.state.value())


def reading(offset: int, second: int, value: float = 1.0, reason: str | None = None) -> dict:
    return {"o": offset, "r": reason, "site_id": "plant-a", "equipment_id": "pump-001", "sensor": "temperature",
            "t": f"2025-01-01T00:00:{second:02d}.000Z", "value": None if reason else value, "unit": "C",
            "p": '{"bad": true}' if reason else None}


def batch(*rows: dict, partition: int = 0) -> tuple:
    return (TOPIC, partition, max(r["o"] for r in rows), len(rows), None, "\n".join(json.dumps(r) for r in rows))


@pytest.fixture
def cfg(tmp_path) -> Config:
    return load_config(overrides=[f"lake.root={tmp_path / 'lake'}"], environ={}, base_dir=tmp_path)


def start_writer(cfg: Config, restored: bytes | None = None) -> tuple[RawBatchWriter, RuntimeContext]:
    writer, context = RawBatchWriter(cfg.data, str(cfg.base_dir), "run-1", LATENESS_MS), RuntimeContext(restored)
    writer.open(context)
    return writer, context


def table_rows(cfg: Config, table: str) -> list[dict]:
    from deltalake import DeltaTable

    return DeltaTable(str(cfg.table_path(table))).to_pyarrow_table().to_pylist()


def test_a_duplicate_of_a_reading_before_the_checkpoint_is_recognised_after_a_restore(cfg):
    writer, context = start_writer(cfg)
    writer.map(batch(reading(0, 0), reading(1, 1), reading(2, 2)))
    checkpoint = context.checkpoint()
    writer.map(batch(reading(3, 3), reading(4, 1)))            # 4 repeats offset 1: skipped
    # the job fails before the next checkpoint; a new writer restores it and the source replays from offset 3,
    # batched differently: offset 5 repeats offset 0, whose key only the checkpointed state knows
    writer, _ = start_writer(cfg, restored=checkpoint)
    writer.map(batch(reading(3, 3), reading(4, 1), reading(5, 0)))
    bronze = table_rows(cfg, "bronze.readings")
    assert sorted(r["ingest_id"] for r in bronze) == [f"{TOPIC}/0/{o}" for o in range(4)]


def test_a_conflicting_duplicate_written_to_bronze_but_not_quarantine_is_quarantined_on_replay(cfg, monkeypatch):
    writer, context = start_writer(cfg)
    writer.map(batch(reading(0, 0, value=1.0)))
    checkpoint = context.checkpoint()
    append_once = delta_rs.append_once

    def killed_before_the_quarantine_commit(path, rows, app_id, version, partition_by=()):
        if app_id.startswith("sensorlake-quarantine"):
            raise RuntimeError("TaskManager killed")
        append_once(path, rows, app_id, version, partition_by)

    monkeypatch.setattr(delta_rs, "append_once", killed_before_the_quarantine_commit)
    with pytest.raises(RuntimeError):
        writer.map(batch(reading(1, 1), reading(2, 0, value=9.0)))   # 2: offset 0's key with another value
    monkeypatch.undo()
    writer, _ = start_writer(cfg, restored=checkpoint)
    writer.map(batch(reading(1, 1), reading(2, 0, value=9.0)))
    assert sorted(r["ingest_id"] for r in table_rows(cfg, "bronze.readings")) == [f"{TOPIC}/0/0", f"{TOPIC}/0/1"]
    quarantined = [(r["kafka_offset"], r["reason"]) for r in table_rows(cfg, "quarantine.readings")]
    assert quarantined == [(2, "conflicting_duplicate")]


def test_a_replay_of_written_offsets_adds_nothing_to_either_table(cfg):
    rows = (reading(0, 0), reading(1, 1, reason="out_of_range"), reading(2, 2))
    writer, context = start_writer(cfg)
    checkpoint = context.checkpoint()
    writer.map(batch(*rows))
    writer, _ = start_writer(cfg, restored=checkpoint)
    writer.map(batch(*rows))
    assert len(table_rows(cfg, "bronze.readings")) == 2
    assert len(table_rows(cfg, "quarantine.readings")) == 1


def keys_table(*readings: tuple[str, int, float]) -> "pa.Table":
    """(equipment, event ms, value) readings of one site and sensor, as RecentKeys.classify takes them."""
    import pyarrow as pa

    return pa.table({"site_id": ["plant-a"] * len(readings), "equipment_id": [r[0] for r in readings],
                     "sensor": ["temperature"] * len(readings), "event_ms": [r[1] for r in readings],
                     "value": [r[2] for r in readings]})


def test_recent_keys_judge_repeats_in_a_batch_and_across_batches():
    from sensorlake.streaming.writers import RecentKeys

    keys = RecentKeys(LATENESS_MS)
    verdicts = keys.classify(keys_table(("pump-001", 0, 1.0), ("pump-001", 0, 1.0), ("pump-001", 0, 2.0), ("pump-002", 0, 1.0)))
    assert verdicts.to_pylist() == [None, "duplicate", "conflicting_duplicate", None]
    verdicts = keys.classify(keys_table(("pump-002", 0, 3.0), ("pump-001", 0, 1.0), ("pump-001", 5, 1.0)))
    assert verdicts.to_pylist() == ["conflicting_duplicate", "duplicate", None]
    assert (len(keys), keys.max_event_ms) == (3, 5)


def reference_verdicts(remembered: dict, batch: list[tuple]) -> list:
    """What RecentKeys must answer, one reading at a time (the first copy of a key is the reading)."""
    verdicts = []
    for equipment, event_ms, value in batch:
        seen = remembered.get((equipment, event_ms))
        verdicts.append(None if seen is None else "duplicate" if seen == value else "conflicting_duplicate")
        remembered.setdefault((equipment, event_ms), value)
    return verdicts


def test_recent_keys_agree_with_a_reading_at_a_time_on_random_batches_and_forget_only_what_would_be_late():
    import random

    from sensorlake.streaming.writers import RecentKeys

    rng = random.Random(4)
    keys, remembered, horizon = RecentKeys(2_000), {}, 2_000
    for step in range(40):
        start = step * 500
        batch = [(f"pump-{rng.randrange(3)}", start + 100 * rng.randrange(-15, 15), float(rng.randrange(3)))
                 for _ in range(rng.randrange(0, 200))]
        assert keys.classify(keys_table(*batch)).to_pylist() == reference_verdicts(remembered, batch), step
        keys.forget_older()
        kept = {(r["equipment_id"], r["event_ms"]): r["value"] for r in keys.table.to_pylist()}
        cutoff = keys.max_event_ms - horizon
        # forgotten: only keys older than the horizon (a repeat of them is late); kept: with the values first seen
        assert {k for k in remembered if k[1] >= cutoff} <= set(kept)
        assert kept == {k: v for k, v in remembered.items() if k in kept}
        keys, remembered = pickle.loads(pickle.dumps(keys)), {k: v for k, v in remembered.items() if k in kept}


def test_recent_keys_load_from_the_older_list_and_dict_states():
    from collections import OrderedDict

    from sensorlake.streaming.writers import RecentKeys

    values = OrderedDict([(("plant-a", "pump-001", "temperature", 0), 0.0), (("plant-a", "pump-002", "temperature", 1_000), 1.0)])
    lists = (LATENESS_MS, 1_000, (["plant-a"] * 2, ["pump-001", "pump-002"], ["temperature"] * 2), [0, 1_000], [0.0, 1.0])
    for state in (lists, {"horizon_ms": LATENESS_MS, "values": values, "max_event_ms": 1_000}):
        older = RecentKeys.__new__(RecentKeys)      # what unpickling a checkpoint of an earlier release does
        older.__setstate__(state)
        assert (older.horizon_ms, older.max_event_ms, len(older)) == (LATENESS_MS, 1_000, 2)
        assert older.classify(keys_table(("pump-002", 1_000, 1.0), ("pump-002", 1_000, 9.0), ("pump-001", 2_000, 1.0))).to_pylist() \
            == ["duplicate", "conflicting_duplicate", None]
