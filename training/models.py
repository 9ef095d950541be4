"""LightGBM models of the supervised tasks: binary (fails within H), regression (RUL), multiclass (mode).

Class imbalance: with ``class_weight: balanced`` each row is weighted by the inverse frequency of
its class (binary and multiclass), so the rare class counts as much as the common one. Early
stopping watches the validation rows (average precision, RMSE, multi-class log loss).

Example::

    fitted = fit_lightgbm(task, X_train, y_train, X_valid, y_valid)
    fitted.booster.predict(X_test)         # probabilities (binary), hours (RUL), class matrix (mode)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sensorlake.errors import InputError
from training.config import TaskConfig

OBJECTIVES = {"binary": ("binary", "average_precision"), "regression": ("regression", "rmse"),
              "multiclass": ("multiclass", "multi_logloss")}


@dataclass
class FittedModel:
    booster: object  # lightgbm.Booster
    classes: list[str] | None
    best_iteration: int

    def importance(self, kind: str = "gain") -> pd.Series:
        names = self.booster.feature_name()
        return pd.Series(self.booster.feature_importance(kind), index=names).sort_values(ascending=False)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weight n / (k x count of the row's class): every class weighs the same in total."""
    values, counts = np.unique(y, return_counts=True)
    per_class = dict(zip(values, len(y) / (len(values) * counts)))
    return np.array([per_class[v] for v in y], dtype=float)


def encode_classes(y_train: pd.Series) -> list[str]:
    classes = sorted(pd.Series(y_train).dropna().astype(str).unique())
    if len(classes) < 2:
        raise InputError(f"the mode task needs at least two failure modes in the training rows, found {classes}",
                         "train on a longer history (more failures) or use the failure task")
    return classes


def fit_lightgbm(task: TaskConfig, X_train: pd.DataFrame, y_train, X_valid: pd.DataFrame, y_valid) -> FittedModel:
    """Train the task's LightGBM model with early stopping on the validation rows."""
    import lightgbm as lgb

    objective, metric = OBJECTIVES[task.kind]
    params = {"objective": objective, "metric": metric, **task.lightgbm}
    classes = None
    y_train, y_valid = np.asarray(y_train), np.asarray(y_valid)
    if task.kind == "multiclass":
        classes = encode_classes(pd.Series(y_train))
        index = {c: i for i, c in enumerate(classes)}
        keep = np.array([str(v) in index for v in y_valid])
        X_valid, y_valid = X_valid[keep], y_valid[keep]
        y_train = np.array([index[str(v)] for v in y_train])
        y_valid = np.array([index[str(v)] for v in y_valid])
        params["num_class"] = len(classes)
    elif task.kind == "binary":
        y_train, y_valid = y_train.astype(int), y_valid.astype(int)
        if y_train.min() == y_train.max():
            raise InputError("the training rows hold a single class of fails_within",
                             "train on a longer history with failures, or a longer horizon")
    weights = balanced_weights(y_train) if task.class_weight == "balanced" and task.kind != "regression" else None
    train_set = lgb.Dataset(X_train, y_train, weight=weights, free_raw_data=False)
    valid_set = lgb.Dataset(X_valid, y_valid, reference=train_set, free_raw_data=False)
    callbacks = [lgb.log_evaluation(0)]
    if task.early_stopping_rounds and len(X_valid):
        callbacks.append(lgb.early_stopping(task.early_stopping_rounds, verbose=False))
    booster = lgb.train(params, train_set, num_boost_round=task.num_boost_round,
                        valid_sets=[valid_set] if len(X_valid) else None, callbacks=callbacks)
    return FittedModel(booster, classes, int(booster.best_iteration or booster.current_iteration()))
