"""Suites of the bronze tables and of quarantine.readings.

Physical ranges and install dates come from the same declarations the stream and the ingest
use: the equipment types file (``equipment_types.yaml``) for each sensor's [min, max], joined to
each reading through bronze.equipment (equipment_id -> equipment_type, install_date).

"Ordered" events: a table has no row order, so bronze.events promises instead that the events
of one equipment form a sequence: one row per (equipment_id, event_time, event_type), and never
two event types at the same instant of one equipment (a failure and a maintenance at the very
same time would make point-in-time labels ambiguous). Times must also lie between the
equipment's install date and now.

Example::

    suite = readings_suite(cfg)
    [c.name for c in suite.checks][:3]   # ['site_id_not_null', 'equipment_id_not_null', 'sensor_not_null']
"""
from __future__ import annotations

from sensorlake.config import Config
from sensorlake.equipment import CRITICALITIES, load_equipment_types
from sensorlake.lake.tables import EQUIPMENT, EVENT_TYPES, EVENTS, QUARANTINE, READINGS

from expectations.checks import CRITICAL, WARNING, Check, TableSuite, key_unique, not_null

QUARANTINE_STAGES = ("ingest", "stream", "validate")


def _sql_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _equipment_context(spark, cfg: Config):
    """(equipment_id, _equipment_type, _install_date) of the current bronze.equipment (empty if absent)."""
    from pyspark.sql import functions as F

    from expectations.increments import read_table

    eq = read_table(spark, cfg, EQUIPMENT.name)
    if eq is None:
        return spark.createDataFrame([], "equipment_id string, _equipment_type string, _install_date date")
    return eq.select("equipment_id", F.col("equipment_type").alias("_equipment_type"),
                     F.col("install_date").alias("_install_date")).dropDuplicates(["equipment_id"])


def sensor_ranges_df(spark, cfg: Config):
    """(_range_type, _range_sensor, _range_min, _range_max) declared in the equipment types file."""
    types = load_equipment_types(cfg.equipment_types_file)
    rows = [(t, s.name, s.min, s.max) for t, eq in types.items() for s in eq.sensors.values()]
    return spark.createDataFrame(rows, "_range_type string, _range_sensor string, _range_min double, _range_max double")


def _prepare_readings(spark, cfg: Config, rows, scope):
    from pyspark.sql import functions as F

    ranges = sensor_ranges_df(spark, cfg)
    with_type = rows.join(F.broadcast(_equipment_context(spark, cfg)), "equipment_id", "left")
    return with_type.join(
        F.broadcast(ranges),
        (F.col("_equipment_type") == F.col("_range_type")) & (F.col("sensor") == F.col("_range_sensor")), "left")


def _time_checks(cfg: Config, what: str) -> tuple[Check, ...]:
    tol = f"{cfg.future_tolerance_s:g}"
    return (
        Check("event_time_not_in_future", CRITICAL,
              f"the {what}'s event_time is not later than the validation time (+{tol} s of clock skew)",
              fail_when=f"event_time > _now + INTERVAL {tol} SECONDS"),
        Check("event_time_after_install", CRITICAL,
              f"the {what}'s event_time is not before the equipment's install_date (bronze.equipment)",
              fail_when="event_time < CAST(_install_date AS TIMESTAMP)"),
    )


def readings_suite(cfg: Config) -> TableSuite:
    """bronze.readings: schema, non-null keys, physical ranges per equipment type, time bounds, unique key."""
    return TableSuite(
        table=READINGS.name, key=READINGS.key, columns=READINGS.columns, unique_key=READINGS.key,
        prepare=_prepare_readings,
        notes="One sensor reading per row. Ranges: equipment_types.yaml, joined through bronze.equipment.",
        checks=(
            *(not_null(k) for k in READINGS.key),
            Check("value_is_a_number", CRITICAL, "value is present and not NaN", fail_when="value IS NULL OR isnan(value)"),
            Check("equipment_known", CRITICAL, "equipment_id is in bronze.equipment (which gives its type and install date)",
                  fail_when="equipment_id IS NOT NULL AND _equipment_type IS NULL"),
            Check("sensor_range_declared", WARNING,
                  "the equipment types file declares this sensor for the equipment's type (else its range is not checked)",
                  fail_when="_equipment_type IS NOT NULL AND sensor IS NOT NULL AND _range_min IS NULL"),
            Check("value_within_physical_range", CRITICAL,
                  "value lies in the sensor's physical [min, max] declared for the equipment type (equipment_types.yaml)",
                  fail_when="value < _range_min OR value > _range_max"),
            *_time_checks(cfg, "reading"),
            Check("event_date_matches_event_time", CRITICAL, "the partition column event_date is the date of event_time",
                  fail_when="event_date IS NULL OR event_date <> to_date(event_time)"),
            key_unique(READINGS.key),
        ),
    )


def _prepare_events(spark, cfg: Config, rows, scope):
    from pyspark.sql import functions as F

    conflicts = (scope.groupBy("equipment_id", "event_time")
                 .agg(F.countDistinct("event_type").alias("_types_at_time"))
                 .where("_types_at_time > 1"))
    with_type = rows.join(F.broadcast(_equipment_context(spark, cfg)), "equipment_id", "left")
    return with_type.join(conflicts, ["equipment_id", "event_time"], "left")


def events_suite(cfg: Config) -> TableSuite:
    """bronze.events: known event types, failure_mode on failures, events of one equipment in sequence."""
    return TableSuite(
        table=EVENTS.name, key=EVENTS.key, columns=EVENTS.columns, unique_key=EVENTS.key, prepare=_prepare_events,
        notes=("Events of one equipment form a sequence: one row per (equipment_id, event_time, event_type) and "
               "never two event types at the same instant."),
        checks=(
            *(not_null(k) for k in ("event_id",) + EVENTS.key),
            Check("event_type_known", CRITICAL, f"event_type is one of {', '.join(EVENT_TYPES)}",
                  fail_when=f"event_type NOT IN ({_sql_list(EVENT_TYPES)})"),
            Check("failure_has_mode", CRITICAL, "a failure names its failure_mode",
                  fail_when="event_type = 'failure' AND (failure_mode IS NULL OR trim(failure_mode) = '')"),
            Check("one_event_type_per_instant", CRITICAL,
                  "no two event types of one equipment at the same event_time (events are in sequence)",
                  fail_when="_types_at_time > 1"),
            Check("equipment_known", WARNING, "equipment_id is in bronze.equipment",
                  fail_when="equipment_id IS NOT NULL AND _equipment_type IS NULL"),
            *_time_checks(cfg, "event"),
            key_unique(EVENTS.key),
        ),
    )


def _prepare_equipment(spark, cfg: Config, rows, scope):
    return rows


def equipment_suite(cfg: Config) -> TableSuite:
    """bronze.equipment: one row per asset, a type, an install date not in the future."""
    declared = sorted(load_equipment_types(cfg.equipment_types_file))
    return TableSuite(
        table=EQUIPMENT.name, key=EQUIPMENT.key, columns=EQUIPMENT.columns, unique_key=EQUIPMENT.key,
        prepare=_prepare_equipment,
        checks=(
            not_null("equipment_id"),
            not_null("equipment_type"),
            not_null("site_id", WARNING),
            Check("equipment_type_declared", WARNING,
                  "equipment_type is declared in the equipment types file (else its sensors' ranges are unknown)",
                  fail_when=f"equipment_type NOT IN ({_sql_list(declared)})"),
            Check("criticality_known", WARNING, f"criticality is one of {', '.join(CRITICALITIES)}",
                  fail_when=f"criticality NOT IN ({_sql_list(CRITICALITIES)})"),
            Check("install_date_not_in_future", CRITICAL, "install_date is not after the validation date",
                  fail_when="install_date > to_date(_now)"),
            key_unique(EQUIPMENT.key),
        ),
    )


def quarantine_suite(cfg: Config) -> TableSuite:
    """quarantine.readings: every rejected input keeps its payload, reason, stage and time."""
    return TableSuite(
        table=QUARANTINE.name, key=QUARANTINE.key, columns=QUARANTINE.columns, unique_key=QUARANTINE.key,
        quarantine_rows=False,
        notes="Failing rows of this table are reported, never copied into the table itself.",
        checks=(
            *(not_null(c) for c in ("ingest_id", "raw_payload", "reason", "stage", "rejected_at")),
            Check("stage_known", WARNING, f"stage is one of {', '.join(QUARANTINE_STAGES)}",
                  fail_when=f"stage NOT IN ({_sql_list(QUARANTINE_STAGES)})"),
            key_unique(QUARANTINE.key),
        ),
    )
