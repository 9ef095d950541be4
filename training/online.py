"""Model inputs one window at a time: the streaming twin of :func:`training.dataset.feature_rows`.

Training and batch scoring build trailing means and baseline deviations with Spark window
functions over a whole table; the real-time scorer sees one new window at a time. An
:class:`EquipmentHistory` keeps one equipment's recent windows (as far back as the longest span)
and turns each new window into the same model inputs, with the same names and the same rule:

- ``<column>__mean_<span>``: the mean of the column over the windows ending in (t - span, t];
- ``<column>__dev_<baseline>``: the first span's mean (the value itself without spans) minus the
  mean over (t - baseline, t].

Means skip missing values, as Spark's ``avg`` skips NULL (a NULL window value arrives here as
None/NaN). A window that arrives again replaces the one held (a late reading updated it);
windows arriving after a later one are folded into the history but the later row is not rescored.
Only single-view tasks run here: further views would need an as-of join across streams.

Example::

    history = EquipmentHistory(columns, spans=[timedelta(minutes=30)], baseline=timedelta(hours=12))
    inputs = history.add(window_end, {"temperature__mean": 71.2, ...})
    inputs["temperature__mean__mean_30m"], inputs["temperature__mean__dev_12h"]
"""
from __future__ import annotations

import bisect
import math
import warnings
from datetime import datetime, timedelta

import numpy as np

from training.dataset import derived_names


def _micros(when: datetime) -> int:
    return (when - datetime(1970, 1, 1, tzinfo=when.tzinfo)) // timedelta(microseconds=1)


def _number(value) -> float:
    return math.nan if value is None else float(value)


class EquipmentHistory:
    """One equipment's recent feature windows and the model inputs of each new one (see module doc)."""

    def __init__(self, columns: list[str], spans, baseline=None):
        self.columns = list(columns)
        self.spans = [int(s.total_seconds() * 1_000_000) for s in spans]
        self.baseline = int(baseline.total_seconds() * 1_000_000) if baseline is not None else None
        means, deviations = derived_names(self.columns, spans, baseline)
        self.names = [name for names in means for name in names] + deviations
        self.keep = max(self.spans + ([self.baseline] if self.baseline else []), default=0)
        self.ends: list[int] = []           # window_end in microseconds, ascending
        self.values: list[np.ndarray] = []  # the window's column values, same order

    def __len__(self) -> int:
        return len(self.ends)

    def add(self, window_end: datetime, row: dict) -> dict:
        """Hold the window ending at ``window_end`` and return its model inputs (columns + derived)."""
        t = _micros(window_end)
        values = np.array([_number(row.get(c)) for c in self.columns], dtype="float64")
        i = bisect.bisect_left(self.ends, t)
        if i < len(self.ends) and self.ends[i] == t:
            self.values[i] = values
        else:
            self.ends.insert(i, t)
            self.values.insert(i, values)
        inputs = dict(zip(self.columns, values.tolist()))
        inputs.update(zip(self.names, self._derived(t, i)))
        self._forget_before(self.ends[-1] - self.keep)
        return inputs

    def _mean_over(self, t: int, index: int, span: int) -> np.ndarray:
        lo = bisect.bisect_right(self.ends, t - span, 0, index + 1)
        block = np.vstack(self.values[lo:index + 1])
        with warnings.catch_warnings():   # an all-missing column gives NaN (as Spark's avg gives NULL), quietly
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(block, axis=0)

    def _derived(self, t: int, index: int) -> list[float]:
        out, means = [], []
        for span in self.spans:
            mean = self._mean_over(t, index, span)
            means.append(mean)
            out.extend(mean.tolist())
        if self.baseline is not None:
            recent = means[0] if means else self.values[index]
            out.extend((recent - self._mean_over(t, index, self.baseline)).tolist())
        return out

    def _forget_before(self, cutoff: int) -> None:
        drop = bisect.bisect_right(self.ends, cutoff)
        if drop:
            del self.ends[:drop], self.values[:drop]


__all__ = ["EquipmentHistory"]
