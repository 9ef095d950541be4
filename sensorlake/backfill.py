"""Backfill a feature view over bronze history with Spark: recompute, compare, MERGE into silver.

``backfill_features`` recomputes the windows of one view for a time range (or for everything
bronze gained since the last run) with :func:`feature_defs.compile_spark.compute_view`, and
MERGEs them into ``silver.features_<view>`` on (equipment_id, window_start, window_end).

**Window rule.** A run over ``[start, end]`` owns exactly the windows whose ``window_end`` lies
in ``(start, end]``. Every reading of such a window lies in ``[window_end - size, end)``, so
bronze is read over ``[start - size, end)`` (partition-pruned on ``event_date``): a window that
straddles ``start`` is complete, never cut at the edge; windows ending at or before ``start``
or after ``end`` are computed from partial data and dropped. Hopping windows follow the same
rule: each reading is in ``size / slide`` windows, and every window ending in the range is kept
(so two adjacent ranges ``(a, b]`` and ``(b, c]`` write disjoint windows whose union is ``(a, c]``).
Windows are epoch-aligned; ``start`` and ``end`` need not be.

**Idempotence.** Values are compared with the table before writing: a window is *inserted*
when its key is new, *updated* when some value differs (NULL-ness, a non-double column, or a
double by more than ``VALUE_TOLERANCE`` relative: Spark's sums follow shuffle order, so a
recomputation can differ in the last bits), and otherwise *unchanged*, lineage included. A run
that changes nothing commits nothing: the table version stays put.

**Incremental (since_last).** The high-water mark is the version of bronze.readings the last
incremental run processed, kept in silver as a Delta transaction id (``txn`` action, app id
``sensorlake-backfill:<readings table>``) committed *in the same commit* as the MERGE, so data
and mark advance together (no separate metadata commit that would conflict with the streaming
writer). A run reads the data files bronze added after the mark (Delta log), takes the
min/max ``event_time`` from their statistics (partition date when absent), recomputes the
windows with ``window_end`` in ``(min, max + size]`` (every window holding a new reading) from
bronze at the current version, MERGEs, and records the new version. Nothing new: no commit.
A crash before the commit leaves the mark behind; the rerun recomputes the same windows.

**Concurrent writers.** The streaming job MERGEs into the same table every few seconds. When its
commit lands between this run's read and its commit, Delta refuses this run's commit; the
comparison and MERGE then run again against the new version (``sensorlake.lake.conflicts``), so
both writers' rows end up in the table.

**Feature set version.** The table property ``sensorlake.feature_set_version`` (set by whichever
engine creates the table) and the rows' ``feature_set_version`` column must equal the view's, or the run is refused
(:func:`feature_defs.check_feature_set_version`) before anything is written.

Example::

    report = backfill_features(spark, cfg, registry["machine_1m"],
                               start="2026-01-05T00:00:00Z", end="2026-01-06T00:00:00Z")
    print(report.summary())
    report = backfill_features(spark, cfg, registry["machine_1m"], since_last=True)   # hourly
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from feature_defs.compile_spark import check_supported, compute_view
from feature_defs.view import FeatureView, check_feature_set_version
from sensorlake.config import Config
from sensorlake.errors import ConfigError, InputError
from sensorlake.lake.catalog import ensure_table
from sensorlake.lake.conflicts import retry_on_conflict
from sensorlake.lake.tables import FEATURE_KEY, FEATURE_SET_VERSION_PROPERTY, LINEAGE, READINGS, TableSpec, silver_spec

log = logging.getLogger(__name__)

JOB_NAME = "backfill"
MARK_APP_PREFIX = "sensorlake-backfill"
# Relative difference below which two double feature values count as equal.
VALUE_TOLERANCE = 1e-9
# Timestamp statistics in the Delta log are truncated to milliseconds: widen the derived range a little.
_STATS_SLACK = timedelta(seconds=1)


@dataclass
class BackfillReport:
    """What one backfill run computed and wrote.

    ``start``/``end``: the range whose windows (window_end in (start, end]) were recomputed
    (None when an incremental run found nothing new). ``source_version``: the version of the
    readings table read. ``previous_mark``/``high_water_mark``: incremental runs only.
    """

    view: str
    table: str
    run_id: str
    mode: str
    start: datetime | None = None
    end: datetime | None = None
    windows_computed: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    source_version: int | None = None
    previous_mark: int | None = None
    high_water_mark: int | None = None
    table_version_before: int | None = None
    table_version_after: int | None = None
    attempts: int = 0            # MERGE attempts (more than 1: it lost a commit race to another writer)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        span = (f"windows ending in ({self.start.isoformat()}, {self.end.isoformat()}]" if self.start
                else "no new readings")
        text = (f"backfilled {self.table} ({self.mode}, run {self.run_id}): {span}; computed {self.windows_computed:,}, "
                f"inserted {self.inserted:,}, updated {self.updated:,}, unchanged {self.unchanged:,}; "
                f"table version {self.table_version_before} -> {self.table_version_after}")
        if self.mode == "since_last":
            text += f"; high-water mark (readings version) {self.previous_mark} -> {self.high_water_mark}"
        if self.attempts > 1:
            text += f"; committed at attempt {self.attempts} (lost commit races to another writer)"
        return text + "".join(f"; {n}" for n in self.notes)


def parse_time(value) -> datetime:
    """A UTC datetime from ISO-8601 text (``2026-01-05``, ``2026-01-05T06:00:00Z``; naive means UTC).

    Example: ``parse_time("2026-01-05T06:00:00Z")``.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    try:
        when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{value!r} is not a time", "write ISO-8601 UTC, e.g. 2026-01-05T00:00:00Z") from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def window_size(view: FeatureView) -> timedelta:
    return timedelta(milliseconds=view.window.size_ms)


def features_in_range(readings, view: FeatureView, start: datetime, end: datetime):
    """The windows of ``view`` with window_end in ``(start, end]``, from readings covering ``[start - size, end)``.

    ``readings`` may hold more (it is filtered here); it must hold every reading of that span.

    Example::

        features_in_range(spark.table("bronze.readings"), view, parse_time("2026-01-05T01:00"), parse_time("2026-01-05T02:00"))
    """
    from pyspark.sql import functions as F

    lo = start - window_size(view)
    span = readings.where((F.col("event_time") >= F.lit(lo)) & (F.col("event_time") < F.lit(end)))
    features = compute_view(span, view)
    return features.where((F.col("window_end") > F.lit(start)) & (F.col("window_end") <= F.lit(end)))


def mark_app_id(readings_table: str) -> str:
    """The Delta transaction app id under which silver keeps the high-water mark for ``readings_table``."""
    return f"{MARK_APP_PREFIX}:{readings_table}"


def high_water_mark(cfg: Config, view: FeatureView, readings_table: str = READINGS.name) -> int | None:
    """The readings-table version the last incremental backfill of ``view`` processed (None: never ran).

    Example: ``high_water_mark(cfg, registry["machine_1m"])``.
    """
    from deltalake import DeltaTable

    path = str(cfg.table_path(silver_spec(view).name))
    if not DeltaTable.is_deltatable(path):
        return None
    return DeltaTable(path).transaction_version(mark_app_id(readings_table))


# ---- feature set version ------------------------------------------------------------------------
def stored_feature_set_version(spark, path: str, view: FeatureView) -> str | None:
    """The feature_set_version a feature table holds: its table property, else a row's value that differs from the view's."""
    from pyspark.sql import functions as F

    properties = _table_properties(path)
    if properties is None:
        return None
    stored = properties.get(FEATURE_SET_VERSION_PROPERTY)
    if stored:  # set when the table was created (by either engine), or by a backfill after it checked the rows
        return stored
    df = spark.read.format("delta").load(path)
    if "feature_set_version" not in df.columns:
        return stored or "(no feature_set_version column)"
    other = (df.where(F.col("feature_set_version") != F.lit(view.feature_set_version))
             .select("feature_set_version").limit(1).collect())
    return other[0][0] if other else None


def _table_properties(path: str) -> dict | None:
    """A Delta table's properties (delta-rs: no Spark job), or None when there is no table."""
    from deltalake import DeltaTable

    return dict(DeltaTable(path).metadata().configuration) if DeltaTable.is_deltatable(path) else None


def prepare_feature_table(spark, cfg: Config, view: FeatureView) -> tuple[TableSpec, str]:
    """Refuse a table holding another feature_set_version; create it if absent and record the view's version.

    Example: ``spec, path = prepare_feature_table(spark, cfg, registry["machine_1m"])``.
    """
    spec = silver_spec(view)
    path = str(cfg.table_path(spec.name))
    stored = stored_feature_set_version(spark, path, view)
    check_feature_set_version(view, stored, spec.name)
    ensure_table(spark, cfg, spec)
    if FEATURE_SET_VERSION_PROPERTY not in (_table_properties(path) or {}):  # a table created before the property
        statement = (f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES "
                     f"('{FEATURE_SET_VERSION_PROPERTY}' = '{view.feature_set_version}')")
        retry_on_conflict(lambda: spark.sql(statement).collect(), what=f"recording the feature_set_version of {spec.name}")
    return spec, path


# ---- reading bronze -------------------------------------------------------------------------------
def _readings_version(cfg: Config, readings_table: str) -> int:
    from deltalake import DeltaTable

    path = str(cfg.table_path(readings_table))
    if not DeltaTable.is_deltatable(path):
        raise InputError(f"{readings_table} does not exist at {path}",
                         "run ingest first (`sensorlake ingest HISTORY_FOLDER`) or start the streaming job")
    return DeltaTable(path).version()


def read_readings(spark, cfg: Config, view: FeatureView, start: datetime, end: datetime,
                  readings_table: str = READINGS.name, version: int | None = None):
    """Readings of ``[start - size, end)`` at ``version``, pruned to the event_date partitions of that span."""
    from pyspark.sql import functions as F

    lo, hi = start - window_size(view), end
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    df = reader.load(str(cfg.table_path(readings_table)))
    last_day = (hi - timedelta(microseconds=1)).date()
    df = df.where(F.col("event_date").between(F.lit(lo.date()), F.lit(last_day)))
    df = df.where((F.col("event_time") >= F.lit(lo)) & (F.col("event_time") < F.lit(hi)))
    if view.equipment_types:  # the view filters on equipment_type, which lives in bronze.equipment
        eq_path = str(cfg.table_path("bronze.equipment"))
        from delta.tables import DeltaTable

        if not DeltaTable.isDeltaTable(spark, eq_path):
            raise InputError(f"view {view.name} filters on equipment types but bronze.equipment does not exist at {eq_path}",
                             "ingest the equipment first (`sensorlake ingest HISTORY_FOLDER`)")
        types = spark.read.format("delta").load(eq_path).select("equipment_id", "equipment_type")
        df = df.join(F.broadcast(types), "equipment_id", "left")
    return df


# ---- incremental range ----------------------------------------------------------------------------
def _stats_range(adds: list[dict]) -> tuple[datetime, datetime] | None:
    """(min, max) event_time over the added files: column statistics, else the event_date partition."""
    lows, highs = [], []
    for add in adds:
        stats = json.loads(add.get("stats") or "{}")
        if stats.get("numRecords") == 0:
            continue
        lo = (stats.get("minValues") or {}).get("event_time")
        hi = (stats.get("maxValues") or {}).get("event_time")
        if lo and hi:
            lows.append(parse_time(lo))
            highs.append(parse_time(hi) + _STATS_SLACK)
            continue
        day = (add.get("partitionValues") or {}).get("event_date")
        if not day:
            return None  # no statistics and no partition: unknown, recompute everything
        lows.append(parse_time(day))
        highs.append(parse_time(day) + timedelta(days=1))
    return (min(lows), max(highs)) if lows else (None, None)


def _whole_range(spark, cfg: Config, readings_table: str, version: int) -> tuple[datetime | None, datetime | None]:
    from pyspark.sql import functions as F

    row = (spark.read.format("delta").option("versionAsOf", version).load(str(cfg.table_path(readings_table)))
           .agg(F.min("event_time").alias("lo"), F.max("event_time").alias("hi")).collect()[0])
    return (parse_time(row["lo"]), parse_time(row["hi"])) if row["lo"] is not None else (None, None)


def _new_readings_range(spark, cfg: Config, readings_table: str, mark: int | None, version: int,
                        report: BackfillReport) -> tuple[datetime | None, datetime | None]:
    """min/max event_time of the readings added after version ``mark`` up to ``version``."""
    from sensorlake.lake.delta_log import files_added_since

    if mark is None:
        report.notes.append(f"no high-water mark yet: every reading of {readings_table} at version {version}")
        return _whole_range(spark, cfg, readings_table, version)
    try:
        adds = files_added_since(cfg, readings_table, mark, version)
    except ConfigError as exc:  # the mark's commits left the Delta log (log retention): start over
        report.notes.append(f"{exc.message}; recomputed every reading")
        return _whole_range(spark, cfg, readings_table, version)
    found = _stats_range(adds)
    if found is None:
        report.notes.append("added files carry neither statistics nor partitions; recomputed every reading")
        return _whole_range(spark, cfg, readings_table, version)
    return found


# ---- compare and MERGE ----------------------------------------------------------------------------
def _value_columns(spec: TableSpec) -> list[tuple[str, str]]:
    skip = set(FEATURE_KEY) | {c for c, _ in LINEAGE}
    return [(c, t) for c, t in spec.columns if c not in skip]


def differs_sql(spec: TableSpec, target: str = "t", source: str = "s") -> str:
    """SQL that is true when a row of ``source`` differs from its ``target`` row in some value (see module doc)."""
    parts = []
    for col, kind in _value_columns(spec):
        t, s = f"{target}.`{col}`", f"{source}.`{col}`"
        if kind == "double":
            parts.append(f"(NOT ({t} <=> {s}) AND ({t} IS NULL OR {s} IS NULL OR isnan({t}) OR isnan({s}) "
                         f"OR abs({t} - {s}) > {VALUE_TOLERANCE!r} * greatest(abs({t}), abs({s}))))")
        else:
            parts.append(f"NOT ({t} <=> {s})")
    return " OR ".join(parts) or "false"


def _sql_timestamp(when: datetime) -> str:
    """A Spark SQL timestamp literal of a UTC datetime (the session time zone is UTC)."""
    return f"timestamp'{when.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _table_version(spark, path: str) -> int | None:
    from deltalake import DeltaTable

    return DeltaTable(path).version() if DeltaTable.is_deltatable(path) else None


def _merge(spark, spec: TableSpec, path: str, computed, start: datetime, end: datetime,
           report: BackfillReport, mark: tuple[str, int] | None) -> None:
    """Classify computed rows against the table, then MERGE the new and changed ones (with the mark, if any)."""
    from delta.tables import DeltaTable
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    in_range = f"t.window_end > {_sql_timestamp(start)} AND t.window_end <= {_sql_timestamp(end)}"
    target = (spark.read.format("delta").load(path).alias("t").where(in_range)
              .select(*[F.col(f"t.`{c}`").alias(c) for c in spec.column_names]))
    on = [F.col(f"s.{k}") == F.col(f"t.{k}") for k in FEATURE_KEY]
    status = (F.when(F.col("t.equipment_id").isNull(), F.lit("insert"))
              .when(F.expr(differs_sql(spec)), F.lit("update")).otherwise(F.lit("unchanged")))
    classified = (computed.alias("s").join(target.alias("t"), on, "left")
                  .select(*[F.col(f"s.`{c}`").alias(c) for c in spec.column_names], status.alias("_status"))
                  .persist(StorageLevel.MEMORY_AND_DISK))
    try:
        counts = {r["_status"]: r["n"] for r in classified.groupBy("_status").count().withColumnRenamed("count", "n").collect()}
        report.windows_computed = sum(counts.values())
        report.unchanged = counts.get("unchanged", 0)
        changes = classified.where(F.col("_status") != "unchanged").drop("_status")
        conf = spark.conf
        if mark:  # the high-water mark goes into the same commit as the rows
            conf.set("spark.databricks.delta.write.txnAppId", mark[0])
            conf.set("spark.databricks.delta.write.txnVersion", str(mark[1]))
        try:
            if counts.get("insert", 0) + counts.get("update", 0):
                key = " AND ".join(f"t.{k} = s.{k}" for k in FEATURE_KEY)
                metrics = (DeltaTable.forPath(spark, path).alias("t")
                           .merge(changes.alias("s"), f"{in_range} AND {key}")
                           .whenMatchedUpdateAll(condition=differs_sql(spec))
                           .whenNotMatchedInsertAll()
                           .execute().collect()[0])
                report.inserted = int(metrics["num_inserted_rows"])
                report.updated = int(metrics["num_updated_rows"])
                # rows another writer changed between the comparison and the MERGE to our values
                report.unchanged = report.windows_computed - report.inserted - report.updated
            elif mark:  # nothing to write, but the mark advances: a commit of no rows carrying it
                (spark.createDataFrame([], classified.drop("_status").schema).write.format("delta")
                 .mode("append").option("txnAppId", mark[0]).option("txnVersion", mark[1]).save(path))
        finally:
            if mark:
                conf.unset("spark.databricks.delta.write.txnAppId")
                conf.unset("spark.databricks.delta.write.txnVersion")
    finally:
        classified.unpersist()


def backfill_features(spark, cfg: Config, view: FeatureView, start=None, end=None, run_id: str | None = None,
                      since_last: bool = False, readings_table: str = READINGS.name) -> BackfillReport:
    """Recompute ``view`` over bronze readings and MERGE the windows into ``silver.features_<view>``.

    Either a range (``start``, ``end``: windows with window_end in ``(start, end]``) or
    ``since_last=True`` (every window holding a reading added to bronze since the last
    incremental run). ``readings_table``: the narrow readings table to read (default bronze.readings).

    Raises ConfigError for a bad range, FeatureDefinitionError for a table holding another
    feature_set_version, UnsupportedFeature for a view Spark cannot compute, InputError when
    the readings table does not exist.

    Example::

        report = backfill_features(spark, cfg, load_registry(cfg)["machine_1m"], "2026-01-05", "2026-01-06")
        report.inserted, report.updated, report.unchanged
    """
    from pyspark.sql import functions as F

    check_supported(view)
    if since_last and (start is not None or end is not None):
        raise ConfigError("give either a range (start, end) or since_last, not both",
                          "--since-last derives the range from what bronze gained since the last run")
    if not since_last:
        if start is None or end is None:
            raise ConfigError("a backfill needs start and end (or since_last)", "pass --start T0 --end T1, or --since-last")
        start, end = parse_time(start), parse_time(end)
        if start >= end:
            raise ConfigError(f"start {start.isoformat()} is not before end {end.isoformat()}",
                              "windows ending in (start, end] are backfilled: pass start < end")
    spec = silver_spec(view)
    report = BackfillReport(view=view.name, table=spec.name, run_id=run_id or uuid.uuid4().hex,
                            mode="since_last" if since_last else "range")
    version = _readings_version(cfg, readings_table)
    report.source_version = version
    spec, path = prepare_feature_table(spark, cfg, view)
    report.table_version_before = _table_version(spark, path)
    mark = None
    if since_last:
        app_id = mark_app_id(readings_table)
        report.previous_mark = high_water_mark(cfg, view, readings_table)
        report.high_water_mark = report.previous_mark
        if report.previous_mark is not None and report.previous_mark >= version:
            report.table_version_after = report.table_version_before
            return report
        lo, hi = _new_readings_range(spark, cfg, readings_table, report.previous_mark, version, report)
        mark = (app_id, version)
        report.high_water_mark = version
        if lo is None:  # bronze moved but added no readings (compaction, an empty commit): only the mark moves
            empty = spark.createDataFrame([], spark.read.format("delta").load(path).schema)
            (empty.write.format("delta").mode("append").option("txnAppId", app_id)
             .option("txnVersion", version).save(path))
            report.table_version_after = _table_version(spark, path)
            return report
        start, end = lo, hi + window_size(view)
    report.start, report.end = start, end

    readings = read_readings(spark, cfg, view, start, end, readings_table, version)
    started = datetime.now(timezone.utc)
    computed = (features_in_range(readings, view, start, end)
                .withColumn("job_name", F.lit(JOB_NAME)).withColumn("run_id", F.lit(report.run_id))
                .withColumn("ingest_time", F.lit(started)))
    # another writer (the streaming job, a compaction) may commit to the table meanwhile: on a lost
    # commit race the comparison and the MERGE run again against the new version
    _, report.attempts = retry_on_conflict(lambda: _merge(spark, spec, path, computed, start, end, report, mark),
                                           what=f"backfill MERGE into {spec.name}")
    report.table_version_after = _table_version(spark, path)
    log.info(report.summary())
    return report


__all__ = ["BackfillReport", "VALUE_TOLERANCE", "backfill_features", "differs_sql", "features_in_range",
           "high_water_mark", "parse_time", "prepare_feature_table", "read_readings"]
