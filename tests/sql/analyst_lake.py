"""A small lake of known rows in every layer, written with delta-rs and the project's table specs.

bronze.readings is written in two commits (version 1: the first ``FIRST_READINGS`` rows, version 2:
the rest), so ``VERSION AS OF 1`` has a known, smaller row count. The values make the example
queries' answers easy to state: pump-01 is the riskiest machine, bronze.readings failed one
critical expectation in its second validation run, two quarantined rows are out of range.

Example::

    tables = write_analyst_lake(cfg)      # {'bronze.readings': 10, ...} rows per table
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
from deltalake import write_deltalake

from feature_defs.registry import load_registry
from sensorlake.lake import delta_rs
from sensorlake.lake.tables import (EQUIPMENT, EVENTS, GOLD_PREDICTIONS, QUALITY_RESULTS, QUARANTINE, READINGS,
                                    TableSpec, silver_spec)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
INGEST = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
FIRST_READINGS = 6
LINEAGE = {"job_name": "analyst-fixture", "run_id": "run-1", "ingest_time": INGEST}

EQUIPMENT_ROWS = [
    {"equipment_id": "pump-01", "site_id": "plant-a", "equipment_type": "pump", "install_date": date(2024, 3, 1),
     "criticality": "high", "source": "fixture"},
    {"equipment_id": "fan-01", "site_id": "plant-a", "equipment_type": "fan", "install_date": date(2023, 6, 1),
     "criticality": "low", "source": "fixture"},
    {"equipment_id": "motor-01", "site_id": "plant-b", "equipment_type": "conveyor_motor",
     "install_date": date(2025, 1, 15), "criticality": "medium", "source": "fixture"},
]


def _reading(i: int, equipment: str, site: str, sensor: str, value: float, unit: str) -> dict:
    t = T0 + timedelta(minutes=i)
    return {"site_id": site, "equipment_id": equipment, "sensor": sensor, "event_time": t, "value": value,
            "unit": unit, "event_date": t.date(), "ingest_id": f"ing-{i}", "source": "fixture"}


READING_ROWS = [
    _reading(0, "pump-01", "plant-a", "vibration", 2.0, "mm/s"),
    _reading(1, "pump-01", "plant-a", "vibration", 4.0, "mm/s"),
    _reading(2, "pump-01", "plant-a", "temperature", 60.0, "degC"),
    _reading(3, "fan-01", "plant-a", "vibration", 1.0, "mm/s"),
    _reading(4, "fan-01", "plant-a", "speed", 1500.0, "rpm"),
    _reading(5, "motor-01", "plant-b", "current", 12.0, "A"),
    # second commit (version 2)
    _reading(6, "pump-01", "plant-a", "vibration", 6.0, "mm/s"),
    _reading(7, "fan-01", "plant-a", "vibration", 3.0, "mm/s"),
    _reading(8, "motor-01", "plant-b", "current", 14.0, "A"),
    _reading(9, "motor-01", "plant-b", "speed", 1200.0, "rpm"),
]

EVENT_ROWS = [
    {"event_id": "ev-1", "site_id": "plant-a", "equipment_id": "pump-01", "event_time": T0 + timedelta(hours=3),
     "event_type": "failure", "failure_mode": "bearing_wear", "notes": "bearing seized", "source": "fixture"},
    {"event_id": "ev-2", "site_id": "plant-a", "equipment_id": "fan-01", "event_time": T0 + timedelta(hours=1),
     "event_type": "maintenance", "failure_mode": None, "notes": "belt replaced", "source": "fixture"},
]

QUARANTINE_ROWS = [
    {"ingest_id": f"bad-{i}", "raw_payload": payload, "reason": reason, "stage": "stream", "source": "kafka",
     "kafka_topic": "sensor-readings", "kafka_partition": 0, "kafka_offset": 100 + i,
     "rejected_at": T0 + timedelta(minutes=10 * i), "rejected_date": T0.date()}
    for i, (payload, reason) in enumerate([
        ('{"equipment_id": "pump-01", "sensor": "vibration", "value": 900}', "out_of_range"),
        ('{"equipment_id": "fan-01", "sensor": "speed", "value": -5}', "out_of_range"),
        ('{"equipment_id": "pump-01", "sens', "malformed_json"),
    ])
]


def _window(i: int, equipment: str, site: str, vib_rms: float, temp_mean: float) -> dict:
    start = T0 + timedelta(minutes=30 * i)
    return {"equipment_id": equipment, "site_id": site, "window_start": start, "window_end": start + timedelta(minutes=1),
            "feature_view": "machine_1m", "feature_set_version": "1", "vibration__rms": vib_rms,
            "temperature__mean": temp_mean, "vibration__count": 120}


FEATURE_ROWS = [
    _window(0, "pump-01", "plant-a", 2.0, 55.0),
    _window(1, "pump-01", "plant-a", 4.0, 61.0),
    _window(2, "pump-01", "plant-a", 6.0, 67.0),   # 09:00: a later hour
    _window(0, "fan-01", "plant-a", 1.0, 35.0),
    _window(2, "fan-01", "plant-a", 1.4, 36.0),
    _window(0, "motor-01", "plant-b", 3.0, 45.0),
]


def _prediction(equipment: str, minutes: int, probability: float, reasons: str, version: str = "3") -> dict:
    return {"equipment_id": equipment, "window_end": T0 + timedelta(minutes=minutes), "model_name": "sensorlake-failure",
            "model_version": version, "task": "failure", "failure_probability": probability, "predicted_rul": None,
            "anomaly_score": None, "top_features": reasons}


PREDICTION_ROWS = [
    _prediction("pump-01", 31, 0.35, "vibration__rms:+0.800;temperature__mean:+0.200"),
    _prediction("pump-01", 61, 0.91, "vibration__rms:+1.900;temperature__mean:+0.600;current__mean:+0.100"),
    _prediction("fan-01", 61, 0.08, "speed__mean:-0.300;vibration__rms:-0.100"),
    _prediction("motor-01", 61, 0.55, "current__mean:+0.700;speed__mean:+0.200"),
]


def _result(run: str, at_minutes: int, expectation: str, success: bool, failing: int, severity: str = "critical") -> dict:
    return {"table_name": "bronze.readings", "table_version": 1 if run == "val-1" else 2, "scope": "full",
            "suite": "bronze_readings", "expectation": expectation, "severity": severity, "kind": "column",
            "success": success, "failing_count": failing, "observed": float(failing), "checked_rows": 10,
            "sample_keys": "" if success else "pump-01/vibration", "description": expectation,
            "validated_at": T0 + timedelta(minutes=at_minutes), "job_name": "validate", "run_id": run,
            "ingest_time": T0 + timedelta(minutes=at_minutes)}


QUALITY_ROWS = [
    _result("val-1", 60, "value_in_physical_range", True, 0),
    _result("val-1", 60, "keys_not_null", True, 0),
    _result("val-2", 120, "value_in_physical_range", False, 2),
    _result("val-2", 120, "keys_not_null", True, 0),
    _result("val-2", 120, "unit_matches_sensor", False, 1, severity="warning"),
]


def _arrow(spec: TableSpec, rows: list[dict], schema: pa.Schema | None = None) -> pa.Table:
    schema = schema or spec.arrow_schema()
    full = [{**LINEAGE, **row} for row in rows]
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in full], schema=schema)


def _write(cfg, spec: TableSpec, batches: list[list[dict]], schema: pa.Schema | None = None) -> int:
    path = delta_rs.ensure_table(cfg, spec, schema)
    for rows in batches:
        write_deltalake(path, _arrow(spec, rows, schema), mode="append", partition_by=list(spec.partition_by) or None)
    return sum(len(b) for b in batches)


def write_analyst_lake(cfg) -> dict[str, int]:
    """Write every table of the small lake under ``cfg.lake_root``; return rows per table name."""
    silver = silver_spec(load_registry(cfg)["machine_1m"])
    return {
        "bronze.equipment": _write(cfg, EQUIPMENT, [EQUIPMENT_ROWS]),
        "bronze.readings": _write(cfg, READINGS, [READING_ROWS[:FIRST_READINGS], READING_ROWS[FIRST_READINGS:]]),
        "bronze.events": _write(cfg, EVENTS, [EVENT_ROWS]),
        "quarantine.readings": _write(cfg, QUARANTINE, [QUARANTINE_ROWS]),
        silver.name: _write(cfg, silver, [FEATURE_ROWS]),
        "gold.predictions": _write(cfg, GOLD_PREDICTIONS, [PREDICTION_ROWS]),
        "quality.results": _write(cfg, QUALITY_RESULTS, [QUALITY_ROWS]),
    }


# What each example query in queries/ answers over this lake: the columns checked, then the
# expected rows in the query's order. Values are normalised (see ``normalise``) so DuckDB's
# Python values and beeline's strings compare alike.
EXPECTED_ANSWERS = {
    "fleet_health.sql": (
        ("equipment_id", "readings", "failures", "maintenances", "latest_failure_probability"),
        [("pump-01", 4, 1, 0, 0.91), ("motor-01", 3, 0, 0, 0.55), ("fan-01", 3, 0, 1, 0.08)],
    ),
    "top_risk_equipment.sql": (
        ("equipment_id", "failure_probability", "main_reason", "model_version", "last_maintenance_at"),
        [("pump-01", 0.91, "vibration__rms:+1.900", 3, None),
         ("motor-01", 0.55, "current__mean:+0.700", 3, None),
         ("fan-01", 0.08, "speed__mean:-0.300", 3, "2026-01-05 09:00:00")],
    ),
    "feature_trends.sql": (
        ("equipment_id", "hour", "windows", "vibration_rms", "vibration_rms_change", "temperature_mean_change"),
        [("fan-01", "2026-01-05 08:00:00", 1, 1.0, None, None),
         ("fan-01", "2026-01-05 09:00:00", 1, 1.4, 0.4, 1.0),
         ("motor-01", "2026-01-05 08:00:00", 1, 3.0, None, None),
         ("pump-01", "2026-01-05 08:00:00", 2, 3.0, None, None),
         ("pump-01", "2026-01-05 09:00:00", 1, 6.0, 3.0, 9.0)],
    ),
    "data_quality_history.sql": (
        ("table_name", "run_id", "table_version", "expectations", "critical_failures", "warnings", "failing_rows",
         "outcome"),
        [("bronze.readings", "val-2", 2, 3, 1, 1, 3, "failed"),
         ("bronze.readings", "val-1", 1, 2, 0, 0, 0, "passed")],
    ),
    "quarantine_reasons.sql": (
        ("stage", "reason", "rejected", "example_payload"),
        [("stream", "out_of_range", 2, '{"equipment_id": "fan-01", "sensor": "speed", "value": -5}'),
         ("stream", "malformed_json", 1, '{"equipment_id": "pump-01", "sens')],
    ),
}


def normalise(value):
    """One comparable form for DuckDB values and beeline strings: None, a rounded float, or text.

    Timestamps keep their first 19 characters ('2026-01-05 09:00:00'), whatever the engine's suffix.
    """
    if value is None or value == "NULL":
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return round(float(value), 6)
    text = str(value)
    try:
        return round(float(text), 6)
    except ValueError:
        pass
    if len(text) >= 19 and text[4] == "-" and text[10] == " " and text[13] == ":":
        return text[:19]
    return text


def answer(rows: list[dict], columns: tuple[str, ...]) -> list[tuple]:
    """The ``columns`` of ``rows``, normalised, in order."""
    return [tuple(normalise(row[c]) for c in columns) for row in rows]


def expected_answer(query_file: str) -> tuple[tuple[str, ...], list[tuple]]:
    """The checked columns of a query in queries/ and its expected, normalised rows."""
    columns, rows = EXPECTED_ANSWERS[query_file]
    return columns, [tuple(normalise(v) for v in row) for row in rows]
