"""Gates other jobs call: validate what a job just wrote, and refuse to train on unvalidated data.

Example::

    before = table_versions(cfg, INGESTED_TABLES)
    report = ingest_path(spark, cfg, "history/")
    validate_increments(spark, cfg, before)                  # GateFailed if a critical check fails
    require_passing_validation(spark, cfg, "silver.features_vibration_1m")   # before training
"""
from __future__ import annotations

from sensorlake.config import Config
from sensorlake.errors import GateFailed
from sensorlake.lake.tables import EQUIPMENT, EVENTS, QUALITY_RESULTS, QUARANTINE, READINGS

from expectations.increments import read_table
from sensorlake.lake.delta_log import table_version
from expectations.runner import ValidationReport, validate_table

# What an ingest writes, in the order its gate validates them (equipment first: readings join it).
INGESTED_TABLES = (EQUIPMENT.name, EVENTS.name, READINGS.name, QUARANTINE.name)


def table_versions(cfg: Config, tables=INGESTED_TABLES) -> dict[str, int | None]:
    """Current Delta version of each table (None when it does not exist yet)."""
    return {t: table_version(cfg, t) for t in tables}


def validate_increments(spark, cfg: Config, before: dict[str, int | None], run_id: str | None = None,
                        data_docs: bool = True) -> list[ValidationReport]:
    """Validate the rows each table gained since ``before`` (a table new since then: all of it).

    Every changed table is validated and recorded before the gate closes, so one run reports
    every failure; raises GateFailed naming each failed table and expectation.
    """
    reports = []
    for table, old in before.items():
        new = table_version(cfg, table)
        if new is None or new == old:
            continue
        reports.append(validate_table(spark, cfg, table, since=old, run_id=run_id, data_docs=data_docs, gate=False))
    failed = [r for r in reports if not r.passed]
    if failed:
        raise GateFailed("\n".join(r.gate_message() for r in failed), failed[-1].hint())
    return reports


def _latest_run(spark, cfg: Config, table: str):
    from pyspark.sql import functions as F

    results = read_table(spark, cfg, QUALITY_RESULTS.name)
    if results is None:
        return None, []
    mine = results.where(F.col("table_name") == table)
    latest = mine.orderBy(F.col("validated_at").desc(), F.col("run_id").desc()).select("run_id", "table_version").limit(1).collect()
    if not latest:
        return None, []
    run = latest[0]
    failed = mine.where((F.col("run_id") == run["run_id"]) & (F.col("severity") == "critical") & ~F.col("success"))
    return run, failed.select("expectation", "failing_count").collect()


def latest_validation_passed(spark, cfg: Config, table: str) -> bool:
    """True when the latest recorded validation of ``table`` had no failed critical expectation.

    Example: ``latest_validation_passed(spark, cfg, "bronze.readings")``
    """
    run, failed = _latest_run(spark, cfg, table)
    return run is not None and not failed


def require_passing_validation(spark, cfg: Config, table: str, max_versions_behind: int | None = None) -> None:
    """Raise GateFailed unless the latest validation of ``table`` passed (and, if given, is recent enough).

    ``max_versions_behind``: how many Delta commits the table may have gained since that
    validation (None: any). Example, before training::

        require_passing_validation(spark, cfg, "silver.features_vibration_1m", max_versions_behind=0)
    """
    run, failed = _latest_run(spark, cfg, table)
    how = f"run `sensorlake validate --table {table}`"
    if run is None:
        raise GateFailed(f"table {table} has no recorded validation in {QUALITY_RESULTS.name}", how)
    if failed:
        listed = ", ".join(f"{r['expectation']} ({r['failing_count']} failing)" if r["failing_count"] is not None
                           else r["expectation"] for r in failed)
        raise GateFailed(f"the latest validation of {table} (run {run['run_id']}, version {run['table_version']}) "
                         f"failed critical expectations: {listed}",
                         f"fix the rows (see quarantine.readings, stage 'validate'), then {how}")
    current = table_version(cfg, table)
    if max_versions_behind is not None and current is not None and current - run["table_version"] > max_versions_behind:
        raise GateFailed(f"table {table} is at version {current}, its latest validation covered version "
                         f"{run['table_version']} ({current - run['table_version']} commits unvalidated)",
                         f"{how} --since {run['table_version']}")
