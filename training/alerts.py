"""Alerts from window-level predictions, and the decision threshold: expected cost within an alert budget.

An *alert* is a run of positive windows of one equipment: a positive window starts a new alert
when the previous positive window of that equipment ended more than ``throttle`` earlier (the
way gold.alerts throttles). The alert rate is scaled to the whole fleet:
``alerts / equipment-days observed x fleet size``.

The threshold minimises ``false_alarm x FP + missed_failure x FN`` over the rows, then is raised
if needed so the alert rate stays within the budget (alerts per day for the fleet): the budget
threshold is the lowest one reached, lowering from the top, before the rate first exceeds it.

Example::

    choice = choose_threshold(valid_frame, scores, costs={"false_alarm": 1, "missed_failure": 10},
                              budget_per_day=6, throttle=timedelta(hours=2), fleet_size=40)
    choice.threshold, choice.by_cost, choice.by_budget
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

CANDIDATES = 200


def alert_starts(frame: pd.DataFrame, positive: np.ndarray, throttle: timedelta) -> np.ndarray:
    """True at each row that starts an alert (``frame`` needs equipment_id, window_end)."""
    positive = np.asarray(positive, dtype=bool)
    starts = np.zeros(len(frame), dtype=bool)
    if not positive.any():
        return starts
    pos = frame.loc[positive, ["equipment_id", "window_end"]].copy()
    pos["_i"] = np.flatnonzero(positive)
    pos = pos.sort_values(["equipment_id", "window_end"])
    gap = pos.groupby("equipment_id")["window_end"].diff()
    first = gap.isna() | (gap > pd.Timedelta(throttle))
    starts[pos.loc[first, "_i"].to_numpy()] = True
    return starts


def equipment_days(frame: pd.DataFrame) -> float:
    """Days observed, summed over equipment (first to last window_end, at least one window each)."""
    spans = frame.groupby("equipment_id")["window_end"].agg(["min", "max"])
    return float(max(((spans["max"] - spans["min"]).dt.total_seconds().sum()) / 86400.0, 1.0 / 1440))


def alerts_per_day(frame: pd.DataFrame, positive: np.ndarray, throttle: timedelta, fleet_size: int) -> float:
    """Alerts per day the whole fleet would raise at this rate."""
    return float(alert_starts(frame, positive, throttle).sum()) / equipment_days(frame) * fleet_size


@dataclass
class ThresholdChoice:
    """The chosen threshold and the two it came from, with their figures on the rows used."""

    threshold: float
    by_cost: float
    by_budget: float
    expected_cost: float
    alerts_per_day: float
    budget_binding: bool

    def as_metrics(self, prefix: str = "threshold") -> dict:
        return {prefix: self.threshold, f"{prefix}_by_cost": self.by_cost, f"{prefix}_by_budget": self.by_budget,
                "valid_expected_cost": self.expected_cost, "valid_alerts_per_day": self.alerts_per_day}


def candidate_thresholds(scores: np.ndarray) -> np.ndarray:
    qs = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, CANDIDATES)))
    return np.unique(np.concatenate([qs, [np.nextafter(scores.max(), np.inf)]]))


def choose_threshold(frame: pd.DataFrame, scores, labels, costs: dict, budget_per_day: float,
                     throttle: timedelta, fleet_size: int) -> ThresholdChoice:
    """The cost-minimising threshold on these rows, raised to respect the alert budget (see module doc)."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=int)
    candidates = candidate_thresholds(scores)
    fa, miss = float(costs["false_alarm"]), float(costs["missed_failure"])
    cost = np.array([fa * np.sum((scores >= t) & (labels == 0)) + miss * np.sum((scores < t) & (labels == 1))
                     for t in candidates])
    best = candidates[np.flatnonzero(cost == cost.min())[-1]]  # ties: the higher threshold (fewer alerts)
    rates = {}

    def rate(t):
        if t not in rates:
            rates[t] = alerts_per_day(frame, scores >= t, throttle, fleet_size)
        return rates[t]

    by_budget = float(candidates[-1])  # above every score: no alert
    for t in candidates[::-1]:  # lower the threshold until the budget is first exceeded
        if rate(t) > budget_per_day:
            break
        by_budget = float(t)
    threshold = max(float(best), by_budget)
    idx = int(np.searchsorted(candidates, threshold))
    return ThresholdChoice(threshold=threshold, by_cost=float(best), by_budget=by_budget,
                           expected_cost=float(cost[min(idx, len(cost) - 1)]), alerts_per_day=rate(threshold),
                           budget_binding=by_budget > best)
