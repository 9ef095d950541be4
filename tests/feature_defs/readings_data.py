"""A small deterministic narrow-readings input for the parity tests (numpy only, no simulator).

Three machines on two sites, 12 minutes, five sensors at reduced rates (~4,500 readings), with
what the engines must agree on despite: millisecond jitter, arrival out of event-time order
(up to 20 s, within the 60 s allowed lateness of the shipped views), duplicate readings (some
with a conflicting value: the larger wins), a sensor that is constant for a minute, a sensor
with a single reading in a minute, a sensor absent for a minute, sensors a machine lacks, and
speed ~1500 rpm with a 0.05 rpm spread (raw power sums would cancel catastrophically there).

Example::

    rows = generate_readings()        # list of (site_id, equipment_id, sensor, ts_ms, value) in arrival order
"""
from __future__ import annotations

import numpy as np

START_MS = 1_767_571_200_000          # 2026-01-05T00:00:00Z
MINUTES = 12
RATES_HZ = {"vibration": 1.0, "temperature": 0.2, "current": 0.5, "pressure": 0.5, "speed": 0.5}
MACHINES = (
    ("plant-a", "pump-001", ("vibration", "temperature", "pressure", "current")),
    ("plant-a", "conveyor-001", ("vibration", "temperature", "current", "speed")),
    ("plant-b", "fan-001", ("vibration", "temperature", "speed")),
)
MAX_DELAY_MS = 20_000


def _values(rng, sensor: str, t_s: np.ndarray) -> np.ndarray:
    n = len(t_s)
    if sensor == "vibration":
        return 3.0 + 0.5 * np.sin(2 * np.pi * 0.3 * t_s) + 0.1 * np.sin(2 * np.pi * 0.05 * t_s) + rng.normal(0, 0.2, n)
    if sensor == "temperature":
        return 60.0 + 0.01 * t_s + rng.normal(0, 0.3, n)
    if sensor == "current":
        return 30.0 + rng.gamma(2.0, 0.5, n)
    if sensor == "pressure":
        return 6.0 + rng.normal(0, 0.1, n)
    return 1500.0 + rng.normal(0, 0.05, n)       # speed


def generate_readings(seed: int = 7) -> list[tuple[str, str, str, int, float]]:
    """Readings as (site_id, equipment_id, sensor, ts_ms, value) tuples, in arrival order."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, int, float]] = []
    for site, equipment, sensors in MACHINES:
        for sensor in sensors:
            period_ms = int(1000 / RATES_HZ[sensor])
            nominal = np.arange(0, MINUTES * 60_000, period_ms)
            ts = START_MS + nominal + rng.integers(0, min(300, period_ms), len(nominal))
            values = _values(rng, sensor, (ts - START_MS) / 1000.0)
            minute = (ts - START_MS) // 60_000
            keep = np.ones(len(ts), dtype=bool)
            if equipment == "pump-001" and sensor == "temperature":
                values[minute == 3] = 55.25                          # constant for a minute
            if equipment == "conveyor-001" and sensor == "current":
                idx = np.flatnonzero(minute == 5)
                keep[idx[1:]] = False                                # a single reading in a minute
            if equipment == "fan-001" and sensor == "speed":
                keep[minute == 7] = False                            # absent for a minute
            rows += [(site, equipment, sensor, int(t), float(v)) for t, v in zip(ts[keep], values[keep])]
    # duplicates: 3 % of readings again, a third of them with a conflicting (larger or smaller) value
    picks = rng.choice(len(rows), size=len(rows) * 3 // 100, replace=False)
    for i in picks:
        site, equipment, sensor, ts, value = rows[i]
        if rng.random() < 1 / 3:
            value = value + float(rng.choice([-0.5, 0.5]))
        rows.append((site, equipment, sensor, ts, value))
    # arrival order: event time plus a random delay of up to 20 s
    arrival = np.array([r[3] for r in rows]) + rng.integers(0, MAX_DELAY_MS, len(rows))
    return [rows[i] for i in np.argsort(arrival, kind="stable")]


def write_csv(rows, path) -> None:
    """The rows as CSV (no header; repr keeps every double exact), the Flink filesystem source's input."""
    with open(path, "w") as out:
        for site, equipment, sensor, ts, value in rows:
            out.write(f"{site},{equipment},{sensor},{ts},{value!r}\n")
