"""Unsupervised anomaly scores on the same features, for equipment with no failure labels.

``robust_z``: per feature, the median and the scaled MAD (1.4826 x MAD; the standard deviation
when the MAD is 0) of the training rows, per equipment when ``group_by: equipment_id`` (equipment
unseen in training fall back to the fleet baseline). A row's raw score is the root mean square
of its clipped robust z-scores over the features it has. ``isolation_forest``: scikit-learn's
IsolationForest on the median-imputed features. Either raw score is mapped to [0, 1] by its
empirical distribution on the training rows: 0.99 means "more unusual than 99% of training windows".

Example::

    model = fit_anomaly(X_train, equipment_train, method="robust_z", group_by="equipment_id")
    model.score(X_test, equipment_test)          # numpy array in [0, 1]
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

QUANTILES = np.linspace(0.0, 1.0, 1001)


def _baseline(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    values = X.to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(values, axis=0)
            scale = 1.4826 * np.nanmedian(np.abs(values - median), axis=0)
            std = np.nanstd(values, axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, np.where(np.isfinite(std) & (std > 0), std, 1.0))
    return median, scale


@dataclass
class AnomalyModel:
    """A fitted anomaly scorer; :meth:`score` gives values in [0, 1]."""

    method: str
    columns: list[str]
    clip: float
    median: np.ndarray | None = None
    scale: np.ndarray | None = None
    groups: dict = field(default_factory=dict)
    forest: object = None
    quantiles: np.ndarray | None = None

    def raw_score(self, X: pd.DataFrame, groups=None) -> np.ndarray:
        values = X[self.columns].to_numpy(dtype=float)
        if self.method == "isolation_forest":
            filled = np.where(np.isnan(values), self.median, values)
            return -self.forest.score_samples(filled)
        median = np.tile(self.median, (len(values), 1))
        scale = np.tile(self.scale, (len(values), 1))
        if groups is not None and self.groups:
            groups = np.asarray(groups).astype(str)
            for g, (m, s) in self.groups.items():
                rows = groups == g
                median[rows], scale[rows] = m, s
        z = np.clip(np.abs(values - median) / scale, 0.0, self.clip)
        present = ~np.isnan(z)
        with np.errstate(invalid="ignore", divide="ignore"):
            rms = np.sqrt(np.where(present, z ** 2, 0.0).sum(axis=1) / present.sum(axis=1))
        return np.nan_to_num(rms, nan=0.0)

    def score(self, X: pd.DataFrame, groups=None) -> np.ndarray:
        """Scores in [0, 1]: the training-rows quantile of each row's raw score."""
        return np.interp(self.raw_score(X, groups), self.quantiles, QUANTILES)


def fit_anomaly(X: pd.DataFrame, groups=None, method: str = "robust_z", group_by: str | None = None,
                clip: float = 10.0, seed: int = 42) -> AnomalyModel:
    """Fit the baseline on training rows (no labels) and calibrate its [0, 1] mapping on them."""
    columns = list(X.columns)
    median, scale = _baseline(X)
    model = AnomalyModel(method, columns, float(clip), median, scale)
    if method == "isolation_forest":
        from sklearn.ensemble import IsolationForest

        filled = np.where(np.isnan(X.to_numpy(dtype=float)), median, X.to_numpy(dtype=float))
        model.forest = IsolationForest(n_estimators=200, random_state=seed, n_jobs=1).fit(filled)
    elif group_by and groups is not None:
        groups = pd.Series(np.asarray(groups).astype(str), index=X.index)
        for g, rows in X.groupby(groups):
            model.groups[g] = _baseline(rows)
    model.quantiles = np.maximum.accumulate(np.quantile(model.raw_score(X, groups), QUANTILES))
    return model
