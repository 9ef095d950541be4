"""Benchmark: training a failure model on 1 million rows x 100 features, beside plain LightGBM.

Synthetic features (:func:`bench.score.synthetic_features`, a binary label driven by a few
columns) split 80/20 into training and validation rows. Timed on the same rows, one after the
other, with the same parameters (the configuration's ``training.lightgbm``) and a fixed number of
rounds (no early stopping, so both grow the same trees):

- ``sensorlake_s``: :func:`training.models.fit_lightgbm`, the function ``sensorlake train`` uses
  (balanced class weights, validation set);
- ``lightgbm_s``: ``lightgbm.train`` on the raw arrays, no weights.

``ratio`` = sensorlake_s / lightgbm_s: the cost of the project's wrapper (1.0 = none).
``rows_per_s`` = training rows x rounds / sensorlake_s, the figure to compare across machines.

    python -m bench train --rows 1000000
    BENCH train rows=1000000 features=100 rounds=100 sensorlake_s=... lightgbm_s=... ratio=...

Example::

    from bench import train
    train.run(cfg, rows=200_000)
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from bench import emit
from bench.score import synthetic_features
from sensorlake.config import Config

DEFAULT_ROWS = 1_000_000
FEATURES = 100
ROUNDS = 100


def run(cfg: Config, rows: int | None = None, features: int = FEATURES, rounds: int = ROUNDS) -> dict:
    import lightgbm as lgb

    from training.config import task_config
    from training.models import fit_lightgbm

    rows = rows or DEFAULT_ROWS
    X, y = synthetic_features(rows, features)
    cut = int(rows * 0.8)
    X_train, y_train, X_valid, y_valid = X.iloc[:cut], y[:cut], X.iloc[cut:], y[cut:]
    task = dataclasses.replace(task_config(cfg, "failure"), num_boost_round=rounds, early_stopping_rounds=0)

    started = time.perf_counter()
    fitted = fit_lightgbm(task, X_train, y_train, X_valid, y_valid)
    sensorlake_s = time.perf_counter() - started

    params = {"objective": "binary", "metric": "average_precision", **task.lightgbm}
    started = time.perf_counter()
    plain = lgb.train(params, lgb.Dataset(X_train.to_numpy(), y_train), num_boost_round=rounds)
    lightgbm_s = time.perf_counter() - started

    agreement = float(np.corrcoef(fitted.booster.predict(X_valid), plain.predict(X_valid.to_numpy()))[0, 1])
    return emit("train", rows=rows, features=features, rounds=rounds, threads=int(task.lightgbm.get("num_threads", 0)),
                sensorlake_s=round(sensorlake_s, 2), lightgbm_s=round(lightgbm_s, 2),
                ratio=round(sensorlake_s / lightgbm_s, 3), rows_per_s=round(cut * rounds / sensorlake_s),
                prediction_corr=round(agreement, 4))
