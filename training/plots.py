"""Evaluation plots logged as run artifacts (matplotlib, headless Agg backend).

Example::

    fig = pr_curve(labels, scores, threshold=0.4)
    mlflow.log_figure(fig, "plots/pr_curve.png")
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def pr_curve(labels, scores, threshold: float | None = None, title: str = "Precision-recall (test rows)"):
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.step(recall, precision, where="post", label=f"AP = {average_precision_score(labels, scores):.3f}")
    ax.axhline(np.mean(labels), color="grey", linestyle=":", label="base rate")
    if threshold is not None and len(thresholds):
        i = min(int(np.searchsorted(thresholds, threshold)), len(thresholds) - 1)
        ax.plot(recall[i], precision[i], "o", color="red", label=f"threshold {threshold:.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


def calibration(labels, probabilities, bins: int = 10):
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(labels, probabilities, n_bins=bins, strategy="quantile")
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    ax.plot(predicted, observed, "o-", label="model")
    ax.set(xlabel="predicted probability", ylabel="observed failure rate", title="Calibration (test rows)",
           xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def feature_importance(importance: pd.Series, top: int = 25):
    shown = importance.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.25 * len(shown) + 1.2))
    ax.barh(shown.index, shown.values)
    ax.set(xlabel="total gain", title=f"Feature importance (top {len(shown)})")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def rul_predicted_vs_true(y_true, y_pred, cap_hours: float):
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(y_true, y_pred, s=4, alpha=0.3)
    ax.plot([0, cap_hours], [0, cap_hours], color="grey", linestyle=":")
    ax.set(xlabel="true RUL (h, capped)", ylabel="predicted RUL (h)", title="RUL: predicted vs true (test rows)",
           xlim=(0, cap_hours * 1.05), ylim=(0, cap_hours * 1.05))
    fig.tight_layout()
    return fig


def confusion(labels, predicted, classes: list[str]):
    from sklearn.metrics import confusion_matrix

    m = confusion_matrix(labels, predicted, labels=classes)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
    ax.set(xlabel="predicted mode", ylabel="true mode", title="Failure mode (test rows)")
    fig.tight_layout()
    return fig


def close(fig) -> None:
    plt.close(fig)
