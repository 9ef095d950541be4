"""Turn a source DataFrame into narrow readings, split into valid rows and rejected rows with a reason.

Reasons, first match wins: ``malformed_json``, ``missing_key``, ``bad_timestamp``,
``future_timestamp`` (more than ``quality.future_tolerance_s`` ahead of the ingest clock: a device
clock set wrong), ``bad_value``, ``nan_value``, ``unknown_equipment``, ``unknown_sensor``,
``out_of_range``; then, among valid
rows sharing a key (site, equipment, sensor, event_time), every row whose value differs from
the first one's is ``conflicting_duplicate`` (exact repeats are plain duplicates, kept once).
The streaming job uses the same names.

Example::

    raw = read_source(spark, ["history/readings"], NARROW_PARQUET)
    narrow = to_narrow(raw, mapping)
    valid, rejected = split_valid(narrow, sensor_ranges_df)
"""
from __future__ import annotations

from dataclasses import dataclass

from sensorlake.ingest.mapping import IngestMapping

# Every reading names its unit: a value without one is ambiguous (degC or degF?).
REQUIRED_KEYS = ("site_id", "equipment_id", "sensor", "event_time", "value", "unit")
JSON_READING_SCHEMA = "site_id string, equipment_id string, sensor string, event_time string, value double, unit string"
# Strict JSON, as the stream parses it: Spark would otherwise accept 'single-quoted' strings.
# NaN stays readable so that it is rejected as nan_value, not as malformed.
JSON_OPTIONS = {"allowSingleQuotes": "false", "allowNonNumericNumbers": "true"}


@dataclass
class SplitReadings:
    """Valid narrow readings and rejected ones (with ``reason`` and ``raw_payload``)."""

    valid: object
    rejected: object


def _F():
    from pyspark.sql import functions as F

    return F


def read_source(spark, paths: list[str], mapping: IngestMapping):
    """Read files as the mapping says; adds ``_source`` (file name) and ``_raw`` (the row as received)."""
    F = _F()
    if mapping.format == "jsonl":
        # Records end at "\n" only (a trailing "\r" of CRLF files is dropped): Spark's default also
        # splits at a bare "\r", which turned one malformed line into two records.
        df = spark.read.option("lineSep", "\n").text(paths).select(F.regexp_replace("value", "\r$", "").alias("_raw"))
    elif mapping.format == "csv":
        # Every column as text: a bad cell is rejected with its raw value, never silently null.
        df = spark.read.option("header", True).option("inferSchema", False).option("mode", "PERMISSIVE").csv(paths)
        df = df.toDF(*[c.lstrip("\ufeff") for c in df.columns])
        df = df.withColumn("_raw", F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])))
    else:
        df = spark.read.parquet(*paths)
        df = df.withColumn("_raw", F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])))
    return df.withColumn("_source", F.element_at(F.split(F.input_file_name(), "/"), -1))


def _parsed_narrow(df, mapping: IngestMapping):
    """Narrow rows with text keys plus ``_ts``/``_value`` parsed, and ``_malformed`` for JSON lines."""
    F = _F()
    if mapping.format == "jsonl":
        as_map = F.from_json("_raw", "map<string,string>", JSON_OPTIONS)
        typed = F.from_json("_raw", JSON_READING_SCHEMA, JSON_OPTIONS)
        df = df.select("_raw", "_source", as_map.alias("_m"), typed.alias("_t"))
        out = df.select(
            "_raw", "_source", F.col("_m").isNull().alias("_malformed"),
            *[F.col("_m")[k].alias(k) for k in ("site_id", "equipment_id", "sensor", "event_time", "unit")],
            F.col("_m")["value"].alias("_value_text"), F.col("_t.value").alias("_value"),
        )
        return out.withColumn("_ts", F.expr("try_to_timestamp(event_time)"))
    types = dict(df.dtypes)
    ts = F.col("event_time") if types.get("event_time", "").startswith("timestamp") else F.expr("try_to_timestamp(cast(event_time as string))")
    unit = F.col("unit").cast("string") if "unit" in types else F.lit(None).cast("string")
    return df.select(
        "_raw", "_source", F.lit(False).alias("_malformed"),
        *[F.col(k).cast("string").alias(k) for k in ("site_id", "equipment_id", "sensor")],
        F.col("event_time").cast("string").alias("event_time"), unit.alias("unit"),
        F.col("value").cast("string").alias("_value_text"), F.expr("try_cast(value as double)").alias("_value"), ts.alias("_ts"),
    )


def _parsed_wide(df, mapping: IngestMapping):
    """Unpivot a wide frame (one column per sensor) to narrow rows with parsed time and value."""
    F = _F()
    eq, tm = mapping.equipment, mapping.time
    equipment = F.lit(eq.id) if eq.id else F.col(f"`{eq.column}`").cast("string")
    if tm.column:
        text = F.col(f"`{tm.column}`").cast("string")
        ts = F.expr(f"try_to_timestamp(`{tm.column}`, '{tm.format}')") if tm.format else F.expr(f"try_to_timestamp(`{tm.column}`)")
        time_text = text
    else:
        ordinal = F.expr(f"try_cast(`{tm.ordinal_column}` as double)")
        start = F.unix_micros(F.to_timestamp(F.lit(tm.start)))
        ts = F.timestamp_micros((start + ordinal * F.lit(tm.seconds_per_step * 1e6)).cast("long"))
        time_text = F.col(f"`{tm.ordinal_column}`").cast("string")
    stack = F.explode(F.array(*[
        F.struct(F.lit(s.name).alias("sensor"), F.lit(s.unit).cast("string").alias("unit"),
                 F.col(f"`{s.column}`").cast("string").alias("_value_text"))
        for s in mapping.sensors
    ])).alias("_r")
    narrow = df.select("_raw", "_source", equipment.alias("equipment_id"), time_text.alias("event_time"), ts.alias("_ts"), stack)
    return narrow.select(
        "_raw", "_source", F.lit(False).alias("_malformed"), F.lit(mapping.site_id).cast("string").alias("site_id"),
        "equipment_id", "_r.sensor", "event_time", "_r.unit", "_r._value_text",
        F.expr("try_cast(_r._value_text as double)").alias("_value"), "_ts",
    )


def to_narrow(df, mapping: IngestMapping):
    """Narrow readings with text keys, parsed ``_ts`` and ``_value``, ``_raw`` and ``_source``."""
    return _parsed_wide(df, mapping) if mapping.layout == "wide" else _parsed_narrow(df, mapping)


def _reason(future_tolerance_s: float):
    F = _F()
    missing = None
    for k in [k for k in REQUIRED_KEYS if k != "value"]:
        cond = F.col(k).isNull() | (F.trim(F.col(k)) == "")
        missing = cond if missing is None else missing | cond
    missing = missing | F.col("_value_text").isNull()
    return (
        F.when(F.col("_malformed"), "malformed_json")
        .when(missing, "missing_key")
        .when(F.col("_ts").isNull(), "bad_timestamp")
        .when(F.col("_ts") > F.current_timestamp() + F.expr(f"INTERVAL {float(future_tolerance_s):g} SECONDS"),
              "future_timestamp")
        .when(F.col("_value").isNull(), "bad_value")
        .when(F.isnan("_value"), "nan_value")
        .when(F.col("_known_equipment").isNull(), "unknown_equipment")
        .when(F.col("_known_sensor").isNull(), "unknown_sensor")
        .when((F.col("_min").isNotNull() & (F.col("_value") < F.col("_min"))) | (F.col("_max").isNotNull() & (F.col("_value") > F.col("_max"))), "out_of_range")
    )


def split_valid(narrow, equipment_types_df, sensor_ranges_df, future_tolerance_s: float = 300):
    """Check each reading against its equipment, the declared sensor ranges and the clock.

    ``equipment_types_df``: (equipment_id, equipment_type) of every known asset.
    ``sensor_ranges_df``: (equipment_type, sensor, min, max) of every declared sensor; null
    min/max means the sensor is known but has no declared range.
    """
    F = _F()
    known = equipment_types_df.select("equipment_id", F.col("equipment_type").alias("_known_equipment"))
    ranges = sensor_ranges_df.select(
        F.col("equipment_type").alias("_range_type"), F.col("sensor").alias("_range_sensor"),
        F.lit(True).alias("_known_sensor"), F.col("min").alias("_min"), F.col("max").alias("_max"),
    )
    checked = narrow.join(F.broadcast(known), "equipment_id", "left").join(
        F.broadcast(ranges),
        (F.col("_known_equipment") == F.col("_range_type")) & (F.col("sensor") == F.col("_range_sensor")),
        "left",
    )
    checked = _flag_conflicting_duplicates(checked.withColumn("reason", _reason(future_tolerance_s)))
    valid = checked.where(F.col("reason").isNull())
    rejected = checked.where(F.col("reason").isNotNull())
    return SplitReadings(valid, rejected)


def _flag_conflicting_duplicates(checked):
    """Mark valid rows that repeat a key with another value; the first (by source, raw) stays valid."""
    from pyspark.sql import Window

    F = _F()
    key = ["site_id", "equipment_id", "sensor", "_ts"]
    first_value = F.first("_value").over(Window.partitionBy(*key).orderBy("_source", "_raw"))
    conflict = F.col("reason").isNull() & (F.col("_value") != first_value)
    return checked.withColumn("reason", F.when(conflict, F.lit("conflicting_duplicate")).otherwise(F.col("reason")))
