"""Idempotent Delta writers that run inside the streaming job's Python operators.

``RawBatchWriter`` takes one batch per Kafka partition (newline-delimited JSON built in Flink
SQL) and writes its valid readings to bronze.readings and its rejected records to
quarantine.readings, each append carrying a Delta transaction id per Kafka partition whose
version is the highest offset written (Spark's Delta sink and kafka-delta-ingest do the same).
A replay after a failure starts from the checkpointed offsets; rows at or below the recorded
version were written already and are skipped, so nothing lands twice. The write finishes
inside ``map`` — before the operator acknowledges a checkpoint — so no checkpoint ever covers
rows that exist nowhere.

Duplicate readings (same site, equipment, sensor, event time) count once: the writer remembers
the keys within the allowed lateness (an older duplicate would be late, and quarantined as
such); a repeat with another value is quarantined as ``conflicting_duplicate``. Those keys are
Flink state of the partition (checkpointed with the offsets): a restore brings back the keys of
every record before the checkpoint, and the replay after it re-adds the rest, so a duplicate
whose original came before the checkpoint is still recognised after a failure.

Example (in the job)::

    batches.key_by(lambda b: b[1]).map(RawBatchWriter(cfg.data, run_id, lateness_ms))
"""
from __future__ import annotations

import datetime as dt
import io
import time
from collections import OrderedDict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from pyflink.datastream.functions import KeyedProcessFunction, MapFunction

from sensorlake.config import Config
from sensorlake.lake import delta_rs
from sensorlake.lake.tables import QUARANTINE, READINGS, TableSpec

JOB_NAME = "stream"
BATCH_SCHEMA = pa.schema([
    ("o", pa.int64()), ("r", pa.string()), ("site_id", pa.string()), ("equipment_id", pa.string()),
    ("sensor", pa.string()), ("t", pa.string()), ("value", pa.float64()), ("unit", pa.string()), ("p", pa.string()),
])


def parse_batch(rows_json: str) -> pa.Table:
    """The batch's rows as an Arrow table (schema BATCH_SCHEMA)."""
    return pajson.read_json(io.BytesIO(rows_json.encode("utf-8")),
                            parse_options=pajson.ParseOptions(explicit_schema=BATCH_SCHEMA,
                                                              unexpected_field_behavior="ignore"))


def as_utc(value):
    """A naive datetime (Flink hands event times over as UTC wall clock) made UTC-aware; other values as they are."""
    return value.replace(tzinfo=dt.timezone.utc) if isinstance(value, dt.datetime) and value.tzinfo is None else value


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class RecentKeys:
    """Reading keys (and values) seen within a horizon of event time, oldest first."""

    def __init__(self, horizon_ms: int):
        self.horizon_ms = horizon_ms
        self.values: OrderedDict[tuple, float] = OrderedDict()
        self.max_event_ms = 0

    def classify(self, key: tuple, value: float, event_ms: int) -> str | None:
        """None for a new reading (remembered), 'duplicate' or 'conflicting_duplicate' for a repeat."""
        seen = self.values.get(key)
        if seen is not None:
            return "duplicate" if seen == value else "conflicting_duplicate"
        self.values[key] = value
        self.max_event_ms = max(self.max_event_ms, event_ms)
        return None

    def __getstate__(self):
        """Columns of plain lists, each distinct text once: Flink pickles this state every bundle, and
        the dict of tuples took ~3x longer (~20 ms against ~7 ms for 20,000 keys)."""
        texts: dict[str, str] = {}
        keys = list(self.values)
        columns = tuple([texts.setdefault(k[i], k[i]) for k in keys] for i in range(3))
        return self.horizon_ms, self.max_event_ms, columns, [k[3] for k in keys], list(self.values.values())

    def __setstate__(self, state):
        if isinstance(state, dict):          # pickled before the columns (an older checkpoint)
            self.__dict__.update(state)
            return
        self.horizon_ms, self.max_event_ms, (sites, equipment, sensors), times, values = state
        self.values = OrderedDict(zip(zip(sites, equipment, sensors, times), values))

    def forget_older(self) -> None:
        """Drop keys older than the horizon: a repeat of them would arrive late."""
        cutoff = self.max_event_ms - self.horizon_ms
        while self.values:
            key = next(iter(self.values))
            if key[3] >= cutoff:
                break
            self.values.popitem(last=False)


class RawBatchWriter(MapFunction):
    """Writes partition batches to bronze.readings and quarantine.readings, exactly once per offset."""

    def __init__(self, cfg_data: dict, base_dir: str, run_id: str, lateness_ms: int):
        self.cfg_data, self.base_dir, self.run_id, self.lateness_ms = cfg_data, base_dir, run_id, lateness_ms

    def open(self, runtime_context):
        from pyflink.common import Types
        from pyflink.datastream.state import ValueStateDescriptor

        cfg = Config(self.cfg_data, base_dir=Path(self.base_dir))
        self.bronze = delta_rs.OpenTable(delta_rs.ensure_table(cfg, READINGS))
        self.quarantine = delta_rs.OpenTable(delta_rs.ensure_table(cfg, QUARANTINE))
        self.committed: dict[tuple[str, str], int] = {}      # (table path, app id) -> offset committed
        # Keyed by Kafka partition (the stream is keyed by it): the RecentKeys of that partition.
        self.recent = runtime_context.get_state(ValueStateDescriptor("recent_reading_keys", Types.PICKLED_BYTE_ARRAY()))

    def _committed(self, table: delta_rs.OpenTable, app_id: str) -> int:
        key = (table.path, app_id)
        if key not in self.committed:
            version = table.latest().transaction_version(app_id)
            self.committed[key] = -1 if version is None else version
        return self.committed[key]

    def map(self, batch):
        topic, partition, max_offset = batch[0], batch[1], batch[2]
        rows = parse_batch(batch[5])
        bronze_app, quarantine_app = f"sensorlake-bronze:{topic}:{partition}", f"sensorlake-quarantine:{topic}:{partition}"
        now = _utc_now()
        bronze_rows, quarantine_rows = self._split(rows, topic, partition, self._committed(self.bronze, bronze_app),
                                                   self._committed(self.quarantine, quarantine_app), now)
        if max_offset > self._committed(self.bronze, bronze_app):
            delta_rs.append_once(self.bronze, bronze_rows, bronze_app, max_offset, READINGS.partition_by)
            self.committed[(self.bronze.path, bronze_app)] = max_offset
        if max_offset > self._committed(self.quarantine, quarantine_app):
            delta_rs.append_once(self.quarantine, quarantine_rows, quarantine_app, max_offset, QUARANTINE.partition_by)
            self.committed[(self.quarantine.path, quarantine_app)] = max_offset
        return (topic, partition, max_offset, bronze_rows.num_rows, quarantine_rows.num_rows, batch[4], time.time())

    def _split(self, rows: pa.Table, topic: str, partition: int, bronze_done: int, quarantine_done: int, now):
        recent = self.recent.value() or RecentKeys(2 * self.lateness_ms)
        # Valid rows carry the time Flink parsed, formatted by sql.partition_batches_sql: the ISO-8601 cast cannot fail.
        event_times = pc.cast(pc.if_else(pc.is_null(rows.column("r")), rows.column("t"), pa.scalar(None, pa.string())),
                              pa.timestamp("ms", tz="UTC"))
        event_ms = pc.cast(event_times, pa.int64()).to_pylist()
        cols = rows.select(["o", "r", "site_id", "equipment_id", "sensor", "value"]).to_pydict()
        reasons, sites, equipment, sensors, values = (cols[c] for c in ("r", "site_id", "equipment_id", "sensor", "value"))
        valid, rejected = [], []
        for i, offset in enumerate(cols["o"]):
            reason = reasons[i]
            if reason is None:
                key = (sites[i], equipment[i], sensors[i], event_ms[i])
                # classified even when already written (a replay), so the keys it remembers are complete
                repeat = recent.classify(key, values[i], event_ms[i])
                if repeat == "duplicate":
                    continue
                if repeat is None:
                    if offset > bronze_done:
                        valid.append(i)
                    continue
                reason = repeat            # conflicting_duplicate: judged against quarantine's own version
            if offset > quarantine_done:
                rejected.append((i, reason))
        recent.forget_older()
        self.recent.update(recent)
        return self._bronze_table(rows, event_times, valid, topic, partition, now), \
            self._quarantine_table(rows, rejected, topic, partition, now)

    def _bronze_table(self, rows: pa.Table, event_times, valid: list[int], topic, partition, now) -> pa.Table:
        index = pa.array(valid, pa.int64())
        picked = rows.take(index)
        times = pc.take(event_times, index).cast(pa.timestamp("us", tz="UTC"))
        n = len(valid)
        data = {
            "site_id": picked["site_id"], "equipment_id": picked["equipment_id"], "sensor": picked["sensor"],
            "event_time": times, "value": picked["value"], "unit": picked["unit"],
            "event_date": pc.cast(times, pa.date32()),
            "ingest_id": pc.binary_join_element_wise(f"{topic}/{partition}/", pc.cast(picked["o"], pa.string()), ""),
            "source": [f"kafka:{topic}"] * n,
            "job_name": [JOB_NAME] * n, "run_id": [self.run_id] * n, "ingest_time": [now] * n,
        }
        return pa.table(data, schema=READINGS.arrow_schema())

    def _quarantine_table(self, rows: pa.Table, rejected: list[tuple[int, str]], topic, partition, now) -> pa.Table:
        cols = rows.take(pa.array([i for i, _ in rejected], pa.int64())).to_pydict()
        n = len(rejected)
        payload = [cols["p"][j] if cols["p"][j] is not None else _reading_json(cols, j) for j in range(n)]
        data = {
            "ingest_id": [f"{topic}/{partition}/{offset}" for offset in cols["o"]],
            "raw_payload": payload, "reason": [r for _, r in rejected], "stage": ["stream"] * n,
            "source": [f"kafka:{topic}"] * n, "kafka_topic": [topic] * n, "kafka_partition": [partition] * n,
            "kafka_offset": cols["o"], "rejected_at": [now] * n,
            "rejected_date": [now.date()] * n, "job_name": [JOB_NAME] * n, "run_id": [self.run_id] * n,
            "ingest_time": [now] * n,
        }
        return pa.table(data, schema=QUARANTINE.arrow_schema())


def _reading_json(cols, i) -> str:
    import json

    return json.dumps({k: cols[k][i] for k in ("site_id", "equipment_id", "sensor", "value", "unit")} | {"event_time": cols["t"][i]})


class FeatureRowsWriter(KeyedProcessFunction):
    """Buffers feature rows of one view in Flink state and MERGEs them into silver on a timer.

    Rows wait in ListState (checkpointed), so a restore brings back any not yet written; the
    MERGE on (equipment_id, window_start, window_end) makes the replay of written rows a no-op
    and lets a later row of the same window replace the earlier one.
    """

    def __init__(self, cfg_data: dict, base_dir: str, spec: TableSpec, field_names: list[str], run_id: str, flush_ms: int):
        self.cfg_data, self.base_dir, self.spec = cfg_data, base_dir, spec
        self.field_names, self.run_id, self.flush_ms = field_names, run_id, flush_ms

    def open(self, runtime_context):
        from pyflink.common import Types
        from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

        cfg = Config(self.cfg_data, base_dir=Path(self.base_dir))
        self.table = delta_rs.OpenTable(delta_rs.ensure_table(cfg, self.spec))
        self.buffer = runtime_context.get_list_state(ListStateDescriptor("feature_rows", Types.PICKLED_BYTE_ARRAY()))
        self.timer_set = runtime_context.get_state(ValueStateDescriptor("timer_set", Types.BOOLEAN()))

    def process_element(self, row, ctx):
        self.buffer.add(tuple(row))
        if not self.timer_set.value():
            ctx.timer_service().register_processing_time_timer(ctx.timer_service().current_processing_time() + self.flush_ms)
            self.timer_set.update(True)
        yield from ()

    def on_timer(self, timestamp, ctx):
        rows = list(self.buffer.get() or [])
        self.timer_set.clear()
        if not rows:
            return
        delta_rs.merge_on_key(self.table, self._arrow(rows), self.spec.key)
        self.buffer.clear()
        yield (self.spec.name, len(rows), time.time())

    def _arrow(self, rows) -> pa.Table:
        columns = {name: [r[i] for r in rows] for i, name in enumerate(self.field_names)}
        now = _utc_now()
        for name in ("window_start", "window_end"):
            columns[name] = [as_utc(v) for v in columns[name]]
        columns.update(job_name=[JOB_NAME] * len(rows), run_id=[self.run_id] * len(rows), ingest_time=[now] * len(rows))
        return pa.table(columns, schema=self.spec.arrow_schema())
