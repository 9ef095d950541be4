"""Table contracts: one schema per table, usable from Spark and from delta-rs (pyarrow).

Every table is a path-based Delta table at ``<lake.root>/<layer>/<name>`` and is created with
a protocol both Spark (delta-spark) and delta-rs can write: reader 1 / writer 2, no table
features. Every column is nullable at the storage level; the quality suites enforce non-null
keys, so Spark and delta-rs never disagree on invariants.

Example::

    spec = TABLES["bronze.readings"]
    spec.key            # ('site_id', 'equipment_id', 'sensor', 'event_time')
    spec.spark_ddl()    # 'site_id STRING, equipment_id STRING, ...'
    spec.arrow_schema() # pyarrow.Schema
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# Lineage columns every table carries: which job wrote the row, in which run, and when.
LINEAGE = (("job_name", "string"), ("run_id", "string"), ("ingest_time", "timestamp"))

_ARROW_TYPES = {
    "string": pa.string(),
    "double": pa.float64(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}

# Table properties that keep a table writable by both delta-spark and delta-rs.
PORTABLE_PROPERTIES = {
    "delta.minReaderVersion": "1",
    "delta.minWriterVersion": "2",
}


@dataclass(frozen=True)
class TableSpec:
    """Name, columns (name, type), business key and partition columns of one Delta table."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    description: str = ""
    properties: tuple[tuple[str, str], ...] = ()    # table properties set when the table is created

    @property
    def table_properties(self) -> dict[str, str]:
        """Every property a new table gets: the portable protocol and the spec's own."""
        return {**PORTABLE_PROPERTIES, **dict(self.properties)}

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def spark_ddl(self) -> str:
        return ", ".join(f"{c} {t.upper()}" for c, t in self.columns)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c, _ARROW_TYPES[t]) for c, t in self.columns])


def table_spec(name, columns, key, partition_by=(), description="", properties=None) -> TableSpec:
    """A TableSpec with the lineage columns appended."""
    return TableSpec(name, tuple(columns) + LINEAGE, tuple(key), tuple(partition_by), description,
                     tuple((properties or {}).items()))


READINGS = table_spec(
    "bronze.readings",
    [
        ("site_id", "string"), ("equipment_id", "string"), ("sensor", "string"),
        ("event_time", "timestamp"), ("value", "double"), ("unit", "string"),
        ("event_date", "date"), ("ingest_id", "string"), ("source", "string"),
    ],
    key=("site_id", "equipment_id", "sensor", "event_time"),
    partition_by=("event_date",),
    description="One sensor reading, narrow form (a value per row).",
)

EVENTS = table_spec(
    "bronze.events",
    [
        ("event_id", "string"), ("site_id", "string"), ("equipment_id", "string"),
        ("event_time", "timestamp"), ("event_type", "string"), ("failure_mode", "string"),
        ("notes", "string"), ("source", "string"),
    ],
    key=("equipment_id", "event_time", "event_type"),
    description="One maintenance, failure or inspection event.",
)

EQUIPMENT = table_spec(
    "bronze.equipment",
    [
        ("equipment_id", "string"), ("site_id", "string"), ("equipment_type", "string"),
        ("install_date", "date"), ("criticality", "string"), ("source", "string"),
    ],
    key=("equipment_id",),
    description="One asset of the fleet.",
)

QUARANTINE = table_spec(
    "quarantine.readings",
    [
        ("ingest_id", "string"), ("raw_payload", "string"), ("reason", "string"),
        ("stage", "string"), ("source", "string"), ("kafka_topic", "string"),
        ("kafka_partition", "int"), ("kafka_offset", "bigint"),
        ("rejected_at", "timestamp"), ("rejected_date", "date"),
    ],
    key=("ingest_id", "stage"),
    partition_by=("rejected_date",),
    description="One rejected input: the raw payload as received, why, and where it was rejected.",
)

QUALITY_RESULTS = table_spec(
    "quality.results",
    [
        ("table_name", "string"), ("table_version", "bigint"), ("scope", "string"), ("suite", "string"),
        ("expectation", "string"), ("severity", "string"), ("kind", "string"), ("success", "boolean"),
        ("failing_count", "bigint"), ("observed", "double"), ("checked_rows", "bigint"),
        ("sample_keys", "string"), ("description", "string"), ("validated_at", "timestamp"),
    ],
    key=("run_id", "table_name", "expectation"),
    description="One expectation's outcome in one validation run (expectations/ runner); run_id is the validation run.",
)

GOLD_PREDICTIONS = table_spec(
    "gold.predictions",
    [
        ("equipment_id", "string"), ("window_end", "timestamp"), ("model_name", "string"),
        ("model_version", "string"), ("task", "string"), ("failure_probability", "double"),
        ("predicted_rul", "double"), ("anomaly_score", "double"), ("top_features", "string"),
    ],
    key=("equipment_id", "window_end", "model_name", "model_version"),
    description="One model version's scores of one equipment window: failure probability, predicted RUL "
                "(hours) or anomaly score by task kind, and the top contributing features "
                "('feature:+shap;...', LightGBM SHAP in the model's raw units).",
)

GOLD_ALERTS = table_spec(
    "gold.alerts",
    [
        ("alert_id", "string"), ("equipment_id", "string"), ("failure_mode", "string"), ("status", "string"),
        ("severity", "string"), ("criticality", "string"), ("opened_at", "timestamp"),
        ("last_evidence_at", "timestamp"), ("closed_at", "timestamp"), ("latest_probability", "double"),
        ("peak_probability", "double"), ("evidence_windows", "bigint"), ("reasons", "string"),
        ("model_name", "string"), ("model_version", "string"),
    ],
    key=("alert_id",),
    description="Alerts of the real-time scorer: one per equipment, failure mode and run of evidence "
                "(status open|closed, severity info|warning|high|critical from risk and criticality, "
                "reasons = the latest evidence's top features).",
)

EVENT_TYPES = ("failure", "maintenance", "inspection")

TABLES: dict[str, TableSpec] = {t.name: t for t in (READINGS, EVENTS, EQUIPMENT, QUARANTINE, QUALITY_RESULTS,
                                                    GOLD_PREDICTIONS, GOLD_ALERTS)}


FEATURE_KEY = ("equipment_id", "window_start", "window_end")
# The feature_set_version a silver.features_<view> table holds, recorded by whichever engine creates it.
FEATURE_SET_VERSION_PROPERTY = "sensorlake.feature_set_version"


def silver_spec(view) -> TableSpec:
    """The silver.features_<view> table of a feature view: one row per equipment and window.

    Columns come from the view's declaration (``view.column_types()``), so the Spark backfill
    and the streaming job write the same schema; either engine records the view's feature_set_version
    as a table property when it creates the table.
    """
    return table_spec(f"silver.features_{view.name}", tuple(view.column_types().items()), FEATURE_KEY,
                      description=f"Features of view {view.name} (feature_set_version {view.feature_set_version}).",
                      properties={FEATURE_SET_VERSION_PROPERTY: view.feature_set_version})
