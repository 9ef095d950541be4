"""Batch scoring: the champion of a task scores feature windows into gold.predictions (Spark, MERGE).

Steps: resolve ``models:/<registered_model>@champion`` to its version (the version is what every row
records, so a promotion during the run cannot mix versions), read the task's silver views at their
current Delta version from a margin before the range (trailing means and baseline deviations look
back ``max(rolling, baseline)``), build the model inputs with :func:`training.dataset.feature_rows`
(the same code as training), score them with ``mlflow.pyfunc.spark_udf`` (``env_manager="local"``),
explain each row with LightGBM's own SHAP contributions (``booster.predict(X, pred_contrib=True)``,
top ``top_k`` by magnitude as ``"feat_a:+0.310;feat_b:-0.120"``, raw model units: log-odds for a
failure model, hours for RUL), and MERGE the new and changed rows on (equipment_id, window_end,
model_name, model_version). Rows equal to what the table holds are not written: rescoring a range
adds no table version. The rows written are then validated (expectations/, gold.predictions suite).

Example::

    report = score_windows(spark, cfg, "failure", start="2025-09-10T12:00:00Z", end="2025-09-10T18:00:00Z")
    report = score_windows(spark, cfg, "failure", latest=True)     # each equipment's newest window
    print(report.summary())
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from sensorlake.config import Config
from sensorlake.errors import ConfigError, InputError
from sensorlake.lake.tables import GOLD_PREDICTIONS, LINEAGE

log = logging.getLogger(__name__)

JOB_NAME = "score"
TOP_K = 3
# Task kind -> the gold.predictions column its model output goes to.
OUTPUT_COLUMN = {"binary": "failure_probability", "regression": "predicted_rul", "anomaly": "anomaly_score"}
_VALUE_COLUMNS = ("task", "failure_probability", "predicted_rul", "anomaly_score", "top_features")
_TOLERANCE = 1e-9
_BOOSTERS: dict = {}   # per Python worker: broadcast key -> lightgbm.Booster


@dataclass
class Champion:
    """The model version a scoring run uses, resolved once from the alias."""

    name: str
    version: str
    uri: str            # models:/<name>/<version>
    local_path: str     # the downloaded model folder (spark_udf and the booster load it from here)
    model: object       # training.pyfunc.PredictiveMaintenanceModel


@dataclass
class ScoringReport:
    task: str
    model_name: str
    model_version: str
    run_id: str
    start: datetime | None
    end: datetime | None
    rows_scored: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    table_version_before: int | None = None
    table_version_after: int | None = None
    inputs: dict = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        span = f"windows ending in ({self.start.isoformat()}, {self.end.isoformat()}]" if self.start else "latest windows"
        inputs = ", ".join(f"{t}@v{v}" for t, v in self.inputs.items())
        return (f"scored {span} with {self.model_name} v{self.model_version} (task {self.task}, run {self.run_id}) "
                f"from {inputs}: {self.rows_scored:,} rows, {self.inserted:,} inserted, {self.updated:,} updated, "
                f"{self.unchanged:,} unchanged; gold.predictions version {self.table_version_before} -> "
                f"{self.table_version_after} in {self.seconds:.1f}s")


def load_champion(cfg: Config, registered_model: str, alias: str = "champion") -> Champion:
    """Resolve ``models:/<registered_model>@<alias>`` to a version, download it once, load it.

    Raises InputError when the alias does not exist (train the task first).
    """
    import tempfile

    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    client = MlflowClient(cfg.mlflow_tracking_uri)
    try:
        version = str(client.get_model_version_by_alias(registered_model, alias).version)
    except MlflowException as exc:
        raise InputError(f"no model version of {registered_model} holds the alias {alias!r} "
                         f"({str(exc).splitlines()[0][:160]})",
                         f"train it first: sensorlake train --task <task> (tracking server {cfg.mlflow_tracking_uri})") from None
    uri = f"models:/{registered_model}/{version}"
    local = mlflow.artifacts.download_artifacts(uri, dst_path=tempfile.mkdtemp(prefix="sensorlake-score-"))
    model = mlflow.pyfunc.load_model(local).unwrap_python_model()
    return Champion(registered_model, version, uri, local, model)


def top_contributions(contributions: np.ndarray, names: list[str], k: int = TOP_K) -> list[str | None]:
    """Per row, the ``k`` largest SHAP contributions by magnitude as ``"name:+0.310;name:-0.120"``.

    ``contributions``: rows x features (the bias column already removed). Ties keep feature order.
    Example: ``top_contributions(np.array([[0.1, -0.5]]), ["a", "b"], 1) == ["b:-0.500"]``.
    """
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :k]
    out = []
    for row, idx in zip(contributions, order):
        parts = [f"{names[i]}:{row[i]:+.3f}" for i in idx if np.isfinite(row[i])]
        out.append(";".join(parts) or None)
    return out


def top_features_udf(spark, booster, feature_columns: list[str], k: int = TOP_K):
    """A pandas UDF: struct of the model's feature columns -> the row's top-``k`` SHAP contributions (string).

    The booster travels as its text model through a broadcast and is rebuilt once per Python worker.
    """
    from pyspark.sql.functions import pandas_udf

    text = spark.sparkContext.broadcast(booster.model_to_string())
    key = uuid.uuid4().hex
    names = list(feature_columns)

    @pandas_udf("string")
    def top_features(batch: pd.DataFrame) -> pd.Series:
        import lightgbm as lgb

        from sensorlake.scoring import _BOOSTERS as cache

        if key not in cache:
            cache[key] = lgb.Booster(model_str=text.value)
        X = batch[names].astype("float64").to_numpy()
        contributions = cache[key].predict(X, pred_contrib=True)[:, :len(names)]
        return pd.Series(top_contributions(contributions, names, k), index=batch.index)

    return top_features


def _margin(task) -> timedelta:
    spans = list(task.rolling) + ([task.baseline] if task.baseline else [])
    return max(spans, default=timedelta(0))


def _sql_ts(when: datetime) -> str:
    return f"timestamp'{when.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def model_inputs(spark, cfg: Config, task, start: datetime | None, end: datetime | None, latest: bool,
                 gate: bool = True):
    """The model inputs of the windows to score (training's feature code) and the pinned input versions.

    Range: windows of the task's first view ending in (start, end]; ``latest``: each equipment's newest
    window. Returns (DataFrame with equipment_id, window_end and the features, {table: version}).
    """
    from pyspark.sql import functions as F

    from training.dataset import feature_rows, feature_table
    from training.sources import pin_tables, read_pinned

    tables = [feature_table(v) for v in task.views]
    pins = pin_tables(cfg, tables)
    if gate:
        from expectations.gates import require_passing_validation

        for table in tables:
            require_passing_validation(spark, cfg, table, task.max_unvalidated_versions)
    views = {v: read_pinned(spark, pins[feature_table(v)]) for v in task.views}
    first = views[task.views[0]]
    wanted = None
    if latest:
        wanted = first.groupBy("equipment_id").agg(F.max("window_end").alias("window_end"))
        bounds = wanted.agg(F.min(F.unix_micros("window_end")).alias("lo"),
                            F.max(F.unix_micros("window_end")).alias("hi")).collect()[0]
        if bounds["lo"] is None:
            raise InputError(f"{tables[0]} holds no windows to score", "backfill the feature view first")
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        start = epoch + timedelta(microseconds=bounds["lo"] - 1)
        end = epoch + timedelta(microseconds=bounds["hi"])
    since = _sql_ts(start - _margin(task))
    views = {v: df.where(f"window_end > {since} AND window_end <= {_sql_ts(end)}") for v, df in views.items()}
    rows, _ = feature_rows(task, views)
    rows = rows.where(f"window_end > {_sql_ts(start)}")
    if wanted is not None:
        rows = rows.join(wanted, ["equipment_id", "window_end"], "inner")
    return rows, {t: p.version for t, p in pins.items()}


def score_frame(spark, champion: Champion, task, inputs, run_id: str, now: datetime):
    """gold.predictions rows of ``inputs`` scored by ``champion`` (spark_udf) with their top features."""
    import mlflow
    from pyspark.sql import functions as F

    from training.pyfunc import input_columns

    model = champion.model
    if model.kind not in OUTPUT_COLUMN:
        raise ConfigError(f"task {task.name} is {model.kind}: batch scoring writes binary, regression and anomaly "
                          "models to gold.predictions", "score the failure, rul or anomaly task")
    columns = input_columns(model)
    missing = [c for c in columns if c not in inputs.columns]
    if missing:
        raise InputError(f"{champion.name} v{champion.version} needs {len(missing)} input column(s) the feature "
                         f"views do not give: {missing[:5]}", "retrain the task on the current feature views")
    cast = [F.col(f"`{c}`").cast("double").alias(c) if c in model.feature_columns else F.col(f"`{c}`")
            for c in columns]
    prepared = inputs.select("equipment_id", "window_end", *cast)
    predict = mlflow.pyfunc.spark_udf(spark, champion.local_path, result_type="double", env_manager="local")
    output = OUTPUT_COLUMN[model.kind]
    scored = prepared.select("equipment_id", "window_end",
                             predict(F.struct(*[F.col(f"`{c}`") for c in columns])).alias(output),
                             *[F.col(f"`{c}`") for c in model.feature_columns])
    if model.booster is not None:
        explain = top_features_udf(spark, model.booster, model.feature_columns)
        reasons = explain(F.struct(*[F.col(f"`{c}`") for c in model.feature_columns]))
    else:  # the anomaly baseline has no trees to explain
        reasons = F.lit(None).cast("string")
    values = {"model_name": F.lit(champion.name), "model_version": F.lit(champion.version), "task": F.lit(task.name),
              "failure_probability": F.lit(None).cast("double"), "predicted_rul": F.lit(None).cast("double"),
              "anomaly_score": F.lit(None).cast("double"), "top_features": reasons,
              "job_name": F.lit(JOB_NAME), "run_id": F.lit(run_id), "ingest_time": F.lit(now).cast("timestamp")}
    values[output] = F.col(output)
    return scored.select(*[values[c].alias(c) if c in values else F.col(c) for c in GOLD_PREDICTIONS.column_names])


def _differs(target: str = "t", source: str = "s") -> str:
    parts = []
    for col in _VALUE_COLUMNS:
        t, s = f"{target}.`{col}`", f"{source}.`{col}`"
        if dict(GOLD_PREDICTIONS.columns)[col] == "double":
            parts.append(f"(NOT ({t} <=> {s}) AND ({t} IS NULL OR {s} IS NULL OR abs({t} - {s}) > "
                         f"{_TOLERANCE!r} * greatest(abs({t}), abs({s}))))")
        else:
            parts.append(f"NOT ({t} <=> {s})")
    return " OR ".join(parts)


def merge_predictions(spark, cfg: Config, rows, report: ScoringReport) -> None:
    """MERGE the rows that are new or whose values changed (lineage aside); equal rows are not written."""
    from delta.tables import DeltaTable
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from sensorlake.lake.catalog import ensure_table
    from sensorlake.lake.delta_log import table_version

    path = ensure_table(spark, cfg, GOLD_PREDICTIONS)
    report.table_version_before = table_version(cfg, GOLD_PREDICTIONS.name)
    key = list(GOLD_PREDICTIONS.key)
    mine = (f"t.model_name = '{report.model_name}' AND t.model_version = '{report.model_version}'")
    target = spark.read.format("delta").load(path).alias("t").where(mine)
    status = (F.when(F.col("t.equipment_id").isNull(), F.lit("insert"))
              .when(F.expr(_differs()), F.lit("update")).otherwise(F.lit("unchanged")))
    on = [F.col(f"s.{k}") == F.col(f"t.{k}") for k in key]
    classified = (rows.dropDuplicates(key).alias("s").join(target, on, "left")
                  .select(*[F.col(f"s.`{c}`").alias(c) for c in GOLD_PREDICTIONS.column_names], status.alias("_status"))
                  .persist(StorageLevel.MEMORY_AND_DISK))
    try:
        counts = {r["_status"]: r["count"] for r in classified.groupBy("_status").count().collect()}
        report.rows_scored = sum(counts.values())
        report.unchanged = counts.get("unchanged", 0)
        if counts.get("insert", 0) + counts.get("update", 0):
            changes = classified.where(F.col("_status") != "unchanged").drop("_status")
            condition = " AND ".join([mine] + [f"t.{k} = s.{k}" for k in key])
            metrics = (DeltaTable.forPath(spark, path).alias("t").merge(changes.alias("s"), condition)
                       .whenMatchedUpdateAll(condition=_differs()).whenNotMatchedInsertAll()
                       .execute().collect()[0])
            report.inserted = int(metrics["num_inserted_rows"])
            report.updated = int(metrics["num_updated_rows"])
    finally:
        classified.unpersist()
    report.table_version_after = table_version(cfg, GOLD_PREDICTIONS.name)


def score_windows(spark, cfg: Config, task, start=None, end=None, latest: bool = False, run_id: str | None = None,
                  validate: bool = True, gate: bool = True, data_docs: bool = True) -> ScoringReport:
    """Score a task's windows with its champion into gold.predictions (see module doc).

    ``start``/``end``: windows ending in (start, end] (ISO text or datetimes, UTC), or ``latest=True``.
    ``validate``: run the gold.predictions suite on the rows written (GateFailed on a critical failure).
    ``gate``: refuse feature tables whose latest validation failed, as training does.
    """
    from sensorlake.backfill import parse_time
    from training.config import task_config

    started = time.monotonic()
    task = task_config(cfg, task) if isinstance(task, str) else task
    if latest == bool(start or end) or (not latest and not (start and end)):
        raise ConfigError("score either a range (--start T0 --end T1) or --latest", "e.g. --start 2026-01-05T00:00:00Z --end 2026-01-06T00:00:00Z")
    start, end = (parse_time(start), parse_time(end)) if not latest else (None, None)
    if start is not None and start >= end:
        raise ConfigError(f"--start {start.isoformat()} is not before --end {end.isoformat()}",
                          "windows ending in (start, end] are scored: pass start < end")
    from sensorlake.services.mlflow_server import require_reachable

    require_reachable(cfg)
    champion = load_champion(cfg, task.registered_model)
    run_id = run_id or uuid.uuid4().hex
    report = ScoringReport(task.name, champion.name, champion.version, run_id, start, end)
    inputs, report.inputs = model_inputs(spark, cfg, task, start, end, latest, gate=gate)
    rows = score_frame(spark, champion, task, inputs, run_id, datetime.now(timezone.utc))
    merge_predictions(spark, cfg, rows, report)
    if validate and report.table_version_after != report.table_version_before:
        from expectations import validate_increments

        validate_increments(spark, cfg, {GOLD_PREDICTIONS.name: report.table_version_before}, run_id=run_id,
                            data_docs=data_docs)
    report.seconds = time.monotonic() - started
    log.info(report.summary())
    return report


__all__ = ["Champion", "JOB_NAME", "OUTPUT_COLUMN", "ScoringReport", "load_champion", "merge_predictions",
           "model_inputs", "score_frame", "score_windows", "top_contributions", "top_features_udf"]
