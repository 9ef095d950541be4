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


RECENT_SCHEMA = pa.schema([("site_id", pa.string()), ("equipment_id", pa.string()), ("sensor", pa.string()),
                           ("event_ms", pa.int64()), ("value", pa.float64())])
_KEY = ["site_id", "equipment_id", "sensor", "event_ms"]


class RecentKeys:
    """Reading keys (and values) seen within a horizon of event time, oldest first, as Arrow columns.

    A batch is judged by Arrow's hash group-by and join, not a Python loop over its rows, and the
    state pickles as one Arrow IPC stream: Flink pickles it every bundle, and 60,000 keys took
    ~100 ms to pickle and load as Python lists, ~5 ms as Arrow (BENCHMARKS.md "stream").
    """

    def __init__(self, horizon_ms: int):
        self.horizon_ms = horizon_ms
        self.table = RECENT_SCHEMA.empty_table()
        self.max_event_ms = 0

    def classify(self, readings: pa.Table) -> pa.ChunkedArray:
        """Per reading (columns of RECENT_SCHEMA, in arrival order): null when new, and remembered;
        'duplicate' when its key came before with the same value; 'conflicting_duplicate' with another.

        "Before" is the remembered keys, then the batch's earlier rows: the first copy is the
        reading, whichever value a later one has.
        """
        readings = readings.select(RECENT_SCHEMA.names).cast(RECENT_SCHEMA)
        ordered = readings.append_column("pos", pa.array(range(readings.num_rows), pa.int64()))
        first = ordered.group_by(_KEY, use_threads=False).aggregate([("pos", "min")])
        # only remembered keys at one of the batch's times can match (most are older): a cheap filter before the join
        seen = self.table.filter(pc.is_in(self.table["event_ms"], value_set=readings["event_ms"].combine_chunks()))
        seen = seen.rename_columns([*_KEY, "seen_value"])
        judged = (ordered.join(first, _KEY, use_threads=False)
                  .join(seen, _KEY, join_type="left outer", use_threads=False)
                  .sort_by("pos"))
        seen_value = judged["seen_value"]
        is_new = pc.and_(pc.is_null(seen_value), pc.equal(judged["pos_min"], judged["pos"]))
        reference = pc.coalesce(seen_value, pc.take(readings["value"], judged["pos_min"]))
        repeat = pc.if_else(pc.equal(judged["value"], reference), "duplicate", "conflicting_duplicate")
        self._remember(readings.filter(is_new))
        return pc.if_else(is_new, pa.scalar(None, pa.string()), repeat)

    def _remember(self, new: pa.Table) -> None:
        if new.num_rows:
            self.max_event_ms = max(self.max_event_ms, pc.max(new["event_ms"]).as_py())
            self.table = pa.concat_tables([self.table, new])
            if self.table["event_ms"].num_chunks > 16:
                self.table = self.table.combine_chunks()

    def forget_older(self) -> None:
        """Drop keys older than the horizon, oldest first, up to the first that is not: a repeat of them would arrive late."""
        kept_from = pc.index(pc.greater_equal(self.table["event_ms"], self.max_event_ms - self.horizon_ms), True).as_py()
        self.table = self.table.slice(self.table.num_rows if kept_from < 0 else kept_from)

    def __len__(self) -> int:
        return self.table.num_rows

    def __getstate__(self):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, RECENT_SCHEMA) as stream:
            stream.write_table(self.table)
        return self.horizon_ms, self.max_event_ms, sink.getvalue().to_pybytes()

    def __setstate__(self, state):
        if isinstance(state, dict):          # a checkpoint taken before the columns: an OrderedDict of key -> value
            self.horizon_ms, self.max_event_ms = state["horizon_ms"], state["max_event_ms"]
            columns = [list(column) for column in zip(*state["values"])] or [[], [], [], []]
            self.table = pa.table([*columns, list(state["values"].values())], schema=RECENT_SCHEMA)
        elif len(state) == 5:                # before Arrow: parallel lists of sites, equipment, sensors, times, values
            self.horizon_ms, self.max_event_ms, (sites, equipment, sensors), times, values = state
            self.table = pa.table([sites, equipment, sensors, times, values], schema=RECENT_SCHEMA)
        else:
            self.horizon_ms, self.max_event_ms, ipc = state
            self.table = pa.ipc.open_stream(ipc).read_all()


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
        checked_valid = pc.is_null(rows["r"])
        event_times = pc.cast(pc.if_else(checked_valid, rows["t"], pa.scalar(None, pa.string())), pa.timestamp("ms", tz="UTC"))
        readings = pa.table({"site_id": rows["site_id"], "equipment_id": rows["equipment_id"], "sensor": rows["sensor"],
                             "event_ms": pc.cast(event_times, pa.int64()), "value": rows["value"]}).filter(checked_valid)
        # classified even when already written (a replay), so the keys it remembers are complete
        repeats = recent.classify(readings)
        recent.forget_older()
        self.recent.update(recent)
        reasons = pc.replace_with_mask(rows["r"].combine_chunks(), checked_valid.combine_chunks(), repeats.combine_chunks())
        offsets = rows["o"]
        valid = pc.and_(pc.is_null(reasons), pc.greater(offsets, bronze_done))
        # a conflicting duplicate is judged against quarantine's own version; a plain duplicate is dropped
        rejected = pc.and_(pc.and_(pc.is_valid(reasons), pc.not_equal(reasons, "duplicate")), pc.greater(offsets, quarantine_done))
        return self._bronze_table(rows, event_times, pc.indices_nonzero(valid), topic, partition, now), \
            self._quarantine_table(rows, reasons, pc.indices_nonzero(rejected), topic, partition, now)

    def _bronze_table(self, rows: pa.Table, event_times, index: pa.Array, topic, partition, now) -> pa.Table:
        picked = rows.take(index)
        times = pc.take(event_times, index).cast(pa.timestamp("us", tz="UTC"))
        n = len(index)
        data = {
            "site_id": picked["site_id"], "equipment_id": picked["equipment_id"], "sensor": picked["sensor"],
            "event_time": times, "value": picked["value"], "unit": picked["unit"],
            "event_date": pc.cast(times, pa.date32()),
            "ingest_id": pc.binary_join_element_wise(f"{topic}/{partition}/", pc.cast(picked["o"], pa.string()), ""),
            "source": [f"kafka:{topic}"] * n,
            "job_name": [JOB_NAME] * n, "run_id": [self.run_id] * n, "ingest_time": [now] * n,
        }
        return pa.table(data, schema=READINGS.arrow_schema())

    def _quarantine_table(self, rows: pa.Table, reasons: pa.Array, index: pa.Array, topic, partition, now) -> pa.Table:
        cols = rows.take(index).to_pydict()
        n = len(index)
        payload = [cols["p"][j] if cols["p"][j] is not None else _reading_json(cols, j) for j in range(n)]
        data = {
            "ingest_id": [f"{topic}/{partition}/{offset}" for offset in cols["o"]],
            "raw_payload": payload, "reason": pc.take(reasons, index), "stage": ["stream"] * n,
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
