"""Compile a feature view to the Flink SQL query the streaming job runs.

Required source table (narrow readings, one value per row)::

    site_id       STRING
    equipment_id  STRING
    sensor        STRING
    event_time    TIMESTAMP_LTZ(3) or TIMESTAMP(3), the rowtime attribute:
                  WATERMARK FOR event_time AS event_time - INTERVAL '<allowed_lateness>' SECOND
    `value`       DOUBLE           (validated upstream: no NaN; NULL rows are ignored)
    equipment_type STRING          (only for views with an equipment_types filter)

and ``table.local-time-zone = UTC`` (window_start/window_end are then UTC wall-clock
``TIMESTAMP(3)``). :func:`source_ddl` writes such a table for any connector.

The query (window TVFs and built-in aggregates only, append-only output, all state freed when a
window fires) has four stages, shown as CTEs:

1. ``readings_dedup``: window aggregate ``GROUP BY window, site_id, equipment_id, sensor,
   event_time`` with ``MAX(value)``: a duplicate reading counts once, and which copy wins does
   not depend on arrival order. (Flink's ROW_NUMBER deduplication keeps the first *arrival*,
   which makes ``last`` and every sum depend on arrival order; the windowed aggregate is
   deterministic, append-only and its state is freed with the window.)
2. ``sensor_centre``: per window and sensor, the mean (the centring shift) and the latest event time;
3. ``centred``: window join of 1 and 2, giving each reading ``d = v - mean``, ``t`` (seconds since
   window start) and ``is_last``;
4. ``partials`` -> ``features``: conditional window aggregates per sensor and the formulas of
   :mod:`feature_defs.formulas`; cross features last.

Lateness: window operators fire when the watermark passes the window end, so a reading up to
``allowed_lateness`` late still counts; a later one is dropped by the window operators (Flink
SQL drops late rows silently: the streaming job must route them to quarantine itself, e.g.
``WHERE event_time <= CURRENT_WATERMARK(event_time)`` on the source).

Example::

    sql = compile_view(registry["machine_1m"], source="readings")
    t_env.execute_sql(source_ddl(view, "readings", {"connector": "kafka", ...}))
    t_env.sql_query(sql)          # or: INSERT INTO sink <sql>
"""
from __future__ import annotations

from typing import Mapping

from feature_defs.errors import UnsupportedFeature
from feature_defs.formulas import AGGREGATIONS, CROSS_FUNCTIONS, PARTIALS, Ref, needed_partials, render_sql
from feature_defs.view import FeatureView, format_duration

ENGINE = "flink"
_ROW_TERMS = {"v": "v", "d": "d", "t": "t", "is_last": "is_last", "centre": "centre"}


def _q(identifier: str) -> str:
    return f"`{identifier}`"


def _s(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def interval(ms: int) -> str:
    """A Flink SQL interval literal of whole seconds, e.g. ``interval(600_000) == "INTERVAL '10' MINUTE"``."""
    for unit, size in (("DAY", 86_400_000), ("HOUR", 3_600_000), ("MINUTE", 60_000), ("SECOND", 1000)):
        if ms % size == 0:
            n = ms // size
            precision = f"({len(str(n))})" if n >= 100 else ""
            return f"INTERVAL '{n}' {unit}{precision}"
    raise ValueError(f"interval {ms} ms is not whole seconds")


def check_supported(view: FeatureView) -> None:
    """Raise UnsupportedFeature naming the first feature Flink SQL cannot compute."""
    missing = view.unsupported(ENGINE)
    if missing:
        raise UnsupportedFeature(
            f"{view.name}: {missing[0]} is not computable by the flink engine"
            + (f" (nor {', '.join(missing[1:])})" if len(missing) > 1 else ""),
            "compute this view with the Spark backfill (compile_spark), or remove its spectral features "
            "from a view the streaming job must run")


def _partial_sql(sensor: str, name: str) -> str:
    partial = PARTIALS[name]
    row = render_sql(partial.row_expr, _ROW_TERMS.__getitem__)
    return f"{partial.agg.upper()}(CASE WHEN sensor = {_s(sensor)} THEN {row} END) AS {_q(f'{sensor}__p_{name}')}"


def _feature_sql(sensor: str, agg_name: str) -> str:
    agg = AGGREGATIONS[agg_name]

    def column(ref: str) -> str:
        col = _q(f"{sensor}__p_{ref}")
        if PARTIALS[ref].dtype == "bigint" and agg.dtype != "bigint":
            return f"CAST({col} AS DOUBLE)"
        return col

    return f"{render_sql(agg.expr, column)} AS {_q(f'{sensor}__{agg_name}')}"


def _cross_sql(view: FeatureView) -> list[str]:
    out = []
    for cross in view.cross_features:
        func, left, right = cross.parse()
        expr = CROSS_FUNCTIONS[func][0]
        out.append(f"{render_sql(expr(Ref(left), Ref(right)), _q)} AS {_q(cross.name)}")
    return out


def compile_view(view: FeatureView, source: str = "readings") -> str:
    """The Flink SQL SELECT computing ``view`` from the readings table ``source`` (see module doc).

    Raises UnsupportedFeature for features Flink SQL cannot compute (spectral ones).

    Example::

        print(compile_view(registry["machine_10m_sliding"]))   # ... TABLE(HOP(TABLE readings, ...
    """
    check_supported(view)
    w = view.window
    if w.kind == "tumbling":
        tvf = f"TUMBLE(TABLE {source}, DESCRIPTOR(event_time), {interval(w.size_ms)})"
    else:
        tvf = f"HOP(TABLE {source}, DESCRIPTOR(event_time), {interval(w.slide_ms)}, {interval(w.size_ms)})"
    where = [f"sensor IN ({', '.join(_s(s) for s in view.sensors)})", "`value` IS NOT NULL"]
    if view.equipment_types:
        where.append(f"equipment_type IN ({', '.join(_s(t) for t in view.equipment_types)})")
    keys = "window_start, window_end, site_id, equipment_id"

    partial_cols = [_partial_sql(s, p) for s, aggs in view.aggregations.items() for p in needed_partials(aggs)]
    feature_cols = [_feature_sql(s, a) for s, aggs in view.aggregations.items() for a in aggs]
    meta = [f"{_s(view.name)} AS feature_view", f"{_s(view.feature_set_version)} AS feature_set_version"]
    final = ["equipment_id", "site_id", "window_start", "window_end", "feature_view", "feature_set_version"]
    final += [_q(c) for s, aggs in view.aggregations.items() for c in (f"{s}__{a}" for a in aggs)]
    final += _cross_sql(view)
    nl = ",\n    "
    return f"""-- feature view {view.name} v{view.version}: {view.window}, allowed lateness {format_duration(view.allowed_lateness_ms)}
-- feature_set_version {view.feature_set_version}; generated by feature_defs.compile_flink
WITH readings_dedup AS (
  -- one row per reading key and window: duplicates count once, the larger value wins
  SELECT window_start, window_end, site_id, equipment_id, sensor,
    CAST(event_time AS TIMESTAMP(3)) AS event_ts, MAX(`value`) AS v
  FROM TABLE({tvf})
  WHERE {' AND '.join(where)}
  GROUP BY window_start, window_end, site_id, equipment_id, sensor, CAST(event_time AS TIMESTAMP(3))
), sensor_centre AS (
  -- per window and sensor: the mean (centring shift of the power sums) and the latest event time
  SELECT {keys}, sensor, AVG(v) AS centre, MAX(event_ts) AS last_ts
  FROM readings_dedup
  GROUP BY {keys}, sensor
), centred AS (
  SELECT r.window_start, r.window_end, r.site_id, r.equipment_id, r.sensor, r.v, c.centre,
    r.v - c.centre AS d,
    CAST(TIMESTAMPDIFF(SECOND, r.window_start, r.event_ts) * 1000 + EXTRACT(MILLISECOND FROM r.event_ts) AS DOUBLE) / 1.0E3 AS t,
    r.event_ts = c.last_ts AS is_last
  FROM readings_dedup r
  JOIN sensor_centre c
    ON r.window_start = c.window_start AND r.window_end = c.window_end AND r.site_id = c.site_id
   AND r.equipment_id = c.equipment_id AND r.sensor = c.sensor
), partials AS (
  SELECT {keys},
    {nl.join(partial_cols)}
  FROM centred
  GROUP BY {keys}
), features AS (
  SELECT {keys},
    {nl.join(meta + feature_cols)}
  FROM partials
)
SELECT
    {nl.join(final)}
FROM features"""


def source_ddl(view: FeatureView | None, table: str = "readings", connector: Mapping[str, str] | None = None,
               event_time: str = "event_time TIMESTAMP_LTZ(3)", extra_columns: tuple[str, ...] = (),
               lateness_ms: int | None = None) -> str:
    """CREATE TABLE of a readings source with the watermark of ``view``'s allowed lateness.

    ``event_time`` may be a physical column or a computed one, e.g.
    ``"event_time AS TO_TIMESTAMP_LTZ(ts_ms, 3)"`` with ``extra_columns=("ts_ms BIGINT",)``.

    Example::

        source_ddl(view, "readings", {"connector": "filesystem", "path": "/data/r.csv", "format": "csv"})
    """
    lateness = view.allowed_lateness_ms if lateness_ms is None else lateness_ms
    columns = ["site_id STRING", "equipment_id STRING", "sensor STRING", *extra_columns, event_time, "`value` DOUBLE"]
    if view is not None and view.equipment_types:
        columns.append("equipment_type STRING")
    options = ",\n  ".join(f"{_s(k)} = {_s(str(v))}" for k, v in (connector or {"connector": "datagen"}).items())
    watermark = f"event_time - {interval(lateness)}" if lateness else "event_time"
    return (f"CREATE TEMPORARY TABLE {table} (\n  " + ",\n  ".join(columns)
            + f",\n  WATERMARK FOR event_time AS {watermark}\n) WITH (\n  {options}\n)")


def describe(view: FeatureView, source: str = "readings") -> str:
    """Printable text: the Flink SQL of ``view`` (raises UnsupportedFeature like compile_view)."""
    return compile_view(view, source)
