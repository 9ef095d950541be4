"""The streaming job's real-time scoring: Flink operators around :class:`sensorlake.realtime.WindowScorer`.

``WindowScoringFunction`` is keyed by equipment: its keyed state holds the equipment's recent
windows (:class:`training.online.EquipmentHistory`) and open alerts
(:class:`sensorlake.alerts.AlertBook`), both checkpointed, so a restore resumes with the same
trailing features and the same open alerts. It emits ``(table, row)`` pairs.

``DeltaRowsWriter`` is keyed by table name: rows wait in checkpointed ListState and are MERGEd on
the table's key on a processing-time timer (the last row per key wins). A replay after a failure
rewrites the same keys (prediction: equipment, window, model; alert: its id), so nothing doubles.

Example (in the job)::

    scored = features.key_by(lambda r: r[eq]).process(WindowScoringFunction(cfg.data, base, tasks, names, columns), ...)
    scored.key_by(lambda r: r[0]).process(DeltaRowsWriter(cfg.data, base, run_id, flush_ms), ...)
"""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pyarrow as pa
from pyflink.datastream.functions import KeyedProcessFunction

from sensorlake.config import Config
from sensorlake.lake import delta_rs
from sensorlake.lake.tables import GOLD_ALERTS, GOLD_PREDICTIONS
from sensorlake.streaming.writers import as_utc

END_OF_INPUT = 2**63 - 2   # an event-time timer here fires only on the final watermark of a bounded input
TABLES = {GOLD_PREDICTIONS.name: GOLD_PREDICTIONS, GOLD_ALERTS.name: GOLD_ALERTS}


def criticality_by_equipment(cfg: Config) -> dict[str, str]:
    """equipment_id -> its type's criticality, for the equipment bronze.equipment knows."""
    from sensorlake.equipment import load_equipment_types
    from sensorlake.streaming.job import equipment_registry

    types = load_equipment_types(cfg.equipment_types_file)
    return {eq: types[t].criticality for eq, t in equipment_registry(cfg).items() if t in types}


class WindowScoringFunction(KeyedProcessFunction):
    """Feature rows of one view, keyed by equipment -> ("gold.predictions" | "gold.alerts", row dict)."""

    def __init__(self, cfg_data: dict, base_dir: str, tasks: list[str], field_names: list[str], view_columns: list[str]):
        self.cfg_data, self.base_dir, self.tasks = cfg_data, base_dir, list(tasks)
        self.field_names, self.view_columns = list(field_names), list(view_columns)

    def open(self, runtime_context):
        from pyflink.common import Types
        from pyflink.datastream.state import ValueStateDescriptor

        from sensorlake.realtime import WindowScorer, quick_failing_mlflow_requests

        quick_failing_mlflow_requests()
        cfg = Config(self.cfg_data, base_dir=Path(self.base_dir))
        self.scorer = WindowScorer(cfg, self.tasks, self.view_columns)
        self.criticality = criticality_by_equipment(cfg)
        self.history = runtime_context.get_state(ValueStateDescriptor("window_history", Types.PICKLED_BYTE_ARRAY()))
        self.book = runtime_context.get_state(ValueStateDescriptor("alert_book", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, row, ctx):
        from sensorlake.alerts import AlertBook

        values = dict(zip(self.field_names, tuple(row)))
        equipment_id, window_end = values["equipment_id"], as_utc(values["window_end"])
        history = self.history.value() or self.scorer.new_history()
        inputs = history.add(window_end, values)
        self.history.update(history)
        book = self.book.value() or AlertBook(self.scorer.policy)
        predictions, alerts = self.scorer.score(equipment_id, window_end, inputs, book,
                                                self.criticality.get(equipment_id))
        self.book.update(book)
        for prediction in predictions:
            yield GOLD_PREDICTIONS.name, prediction
        for alert in alerts:
            yield GOLD_ALERTS.name, alert


class DeltaRowsWriter(KeyedProcessFunction):
    """(table, row dict) keyed by table -> MERGE on the table's key every ``flush_ms`` (see module doc)."""

    def __init__(self, cfg_data: dict, base_dir: str, run_id: str, flush_ms: int, job_name: str = "stream-score"):
        self.cfg_data, self.base_dir, self.run_id, self.flush_ms, self.job_name = cfg_data, base_dir, run_id, flush_ms, job_name

    def open(self, runtime_context):
        from pyflink.common import Types
        from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

        cfg = Config(self.cfg_data, base_dir=Path(self.base_dir))
        self.tables = {name: delta_rs.OpenTable(delta_rs.ensure_table(cfg, spec)) for name, spec in TABLES.items()}
        self.buffer = runtime_context.get_list_state(ListStateDescriptor("rows", Types.PICKLED_BYTE_ARRAY()))
        self.timer_set = runtime_context.get_state(ValueStateDescriptor("timer_set", Types.BOOLEAN()))

    def process_element(self, item, ctx):
        self.buffer.add(item[1])
        if not self.timer_set.value():
            ctx.timer_service().register_processing_time_timer(ctx.timer_service().current_processing_time() + self.flush_ms)
            # also at the end of a bounded input (its final watermark), when processing-time timers no longer fire
            ctx.timer_service().register_event_time_timer(END_OF_INPUT)
            self.timer_set.update(True)
        yield from ()

    def on_timer(self, timestamp, ctx):
        table = ctx.get_current_key()
        rows = list(self.buffer.get() or [])
        self.timer_set.clear()
        if not rows:
            return
        spec = TABLES[table]
        latest = {tuple(r[k] for k in spec.key): r for r in rows}   # the last row of each key wins
        delta_rs.merge_on_key(self.tables[table], self._arrow(spec, list(latest.values())), spec.key)
        self.buffer.clear()
        yield table, len(latest), time.time()

    def _arrow(self, spec, rows: list[dict]) -> pa.Table:
        now = dt.datetime.now(dt.timezone.utc)
        lineage = {"job_name": self.job_name, "run_id": self.run_id, "ingest_time": now}
        columns = {name: [as_utc(r.get(name, lineage.get(name))) for r in rows] for name in spec.column_names}
        return pa.table(columns, schema=spec.arrow_schema())


__all__ = ["DeltaRowsWriter", "TABLES", "WindowScoringFunction", "criticality_by_equipment"]
