"""Fixtures of the quality-gate tests: a lake of their own, and writers of (possibly defective) rows.

Rows are written with the plain Spark Delta writer, not through ingest, so a test can put into
bronze exactly the defect a suite must catch (ingest would quarantine most of them first).
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from sensorlake.config import Config
from sensorlake.lake.catalog import ensure_table
from sensorlake.lake.tables import TABLES

T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)


def with_paths(cfg: Config, root) -> Config:
    """``cfg`` with its own lake and runtime folder under ``root``."""
    data = copy.deepcopy(cfg.data)
    data["lake"]["root"] = str(root / "lake")
    data["runtime"]["dir"] = str(root / "runtime")
    return Config(data=data, base_dir=cfg.base_dir)


@pytest.fixture(scope="module")
def qcfg(cfg, tmp_path_factory):
    """A configuration whose lake and runtime folder belong to one test module."""
    return with_paths(cfg, tmp_path_factory.mktemp("quality"))


def lineage(row: dict) -> dict:
    return {"job_name": "test", "run_id": "r-test", "ingest_time": datetime.now(timezone.utc), **row}


def write_rows(spark, cfg: Config, table: str, rows: list[dict], schema: str | None = None) -> int:
    """Append ``rows`` (dicts; lineage filled in) to ``table`` in one commit; return the new table version.

    ``schema``: a DDL string for tables without a contract (silver, gold); else the TableSpec's.
    """
    from sensorlake.lake.delta_log import table_version

    if schema is None:
        spec = TABLES[table]
        ensure_table(spark, cfg, spec)
        schema = spec.spark_ddl()
    full = [lineage(r) for r in rows]
    names = [part.strip().split(" ")[0] for part in schema.split(",")]
    df = spark.createDataFrame([tuple(r.get(n) for n in names) for r in full], schema)
    df.write.format("delta").mode("append").save(str(cfg.table_path(table)))
    return table_version(cfg, table)


def reading(equipment_id="eq-pump-1", sensor="pressure", at=T0, value=5.0, site_id="plant-a", unit="bar", **extra):
    row = {"site_id": site_id, "equipment_id": equipment_id, "sensor": sensor, "event_time": at, "value": value,
           "unit": unit, "event_date": at.date() if at else None, "ingest_id": f"{equipment_id}-{sensor}-{at}-{value}",
           "source": "test"}
    row.update(extra)
    return row


def equipment(equipment_id, equipment_type, install_date, site_id="plant-a", criticality="high"):
    return {"equipment_id": equipment_id, "site_id": site_id, "equipment_type": equipment_type,
            "install_date": install_date, "criticality": criticality, "source": "test"}


def event(equipment_id, at, event_type, failure_mode=None, site_id="plant-a"):
    return {"event_id": f"{equipment_id}-{at.isoformat()}-{event_type}", "site_id": site_id, "equipment_id": equipment_id,
            "event_time": at, "event_type": event_type, "failure_mode": failure_mode, "notes": None, "source": "test"}


def by_name(report) -> dict:
    return {r.name: r for r in report.results}
