"""Evaluation metrics of each task kind, on the held-out rows.

- binary / anomaly: PR-AUC (average precision), ROC-AUC, precision / recall / F1 at the chosen
  threshold, alerts per day and alert precision at the alert budget's threshold
  (``precision_at_budget``: the share of alerts whose first window fails within the horizon),
  the share of failures alerted before they happen and the median lead time (hours from the
  first alert within the horizon to the failure);
- regression (RUL, hours): RMSE, MAE and the asymmetric PHM08 score (late predictions cost more:
  ``exp(d/10) - 1`` for ``d = predicted - true > 0``, ``exp(-d/13) - 1`` otherwise, in ``phm08_unit``);
- multiclass: macro F1, accuracy, log loss.

Example::

    binary_metrics(test_frame, scores, threshold=0.4, budget_threshold=0.6, throttle=timedelta(hours=2), fleet_size=40)
    regression_metrics(y_true, y_pred, unit_hours=1.0)
"""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from training.alerts import alert_starts, alerts_per_day


def phm08_score(y_true, y_pred, unit_hours: float = 1.0) -> np.ndarray:
    """Per-row PHM08 penalty of RUL predictions (hours), errors measured in ``unit_hours``."""
    d = (np.asarray(y_pred, float) - np.asarray(y_true, float)) / unit_hours
    return np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)


def regression_metrics(y_true, y_pred, unit_hours: float = 1.0) -> dict:
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    err = y_pred - y_true
    score = phm08_score(y_true, y_pred, unit_hours)
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
            "phm08_score": float(score.sum()), "phm08_score_mean": float(score.mean()), "rows": int(len(y_true))}


def ranking_metrics(labels, scores) -> dict:
    """PR-AUC and ROC-AUC; empty when the rows hold a single class (undefined)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels, int)
    if labels.min() == labels.max():
        return {}
    return {"pr_auc": float(average_precision_score(labels, scores)), "roc_auc": float(roc_auc_score(labels, scores))}


def lead_times(frame: pd.DataFrame, positive: np.ndarray) -> tuple[np.ndarray, int]:
    """Hours from the first positive window within the horizon to each failure; and the failures in view.

    ``frame`` needs equipment_id, next_failure_time, hours_to_failure, fails_within.
    """
    within = frame["fails_within"].to_numpy() == 1
    failures = frame.loc[within, ["equipment_id", "next_failure_time"]].drop_duplicates()
    hits = frame.loc[within & np.asarray(positive, bool)]
    leads = hits.groupby(["equipment_id", "next_failure_time"])["hours_to_failure"].max().to_numpy()
    return leads, len(failures)


def binary_metrics(frame: pd.DataFrame, scores, threshold: float, budget_threshold: float,
                   throttle: timedelta, fleet_size: int) -> dict:
    """Metrics of failure scores on ``frame`` (see module doc); labels from ``fails_within``."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    labels = frame["fails_within"].to_numpy().astype(int)
    scores = np.asarray(scores, float)
    out = ranking_metrics(labels, scores)
    chosen = scores >= threshold
    out.update({"f1": float(f1_score(labels, chosen, zero_division=0)),
                "precision": float(precision_score(labels, chosen, zero_division=0)),
                "recall": float(recall_score(labels, chosen, zero_division=0)),
                "positive_rate": float(labels.mean()), "rows": int(len(labels)),
                "alerts_per_day": alerts_per_day(frame, chosen, throttle, fleet_size)})
    at_budget = scores >= budget_threshold
    starts = alert_starts(frame, at_budget, throttle)
    out["alerts_at_budget"] = int(starts.sum())
    out["precision_at_budget"] = float(labels[starts].mean()) if starts.any() else 0.0
    leads, failures = lead_times(frame, chosen)
    out["failures"] = failures
    out["failures_alerted"] = int(len(leads))
    out["failure_recall"] = float(len(leads) / failures) if failures else 0.0
    if len(leads):
        out["median_lead_time_h"] = float(np.median(leads))
    return out


def multiclass_metrics(labels, probabilities: pd.DataFrame) -> dict:
    """Macro F1, accuracy and log loss of class probabilities (columns: class names)."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    labels = np.asarray(labels).astype(str)
    classes = list(probabilities.columns)
    predicted = np.asarray(classes)[np.argmax(probabilities.to_numpy(), axis=1)]
    out = {"macro_f1": float(f1_score(labels, predicted, average="macro", zero_division=0)),
           "accuracy": float(accuracy_score(labels, predicted)), "rows": int(len(labels))}
    if set(labels) <= set(classes):
        p = np.clip(probabilities.to_numpy(), 1e-15, 1.0)
        out["log_loss"] = float(log_loss(labels, p / p.sum(axis=1, keepdims=True), labels=classes))
    for cls in sorted(set(labels)):
        out[f"f1.{cls}"] = float(f1_score(labels == cls, predicted == cls, zero_division=0))
    return out
