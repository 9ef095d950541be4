"""EquipmentHistory (training.online) against a brute-force reference on randomised window streams.

The reference holds the windows in arrays and averages, for each new window at t, the values of
the windows held ending in (t - span, t] with ``np.nanmean``, then forgets the windows ending at
or before the newest minus the longest span: what the history computed before its running sums.
"""
from __future__ import annotations

import pickle
import warnings
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from training.online import EquipmentHistory

T0 = datetime(2025, 9, 1, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


class Reference:
    """Every mean from the windows themselves (see module doc); times in microseconds since T0."""

    def __init__(self, columns, spans, baseline):
        self.columns, self.spans, self.baseline = columns, [micros(s) for s in spans], baseline and micros(baseline)
        self.keep = max(self.spans + ([self.baseline] if baseline else []), default=0)
        self.ends, self.values = np.empty(0, dtype=np.int64), np.empty((0, len(columns)))

    def add(self, end: datetime, row: dict) -> np.ndarray:
        """The window's values, its means over each span, its deviations from the baseline."""
        t, values = micros(end - T0), np.array([np.nan if row.get(c) is None else float(row[c]) for c in self.columns])
        if t in self.ends:
            self.values[self.ends == t] = values
        else:
            self.ends, self.values = np.append(self.ends, t), np.vstack([self.values, values])
        means = [self.mean(t, span) for span in self.spans]
        if self.baseline is not None:
            means.append((means[0] if means else values) - self.mean(t, self.baseline))
        held = self.ends > self.ends.max() - self.keep
        self.ends, self.values = self.ends[held], self.values[held]
        return np.concatenate([values, *means])

    def mean(self, t: int, span: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(self.values[(t - span < self.ends) & (self.ends <= t)], axis=0)


def micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def events(seed: int, n: int, columns: list[str], replace=0.0, late=0.0, missing=0.0, gap=0.0):
    """(window_end, row) of ``n`` windows a minute apart: some skipped (``gap``), sent again with new
    values (``replace``), or sent after later ones (``late``); values missing (None or NaN) at ``missing``."""
    rng = np.random.default_rng(seed)
    scale = ([70.0, 0.02, 1.0e4, 1.0] * len(columns))[:len(columns)]   # sensor features of different sizes
    sent, out, held_back = [], [], []
    for k in range(n):
        if rng.random() < gap:
            continue
        end = T0 + k * MINUTE
        if sent and rng.random() < replace:
            end = sent[-int(rng.integers(1, min(len(sent), 40) + 1))]
        row = {}
        for c, s in zip(columns, scale):
            roll = rng.random()
            row[c] = None if roll < missing / 2 else np.nan if roll < missing else s * (1 + 0.1 * rng.standard_normal())
        if rng.random() < late:
            held_back.append((end, row))   # arrives a few windows later
            continue
        out.append((end, row))
        sent.append(end)
        if held_back and rng.random() < 0.3:
            out.append(held_back.pop(int(rng.integers(len(held_back)))))
    return out + held_back


def compare(columns, spans, baseline, stream) -> float:
    """Feed both; every input of every window must agree. The largest share of the tolerance used."""
    history, reference = EquipmentHistory(columns, spans, baseline), Reference(columns, spans, baseline)
    got, want = [], []
    for end, row in stream:
        inputs = history.add(end, row)
        assert list(inputs) == list(columns) + history.names
        got.append(list(inputs.values()))
        want.append(reference.add(end, row))
    got, want = np.array(got, dtype=float), np.array(want)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert len(history) == len(reference.ends)
    finite = np.isfinite(want)
    return (np.abs(got - want)[finite] / (1e-9 + 1e-9 * np.abs(want[finite]))).max(initial=0.0)


COLUMNS = ["temperature__mean", "vibration__std", "pressure__max", "current__mean"]
SPANS, BASELINE = [timedelta(minutes=30)], timedelta(hours=2)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_in_order_windows_give_the_references_means(seed):
    compare(COLUMNS, SPANS, BASELINE, events(seed, 600, COLUMNS, gap=0.1))


@pytest.mark.parametrize("seed", [4, 5])
def test_windows_sent_again_replace_the_ones_held(seed):
    compare(COLUMNS, SPANS, BASELINE, events(seed, 600, COLUMNS, replace=0.2))


@pytest.mark.parametrize("seed", [6, 7])
def test_late_windows_take_their_place_and_their_inputs_come_from_the_windows_before_them(seed):
    stream = events(seed, 600, COLUMNS, late=0.15, replace=0.05)
    assert any(b[0] < a[0] for a, b in zip(stream, stream[1:]))
    compare(COLUMNS, SPANS, BASELINE, stream)


def test_windows_older_than_the_history_kept_still_get_inputs():
    stream = events(8, 400, COLUMNS)
    stream += [(T0 + 10 * MINUTE, stream[0][1]), (T0 + 300 * MINUTE, stream[1][1]), (T0 + 399 * MINUTE, stream[2][1])]
    compare(COLUMNS, SPANS, BASELINE, stream)


@pytest.mark.parametrize("seed", [9, 10])
def test_missing_values_are_skipped_and_an_all_missing_span_gives_nan(seed):
    stream = events(seed, 500, COLUMNS, missing=0.3, late=0.05, replace=0.05)
    for k, (_, row) in enumerate(stream):
        row["vibration__std"] = None                  # never present
        if 100 <= k < 160:
            row["pressure__max"] = np.nan             # absent longer than the 30-minute span
    compare(COLUMNS, SPANS, BASELINE, stream)


@pytest.mark.parametrize("spans, baseline", [([], timedelta(hours=1)), ([timedelta(minutes=5), timedelta(minutes=45)], None),
                                             ([timedelta(minutes=10), timedelta(minutes=20)], timedelta(hours=1)), ([], None)])
def test_other_spans_and_baselines(spans, baseline):
    compare(COLUMNS, spans, baseline, events(11, 300, COLUMNS, missing=0.1, late=0.05, replace=0.05))


@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract:RuntimeWarning")   # inf - inf in a deviation
def test_infinite_values_give_numpys_means():
    stream = events(12, 300, COLUMNS)
    stream[50][1]["temperature__mean"], stream[60][1]["temperature__mean"] = np.inf, -np.inf
    stream[200][1]["current__mean"] = np.inf
    compare(COLUMNS, SPANS, BASELINE, stream)


def test_a_long_stream_with_forgetting_stays_within_1e9_of_nanmean():
    """Two weeks of 1-minute windows: spans of 30 and 720 windows, the buffers rebuilt many times."""
    worst = compare(COLUMNS, SPANS, timedelta(hours=12), events(13, 20_160, COLUMNS, missing=0.02, replace=0.01, late=0.01))
    assert worst < 0.1   # of the tolerance: a wide margin


def test_no_runtime_warning_for_missing_values():
    stream = events(14, 200, COLUMNS, missing=0.5)
    for _, row in stream[:80]:
        row["temperature__mean"] = None
    history = EquipmentHistory(COLUMNS, SPANS, BASELINE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inputs = [history.add(end, row) for end, row in stream]
    assert np.isnan(inputs[0]["temperature__mean__mean_30m"]) and np.isnan(inputs[79]["temperature__mean__dev_2h"])


def test_a_pickled_history_carries_on_as_the_one_it_was():
    stream = events(15, 400, COLUMNS, missing=0.1, late=0.05, replace=0.05)
    history, reference = EquipmentHistory(COLUMNS, SPANS, BASELINE), EquipmentHistory(COLUMNS, SPANS, BASELINE)
    for end, row in stream[:250]:
        history.add(end, row)
        reference.add(end, row)
    history = pickle.loads(pickle.dumps(history))
    assert len(history) == len(reference)
    for end, row in stream[250:]:
        np.testing.assert_allclose(list(history.add(end, row).values()), list(reference.add(end, row).values()),
                                   rtol=1e-9, atol=1e-9, equal_nan=True)


def test_a_history_pickled_by_the_class_before_running_sums_loads(monkeypatch):
    """Flink's keyed state holds pickled histories: one checkpointed by the older class (its settings,
    and its windows as ``ends`` and a list of ``values`` rows, no sums) must load and carry on."""
    import training.online

    stream = events(16, 300, COLUMNS, missing=0.1)
    reference = EquipmentHistory(COLUMNS, SPANS, BASELINE)
    for end, row in stream[:200]:
        reference.add(end, row)
    state = reference.__getstate__()

    class Old:   # pickles as the older class did: training.online.EquipmentHistory and its __dict__
        pass

    Old.__module__, Old.__qualname__ = "training.online", "EquipmentHistory"
    old = Old()
    old.__dict__.update(state | {"ends": list(state["ends"]), "values": [row.copy() for row in state["values"]]})
    monkeypatch.setattr(training.online, "EquipmentHistory", Old)
    blob = pickle.dumps(old)
    monkeypatch.undo()

    history = pickle.loads(blob)
    assert type(history) is EquipmentHistory and len(history) == len(reference)
    for end, row in stream[200:]:
        np.testing.assert_allclose(list(history.add(end, row).values()), list(reference.add(end, row).values()),
                                   rtol=1e-9, atol=1e-9, equal_nan=True)
