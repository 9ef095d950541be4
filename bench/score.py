"""Benchmark: scoring with ``mlflow.pyfunc.spark_udf`` beside in-process LightGBM on the same rows.

Trains a small LightGBM binary model on synthetic features (``features`` wide, like a feature view
with trailing means and baseline deviations), logs it as the project's pyfunc model
(:class:`training.pyfunc.PredictiveMaintenanceModel`, the one ``sensorlake train`` logs) to a
throwaway MLflow store in a temporary folder (no server), then scores the same ``rows`` rows:

- in process: ``booster.predict`` on the pandas frame (LightGBM's own threads);
- in Spark: the rows cached in the session, ``spark_udf(..., env_manager="local")`` over a struct of
  the feature columns, written to the ``noop`` sink (every row scored, nothing stored); one warm-up
  pass on a slice loads the model into the Python workers first.

``ratio`` = spark_udf rows/s / in-process rows/s (goal: at least 0.5). ``max_abs_diff`` compares
every spark_udf score with the in-process one.

    python -m bench score --rows 1000000
    BENCH score rows=... features=... spark_udf_rows_per_s=... inprocess_rows_per_s=... ratio=... max_abs_diff=...

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


def synthetic_features(rows: int, features: int, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """A frame of ``features`` float columns ``f000..`` and a binary label driven by a few of them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    logit = 1.5 * X[:, 0] - 1.0 * X[:, 1] + 0.8 * X[:, 2] * X[:, 3] - 2.0
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(X, columns=[f"f{i:03d}" for i in range(features)]), y


def log_model(folder: Path, booster, columns: list[str]) -> str:
    """Log the pyfunc model to a SQLite-backed MLflow store in ``folder``; return its local path."""
    import mlflow
    from mlflow.models import infer_signature

    from training.pyfunc import PredictiveMaintenanceModel

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench-score", artifact_location=(folder / "artifacts").as_uri())
    model = PredictiveMaintenanceModel("binary", columns, booster=booster, threshold=0.5)
    example = pd.DataFrame(np.zeros((5, len(columns))), columns=columns)
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.pyfunc.log_model(name="model", python_model=model,
                                       signature=infer_signature(example, model.predict_frame(example)))
    return mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(folder / "model"))


def run(cfg: Config, rows: int | None = None, features: int = FEATURES, keep: bool = False) -> dict:
    import lightgbm as lgb
    import mlflow
    from pyspark.sql import functions as F

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

        booster.predict(X.head(1000))                      # warm-up
        t0 = time.perf_counter()
        expected = booster.predict(X)
        inprocess_s = time.perf_counter() - t0

        spark = build_spark_session(cfg, app_name="sensorlake-bench-score")
        frame = X.assign(row_id=np.arange(rows, dtype=np.int64))
        frame.to_parquet(folder / "rows.parquet", index=False)
        parallelism = spark.sparkContext.defaultParallelism
        df = spark.read.parquet(str(folder / "rows.parquet")).repartition(parallelism).cache()
        df.count()
        predict = mlflow.pyfunc.spark_udf(spark, model_path, result_type="double", env_manager="local")
        inputs = F.struct(*[F.col(c) for c in X.columns])
        df.limit(20_000).select(predict(inputs)).write.format("noop").mode("overwrite").save()   # load the model in the workers
        t0 = time.perf_counter()
        df.select("row_id", predict(inputs).alias("p")).write.format("noop").mode("overwrite").save()
        spark_s = time.perf_counter() - t0

        got = df.select("row_id", predict(inputs).alias("p")).toPandas().sort_values("row_id")["p"].to_numpy()
        figures = {
            "rows": rows, "features": features, "trees": TREES,
            "spark_udf_s": round(spark_s, 3), "inprocess_s": round(inprocess_s, 3),
            "spark_udf_rows_per_s": rows / spark_s, "inprocess_rows_per_s": rows / inprocess_s,
            "ratio": round(inprocess_s / spark_s, 4),
            "max_abs_diff": float(np.max(np.abs(got - expected))),
            "spark_partitions": parallelism, "lightgbm_threads": os.cpu_count(), "env_manager": "local",
        }
        return emit("score", **figures)
    finally:
        if spark is not None:
            spark.catalog.clearCache()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
