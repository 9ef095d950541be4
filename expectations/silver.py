"""Suite of the feature tables silver.features_<view> (wide: one column per ``<sensor>__<aggregation>``).

The suite is built from the table's own columns, so it follows a view's declaration without
a copy of it: key columns (equipment_id, window_start, window_end, feature_set_version), then
every ``<sensor>__<aggregation>`` column is a feature. Per feature: null rate under
``quality.feature_null_rate_max``. Per sensor, where the aggregations exist: ``count`` no higher
than the sensor's sampling rate allows over the window (critical: more readings than the
sensor produces means duplicates) and not far below it (warning: gaps), ``std`` >= 0,
``min <= mean <= max``. Streaming tables (``quality.streaming_tables``) also check freshness:
the latest window_end no older than ``quality.freshness_max_s``.

Example::

    suite = features_suite(cfg, "silver.features_vibration_1m", df.schema)
    suite.checks_by_name["vibration__std_non_negative"].fail_when   # 'vibration__std < 0'
"""
from __future__ import annotations

from collections import defaultdict

from sensorlake.config import Config
from sensorlake.equipment import load_equipment_types
from sensorlake.lake.tables import LINEAGE

from expectations.checks import CRITICAL, WARNING, Check, TableSuite, key_unique, not_null

FEATURE_KEY = ("equipment_id", "window_start", "window_end", "feature_set_version")
KEY_TYPES = (("equipment_id", "string"), ("window_start", "timestamp"), ("window_end", "timestamp"),
             ("feature_set_version", None))
FEATURE_SEPARATOR = "__"
_WINDOW_S = "(unix_seconds(window_end) - unix_seconds(window_start))"


def feature_columns(columns) -> list[str]:
    """Columns named ``<sensor>__<aggregation>`` (keys and lineage excluded), in table order."""
    skip = set(FEATURE_KEY) | {c for c, _ in LINEAGE}
    return [c for c in columns if c not in skip and FEATURE_SEPARATOR in c.strip("_")]


def _sensor_rates(cfg: Config) -> dict[str, tuple[float, float]]:
    """(lowest, highest) declared sampling rate of each sensor name across equipment types."""
    rates: dict[str, tuple[float, float]] = {}
    for eq_type in load_equipment_types(cfg.equipment_types_file).values():
        for s in eq_type.sensors.values():
            lo, hi = rates.get(s.name, (s.rate_hz, s.rate_hz))
            rates[s.name] = (min(lo, s.rate_hz), max(hi, s.rate_hz))
    return rates


def _sensor_checks(cfg: Config, sensor: str, aggs: set[str]) -> list[Check]:
    checks = []
    rates = _sensor_rates(cfg).get(sensor)
    if "count" in aggs and rates:
        factor = float(cfg.get("quality.window_count_max_factor", 1.1))
        low = float(cfg.get("quality.window_count_min_fraction", 0.5))
        checks.append(Check(
            f"{sensor}__count_within_sampling_rate", CRITICAL,
            f"{sensor}__count is at most rate_hz ({rates[1]:g}) x window seconds x {factor:g} + 1 (more means duplicates)",
            fail_when=f"{sensor}__count > {rates[1]!r} * {_WINDOW_S} * {factor!r} + 1"))
        checks.append(Check(
            f"{sensor}__count_plausible", WARNING,
            f"{sensor}__count is at least {low:g} x rate_hz ({rates[0]:g}) x window seconds (fewer means gaps)",
            fail_when=f"{sensor}__count < {rates[0]!r} * {_WINDOW_S} * {low!r}"))
    if "std" in aggs:
        checks.append(Check(f"{sensor}__std_non_negative", CRITICAL, f"{sensor}__std >= 0",
                            fail_when=f"{sensor}__std < 0"))
    if {"min", "mean", "max"} <= aggs:
        m, lo, hi = (f"{sensor}__{a}" for a in ("mean", "min", "max"))
        tol = f"1e-9 * greatest(1.0, abs({m}))"
        checks.append(Check(f"{sensor}__min_le_mean_le_max", CRITICAL, f"{lo} <= {m} <= {hi} (1e-9 relative tolerance)",
                            fail_when=f"{lo} > {hi} OR {m} < {lo} - {tol} OR {m} > {hi} + {tol}"))
    return checks


def features_suite(cfg: Config, table: str, schema) -> TableSuite:
    """The suite of one feature view table, derived from its schema (a Spark StructType)."""
    features = feature_columns(schema.fieldNames())
    by_sensor: dict[str, set[str]] = defaultdict(set)
    for f in features:
        sensor, _, agg = f.partition(FEATURE_SEPARATOR)
        by_sensor[sensor].add(agg)
    null_max = float(cfg.get("quality.feature_null_rate_max", 0.1))
    checks = [not_null(k) for k in FEATURE_KEY]
    checks.append(Check("window_end_after_start", CRITICAL, "window_end is later than window_start",
                        fail_when="window_end <= window_start"))
    checks.append(key_unique(FEATURE_KEY))
    for f in features:
        # Over the windows where the sensor has readings: in a mixed fleet a fan has no pressure
        # sensor, and its pressure features are NULL by design, not missing.
        count = f"{f.partition(FEATURE_SEPARATOR)[0]}{FEATURE_SEPARATOR}count"
        is_null = f"CASE WHEN {f} IS NULL OR isnan(CAST({f} AS DOUBLE)) THEN 1.0 ELSE 0.0 END"
        share = f"CASE WHEN {count} > 0 THEN {is_null} END" if count in features and f != count else is_null
        checks.append(Check(
            f"{f}_null_rate", CRITICAL,
            f"share of NULL or NaN {f} is at most {null_max:g}"
            + (f" (windows where {count} > 0)" if share != is_null else ""),
            metric=f"coalesce(avg({share}), 0.0)", max_value=null_max))
    for sensor in sorted(by_sensor):
        checks.extend(_sensor_checks(cfg, sensor, by_sensor[sensor]))
    if table in (cfg.get("quality.streaming_tables") or []):
        max_age = float(cfg.get("quality.freshness_max_s", 900))
        checks.append(Check(
            "latest_window_end_age_s", WARNING,
            f"the latest window_end is at most {max_age:g} s old (a streaming table; no rows counts as stale)",
            metric="CAST(coalesce(unix_seconds(max(_now)) - unix_seconds(max(window_end)), 1e18) AS DOUBLE)",
            max_value=max_age))
    return TableSuite(
        table=table, key=FEATURE_KEY, checks=tuple(checks), unique_key=FEATURE_KEY, exact_schema=False,
        columns=KEY_TYPES + tuple((f, "numeric") for f in features),
        notes=f"{len(features)} features of {len(by_sensor)} sensors, columns <sensor>__<aggregation>.",
    )
