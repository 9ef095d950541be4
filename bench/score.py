"""Benchmark: scoring with ``mlflow.pyfunc.spark_udf`` beside in-process LightGBM on the same rows.

Trains a small LightGBM binary model on synthetic features (``features`` wide, like a feature view
with trailing means and baseline deviations), logs it as the project's pyfunc model
(:class:`training.pyfunc.PredictiveMaintenanceModel`, the one ``sensorlake train`` logs) to a
throwaway MLflow store in a temporary folder (no server), then scores the same ``rows`` rows:

- in process: ``booster.predict`` on the pandas frame (LightGBM's own threads);
- in Spark: the rows cached in the session, ``spark_udf(..., env_manager="local")`` over a struct of
  the feature columns, written to the ``noop`` sink (every row scored, nothing stored). A first full
  pass starts a Python worker per partition and imports MLflow and LightGBM there; the timed passes
  then cost what a scoring job pays per row (spark_udf still loads the model once per task);
- the transfer floor: a pandas UDF that returns zeros over the same struct, so the same rows cross
  from the JVM to the Python workers through Arrow and back with no model at all.

Each side is timed ``repeats`` times and the fastest run counts (the machine is noisy).
``ratio`` = spark_udf rows/s / in-process rows/s (goal: at least 0.5); ``ratio_floor`` is the same
ratio for the transfer floor, the most any model served through a pandas UDF over these columns
could reach. ``max_abs_diff`` compares every spark_udf score with the in-process one.

    python -m bench score --rows 1000000
    BENCH score rows=... features=... spark_udf_rows_per_s=... inprocess_rows_per_s=... ratio=... ratio_floor=... max_abs_diff=...

Example::

    from bench import score
    score.run(cfg, rows=200_000)
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench import emit
from sensorlake.config import Config

DEFAULT_ROWS = 1_000_000
FEATURES = 60
TREES = 100
TRAIN_ROWS = 20_000
REPEATS = 3


def synthetic_features(rows: int, features: int, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """A frame of ``features`` float columns ``f000..`` and a binary label driven by a few of them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    logit = 1.5 * X[:, 0] - 1.0 * X[:, 1] + 0.8 * X[:, 2] * X[:, 3] - 2.0
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(X, columns=[f"f{i:03d}" for i in range(features)]), y


def log_model(folder: Path, booster, columns: list[str]) -> str:
    """Log the pyfunc model to a SQLite-backed MLflow store in ``folder``; return its local path.

    The process's tracking URI is put back afterwards (a test session keeps its own server).
    """
    import mlflow
    from mlflow.models import infer_signature

    from training.pyfunc import PredictiveMaintenanceModel

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("bench-score", artifact_location=(folder / "artifacts").as_uri())
        model = PredictiveMaintenanceModel("binary", columns, booster=booster, threshold=0.5)
        example = pd.DataFrame(np.zeros((5, len(columns))), columns=columns)
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.pyfunc.log_model(name="model", python_model=model,
                                           signature=infer_signature(example, model.predict_frame(example)))
        return mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(folder / "model"))
    finally:
        mlflow.set_tracking_uri(previous)


def fastest(action, repeats: int) -> float:
    """The shortest wall time of ``repeats`` calls of ``action``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(cfg: Config, rows: int | None = None, features: int = FEATURES, repeats: int = REPEATS,
        keep: bool = False) -> dict:
    import lightgbm as lgb
    import mlflow
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    from sensorlake.lake.spark import build_spark_session

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    rows = rows or DEFAULT_ROWS
    folder = Path(tempfile.mkdtemp(prefix="bench-score-"))
    spark = None
    try:
        X_train, y_train = synthetic_features(TRAIN_ROWS, features, seed=1)
        booster = lgb.train({"objective": "binary", "num_leaves": 31, "learning_rate": 0.1, "verbose": -1},
                            lgb.Dataset(X_train, y_train), num_boost_round=TREES)
        model_path = log_model(folder, booster, list(X_train.columns))
        X, _ = synthetic_features(rows, features, seed=2)

        expected = booster.predict(X)                      # also the in-process warm-up
        inprocess_s = fastest(lambda: booster.predict(X), repeats)

        spark = build_spark_session(cfg, app_name="sensorlake-bench-score")
        frame = X.assign(row_id=np.arange(rows, dtype=np.int64))
        frame.to_parquet(folder / "rows.parquet", index=False)
        parallelism = spark.sparkContext.defaultParallelism
        df = spark.read.parquet(str(folder / "rows.parquet")).repartition(parallelism).cache()
        df.count()
        inputs = F.struct(*[F.col(c) for c in X.columns])
        predict = mlflow.pyfunc.spark_udf(spark, model_path, result_type="double", env_manager="local")

        @pandas_udf("double")
        def zeros(batch: pd.DataFrame) -> pd.Series:
            return pd.Series(np.zeros(len(batch)))

        def score_all(udf) -> None:
            df.select("row_id", udf(inputs).alias("p")).write.format("noop").mode("overwrite").save()

        score_all(predict)                                 # every partition's worker imports MLflow and LightGBM
        spark_s = fastest(lambda: score_all(predict), repeats)
        score_all(zeros)
        floor_s = fastest(lambda: score_all(zeros), repeats)

        got = df.select("row_id", predict(inputs).alias("p")).toPandas().sort_values("row_id")["p"].to_numpy()
        figures = {
            "rows": rows, "features": features, "trees": TREES,
            "spark_udf_s": spark_s, "inprocess_s": inprocess_s, "floor_s": floor_s,
            "spark_udf_rows_per_s": rows / spark_s, "inprocess_rows_per_s": rows / inprocess_s,
            "floor_rows_per_s": rows / floor_s,
            "ratio": round(inprocess_s / spark_s, 4), "ratio_floor": round(inprocess_s / floor_s, 4),
            "max_abs_diff": float(np.max(np.abs(got - expected))),
            "repeats": repeats, "spark_partitions": parallelism, "lightgbm_threads": os.cpu_count(),
            "env_manager": "local",
        }
        return emit("score", **figures)
    finally:
        if spark is not None:
            spark.catalog.clearCache()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
