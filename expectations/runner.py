"""Validate a table (or its increment), record the outcome, quarantine failing rows, gate the run.

One Spark pass does the work GX would otherwise spread over many: the suite's ``prepare``
joins the context (equipment type, physical ranges, install date; rows sharing a key), then a
single aggregation counts the failing rows of every row-level check and computes every
table-level metric. Great Expectations validates that one row of figures against the suite
(stored result, Data Docs). Only when rows fail does a second pass, over the failing rows
alone, take sample keys and copy the rows of failed critical checks to quarantine.readings.

Every outcome lands in quality.results (one row per expectation and run). A failed critical
expectation raises GateFailed (exit code 3) naming the table, the expectation, the failing
count and sample keys; warnings are printed and recorded.

Example::

    report = validate_table(spark, cfg, "bronze.readings", since="12")
    print(report.summary())        # raises GateFailed instead when a critical check fails
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from sensorlake.config import Config
from sensorlake.errors import GateFailed
from sensorlake.lake.tables import QUALITY_RESULTS, QUARANTINE
from sensorlake.lake.writes import insert_new_rows

from expectations.checks import CRITICAL, SCHEMA_CHECK, WARNING, Check, TableSuite
from expectations.increments import Increment, load_increment, read_table, uniqueness_scope
from expectations.suites import build_gx_suite, suite_for

JOB_NAME = "validate"
QUARANTINE_STAGE = "validate"
_NUMERIC = ("double", "float", "int", "bigint", "smallint", "tinyint")


@dataclass
class CheckResult:
    """The outcome of one expectation: GX's verdict and the figures behind it."""

    check: Check
    success: bool
    failing_count: int | None
    observed: float | None
    sample_keys: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.check.name

    @property
    def severity(self) -> str:
        return self.check.severity

    def describe(self) -> str:
        if self.name == SCHEMA_CHECK:
            return f"{self.name} [{self.severity}]: {self.failing_count} problem(s): {'; '.join(self.sample_keys)}"
        if self.failing_count is not None:
            figure = f"{self.failing_count:,} failing row{'s' if self.failing_count != 1 else ''}"
        else:
            figure = f"observed {self.observed:g}" if self.observed is not None else "not evaluated"
        sample = f", e.g. {json.dumps(self.sample_keys[:3], default=str)}" if self.sample_keys else ""
        return f"{self.name} [{self.severity}]: {figure}{sample}"


@dataclass
class ValidationReport:
    """What one validation run of one table found; ``raise_if_failed`` is the gate."""

    table: str
    run_id: str
    version: int
    scope: str
    checked_rows: int
    results: list[CheckResult]
    quarantined: int = 0
    data_docs: Path | None = None
    seconds: float = 0.0

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == CRITICAL]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == WARNING]

    @property
    def passed(self) -> bool:
        return not self.critical_failures

    def summary(self) -> str:
        head = (f"validated {self.table} ({self.scope}): {self.checked_rows:,} rows, {len(self.results)} expectations, "
                f"{len(self.critical_failures)} critical failed, {len(self.warnings)} warnings, "
                f"{self.quarantined:,} rows quarantined, run {self.run_id}, {self.seconds:.1f} s")
        lines = [head] + [f"  FAILED {r.describe()}" for r in self.critical_failures]
        lines += [f"  warning {r.describe()}" for r in self.warnings]
        if self.data_docs:
            lines.append(f"  data docs: {self.data_docs}")
        return "\n".join(lines)

    def gate_message(self) -> str:
        failed = "; ".join(r.describe() for r in self.critical_failures)
        return (f"quality gate failed for table {self.table} ({self.scope}, version {self.version}): "
                f"{len(self.critical_failures)} critical expectation(s) failed: {failed}")

    def raise_if_failed(self) -> None:
        if self.critical_failures:
            raise GateFailed(self.gate_message(), self.hint())

    def hint(self) -> str:
        """What to do after a failed gate: where the rows, results and Data Docs are."""
        moved = f"failing rows were copied to quarantine.readings (stage '{QUARANTINE_STAGE}'); " if self.quarantined else ""
        docs = f"; Data Docs: {self.data_docs}" if self.data_docs else ""
        return (f"{moved}see quality.results run_id '{self.run_id}'{docs}; fix the source rows, then rerun "
                f"`sensorlake validate --table {self.table}`")


def schema_problems(schema, suite: TableSuite) -> list[str]:
    """Differences between a Spark schema and the suite's column contract, in words."""
    actual = {f.name: f.dataType.simpleString() for f in schema.fields}
    problems = []
    for name, wanted in suite.columns:
        got = actual.get(name)
        if got is None:
            problems.append(f"missing column {name}")
        elif wanted == "numeric" and got not in _NUMERIC and not got.startswith("decimal"):
            problems.append(f"column {name} is {got}, expected a number")
        elif wanted not in (None, "numeric") and got != wanted:
            problems.append(f"column {name} is {got}, expected {wanted}")
    if suite.exact_schema:
        contracted = {c for c, _ in suite.columns}
        problems += [f"unexpected column {c}" for c in actual if c not in contracted]
    return problems


def _flag(check: Check):
    from pyspark.sql import functions as F

    return F.expr(f"coalesce(({check.fail_when}), false)")


def _prepared_rows(spark, cfg: Config, suite: TableSuite, inc: Increment, now: datetime):
    """The rows with the context columns their checks read: ``_now``, the suite's joins, ``_key_rows``."""
    from pyspark.sql import functions as F

    rows = inc.rows.withColumn("_now", F.lit(now).cast("timestamp"))
    scope = None
    if suite.unique_key or suite.prepare:
        scope = uniqueness_scope(spark, cfg, inc, suite.unique_key)
    if suite.prepare:
        rows = suite.prepare(spark, cfg, rows, scope)
    if suite.unique_key:
        # Repeated keys are few (usually none). Find candidates by a 64-bit hash of the key (one long
        # per row to shuffle, not the key's strings, and never the full rows), confirm them on the
        # exact key, then broadcast them into the rows: measured 3x faster than a join at 2M rows.
        key = list(suite.unique_key)
        hashed = F.xxhash64(*[F.col(k) for k in key])
        candidates = scope.select(hashed.alias("_h")).groupBy("_h").count().where("count > 1").select("_h")
        candidates = candidates.localCheckpoint(eager=True)
        if candidates.count() == 0:
            rows = rows.withColumn("_key_rows", F.lit(1).cast("bigint"))
        else:
            dups = (scope.join(F.broadcast(candidates), hashed == F.col("_h")).groupBy(*key).count()
                    .where("count > 1").withColumnRenamed("count", "_key_rows").localCheckpoint(eager=True))
            small = dups.count() <= int(cfg.get("quality.broadcast_keys_max", 1_000_000))
            rows = rows.join(F.broadcast(dups) if small else dups, key, "left")
    return rows


def _figures(prepared, checks: list[Check]) -> tuple[int, dict]:
    """One aggregation: rows, failing rows per row-level check, every table-level metric."""
    from pyspark.sql import functions as F

    exprs = [F.count(F.lit(1)).alias("_rows")]
    for c in checks:
        exprs.append(F.count_if(_flag(c)).alias(c.name) if c.row_level else F.expr(c.metric).cast("double").alias(c.name))
    row = prepared.agg(*exprs).collect()[0].asDict()
    return int(row.pop("_rows")), row


def _json_key(row) -> dict:
    return {k: (v.isoformat() if isinstance(v, (datetime, date)) else v) for k, v in row.asDict().items()}


def _quarantine(spark, cfg, suite: TableSuite, failing, columns, checks: list[Check], run_id: str, now: datetime) -> int:
    """Copy rows of failed critical row-level checks to quarantine.readings, reason = the check's name."""
    from functools import reduce

    from pyspark.sql import functions as F

    payload = F.to_json(F.struct(*[F.col(f"`{c}`") for c in columns]))
    parts = [
        failing.where(F.col(f"_fail__{c.name}")).select(
            F.sha2(F.concat_ws("|", F.lit(suite.table), F.lit(c.name), payload), 256).substr(1, 32).alias("ingest_id"),
            payload.alias("raw_payload"), F.lit(c.name).alias("reason"), F.lit(QUARANTINE_STAGE).alias("stage"),
            F.lit(suite.table).alias("source"), F.lit(None).cast("string").alias("kafka_topic"),
            F.lit(None).cast("int").alias("kafka_partition"), F.lit(None).cast("bigint").alias("kafka_offset"),
            F.lit(now).cast("timestamp").alias("rejected_at"), F.lit(now.date()).alias("rejected_date"),
            F.lit(JOB_NAME).alias("job_name"), F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("ingest_time"),
        )
        for c in checks
    ]
    return insert_new_rows(spark, cfg, QUARANTINE, reduce(lambda a, b: a.unionByName(b), parts), prune=False)


def _record(spark, cfg, report: ValidationReport, now: datetime) -> None:
    rows = [(
        report.table, report.version, report.scope, report.table, r.name, r.severity,
        "row" if r.check.row_level else "table", r.success, r.failing_count, r.observed, report.checked_rows,
        json.dumps(r.sample_keys, default=str), r.check.description, now, JOB_NAME, report.run_id, now,
    ) for r in report.results]
    df = spark.createDataFrame(rows, QUALITY_RESULTS.spark_ddl().replace(" BIGINT", " LONG"))
    insert_new_rows(spark, cfg, QUALITY_RESULTS, df, prune=False)


def validate_table(spark, cfg: Config, table: str, since=None, *, run_id: str | None = None,
                   time_column: str = "ingest_time", data_docs: bool = True, gate: bool = True) -> ValidationReport:
    """Validate ``table`` (whole, or rows since a version / time / ``"last"``) against its suite.

    Records every expectation in quality.results, copies rows failing critical row-level checks
    to quarantine.readings, builds Data Docs, and (``gate=True``) raises GateFailed when a
    critical expectation fails.

    Example::

        validate_table(spark, cfg, "bronze.readings", since=12)          # increment after version 12
        validate_table(spark, cfg, "silver.features_vibration_1m")        # whole table
    """
    from pyspark.sql import functions as F

    from expectations.gx_project import build_data_docs, gx_context, run_suite

    started = time.monotonic()
    now = datetime.now(timezone.utc)
    run_id = run_id or uuid.uuid4().hex
    inc = load_increment(spark, cfg, table, since, time_column, last_version=lambda t: last_validated_version(spark, cfg, t))
    suite = suite_for(cfg, table, inc.rows.schema)
    problems = schema_problems(inc.rows.schema, suite)
    evaluated = [c for c in suite.all_checks if c.name != SCHEMA_CHECK]
    samples: dict[str, list] = {SCHEMA_CHECK: problems[:10]} if problems else {}
    quarantined = 0
    if problems:  # the other checks read columns that may be missing: only the schema is judged
        checked_rows, figures, evaluated = 0, {}, []
    else:
        prepared = _prepared_rows(spark, cfg, suite, inc, now)
        checked_rows, figures = _figures(prepared, evaluated)
        failing_checks = [c for c in evaluated if c.row_level and figures[c.name]]
        if failing_checks:
            from pyspark import StorageLevel

            flags = [_flag(c).alias(f"_fail__{c.name}") for c in failing_checks]
            any_flag = " OR ".join(f"_fail__{c.name}" for c in failing_checks)
            failing = prepared.select("*", *flags).where(any_flag).persist(StorageLevel.MEMORY_AND_DISK)
            try:
                n = int(cfg.get("quality.sample_keys", 5))
                for c in failing_checks:
                    keys = failing.where(F.col(f"_fail__{c.name}")).select(*suite.key).limit(n).collect()
                    samples[c.name] = [_json_key(k) for k in keys]
                to_quarantine = [c for c in failing_checks if c.severity == CRITICAL and figures[c.name] > c.max_failing]
                if suite.quarantine_rows and to_quarantine:
                    quarantined = _quarantine(spark, cfg, suite, failing, inc.rows.columns, to_quarantine, run_id, now)
            finally:
                failing.unpersist()
    figures[SCHEMA_CHECK] = len(problems)
    judged = [suite.all_checks[0]] + evaluated
    ctx = gx_context(cfg)
    gx_suite = build_gx_suite(suite, only=[c.name for c in judged] if problems else None)
    result = run_suite(ctx, gx_suite, {c.name: figures[c.name] for c in judged},
                       run_name=f"{table} v{inc.version} {run_id[:8]}", run_time=now)
    verdicts = {r.expectation_config.kwargs["column"]: bool(r.success) for r in result.results}
    results = [CheckResult(
        c, verdicts[c.name],
        failing_count=int(figures[c.name]) if c.row_level or c.name == SCHEMA_CHECK else None,
        observed=None if c.row_level or figures[c.name] is None else float(figures[c.name]),
        sample_keys=samples.get(c.name, []),
    ) for c in judged]
    report = ValidationReport(table, run_id, inc.version, inc.scope, checked_rows, results, quarantined)
    _record(spark, cfg, report, now)
    if data_docs:
        report.data_docs = build_data_docs(ctx, cfg)
    report.seconds = time.monotonic() - started
    if gate:
        report.raise_if_failed()
    return report


def last_validated_version(spark, cfg: Config, table: str) -> int | None:
    """The table version the latest recorded validation of ``table`` covered (None if never validated)."""
    from pyspark.sql import functions as F

    results = read_table(spark, cfg, QUALITY_RESULTS.name)
    if results is None:
        return None
    row = results.where(F.col("table_name") == table).agg(F.max("table_version").alias("v")).collect()[0]
    return row["v"]
