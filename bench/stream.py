"""Benchmark: the streaming job (Kafka -> PyFlink -> Delta) against a plain-Python consumer of the same stream.

One run, on a private Kafka broker and a private lake under a temporary folder (free ports):

* **flink**: ``streaming_jobs/sensor_features.py`` for view ``machine_1m`` on PyFlink's local
  mini cluster (``sensorlake.streaming.runner.start_stream_job``): every record parsed and
  checked in Flink SQL, valid readings to bronze.readings and bad ones to quarantine.readings
  (delta-rs appends with a Delta transaction id per Kafka partition), features MERGEd into
  silver.features_machine_1m; checkpoints on (``flink.checkpoint_interval_s``).
* **python**: :func:`consume_with_python`, a plain consumer in its own process: confluent-kafka
  ``Consumer`` (its own group id, same topic), ``json.loads`` per record, invalid records
  *dropped* (unparseable, missing key, NaN, non-numeric, unknown equipment or sensor, out of
  range, late by the same per-partition rule as the job), the same features per closed window
  computed with pandas/numpy from the same formula trees (:func:`window_features`, checked
  against Spark's ``compute_view`` in tests/bench), and, every ``streaming.flush_interval_s``,
  one delta-rs append of its valid readings (with a transaction id per partition, so "written"
  is read from the Delta log the same way as for the job) and one append of the windows closed
  since. What it leaves out, so the comparison stays honest: no checkpoints or exactly-once
  (offsets are committed after the write; a crash replays into duplicates), no quarantine table
  (bad records are only counted), no de-duplication of raw readings across batches (the
  features de-duplicate within a window, as the job does), appends instead of MERGE for
  features (late updates of a window are never written: late readings are dropped), one
  process and one thread.

Both consume the same records at the same time: the machine's cores are shared between the
broker, the producer and both consumers, so each side's figures are lower than it would get
alone. ``<side>_cpu_us_per_reading`` (CPU of its process tree in the throughput phase, from
/proc, per reading) is less sensitive to that; ``flink_jvm_cpu_share`` is the part of the job's
CPU spent in its JVM (Kafka source, Flink SQL) rather than its Python operators (the writers).

**The stream.** The simulator's fleet (``EQUIPMENT_PER_TYPE`` machines of each of the three
types, ~3.9 readings/s each at the nominal sampling rates, 1 % bad records of every kind),
produced by this process with the simulator's producer settings, each machine pinned to one of
4 partitions. To reach thousands of readings per second from ~100 machines the simulated clock
runs faster than the wall clock (``time_scale`` = produce rate / the fleet's nominal rate):
readings per window are those of production, but a simulated minute passes in seconds.
Phases, each after both sides have written everything before it:

1. warm-up: 5 simulated minutes, as fast as possible; waits until both sides have written them
   (the job's start-up, ``flink_startup_s``, is not in the figures);
2. throughput: ``rows`` readings (default 600,000) produced as fast as this producer can (far
   faster than either side: ``producer_readings_per_s``), so each side drains a backlog at its
   own capacity. ``<side>_readings_per_s`` = readings / (first produce -> the Delta commit that
   holds the last offset of every partition: bronze *and* quarantine for the job, its readings
   table for python), read from the Delta logs after the run;
3. paced: ``PACED_SECONDS`` (90) at ``paced_rate``: 70 % of the slower side's throughput (at
   most the goal, 50,000/s; ``SENSORLAKE_BENCH_STREAM_RATE`` fixes it), a load both sides keep up
   with, for freshness (above its capacity a side's freshness is a backlog growing with the run).

**Freshness** (paced phase). Each key (equipment, window) of the 1-minute tumbling windows has:
``last``, the produce time of its last valid reading (when the producer handed it to the
client); ``close``, when its window could close: the produce time of the record that took the
watermark past the window end in the last partition to get there (Flink's watermark is the
minimum over partitions of the latest event time minus the allowed lateness, 60 s for
machine_1m, the shipped value, used here); and ``readable``, when the Delta commit holding its
row appeared (the modification time of the commit's log file, read from ``_delta_log`` after the
run; the same for both sides). Reported:

* ``<side>_freshness_p50_s`` / ``_p99_s``: readable - last, over the keys whose last reading
  and close both lie in the paced phase. Its floor is the watermark delay *in wall time*,
  allowed lateness / time_scale (**60 s in a real-time stream**, ~10 s at a time_scale of 6),
  plus up to the flush interval (``streaming.flush_interval_s``, 2 s: the writers' timers) and
  the write;
* ``<side>_close_latency_p50_s`` / ``_p99_s``: readable - close, the engine's own delay once the
  window could close, whatever the clock speed. Windows close together (every machine's window
  ends at the same minute), so these percentiles come from a few closing instants;
* ``<side>_realtime_freshness_p99_s`` = allowed lateness + close_latency_p99: what the first
  item means for a fleet streaming in real time (its last reading produced at the window end).
  An estimate: a real-time run at these rates needs thousands of machines, not run here.

The issue's goal: at least 50,000 readings/s sustained and p99 freshness within the window plus
10 s (70 s); with the shipped allowed lateness of 60 s, that leaves the engine 10 s after the
watermark passes a window. BENCHMARKS.md ("stream") has the figures and where the job's time goes.

    python -m bench stream                        # ~8 minutes on a loaded 2-core machine
    python -m bench stream --rows 500000          # quick
    SENSORLAKE_BENCH_STREAM_SIDES=flink python -m bench stream       # the job alone (also: python)
    SENSORLAKE_BENCH_STREAM_RATE=30000 python -m bench stream --set flink.parallelism=1
    BENCH stream flink_readings_per_s=... python_readings_per_s=... ratio=<flink/python> flink_freshness_p50_s=... ...

Example::

    from bench import stream
    stream.run(cfg, rows=500_000)
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from bench import emit
from sensorlake.config import Config, load_config

VIEW = "machine_1m"
DEFAULT_ROWS = 600_000
EQUIPMENT_PER_TYPE = 30
PARTITIONS = 4
BAD_RATE = 0.01
WARMUP_MINUTES = 5
GOAL_RATE = 50_000                                  # readings/s (issue 4)
PACED_FRACTION = 0.7                                # of the slower side's throughput, for the paced phase
RATE_ENV = "SENSORLAKE_BENCH_STREAM_RATE"           # a fixed paced rate instead
PACED_SECONDS = float(os.environ.get("SENSORLAKE_BENCH_STREAM_PACED_S", 90))
SIDES_ENV = "SENSORLAKE_BENCH_STREAM_SIDES"        # "flink,python" (default), "flink" or "python"
SLICE = 2_000                                       # records produced between two clock readings
START = "2025-03-03T00:00:00Z"                      # simulated start (a Monday, minute-aligned)
PYTHON_READINGS = "bench.python_readings"
PYTHON_FEATURES = f"bench.python_features_{VIEW}"
FLINK_APPS = {"bronze.readings": "sensorlake-bronze", "quarantine.readings": "sensorlake-quarantine"}
PYTHON_APP = "bench-python"
RAW_KEYS = ("site_id", "equipment_id", "sensor", "event_time", "value", "unit")


# ---- pure helpers -------------------------------------------------------------------------------
def percentile(values, q: float) -> float:
    """The q-th percentile (0-100, linear interpolation) of ``values``; NaN when empty.

    Example: ``percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5``.
    """
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    return float(np.percentile(arr, q)) if arr.size else float("nan")


def evaluate(expr, column):
    """Evaluate a formula tree of :mod:`feature_defs.formulas` with numpy (NULL is NaN).

    ``column`` maps a Ref name to a float array. SQL's NULL semantics hold where the formulas
    rely on them: a comparison with NULL is not true, so ``when`` gives NULL and ``case`` its
    else branch. Example: ``evaluate(AGGREGATIONS["mean"].expr, partials.__getitem__)``.
    """
    from feature_defs.formulas import Lit, Ref

    if isinstance(expr, Ref):
        return column(expr.name)
    if isinstance(expr, Lit):
        return float(expr.value)
    a = [evaluate(x, column) for x in expr.args]
    op = expr.op
    with np.errstate(all="ignore"):
        if op == "+": return np.add(a[0], a[1])
        if op == "-": return np.subtract(a[0], a[1])
        if op == "*": return np.multiply(a[0], a[1])
        if op == "/": return np.divide(a[0], a[1])
        if op == "<": return np.less(a[0], a[1])
        if op == "<=": return np.less_equal(a[0], a[1])
        if op == "=": return np.equal(a[0], a[1])
        if op == ">=": return np.greater_equal(a[0], a[1])
        if op == ">": return np.greater(a[0], a[1])
        if op == "and": return np.logical_and(a[0], a[1])
        if op == "or": return np.logical_or(a[0], a[1])
        if op == "neg": return np.negative(a[0])
        if op == "sqrt": return np.sqrt(a[0])
        if op == "abs": return np.abs(a[0])
        if op == "when": return np.where(a[0], a[1], np.nan)
        if op == "case": return np.where(a[0], a[1], a[2])
    raise ValueError(f"unknown operation {op!r}")


def window_features(readings, view):
    """The features of a tumbling ``view`` over narrow readings, with pandas and numpy.

    ``readings``: a DataFrame with site_id, equipment_id, sensor, ts_ms (int64 epoch ms) and value.
    Returns one row per equipment and window, columns ``view.output_columns`` (window_start and
    window_end as UTC timestamps): the stages and formulas of ``compile_spark.compute_view``
    (dedup keeping the larger value, centring on the window mean, partials, formulas, cross features).

    Example::

        window_features(pd.DataFrame({"site_id": ["a"], "equipment_id": ["e"], "sensor": ["speed"],
                                      "ts_ms": [0], "value": [1500.0]}), registry["machine_1m"])
    """
    import pandas as pd

    from feature_defs.formulas import AGGREGATIONS, CROSS_FUNCTIONS, PARTIALS, Ref, needed_partials

    if view.window.kind != "tumbling" or view.spectral or view.equipment_types:
        raise NotImplementedError(f"{view.name}: only tumbling views without spectral features or type filters")
    size = view.window.size_ms
    keys = ["ws", "site_id", "equipment_id"]
    df = readings[readings["sensor"].isin(list(view.sensors)) & readings["value"].notna()]
    dedup = (df.groupby(["site_id", "equipment_id", "sensor", "ts_ms"], sort=False, observed=True)["value"].max()
             .reset_index().rename(columns={"value": "v"}))
    ts = dedup["ts_ms"].to_numpy(np.int64)
    dedup["ws"] = ts - ts % size
    grouped = dedup.groupby([*keys, "sensor"], sort=False)
    centre = grouped["v"].transform("mean").to_numpy(float)
    v = dedup["v"].to_numpy(float)
    terms = {"v": v, "centre": centre, "d": v - centre,
             "t": (ts - dedup["ws"].to_numpy(np.int64)).astype(float) / 1000.0,
             "is_last": ts == grouped["ts_ms"].transform("max").to_numpy(np.int64)}
    needed = {sensor: needed_partials(aggs) for sensor, aggs in view.aggregations.items()}
    names = [p for p in PARTIALS if any(p in ps for ps in needed.values())]
    for name in names:
        dedup[f"p_{name}"] = np.broadcast_to(evaluate(PARTIALS[name].row_expr, terms.__getitem__), v.shape)
    aggregate = {"count": "count", "sum": "sum", "min": "min", "max": "max"}
    per_sensor = dedup.groupby([*keys, "sensor"], sort=False).agg(
        **{f"p_{n}": (f"p_{n}", aggregate[PARTIALS[n].agg]) for n in names})
    wide = per_sensor.unstack("sensor")
    wide.columns = [f"{sensor}__{p}" for p, sensor in wide.columns]
    n_rows = len(wide)

    def partial(sensor: str, name: str) -> np.ndarray:
        col = f"{sensor}__p_{name}"
        values = wide[col].to_numpy(float) if col in wide.columns else np.full(n_rows, np.nan)
        return np.nan_to_num(values, nan=0.0) if PARTIALS[name].agg == "count" else values

    index = wide.index.to_frame(index=False)
    out = {
        "equipment_id": index["equipment_id"].to_numpy(object), "site_id": index["site_id"].to_numpy(object),
        "window_start": pd.to_datetime(index["ws"].to_numpy(np.int64), unit="ms", utc=True),
        "window_end": pd.to_datetime(index["ws"].to_numpy(np.int64) + size, unit="ms", utc=True),
        "feature_view": view.name, "feature_set_version": view.feature_set_version,
    }
    for sensor, aggs in view.aggregations.items():
        for agg_name in aggs:
            agg = AGGREGATIONS[agg_name]
            value = np.broadcast_to(evaluate(agg.expr, lambda ref, s=sensor: partial(s, ref)), (n_rows,))
            out[f"{sensor}__{agg_name}"] = value.astype(np.int64) if agg.dtype == "bigint" else value.astype(float)
    for cross in view.cross_features:
        func, left, right = cross.parse()
        value = evaluate(CROSS_FUNCTIONS[func][0](Ref(left), Ref(right)), lambda c: np.asarray(out[c], float))
        out[cross.name] = np.broadcast_to(value, (n_rows,)).astype(float)
    return pd.DataFrame(out, columns=view.output_columns)


def watermark_passages(slice_end_s: np.ndarray, slice_max_event_ms: np.ndarray, window_ends_ms: np.ndarray,
                       lateness_ms: int, floor_ms: np.ndarray | None = None) -> np.ndarray:
    """When each window could close: the end time of the first slice after which every partition's
    latest event time minus ``lateness_ms`` has reached the window's last millisecond (NaN: never).

    ``slice_max_event_ms[j, p]``: the latest event time produced to partition p in slice j
    (-inf if none); ``floor_ms[p]``: the latest one before the first slice. A window [s, e) closes
    when the watermark reaches e - 1 (Flink fires a window at its max timestamp).
    """
    running = np.maximum.accumulate(np.asarray(slice_max_event_ms, dtype=float), axis=0)
    if floor_ms is not None:
        running = np.maximum(running, np.asarray(floor_ms, dtype=float)[None, :])
    need = np.asarray(window_ends_ms, dtype=float) - 1 + lateness_ms
    out = np.full(len(need), np.nan)
    firsts = np.stack([np.searchsorted(running[:, p], need, side="left") for p in range(running.shape[1])], axis=1)
    last = firsts.max(axis=1)
    ok = last < len(slice_end_s)
    out[ok] = np.asarray(slice_end_s)[last[ok]]
    return out


def freshness(readable_at: dict, since: dict) -> np.ndarray:
    """Seconds from ``since[key]`` to ``readable_at[key]`` for the keys in ``since`` that became readable."""
    return np.array([readable_at[k] - t for k, t in since.items() if k in readable_at], dtype=float)


# ---- the Delta log, read after the run ----------------------------------------------------------
def log_commits(table_path: Path, after: int = -1) -> list[tuple[int, float, list[dict]]]:
    """(version, time the commit became readable, actions) of each commit after ``after``, in order."""
    log = Path(table_path) / "_delta_log"
    if not log.is_dir():
        return []
    commits = []
    for name in sorted(os.listdir(log)):
        m = re.fullmatch(r"(\d{20})\.json", name)
        if not m or int(m.group(1)) <= after:
            continue
        path = log / name
        actions = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        commits.append((int(m.group(1)), path.stat().st_mtime, actions))
    return commits


def all_written_at(table_path: Path, end_offsets: dict[str, int]) -> float | None:
    """Time of the first commit after which every app id's transaction version reached its end offset."""
    seen: dict[str, int] = {}
    latest = 0.0
    pending = {app: end for app, end in end_offsets.items() if end >= 0}
    for _, when, actions in log_commits(table_path):
        latest = max(latest, when)
        for action in actions:
            if "txn" in action:
                seen[action["txn"]["appId"]] = action["txn"]["version"]
        if all(seen.get(app, -1) >= end for app, end in pending.items()):
            return latest
    return None


class FirstReadable:
    """When each (equipment_id, window_start ms) first appeared in a feature table, from its Delta log."""

    def __init__(self, table_path: Path):
        self.path, self.version, self.at = Path(table_path), -1, {}

    def update(self) -> dict[tuple[str, int], float]:
        import pyarrow.parquet as pq

        for version, when, actions in log_commits(self.path, after=self.version):
            for action in actions:
                add = action.get("add")
                if not add or add.get("dataChange") is False:
                    continue
                table = pq.read_table(self.path / unquote(add["path"]), columns=["equipment_id", "window_start"])
                starts = table.column("window_start").cast("int64").to_numpy() // 1000   # us -> ms
                for eq, ws in zip(table.column("equipment_id").to_pylist(), starts.tolist()):
                    self.at.setdefault((eq, ws), when)
            self.version = version
        return self.at


# ---- the plain-Python consumer ------------------------------------------------------------------
class WindowAssembler:
    """The python side's state: per-partition lateness, the watermark, readings of open windows.

    ``add`` takes a parsed batch (DataFrame: partition, offset, site_id, equipment_id, sensor,
    ts_ms, value, unit, all valid but for lateness) and returns the rows that are not late; the
    watermark is the minimum over partitions of (latest event time - lateness), as in the job,
    and stays undefined until every one of ``partitions`` has sent a record (the job has an
    idle timeout instead; here no partition stays idle); ``closed_windows`` pops the readings of
    every window whose last millisecond it has passed.
    """

    def __init__(self, window_ms: int, lateness_ms: int, partitions: int = 1):
        self.window_ms, self.lateness_ms, self.partitions = window_ms, lateness_ms, partitions
        self.partition_max: dict[int, int] = {}
        self.open: list = []

    def add(self, batch):
        keep = np.ones(len(batch), dtype=bool)
        parts = batch["partition"].to_numpy()
        ts = batch["ts_ms"].to_numpy(np.int64)
        for p in np.unique(parts).tolist():
            at = np.flatnonzero(parts == p)          # offset order within the partition
            running = np.maximum.accumulate(np.concatenate([[self.partition_max.get(p, np.iinfo(np.int64).min)], ts[at]]))[1:]
            keep[at] = ts[at] > running - self.lateness_ms
            self.partition_max[p] = int(running[-1])
        kept = batch[keep]
        if len(kept):
            self.open.append(kept)
        return kept

    @property
    def watermark(self) -> int | None:
        if len(self.partition_max) < self.partitions:
            return None
        return min(self.partition_max.values()) - self.lateness_ms

    def closed_windows(self):
        import pandas as pd

        wm = self.watermark
        if wm is None or not self.open:
            return None
        pending = pd.concat(self.open, ignore_index=True) if len(self.open) > 1 else self.open[0]
        ts = pending["ts_ms"].to_numpy(np.int64)
        closed = ts - ts % self.window_ms + self.window_ms - 1 <= wm
        self.open = [pending[~closed]] if (~closed).any() else []
        return pending[closed] if closed.any() else None


def parse_records(values: list, partitions: list, offsets: list, equipment: dict, ranges: dict):
    """Parse JSON records into a DataFrame of valid readings (lateness aside); return (frame, dropped)."""
    import pandas as pd

    loads = json.loads
    docs = []
    for raw in values:
        try:
            doc = loads(raw)
        except ValueError:
            doc = None
        docs.append(doc if type(doc) is dict else {})
    cols = {k: [d.get(k) for d in docs] for k in RAW_KEYS}
    frame = pd.DataFrame({"partition": partitions, "offset": offsets, **{k: cols[k] for k in RAW_KEYS if k != "value"}})
    value = pd.to_numeric(pd.Series(cols["value"], dtype=object).where(
        [type(x) in (int, float) for x in cols["value"]]), errors="coerce")
    frame["value"] = value.astype(float)
    frame["ts_ms"] = (pd.to_datetime(frame["event_time"], format="ISO8601", errors="coerce", utc=True)
                      .astype("int64") // 1_000_000)
    when_ok = frame["event_time"].notna() & (frame["ts_ms"] != np.iinfo(np.int64).min // 1_000_000)
    eq_type = frame["equipment_id"].map(equipment)
    bounds = pd.Series(list(zip(eq_type, frame["sensor"]))).map(ranges)
    known = bounds.notna().to_numpy()
    lo = np.array([b[0] if isinstance(b, tuple) else np.nan for b in bounds], dtype=float)
    hi = np.array([b[1] if isinstance(b, tuple) else np.nan for b in bounds], dtype=float)
    filled = frame[["site_id", "equipment_id", "sensor", "event_time", "unit"]].apply(
        lambda c: c.fillna("").astype(str).str.strip() != "").all(axis=1).to_numpy()
    v = frame["value"].to_numpy(float)
    ok = filled & when_ok.to_numpy() & np.isfinite(v) & known & (v >= lo) & (v <= hi)
    return frame[ok].drop(columns=["event_time"]), int((~ok).sum())


def consume_with_python(cfg: Config, topic: str, group_id: str, status_path: Path, partitions: int,
                        batch_size: int = 20_000) -> None:
    """Run the plain-Python consumer until SIGTERM (see the module docstring for what it does and leaves out)."""
    import pyarrow as pa
    from confluent_kafka import Consumer
    from deltalake import CommitProperties, Transaction, write_deltalake

    from feature_defs.registry import load_registry
    from sensorlake.equipment import load_equipment_types
    from sensorlake.lake import delta_rs
    from sensorlake.lake.tables import silver_spec
    from sensorlake.streaming.job import equipment_registry

    view = load_registry(cfg)[VIEW]
    equipment = equipment_registry(cfg)
    ranges = {(t.name, s.name): (float(s.min), float(s.max)) for t in load_equipment_types(cfg.equipment_types_file).values()
              for s in t.sensors.values()}
    flush_s = float(cfg.get("streaming.flush_interval_s", 2))
    raw_schema = pa.schema([("site_id", pa.string()), ("equipment_id", pa.string()), ("sensor", pa.string()),
                            ("event_time", pa.timestamp("us", tz="UTC")), ("value", pa.float64()), ("unit", pa.string()),
                            ("kafka_partition", pa.int32()), ("kafka_offset", pa.int64())])
    raw_path = delta_rs.ensure_table_at(str(cfg.table_path(PYTHON_READINGS)), raw_schema)
    feature_schema = silver_spec(view).arrow_schema()
    features_path = delta_rs.ensure_table_at(str(cfg.table_path(PYTHON_FEATURES)), feature_schema)
    assembler = WindowAssembler(view.window.size_ms, view.allowed_lateness_ms, partitions)
    consumer = Consumer({"bootstrap.servers": cfg.kafka_bootstrap, "group.id": group_id,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    raw_pending, max_offset, dropped, consumed, windows_written = [], {}, 0, 0, 0
    next_flush = time.monotonic() + flush_s
    try:
        while not stop:
            messages = consumer.consume(num_messages=batch_size, timeout=0.2)
            good = [m for m in messages if m.error() is None]
            if good:
                values = [m.value() for m in good]
                parts = [m.partition() for m in good]
                offsets = [m.offset() for m in good]
                for p, o in zip(parts, offsets):
                    if o > max_offset.get(p, -1):
                        max_offset[p] = o
                frame, bad = parse_records(values, parts, offsets, equipment, ranges)
                kept = assembler.add(frame)
                dropped += bad + len(frame) - len(kept)
                consumed += len(good)
                raw_pending.append(kept)
            if time.monotonic() < next_flush:
                continue
            next_flush = time.monotonic() + flush_s
            if raw_pending and max_offset:
                import pandas as pd

                raw = pd.concat(raw_pending, ignore_index=True)
                table = pa.table({
                    "site_id": raw["site_id"].astype(str), "equipment_id": raw["equipment_id"].astype(str),
                    "sensor": raw["sensor"].astype(str),
                    "event_time": pd.to_datetime(raw["ts_ms"].to_numpy(np.int64), unit="ms", utc=True),
                    "value": raw["value"], "unit": raw["unit"].astype(str),
                    "kafka_partition": raw["partition"].astype("int32"), "kafka_offset": raw["offset"].astype("int64"),
                }, schema=raw_schema)
                txns = [Transaction(f"{PYTHON_APP}:{topic}:{p}", o) for p, o in sorted(max_offset.items())]
                write_deltalake(raw_path, table, mode="append", commit_properties=CommitProperties(app_transactions=txns))
                raw_pending = []
            closed = assembler.closed_windows()
            if closed is not None and len(closed):
                features = window_features(closed, view)
                now = dt.datetime.now(dt.timezone.utc)
                n = len(features)
                features["job_name"], features["run_id"], features["ingest_time"] = "bench-python", group_id, now
                write_deltalake(features_path, pa.Table.from_pandas(features, schema=feature_schema, preserve_index=False),
                                mode="append")
                windows_written += n
            consumer.commit(asynchronous=True)
            status_path.write_text(json.dumps({"consumed": consumed, "dropped": dropped, "windows": windows_written,
                                               "watermark": assembler.watermark, "at": time.time()}))
    finally:
        consumer.close()


# ---- the producer -------------------------------------------------------------------------------
_EVENT_TIME = re.compile(r'"event_time": "(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z"')


@dataclass
class Records:
    """Records to produce, in order: JSON line, equipment, partition, event time (ms) and whether a valid reading."""

    lines: list
    equipment: np.ndarray
    partition: np.ndarray
    event_ms: np.ndarray
    valid: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class Produced:
    """What a phase produced: when it began, the end time of each slice of ``SLICE`` records, and the records."""

    records: Records
    began: float
    slice_end: np.ndarray
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.began

    def record_time(self) -> np.ndarray:
        """Produce time of every record (the end of its slice)."""
        return self.slice_end[np.arange(len(self.records)) // SLICE]


class SimulatedStream:
    """The simulator's fleet as a stream of JSON records, continued phase after phase."""

    def __init__(self, cfg: Config, topic: str, partitions: int):
        from sensorlake.equipment import load_equipment_types
        from sensorlake.simulator.bad_records import BadRecordInjector, InjectionSettings
        from sensorlake.simulator.fleet import Fleet, FleetSettings

        self.cfg, self.topic, self.partitions = cfg, topic, partitions
        self.fleet = Fleet(load_equipment_types(cfg.equipment_types_file),
                           FleetSettings.from_config(cfg, seed=11, equipment_per_type=EQUIPMENT_PER_TYPE, start=START,
                                                     chunk_seconds=600))
        self.injector = BadRecordInjector(self.fleet, InjectionSettings(bad_rate=BAD_RATE, seed=11, allowed_lateness_s=60))
        self.keys = [eq.equipment_id.encode() for eq in self.fleet.equipment]
        self.chunk_index = 0
        self.leftover = None

    def take(self, n: int) -> Records:
        """The next ``n`` records of the stream."""
        from sensorlake.simulator.bad_records import LABEL, VALID

        parts, total = [], 0
        while total < n:
            if self.leftover is None:
                chunk = self.fleet.chunk(self.chunk_index, end_ms=self.fleet.settings.start_ms + 10**13).sorted_by_time()
                self.chunk_index += 1
                emitted = self.injector.emit(chunk)
                labels = emitted.labels
                valid = (labels == VALID) | (labels == LABEL["duplicate"]) | (labels == LABEL["out_of_order"])
                stamps = []
                for line in emitted.lines:
                    m = _EVENT_TIME.search(line)
                    stamps.append(m.group(1) if m else "NaT")
                event_ms = np.array(stamps, dtype="datetime64[ms]").astype(np.int64)
                valid &= event_ms > 0
                self.leftover = Records(emitted.lines, emitted.equipment_index, emitted.equipment_index % self.partitions,
                                        event_ms, valid)
            take = min(n - total, len(self.leftover))
            lo = self.leftover
            parts.append(Records(lo.lines[:take], lo.equipment[:take], lo.partition[:take], lo.event_ms[:take], lo.valid[:take]))
            self.leftover = None if take == len(lo) else Records(lo.lines[take:], lo.equipment[take:], lo.partition[take:],
                                                                lo.event_ms[take:], lo.valid[take:])
            total += take
        return Records(sum((p.lines for p in parts), []), np.concatenate([p.equipment for p in parts]),
                       np.concatenate([p.partition for p in parts]), np.concatenate([p.event_ms for p in parts]),
                       np.concatenate([p.valid for p in parts]))

    def take_minutes(self, minutes: float) -> Records:
        return self.take(int(self.fleet.readings_per_second * 60 * minutes))

    def produce(self, records: Records, rate: float | None = None) -> Produced:
        """Produce ``records`` (paced at ``rate`` records/s, or as fast as possible) and wait for delivery."""
        from confluent_kafka import Producer

        from sensorlake.simulator.live import producer_config

        producer = Producer(producer_config(self.cfg.kafka_bootstrap, **{"client.id": "sensorlake-bench-stream"}))
        produce, poll, topic, keys = producer.produce, producer.poll, self.topic, self.keys
        lines, eq, part = records.lines, records.equipment.tolist(), records.partition.tolist()
        n = len(lines)
        slice_end = np.zeros(-(-n // SLICE))
        began = time.time()
        for j, lo in enumerate(range(0, n, SLICE)):
            for k in range(lo, min(lo + SLICE, n)):
                try:
                    produce(topic, lines[k], keys[eq[k]], partition=part[k])
                except BufferError:                     # local queue full: let deliveries drain, then retry
                    poll(0.05)
                    produce(topic, lines[k], keys[eq[k]], partition=part[k])
            poll(0)
            now = time.time()
            slice_end[j] = now
            if rate:
                ahead = (lo + SLICE) / rate - (now - began)
                if ahead > 0:
                    time.sleep(ahead)
        remaining = producer.flush(120)
        ended = time.time()
        if remaining:
            raise RuntimeError(f"{remaining} records still undelivered to {topic} after 120 s")
        return Produced(records, began, slice_end, ended)


# ---- processes ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _private(cfg: Config, root: Path) -> Config:
    """``cfg`` with its lake, runtime folder, Kafka ports, topic and consumer group private to this run."""
    data = copy.deepcopy(cfg.data)
    data["lake"].update(root=str(root / "lake"), metastore_dir=str(root / "metastore"))
    data["runtime"].update(dir=str(root / "runtime"), jars_dir=str(cfg.jars_dir))
    data["kafka"].update(port=_free_port(), controller_port=_free_port(), bootstrap=None, topic="bench-stream",
                         partitions=PARTITIONS)
    data["streaming"].update(group_id="bench-stream-flink", views=[VIEW])
    data["flink"].update(rest_port=_free_port(), rpc_port=_free_port())
    return Config(data=data, base_dir=root)


def _register_fleet(cfg: Config, fleet) -> None:
    """bronze.equipment rows for the fleet (both sides read the equipment registry at start)."""
    import pyarrow as pa

    from sensorlake.lake import delta_rs
    from sensorlake.lake.tables import EQUIPMENT
    from sensorlake.simulator.history import equipment_table

    equipment = equipment_table(fleet)
    n, now = equipment.num_rows, dt.datetime.now(dt.timezone.utc)
    rows = pa.table({**{c: equipment.column(c) for c in equipment.column_names}, "source": ["simulator"] * n,
                     "job_name": ["bench-stream"] * n, "run_id": ["bench-stream"] * n, "ingest_time": [now] * n},
                    schema=EQUIPMENT.arrow_schema())
    delta_rs.merge_on_key(delta_rs.ensure_table(cfg, EQUIPMENT), rows, EQUIPMENT.key)


class TreeSampler:
    """Samples the process trees of the sides every 0.5 s: peak RSS and CPU seconds per process."""

    def __init__(self, roots: dict[str, int]):
        self.roots = roots
        self.cpu = {name: {} for name in roots}
        self.kind: dict[int, str] = {}
        self.peak = {name: 0 for name in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.5)

    def sample(self):
        from bench.process_tree import sample_tree

        for name, pid in self.roots.items():
            self.peak[name] = max(self.peak[name], sample_tree(pid, self.cpu[name]))
            for child in self.cpu[name]:
                if child not in self.kind:
                    self.kind[child] = _process_kind(child)

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds so far per side, and per side and kind of process (``flink/jvm``, ``flink/python``)."""
        self.sample()
        out = {name: sum(seen.values()) for name, seen in self.cpu.items()}
        for name, seen in self.cpu.items():
            for pid, cpu in seen.items():
                key = f"{name}/{self.kind.get(pid, 'python')}"
                out[key] = out.get(key, 0.0) + cpu
        return out

    def stop(self):
        self._stop.set()
        self._thread.join()


def _process_kind(pid: int) -> str:
    """``jvm`` for a Java process, else ``python``."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv0 = handle.read().split(b"\0", 1)[0]
    except OSError:
        return "python"
    return "jvm" if argv0.endswith(b"java") else "python"


def _txn_versions(path: Path, apps: list[str]) -> dict[str, int | None]:
    from deltalake import DeltaTable

    if not (path / "_delta_log").is_dir():
        return {a: None for a in apps}
    table = DeltaTable(str(path))
    return {a: table.transaction_version(a) for a in apps}


@dataclass
class Side:
    """One consumer under test: how to tell it has written offsets, and where its features land."""

    name: str
    proc: subprocess.Popen
    apps: dict[str, str]              # table path -> app id prefix of its transaction ids
    features: Path
    log: Path
    readable: FirstReadable = field(init=False)

    def __post_init__(self):
        self.readable = FirstReadable(self.features)

    def end_apps(self, topic: str, end_offsets: dict[int, int]) -> dict[Path, dict[str, int]]:
        return {Path(path): {f"{prefix}:{topic}:{p}": end for p, end in end_offsets.items()} for path, prefix in self.apps.items()}

    def written(self, topic: str, end_offsets: dict[int, int]) -> bool:
        for path, ends in self.end_apps(topic, end_offsets).items():
            versions = _txn_versions(path, list(ends))
            if not all(versions[a] is not None and versions[a] >= end for a, end in ends.items() if end >= 0):
                return False
        return True

    def written_at(self, topic: str, end_offsets: dict[int, int]) -> float | None:
        times = [all_written_at(path, ends) for path, ends in self.end_apps(topic, end_offsets).items()]
        return None if any(t is None for t in times) else max(times)

    def check_alive(self):
        if self.proc.poll() is not None:
            tail = self.log.read_text()[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"the {self.name} side stopped (exit {self.proc.returncode}); its log {self.log} ends:\n{tail}")


def _wait_written(sides: list[Side], topic: str, end_offsets: dict[int, int], timeout_s: float) -> dict[str, bool]:
    """Wait until every side has written up to ``end_offsets`` (or the timeout); which did."""
    done = {s.name: False for s in sides}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(done.values()):
        for s in sides:
            if not done[s.name]:
                s.check_alive()
                done[s.name] = s.written(topic, end_offsets)
        time.sleep(1.0)
    return done


def _topic_end_offsets(cfg: Config) -> dict[int, int]:
    from sensorlake.streaming.runner import topic_end_offsets

    return topic_end_offsets(cfg)


# ---- the phases and the figures -----------------------------------------------------------------
def _window_keys(stream: SimulatedStream, produced: Produced, lateness_ms: int, size_ms: int, floor_ms: np.ndarray):
    """Per (equipment_id, window_start ms) of the phase: produce time of its last valid reading, and when it could close."""
    rec = produced.records
    times = produced.record_time()
    ok = rec.valid
    ws = rec.event_ms[ok] - rec.event_ms[ok] % size_ms
    eq = rec.equipment[ok].astype(np.int64)
    key = eq * 10**15 + ws
    t = times[ok]
    order = np.argsort(key, kind="stable")
    key_sorted, t_sorted = key[order], t[order]
    last_of = np.r_[np.flatnonzero(np.diff(key_sorted)), len(key_sorted) - 1] if len(key_sorted) else np.array([], int)
    uniq = key_sorted[last_of]
    # the last produced reading of each key: max produce time within the key
    t_last = np.maximum.reduceat(t_sorted, np.r_[0, last_of[:-1] + 1]) if len(key_sorted) else np.array([])
    n_slices = len(produced.slice_end)
    slice_max = np.full((n_slices, stream.partitions), -np.inf)
    sl = np.arange(len(rec)) // SLICE
    has_time = rec.event_ms > 0
    np.maximum.at(slice_max, (sl[has_time], rec.partition[has_time]), rec.event_ms[has_time].astype(float))
    ws_u = uniq % 10**15
    close = watermark_passages(produced.slice_end, slice_max, ws_u + size_ms, lateness_ms, floor_ms)
    ids = [stream.fleet.equipment[i].equipment_id for i in (uniq // 10**15).tolist()]
    last = {(e, w): float(x) for e, w, x in zip(ids, ws_u.tolist(), t_last.tolist())}
    closes = {(e, w): float(x) for e, w, x in zip(ids, ws_u.tolist(), close.tolist()) if not np.isnan(x)}
    new_floor = np.maximum(floor_ms, slice_max.max(axis=0)) if n_slices else floor_ms
    return last, closes, new_floor


def _phase(name: str, stream: SimulatedStream, records: Records, sides: list[Side], sampler: TreeSampler | None,
           rate: float | None, timeout_s: float) -> dict:
    cpu0 = sampler.cpu_s() if sampler else {}
    produced = stream.produce(records, rate)
    ends = _topic_end_offsets(stream.cfg)
    print(f"{name}: produced {len(records):,} records in {produced.seconds:.1f} s "
          f"({len(records) / produced.seconds:,.0f}/s); waiting for the sides", flush=True)
    done = _wait_written(sides, stream.topic, ends, timeout_s)
    cpu1 = sampler.cpu_s() if sampler else {}
    out = {"produced": produced, "ends": ends, "rate": len(records) / produced.seconds}
    for s in sides:
        at = s.written_at(stream.topic, ends) if done[s.name] else None
        seconds = (at - produced.began) if at else float("nan")
        out[s.name] = {"written": done[s.name], "seconds": seconds, "readings_per_s": len(records) / seconds if at else 0.0,
                       "cpu_s": cpu1.get(s.name, 0.0) - cpu0.get(s.name, 0.0),
                       "jvm_cpu_s": cpu1.get(f"{s.name}/jvm", 0.0) - cpu0.get(f"{s.name}/jvm", 0.0)}
        print(f"{name}: {s.name} {'wrote everything' if at else 'DID NOT FINISH'} "
              f"{seconds:.1f} s after the first record ({out[s.name]['readings_per_s']:,.0f} readings/s, "
              f"cpu {out[s.name]['cpu_s']:.0f} s, of which JVM {out[s.name]['jvm_cpu_s']:.0f} s)", flush=True)
    return out


def paced_rate(throughputs: list[float]) -> float:
    """The paced phase's rate: SENSORLAKE_BENCH_STREAM_RATE, else PACED_FRACTION of the slower side's
    throughput (a load every side sustains, so freshness is not a growing backlog), at most the goal rate."""
    if os.environ.get(RATE_ENV):
        return float(os.environ[RATE_ENV])
    measured = [t for t in throughputs if t > 0]
    return min(GOAL_RATE, PACED_FRACTION * min(measured)) if measured else 1_000.0


def _sides_chosen() -> list[str]:
    chosen = [s.strip() for s in os.environ.get(SIDES_ENV, "flink,python").split(",") if s.strip()]
    unknown = set(chosen) - {"flink", "python"}
    if unknown or not chosen:
        raise ValueError(f"{SIDES_ENV} must list flink and/or python, got {os.environ.get(SIDES_ENV)!r}")
    return chosen


def run(cfg: Config, rows: int | None = None, keep: bool = False) -> dict:
    """Run both sides on one live stream (warm-up, ``rows`` as fast as possible, then paced); emit ``BENCH stream``."""
    from feature_defs.registry import load_registry
    from sensorlake.services import kafka
    from sensorlake.streaming.runner import start_stream_job, stop_stream_job

    rows = rows or DEFAULT_ROWS
    chosen = _sides_chosen()
    work = Path(tempfile.mkdtemp(prefix="sensorlake-bench-stream-"))
    pcfg = _private(cfg, work)
    view = load_registry(pcfg)[VIEW]
    lateness_ms, size_ms = view.allowed_lateness_ms, view.window.size_ms
    topic = pcfg.get("kafka.topic")
    procs: list[subprocess.Popen] = []
    sampler = None
    kafka_started = False
    try:
        began = time.monotonic()
        kafka.start(pcfg)
        kafka_started = True
        kafka.ensure_topic(pcfg, topic, PARTITIONS)
        stream = SimulatedStream(pcfg, topic, PARTITIONS)
        _register_fleet(pcfg, stream.fleet)
        print(f"kafka up, fleet of {len(stream.fleet.equipment)} machines registered in {time.monotonic() - began:.0f} s "
              f"(nominal {stream.fleet.readings_per_second:.0f} readings/s; work folder {work})", flush=True)

        sides: list[Side] = []
        if "flink" in chosen:
            log = work / "flink.log"
            proc = start_stream_job(pcfg, "bench-stream", log, extra_args=("--views", VIEW))
            procs.append(proc)
            sides.append(Side("flink", proc, {str(pcfg.table_path(t)): a for t, a in FLINK_APPS.items()},
                              pcfg.table_path(f"silver.features_{VIEW}"), log))
        if "python" in chosen:
            log = work / "python.log"
            config_file = work / "python.config.yaml"
            import yaml

            config_file.write_text(yaml.safe_dump(pcfg.data))
            with open(log, "w") as out:
                proc = subprocess.Popen([sys.executable, "-m", "bench.stream", "--consumer", "--config", str(config_file),
                                         "--topic", topic, "--group", "bench-stream-python",
                                         "--status", str(work / "python.status.json"), "--partitions", str(PARTITIONS)],
                                        cwd=Path(__file__).resolve().parents[1], stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
            procs.append(proc)
            sides.append(Side("python", proc, {str(pcfg.table_path(PYTHON_READINGS)): PYTHON_APP},
                              pcfg.table_path(PYTHON_FEATURES), log))
        sampler = TreeSampler({s.name: s.proc.pid for s in sides})

        warm = stream.take_minutes(WARMUP_MINUTES)
        started = time.monotonic()
        warm_out = _phase("warm-up", stream, warm, sides, None, None, timeout_s=420)
        if not all(warm_out[s.name]["written"] for s in sides):
            raise RuntimeError("a side did not write the warm-up records in 420 s; see the logs in " + str(work))
        startup = time.monotonic() - started
        floor = np.full(PARTITIONS, -np.inf)      # latest event time produced per partition so far
        _, _, floor = _window_keys(stream, warm_out["produced"], lateness_ms, size_ms, floor)

        fast_records = stream.take(rows)
        fast = _phase("throughput", stream, fast_records, sides, sampler, None, timeout_s=max(300, rows / 5_000))
        _, _, floor = _window_keys(stream, fast["produced"], lateness_ms, size_ms, floor)
        del fast_records

        rate = paced_rate([fast[s.name]["readings_per_s"] for s in sides])
        paced_records = stream.take(int(rate * PACED_SECONDS))
        paced = _phase("paced", stream, paced_records, sides, sampler, rate, timeout_s=max(300, PACED_SECONDS * 4))
        last, closes, _ = _window_keys(stream, paced["produced"], lateness_ms, size_ms, floor)
        # keys whose last reading and close both lie in the paced phase: their row is due
        due = {k: t for k, t in last.items() if k in closes}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(len(set(due) - set(s.readable.update())) == 0 for s in sides):
                break
            time.sleep(2)
        figures: dict = {}
        for s in sides:
            readable = s.readable.update()
            fresh = freshness(readable, due)
            close = freshness(readable, {k: closes[k] for k in due})
            figures[s.name] = {
                "readings_per_s": fast[s.name]["readings_per_s"], "paced_readings_per_s": paced[s.name]["readings_per_s"],
                "freshness_p50_s": percentile(fresh, 50), "freshness_p99_s": percentile(fresh, 99),
                "close_latency_p50_s": percentile(close, 50), "close_latency_p99_s": percentile(close, 99),
                "realtime_freshness_p99_s": lateness_ms / 1000 + percentile(close, 99),
                "cpu_us_per_reading": 1e6 * fast[s.name]["cpu_s"] / len(fast["produced"].records),
                "jvm_cpu_share": fast[s.name]["jvm_cpu_s"] / max(fast[s.name]["cpu_s"], 1e-9),
                "peak_rss_mb": sampler.peak[s.name] / 2**20, "windows_missing": len(due) - len(fresh),
            }
        scale = paced["rate"] / stream.fleet.readings_per_second
        values = {}
        for name in ("flink", "python"):
            for key in ("readings_per_s",):
                if name in figures:
                    values[f"{name}_{key}"] = figures[name][key]
        if "flink" in figures and "python" in figures:
            values["ratio"] = figures["flink"]["readings_per_s"] / max(figures["python"]["readings_per_s"], 1e-9)
        for name in ("flink", "python"):
            if name in figures:
                for key in ("freshness_p50_s", "freshness_p99_s", "close_latency_p50_s", "close_latency_p99_s",
                            "realtime_freshness_p99_s", "paced_readings_per_s", "cpu_us_per_reading", "peak_rss_mb",
                            "windows_missing"):
                    values[f"{name}_{key}"] = figures[name][key]
                if name == "flink":
                    values["flink_jvm_cpu_share"] = figures[name]["jvm_cpu_share"]
        if "flink" in figures:   # the keys DESIGN.md names for this benchmark
            values["readings_per_s"] = figures["flink"]["readings_per_s"]
            values["p50_freshness_s"] = figures["flink"]["freshness_p50_s"]
            values["p99_freshness_s"] = figures["flink"]["freshness_p99_s"]
        values.update(readings=len(fast["produced"].records), paced_readings=len(paced["produced"].records),
                      producer_readings_per_s=fast["rate"], paced_rate=paced["rate"], windows=len(due), window_s=size_ms // 1000,
                      allowed_lateness_s=lateness_ms / 1000, flush_interval_s=float(pcfg.get("streaming.flush_interval_s")),
                      time_scale=round(scale, 1), parallelism=int(pcfg.get("flink.parallelism")),
                      checkpoint_interval_s=float(pcfg.get("flink.checkpoint_interval_s")),
                      machines=len(stream.fleet.equipment), partitions=PARTITIONS, bad_rate=BAD_RATE,
                      flink_startup_s=startup if "flink" in figures else float("nan"),
                      load_avg=round(os.getloadavg()[0], 1))
        return emit("stream", **values)
    finally:
        if sampler:
            sampler.stop()
        for proc in procs:
            stop_stream_job(proc)
        if kafka_started:
            kafka.stop(pcfg)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="the plain-Python consumer of the stream benchmark (run by bench.stream.run)")
    parser.add_argument("--consumer", action="store_true", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--status", required=True, type=Path)
    parser.add_argument("--partitions", required=True, type=int)
    args = parser.parse_args(argv)
    consume_with_python(load_config(args.config), args.topic, args.group, args.status, args.partitions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
