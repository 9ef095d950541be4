"""Train / validation / test rows: by time, by equipment, or both, with the label horizon purged.

- ``time``: test rows are those with window_end after the cutoff (the ``1 - test_fraction``
  quantile of window_end); training rows end at least ``purge`` before the cutoff, so no training
  label looks into the test period.
- ``group``: a ``test_fraction`` of the equipment (drawn with ``seed``) is held out entirely.
- ``time_group``: test = held-out equipment after the cutoff; train = the other equipment
  before the purged cutoff. No equipment and no instant is in both.
- ``random``: test and validation rows drawn at random (``seed``), stratified by ``fails_within``
  when the frame has it; nothing purged. Only for rows that are independent of each other (e.g.
  AI4I, whose rows are separate products): with windows of a time series it leaks the future.

Validation rows (early stopping, threshold choice) are the latest ``valid_fraction`` of the
training rows in time, purged the same way. The test rows are touched only for the final metrics.

Example::

    parts = split_rows(frame, task.split, purge=task.purge)
    frame[parts.train], frame[parts.valid], frame[parts.test]    # boolean masks
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from sensorlake.errors import InputError


@dataclass
class Split:
    """Boolean masks over the rows of a frame, and what decided them."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    cutoff: pd.Timestamp | None
    test_equipment: list[str]

    def describe(self) -> dict:
        return {"rows_train": int(self.train.sum()), "rows_valid": int(self.valid.sum()),
                "rows_test": int(self.test.sum()), "cutoff": str(self.cutoff),
                "test_equipment": ",".join(self.test_equipment)}


def held_out_equipment(equipment: list[str], fraction: float, seed: int) -> list[str]:
    """A reproducible ``fraction`` of the equipment (at least one, never all)."""
    ids = sorted(set(equipment))
    if len(ids) < 2:
        raise InputError(f"a split by equipment needs at least 2 equipment, the training set has {len(ids)}",
                         "use training split method time, or train on more equipment")
    n = min(len(ids) - 1, max(1, int(round(fraction * len(ids)))))
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(ids, size=n, replace=False).tolist())


def _time_cutoff(times: pd.Series, fraction: float) -> pd.Timestamp:
    return times.quantile(1.0 - fraction, interpolation="nearest")


def split_rows(frame: pd.DataFrame, split: dict, purge: timedelta) -> Split:
    """Masks for ``frame`` (needs equipment_id, window_end) following the ``split`` settings; see module doc."""
    method = split.get("method", "time_group")
    test_fraction, valid_fraction = float(split["test_fraction"]), float(split["valid_fraction"])
    if method == "random":
        return _random_split(frame, test_fraction, valid_fraction, int(split.get("seed", 42)))
    times, equipment = frame["window_end"], frame["equipment_id"]
    everything = np.ones(len(frame), dtype=bool)
    cutoff, test_eq = None, []
    if method in ("time", "time_group"):
        cutoff = _time_cutoff(times, test_fraction)
        after = (times > cutoff).to_numpy()
        before = (times <= cutoff - purge).to_numpy()
    else:
        after, before = everything, everything
    if method in ("group", "time_group"):
        test_eq = held_out_equipment(equipment.tolist(), test_fraction, int(split.get("seed", 42)))
        held = equipment.isin(test_eq).to_numpy()
    else:
        held = everything
    test = after & held
    train_pool = before & (~held if method != "time" else everything)
    if not test.any() or not train_pool.any():
        raise InputError(f"split {method} leaves {int(train_pool.sum())} training and {int(test.sum())} test rows",
                         "train on a longer history or more equipment, or change training.split")
    valid_cut = _time_cutoff(times[train_pool], valid_fraction)
    valid = train_pool & (times > valid_cut).to_numpy()
    train = train_pool & (times <= valid_cut - purge).to_numpy()
    if not train.any() or not valid.any():
        raise InputError(f"split {method}: {int(train.sum())} training and {int(valid.sum())} validation rows",
                         "lower training.split.valid_fraction or train on a longer history")
    return Split(train, valid, test, cutoff, test_eq)


def _stratified_draw(strata: np.ndarray, pool: np.ndarray, fraction: float, rng) -> np.ndarray:
    """A ``fraction`` of the ``pool`` rows of every stratum, drawn with ``rng``."""
    drawn = np.zeros(len(pool), dtype=bool)
    for value in np.unique(strata[pool]):
        rows = np.flatnonzero(pool & (strata == value))
        drawn[rng.choice(rows, size=int(round(fraction * len(rows))), replace=False)] = True
    return drawn


def _random_split(frame: pd.DataFrame, test_fraction: float, valid_fraction: float, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    labels = frame["fails_within"] if "fails_within" in frame else pd.Series(0, index=frame.index)
    strata = labels.fillna(-1).to_numpy()
    everything = np.ones(len(frame), dtype=bool)
    test = _stratified_draw(strata, everything, test_fraction, rng)
    valid = _stratified_draw(strata, ~test, valid_fraction, rng)
    train = ~test & ~valid
    if not (train.any() and valid.any() and test.any()):
        raise InputError(f"split random: {int(train.sum())} training, {int(valid.sum())} validation and "
                         f"{int(test.sum())} test rows", "train on more rows or change training.split")
    return Split(train, valid, test, None, [])
