"""Wear and failure modes: each equipment runs through lives that end in a failure or a maintenance.

A *life* starts when the equipment (re)starts with wear 0. Its failure mode is drawn from the
type's declared modes, its time to failure from a Weibull law whose scale is the degradation
time scale (``degradation_hours``). Wear stays 0 until an onset, then grows exponentially to 1 at
the failure time. A life ends at the failure, or earlier at a preventive maintenance (PM), then
the equipment is down (no readings) and the next life starts at the restart, with wear reset.

Example::

    timeline = DegradationTimeline(("bearing_wear", "overheating"), origin_ms=0, seed=42,
                                   equipment_index=0, degradation_hours=10.0)
    lives = timeline.lives_until(2 * 86_400_000)   # every life that starts in the first 2 days
    wear, running, life_index = timeline.wear_at(np.array([3_600_000]))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOUR_MS = 3_600_000

# Shape of the wear curve: w(x) = (exp(k x) - 1) / (exp(k) - 1) for x in [0, 1] after onset.
WEAR_CURVE_K = 3.0
# Weibull shape of the time to failure (> 1: wear-out, the failure rate grows with age).
WEIBULL_SHAPE = 2.2


@dataclass(frozen=True)
class Life:
    """One run of an equipment between two restarts (times in ms since the Unix epoch, UTC).

    ``end_ms`` is when readings stop: ``failure_ms`` if ``outcome == "failure"``, the PM time if
    ``outcome == "preventive"``. ``restart_ms`` is when the repair or PM is done (the maintenance
    event) and the next life starts.
    """

    start_ms: int
    onset_ms: int
    failure_ms: int
    end_ms: int
    restart_ms: int
    failure_mode: str
    outcome: str  # "failure" or "preventive"

    def wear_at_end(self) -> float:
        return float(wear_curve(np.array([self.end_ms]), self.onset_ms, self.failure_ms)[0])


def wear_curve(times_ms: np.ndarray, onset_ms, failure_ms) -> np.ndarray:
    """Wear in [0, 1]: 0 before onset, exponential growth to 1 at the failure time.

    Example::

        wear_curve(np.array([0, 50, 100]), 0, 100)   # array([0., 0.182, 1.])
    """
    x = np.clip((times_ms - onset_ms) / np.maximum(np.asarray(failure_ms) - onset_ms, 1), 0.0, 1.0)
    return np.expm1(WEAR_CURVE_K * x) / np.expm1(WEAR_CURVE_K)


class DegradationTimeline:
    """The lives of one equipment, drawn lazily and deterministically from (seed, equipment_index).

    Parameters:
        failure_modes: the modes this equipment type can fail in (one is drawn per life).
        origin_ms: start of the simulation; the first life is already under way at the origin.
        seed, equipment_index: the random stream of this equipment.
        degradation_hours: Weibull scale of the time from a restart to failure.
        pm_interval_hours: preventive maintenance period (0 or None: no PM).
        pm_downtime_hours / repair_downtime_hours: (low, high) of the uniform downtime after a
            PM / after a failure; no readings are produced while down.

    Example::

        t = DegradationTimeline(("seal_leak",), 0, seed=1, equipment_index=3)
        [life.outcome for life in t.lives_until(86_400_000)]   # e.g. ['failure', 'failure', 'preventive']
    """

    def __init__(self, failure_modes, origin_ms: int, seed: int, equipment_index: int,
                 degradation_hours: float = 10.0, pm_interval_hours: float | None = 24.0,
                 pm_downtime_hours=(0.25, 1.0), repair_downtime_hours=(1.0, 4.0)):
        if not failure_modes:
            raise ValueError("an equipment type needs at least one failure mode to degrade; declare failure_modes")
        if degradation_hours <= 0:
            raise ValueError(f"degradation_hours must be positive, got {degradation_hours}")
        self.failure_modes = tuple(failure_modes)
        self.origin_ms = int(origin_ms)
        self.degradation_ms = degradation_hours * HOUR_MS
        self.pm_interval_ms = int(pm_interval_hours * HOUR_MS) if pm_interval_hours else 0
        self.pm_downtime_ms = tuple(h * HOUR_MS for h in pm_downtime_hours)
        self.repair_downtime_ms = tuple(h * HOUR_MS for h in repair_downtime_hours)
        self._rng = np.random.default_rng([int(seed), int(equipment_index), 0xD1E])
        self.pm_phase_ms = int(self._rng.uniform(0.2, 1.0) * self.pm_interval_ms) if self.pm_interval_ms else 0
        self.lives: list[Life] = []
        # The first life began before the origin: each equipment starts somewhere in its wear.
        first_ttf = self._time_to_failure()
        self._next_start = self.origin_ms - int(self._rng.uniform(0.0, 0.7) * first_ttf)
        self._first_ttf = first_ttf
        self._starts = np.empty(0, dtype=np.int64)
        self._arrays_stale = True

    def _time_to_failure(self) -> float:
        return max(self._rng.weibull(WEIBULL_SHAPE) * self.degradation_ms, 0.1 * self.degradation_ms)

    def _next_pm_after(self, t_ms: int) -> int | None:
        if not self.pm_interval_ms:
            return None
        first = self.origin_ms + self.pm_phase_ms
        k = max(0, -(-(t_ms + 1 - first) // self.pm_interval_ms))
        return first + k * self.pm_interval_ms

    def _draw_life(self) -> Life:
        start = self._next_start
        ttf = self._first_ttf if not self.lives else self._time_to_failure()
        mode = self.failure_modes[int(self._rng.integers(len(self.failure_modes)))]
        onset = start + int(self._rng.uniform(0.25, 0.55) * ttf)
        failure = start + int(ttf)
        pm = self._next_pm_after(max(start, self.origin_ms))
        pm_down = int(self._rng.uniform(*self.pm_downtime_ms))
        repair_down = int(self._rng.uniform(*self.repair_downtime_ms))
        if pm is not None and pm < failure:
            life = Life(start, onset, failure, pm, pm + pm_down, mode, "preventive")
        else:
            life = Life(start, onset, failure, failure, failure + repair_down, mode, "failure")
        self._next_start = life.restart_ms
        return life

    def lives_until(self, until_ms: int) -> list[Life]:
        """Every life that starts before ``until_ms`` (drawn on demand, always the same for a seed)."""
        while self._next_start < until_ms:
            self.lives.append(self._draw_life())
            self._arrays_stale = True
        return [life for life in self.lives if life.start_ms < until_ms]

    def _arrays(self):
        if self._arrays_stale:
            self._starts = np.array([l.start_ms for l in self.lives], dtype=np.int64)
            self._ends = np.array([l.end_ms for l in self.lives], dtype=np.int64)
            self._onsets = np.array([l.onset_ms for l in self.lives], dtype=np.int64)
            self._failures = np.array([l.failure_ms for l in self.lives], dtype=np.int64)
            self._arrays_stale = False
        return self._starts, self._ends, self._onsets, self._failures

    def wear_at(self, times_ms: np.ndarray):
        """Wear, running flag and life index at each time (times sorted or not).

        Returns ``(wear float64, running bool, life_index int64)``; wear is 0 where not running.
        """
        times_ms = np.asarray(times_ms, dtype=np.int64)
        if times_ms.size:
            self.lives_until(int(times_ms.max()) + 1)
        starts, ends, onsets, failures = self._arrays()
        idx = np.searchsorted(starts, times_ms, side="right") - 1
        safe = np.maximum(idx, 0)
        running = (idx >= 0) & (times_ms < ends[safe]) if starts.size else np.zeros(times_ms.shape, bool)
        wear = np.where(running, wear_curve(times_ms, onsets[safe], failures[safe]), 0.0) if starts.size \
            else np.zeros(times_ms.shape)
        return wear, running, idx


# ---------------------------------------------------------------------------------------------
# Failure-mode signatures: how wear shows in each sensor.
#
# Each effect takes the healthy signal and returns the degraded one. ``ctx`` carries the wear
# (0..1), the standard-normal noise already in the signal (``z``) and its scale (``sd``), the
# load (0..1), the sample times, the sensor's span and a random generator. The signatures are
# built so the 1-minute window features show them: level (mean), spread (std, peak-to-peak),
# trend (slope) and impulses (peak, crest factor).
# ---------------------------------------------------------------------------------------------

def _impulses(ctx, probability, size):
    hits = ctx.rng.random(ctx.wear.size) < probability
    return np.where(hits, size, 0.0)


def _bearing_vibration(v, ctx):
    w = ctx.wear
    return v + 10.0 * w ** 1.5 + 6.0 * w * ctx.sd * ctx.z + _impulses(ctx, 0.12 * w, ctx.rng.exponential(1.0, w.size) * 8.0 * w)


def _bearing_temperature(v, ctx):
    return v + 30.0 * ctx.wear ** 3          # late: friction heat shows after vibration


def _overheating_temperature(v, ctx):
    return v + 55.0 * ctx.wear                # a rising trend


def _overheating_current(v, ctx):
    return v * (1.0 + 0.25 * ctx.wear)


def _electrical_current(v, ctx):
    w = ctx.wear
    spikes = _impulses(ctx, np.where(w > 0.02, 0.02 + 0.2 * w, 0.0), ctx.rng.uniform(20.0, 80.0, w.size) * w)
    return v + 3.0 * w * ctx.sd * ctx.z + spikes


def _electrical_speed(v, ctx):
    w = ctx.wear
    dips = ctx.rng.random(w.size) < 0.2 * w
    return np.where(dips, v * (1.0 - ctx.rng.uniform(0.05, 0.35, w.size) * w), v)


def _seal_pressure(v, ctx):
    return v * (1.0 - 0.55 * ctx.wear) + 3.0 * ctx.wear * ctx.sd * ctx.z


def _seal_current(v, ctx):
    return v * (1.0 + 0.2 * ctx.wear)         # the pump works harder to hold flow


def _imbalance_vibration(v, ctx):
    w = ctx.wear
    return v + w * (3.0 + 9.0 * (0.3 + 0.7 * ctx.load) ** 2) + 2.0 * w * ctx.sd * ctx.z   # grows with speed^2


def _imbalance_speed(v, ctx):
    w = ctx.wear
    return v + 30.0 * w * np.sin(2 * np.pi * ctx.times_ms / 7_000.0) + 3.0 * w * ctx.sd * ctx.z


def _generic_shift(v, ctx):
    return v + 0.3 * ctx.span * ctx.wear


FAILURE_EFFECTS = {
    ("bearing_wear", "vibration"): _bearing_vibration,
    ("bearing_wear", "temperature"): _bearing_temperature,
    ("overheating", "temperature"): _overheating_temperature,
    ("overheating", "current"): _overheating_current,
    ("electrical_fault", "current"): _electrical_current,
    ("electrical_fault", "speed"): _electrical_speed,
    ("seal_leak", "pressure"): _seal_pressure,
    ("seal_leak", "current"): _seal_current,
    ("imbalance", "vibration"): _imbalance_vibration,
    ("imbalance", "speed"): _imbalance_speed,
}


def failure_effect(failure_mode: str, sensor: str):
    """The function that degrades ``sensor`` under ``failure_mode`` (a generic upward shift if undeclared).

    Example::

        failure_effect("seal_leak", "pressure")   # lowers pressure as wear grows
    """
    return FAILURE_EFFECTS.get((failure_mode, sensor), _generic_shift)
