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
windows arriving after a later one are folded into the history (their inputs from the windows
ending at or before them) but the later row is not rescored.

Each mean is a difference of running sums (of the values and of the counts of values present), so
a window costs the same whatever the span; a replaced or late window recomputes the sums from its
place on. The sums are recomputed from scratch whenever the buffers fill up and are rebuilt
without the windows forgotten, so rounding errors do not build up in a job that runs for days.
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
    """One equipment's recent feature windows and the model inputs of each new one (see module doc).

    The windows held are rows ``_first:`` of ``_ends`` (ascending) and ``_values``. Row ``j`` of
    ``_sums`` holds, over rows ``< j``: per column the sum of its finite values minus ``_shift`` (the
    column's mean when the buffers were built: smaller sums, smaller rounding errors) and their
    count, then the number of rows with an infinite value. Rows before ``_first`` are windows
    forgotten, dropped when the buffers fill up and are rebuilt.
    """

    def __init__(self, columns: list[str], spans, baseline=None):
        self.columns = list(columns)
        self.spans = [int(s.total_seconds() * 1_000_000) for s in spans]
        self.baseline = int(baseline.total_seconds() * 1_000_000) if baseline is not None else None
        means, deviations = derived_names(self.columns, spans, baseline)
        self.names = [name for names in means for name in names] + deviations
        self.keep = max(self.spans + ([self.baseline] if self.baseline else []), default=0)
        self._load([], np.empty((0, len(self.columns))))

    def __len__(self) -> int:
        return len(self._ends) - self._first

    def __getstate__(self) -> dict:
        """The settings and the windows held (``ends``, ``values``); the sums are rebuilt on loading."""
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        return state | {"ends": self._ends[self._first:], "values": self._values[self._first:len(self._ends)]}

    def __setstate__(self, state: dict) -> None:
        """Also loads a history pickled by the class before the sums (``values`` a list of rows)."""
        state = dict(state)
        ends, values = state.pop("ends"), state.pop("values")
        self.__dict__.update(state)
        self._load(ends, np.array(values, dtype="float64").reshape(len(ends), len(self.columns)))

    def add(self, window_end: datetime, row: dict) -> dict:
        """Hold the window ending at ``window_end`` and return its model inputs (columns + derived)."""
        t = _micros(window_end)
        values = np.array([_number(row.get(c)) for c in self.columns], dtype="float64")
        i = bisect.bisect_left(self._ends, t, self._first)
        if i == len(self._ends) or self._ends[i] != t:
            i = self._insert(i, t)
        self._values[i] = values
        self._sum_from(i)
        inputs = dict(zip(self.columns, values.tolist()))
        inputs.update(zip(self.names, self._derived(t, i)))
        self._forget_before(self._ends[-1] - self.keep)
        return inputs

    def _insert(self, i: int, t: int) -> int:
        """Make room for a window ending at ``t`` at row ``i``; the row it gets (rows move on a rebuild)."""
        n = len(self._ends)
        if n == len(self._values):   # full: rebuild without the windows forgotten
            i -= self._first
            self._load(self._ends[self._first:], self._values[self._first:])
            n = len(self._ends)
        self._values[i + 1:n + 1] = self._values[i:n].copy()
        self._ends.insert(i, t)
        return i

    def _load(self, ends: list[int], values: np.ndarray) -> None:
        """Hold these windows in buffers with room for half as many more; the sums computed afresh."""
        n = len(ends)
        self._ends, self._first = list(ends), 0
        self._values = np.empty((n + n // 2 + 16, len(self.columns)))
        self._values[:n] = values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # a column without values: shift 0
            self._shift = np.nan_to_num(np.nanmean(self._values[:n], axis=0), nan=0.0, posinf=0.0, neginf=0.0)
        self._sums = np.zeros((len(self._values) + 1, 2 * len(self.columns) + 1))
        self._sum_from(0)

    def _sum_from(self, i: int) -> None:
        """Recompute the running sums after row ``i`` changed: one row when a window was appended."""
        n, k = len(self._ends), len(self.columns)
        block, sums = self._values[i:n], self._sums[i + 1:n + 1]
        finite = np.isfinite(block)
        np.subtract(block, self._shift, out=sums[:, :k])
        sums[:, :k][~finite] = 0.0
        sums[:, k:-1] = finite
        sums[:, -1] = np.isinf(block).any(axis=1)
        np.cumsum(sums, axis=0, out=sums)
        sums += self._sums[i]

    def _mean_over(self, t: int, index: int, span: int) -> np.ndarray:
        """Each column's mean over the windows ending in (t - span, t] up to row ``index``, missing skipped."""
        lo = bisect.bisect_right(self._ends, t - span, self._first, index + 1)
        total = self._sums[index + 1] - self._sums[lo]
        if total[-1]:   # rare: an infinite value (inf, or nan if +inf meets -inf), averaged as numpy does
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmean(self._values[lo:index + 1], axis=0)
        k = len(self.columns)
        counts = total[k:2 * k]
        return self._shift + total[:k] / np.where(counts > 0, counts, np.nan)   # no values: NaN (Spark's NULL), quietly

    def _derived(self, t: int, index: int) -> list[float]:
        out, means = [], []
        for span in self.spans:
            mean = self._mean_over(t, index, span)
            means.append(mean)
            out.extend(mean.tolist())
        if self.baseline is not None:
            recent = means[0] if means else self._values[index]
            out.extend((recent - self._mean_over(t, index, self.baseline)).tolist())
        return out

    def _forget_before(self, cutoff: int) -> None:
        """Let go of the windows ending at or before ``cutoff`` (their rows go at the next rebuild)."""
        self._first = bisect.bisect_right(self._ends, cutoff, self._first)


__all__ = ["EquipmentHistory"]
