"""The simulated fleet: equipment instances, operating regimes and the physics of their sensors.

Every value is a function of (seed, equipment, sensor, simulated hour): the fleet is generated in
fixed one-hour chunks aligned to the start, each with its own random stream, so any consumer
(history files, the live producer) that asks for the same chunk gets the same readings, and
memory stays bounded by one chunk.

A reading's value = healthy signal (regime-driven load with a daily cycle, ambient temperature,
per-unit gain) + slow sensor drift + noise, then the failure-mode signature of the current wear
(see ``degradation.py``), rounded to 3 decimals and kept inside the sensor's physical range.
No readings are produced while an equipment is down after a failure or during maintenance.

Example::

    settings = FleetSettings.from_config(cfg, days=1)
    fleet = Fleet(load_equipment_types(cfg.equipment_types_file), settings)
    for chunk in fleet.chunks():
        chunk.event_time_ms, chunk.value            # numpy columns
    fleet.events()                                  # failures, maintenance, inspections
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Iterator, Mapping

import numpy as np

from sensorlake.equipment import EquipmentType
from sensorlake.errors import ConfigError
from sensorlake.simulator.degradation import HOUR_MS, DegradationTimeline, failure_effect

DAY_MS = 24 * HOUR_MS
REGIME_BLOCK_MS = 15 * 60_000
# Operating regimes and their load (fraction of rated duty).
REGIME_LOAD = {"idle": 0.1, "normal": 0.6, "peak": 0.95}
INSPECTION_INTERVAL_MS = 12 * HOUR_MS

# Healthy signal per type and sensor: value = base + load_gain * load (+ ambient for temperature),
# noise standard deviation. Sensors not listed get a generic model from their physical range.
SENSOR_MODELS: dict[str, dict[str, tuple[float, float, float]]] = {
    "conveyor_motor": {"vibration": (0.9, 1.4, 0.12), "temperature": (12.0, 28.0, 0.25),
                       "current": (8.0, 42.0, 0.6), "speed": (520.0, 960.0, 4.0)},
    "pump": {"vibration": (1.1, 1.8, 0.15), "temperature": (10.0, 24.0, 0.25),
             "pressure": (1.5, 6.5, 0.08), "current": (12.0, 38.0, 0.6)},
    "fan": {"vibration": (0.7, 1.6, 0.1), "temperature": (6.0, 14.0, 0.25), "speed": (400.0, 1000.0, 5.0)},
}


def parse_utc(value) -> dt.datetime:
    """A UTC datetime from an ISO-8601 string or datetime, e.g. ``parse_utc("2026-01-05T00:00:00Z")``."""
    if isinstance(value, dt.datetime):
        when = value
    else:
        try:
            when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"start time {value!r} is not ISO-8601", "write e.g. 2026-01-05T00:00:00Z") from None
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when.astimezone(dt.timezone.utc)


def to_ms(when: dt.datetime) -> int:
    return int(round(when.timestamp() * 1000))


@dataclass(frozen=True)
class FleetSettings:
    """Everything that decides the simulated fleet; the same settings and seed give the same data.

    Example::

        FleetSettings(seed=7, equipment_per_type=1, days=0.5, degradation_hours=6.0)
    """

    seed: int = 42
    equipment_per_type: int = 2
    sites: tuple[str, ...] = ("plant-a", "plant-b")
    start: dt.datetime = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    days: float = 2.0
    rate_scale: float = 1.0
    degradation_hours: float = 10.0      # Weibull scale of the time from a restart to failure
    pm_interval_hours: float = 24.0      # preventive maintenance period (0: none)
    chunk_seconds: int = 3600

    def __post_init__(self):
        if self.equipment_per_type < 1:
            raise ConfigError(f"equipment_per_type must be at least 1, got {self.equipment_per_type}")
        if self.rate_scale <= 0:
            raise ConfigError(f"rate_scale must be positive, got {self.rate_scale}")
        if self.days < 0:
            raise ConfigError(f"days must not be negative, got {self.days}")
        if not self.sites:
            raise ConfigError("simulator.sites is empty", "list at least one site, e.g. [plant-a]")

    @property
    def start_ms(self) -> int:
        return to_ms(self.start)

    @property
    def end_ms(self) -> int:
        return self.start_ms + int(round(self.days * DAY_MS))

    @classmethod
    def from_config(cls, cfg, **overrides) -> "FleetSettings":
        """Settings from cfg ``simulator.*``; keyword overrides (e.g. from CLI flags) win unless None."""
        sim = cfg.get("simulator", {}) or {}
        values = dict(
            seed=int(sim.get("seed", 42)),
            equipment_per_type=int(sim.get("equipment_per_type", 2)),
            sites=tuple(sim.get("sites") or ("plant-a",)),
            start=parse_utc(sim.get("start", "2026-01-05T00:00:00Z")),
            days=float(sim.get("days", 2.0)),
            rate_scale=float(sim.get("rate_scale", 1.0)),
            degradation_hours=float(sim.get("degradation_hours", 10.0)),
            pm_interval_hours=float(sim.get("pm_interval_hours", 24.0)),
        )
        for key, value in overrides.items():
            if value is not None:
                values[key] = parse_utc(value) if key == "start" else value
        return cls(**values)


@dataclass(frozen=True)
class Equipment:
    """One asset of the fleet, e.g. ``Equipment("pump-001", "plant-a", "pump", "high", date(2023, 4, 2), 2)``."""

    equipment_id: str
    site_id: str
    equipment_type: str
    criticality: str
    install_date: dt.date
    index: int


@dataclass(frozen=True)
class SensorStream:
    """One sensor of one equipment: its sampling period on the grid shared by the whole fleet."""

    equipment_index: int
    sensor: str
    sensor_code: int
    unit_code: int
    period_ms: int
    low: float
    high: float
    base: float
    load_gain: float
    noise_sd: float
    gain: float          # per-unit calibration gain
    drift_per_day: float  # slow linear drift, in the sensor's unit per day
    wobble: float        # amplitude of a slow drift oscillation
    wobble_period_ms: float
    slot: int            # position of the sensor in its type (for the random stream)


@dataclass
class ReadingChunk:
    """Readings of one time chunk as numpy columns; strings are codes into the fleet's dictionaries."""

    equipment_index: np.ndarray  # int32
    sensor_code: np.ndarray      # int32
    unit_code: np.ndarray        # int32
    event_time_ms: np.ndarray    # int64, ms since the Unix epoch (UTC)
    value: np.ndarray            # float64
    chunk_index: int = 0

    def __len__(self) -> int:
        return int(self.event_time_ms.size)

    def take(self, order: np.ndarray) -> "ReadingChunk":
        return ReadingChunk(self.equipment_index[order], self.sensor_code[order], self.unit_code[order],
                            self.event_time_ms[order], self.value[order], self.chunk_index)

    def sorted_by_time(self) -> "ReadingChunk":
        """Readings in event-time order (ties keep equipment, sensor order), as a stream would carry them."""
        return self.take(np.argsort(self.event_time_ms, kind="stable"))


def _splitmix_uniform(*keys) -> np.ndarray:
    """Counter-based uniform [0, 1) numbers from integer keys (vectorised, order-free)."""
    with np.errstate(over="ignore"):
        x = np.uint64(0x9E3779B97F4A7C15)
        for key in keys:
            x = (np.asarray(key).astype(np.uint64) + x) * np.uint64(0xBF58476D1CE4E5B9)
            x ^= x >> np.uint64(31)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class Fleet:
    """A deterministic fleet built from the equipment types and the settings.

    Example::

        fleet = Fleet(types, FleetSettings(seed=1, equipment_per_type=1, days=0.1))
        fleet.equipment[0].equipment_id          # 'conveyor_motor-001'
        sum(len(c) for c in fleet.chunks())      # readings in the history
    """

    def __init__(self, types: Mapping[str, EquipmentType], settings: FleetSettings):
        self.types = dict(types)
        self.settings = settings
        seed = settings.seed
        self.sensor_names: list[str] = sorted({s for t in self.types.values() for s in t.sensors})
        self.units: list[str] = sorted({spec.unit for t in self.types.values() for spec in t.sensors.values()})
        self.equipment: list[Equipment] = []
        self.timelines: list[DegradationTimeline] = []
        self.streams: list[SensorStream] = []
        start_date = settings.start.date()
        for type_name, eq_type in self.types.items():
            for number in range(1, settings.equipment_per_type + 1):
                index = len(self.equipment)
                rng = np.random.default_rng([seed, index, 0xE0])
                install = start_date - dt.timedelta(days=int(rng.integers(90, 3 * 365)))
                eq = Equipment(f"{type_name}-{number:03d}", settings.sites[index % len(settings.sites)],
                               type_name, eq_type.criticality, install, index)
                self.equipment.append(eq)
                self.timelines.append(DegradationTimeline(
                    tuple(eq_type.failure_modes) or ("wear",), settings.start_ms, seed, index,
                    settings.degradation_hours, settings.pm_interval_hours))
                for slot, (name, spec) in enumerate(eq_type.sensors.items()):
                    self.streams.append(self._stream(eq, slot, name, spec, rng))
        self.site_offset_h = {site: 6.0 * i for i, site in enumerate(settings.sites)}

    def _stream(self, eq: Equipment, slot: int, name: str, spec, rng) -> SensorStream:
        span = spec.max - spec.min
        model = SENSOR_MODELS.get(eq.equipment_type, {}).get(name)
        if model is None:  # a sensor declared in YAML with no dedicated physics: a generic one
            model = (spec.min + 0.2 * span, 0.3 * span, 0.005 * span)
        base, load_gain, noise_sd = model
        nominal = abs(base) + abs(load_gain)
        period_ms = max(1, int(round(1000.0 / (spec.rate_hz * self.settings.rate_scale))))
        return SensorStream(
            eq.index, name, self.sensor_names.index(name), self.units.index(spec.unit), period_ms,
            spec.min, spec.max, base, load_gain, noise_sd,
            gain=float(rng.normal(1.0, 0.04)), drift_per_day=float(rng.normal(0.0, 0.01) * nominal),
            wobble=float(abs(rng.normal(0.0, 0.005)) * nominal),
            wobble_period_ms=float(rng.uniform(6, 30) * HOUR_MS), slot=slot)

    # -- time --------------------------------------------------------------------------------
    @property
    def chunk_ms(self) -> int:
        return self.settings.chunk_seconds * 1000

    def chunk_count(self, end_ms: int | None = None) -> int:
        end_ms = self.settings.end_ms if end_ms is None else end_ms
        return max(0, -(-(end_ms - self.settings.start_ms) // self.chunk_ms))

    @property
    def readings_per_second(self) -> float:
        """Nominal fleet-wide reading rate while every equipment runs (simulated seconds)."""
        return sum(1000.0 / s.period_ms for s in self.streams)

    def load(self, eq: Equipment, times_ms: np.ndarray) -> np.ndarray:
        """Load in [0, 1] from the operating regime (idle/normal/peak) drawn per 15-minute block
        with hour-of-day odds (nights mostly idle, afternoons often peak), smoothed between blocks."""
        if times_ms.size == 0:
            return np.zeros(0)
        b0, b1 = int(times_ms.min() // REGIME_BLOCK_MS) - 1, int(times_ms.max() // REGIME_BLOCK_MS) + 2
        blocks = np.arange(b0, b1, dtype=np.int64)
        centers = blocks * REGIME_BLOCK_MS + REGIME_BLOCK_MS // 2
        hour = ((centers / HOUR_MS) + self.site_offset_h[eq.site_id]) % 24.0
        u = _splitmix_uniform(self.settings.seed, eq.index, blocks)
        night = (hour < 6) | (hour >= 22)
        afternoon = (hour >= 10) & (hour < 16)
        p_idle = np.where(night, 0.6, 0.1)
        p_peak = np.where(night, 0.05, np.where(afternoon, 0.5, 0.25))
        level = np.where(u < p_idle, REGIME_LOAD["idle"],
                         np.where(u > 1.0 - p_peak, REGIME_LOAD["peak"], REGIME_LOAD["normal"]))
        level = level + 0.05 * (_splitmix_uniform(self.settings.seed, eq.index, blocks, 7) - 0.5)
        return np.interp(times_ms.astype(np.float64), centers.astype(np.float64), level)

    def ambient_temperature(self, eq: Equipment, times_ms: np.ndarray) -> np.ndarray:
        hour = (times_ms / HOUR_MS + self.site_offset_h[eq.site_id]) % 24.0
        return 20.0 + 4.0 * np.sin(2 * np.pi * (hour - 9.0) / 24.0)

    # -- readings ----------------------------------------------------------------------------
    def _stream_values(self, stream: SensorStream, chunk_index: int, c0: int, c1: int):
        origin = self.settings.start_ms
        p = stream.period_ms
        n0, n1 = -(-(c0 - origin) // p), -(-(c1 - origin) // p)
        times = origin + np.arange(n0, n1, dtype=np.int64) * p
        eq = self.equipment[stream.equipment_index]
        timeline = self.timelines[stream.equipment_index]
        wear, running, life_index = timeline.wear_at(times)
        times, wear, life_index = times[running], wear[running], life_index[running]
        rng = np.random.default_rng([self.settings.seed, eq.index, stream.slot, chunk_index, 0x5A])
        n = times.size
        load = self.load(eq, times)
        z = rng.standard_normal(n)
        healthy = stream.base + stream.load_gain * load
        if stream.sensor == "temperature":
            healthy = healthy + self.ambient_temperature(eq, times)
        days = (times - origin) / DAY_MS
        drift = stream.drift_per_day * days + stream.wobble * np.sin(2 * np.pi * (times - origin) / stream.wobble_period_ms)
        values = healthy * stream.gain + drift + stream.noise_sd * z
        # Failure-mode signatures, per life (each life has its own mode).
        eq_type = self.types[eq.equipment_type]
        if n:
            lives = timeline.lives
            for li in np.unique(life_index):
                mode = lives[li].failure_mode
                if stream.sensor not in eq_type.failure_modes.get(mode, ()):
                    continue
                sel = life_index == li
                if not np.any(wear[sel] > 0):
                    continue
                ctx = SimpleNamespace(wear=wear[sel], z=z[sel], sd=stream.noise_sd, load=load[sel],
                                      times_ms=times[sel], span=stream.high - stream.low, rng=rng)
                values[sel] = failure_effect(mode, stream.sensor)(values[sel], ctx)
        values = np.clip(np.round(values, 3), stream.low, stream.high)
        return times, values

    def chunk(self, chunk_index: int, end_ms: int | None = None) -> ReadingChunk:
        """Readings of chunk ``chunk_index`` (``chunk_seconds`` long from the start), grouped by
        equipment and sensor, in time order within each sensor."""
        end_ms = self.settings.end_ms if end_ms is None else end_ms
        c0 = self.settings.start_ms + chunk_index * self.chunk_ms
        c1 = min(c0 + self.chunk_ms, end_ms)
        parts_t, parts_v, eqs, sensors, units = [], [], [], [], []
        for stream in self.streams:
            times, values = self._stream_values(stream, chunk_index, c0, c1)
            parts_t.append(times)
            parts_v.append(values)
            eqs.append(np.full(times.size, stream.equipment_index, np.int32))
            sensors.append(np.full(times.size, stream.sensor_code, np.int32))
            units.append(np.full(times.size, stream.unit_code, np.int32))
        return ReadingChunk(np.concatenate(eqs), np.concatenate(sensors), np.concatenate(units),
                            np.concatenate(parts_t), np.concatenate(parts_v), chunk_index)

    def chunks(self, end_ms: int | None = None) -> Iterator[ReadingChunk]:
        """Every chunk from the start to ``end_ms`` (default: start + days)."""
        for k in range(self.chunk_count(end_ms)):
            yield self.chunk(k, end_ms)

    # -- events ------------------------------------------------------------------------------
    def events(self, end_ms: int | None = None) -> list[dict]:
        """Failures, maintenance (corrective and preventive) and inspections in [start, end), by time.

        A failure is at the moment readings stop; the maintenance that follows is at the restart
        (work done, wear reset) and names the mode it fixed in its notes.
        """
        start_ms = self.settings.start_ms
        end_ms = self.settings.end_ms if end_ms is None else end_ms
        events = []

        def add(eq, t_ms, event_type, failure_mode, notes):
            if start_ms <= t_ms < end_ms:
                events.append({"event_id": f"evt-{eq.equipment_id}-{t_ms}-{event_type}", "site_id": eq.site_id,
                               "equipment_id": eq.equipment_id, "event_time_ms": int(t_ms), "event_type": event_type,
                               "failure_mode": failure_mode, "notes": notes})

        for eq, timeline in zip(self.equipment, self.timelines):
            for life in timeline.lives_until(end_ms):
                if life.outcome == "failure":
                    add(eq, life.failure_ms, "failure", life.failure_mode, f"{life.failure_mode} failure; equipment stopped")
                    add(eq, life.restart_ms, "maintenance", None,
                        f"corrective repair of {life.failure_mode}; wear reset; down {(life.restart_ms - life.end_ms) / HOUR_MS:.1f} h")
                else:
                    add(eq, life.restart_ms, "maintenance", None,
                        f"preventive maintenance; found {life.failure_mode} at wear {life.wear_at_end():.0%}; wear reset")
            phase = int(_splitmix_uniform(self.settings.seed, eq.index, 0x1A5)[()] * INSPECTION_INTERVAL_MS)
            mode_sensors = self.types[eq.equipment_type].failure_modes
            for t in range(start_ms + phase, end_ms, INSPECTION_INTERVAL_MS):
                wear, running, li = timeline.wear_at(np.array([t]))
                if not running[0]:
                    continue
                life = timeline.lives[int(li[0])]
                if wear[0] > 0.2:
                    shown = ", ".join(mode_sensors.get(life.failure_mode, ()))
                    notes = f"inspection: elevated {shown}; suspected {life.failure_mode}"
                else:
                    notes = "inspection: condition normal"
                add(eq, t, "inspection", None, notes)
        events.sort(key=lambda e: (e["event_time_ms"], e["equipment_id"], e["event_type"]))
        return events

    def failure_summary(self, end_ms: int | None = None, events: list[dict] | None = None) -> dict:
        """Failures per mode and per equipment, maintenance and inspection counts (for the manifest)."""
        events = self.events(end_ms) if events is None else events
        per_mode: dict[str, int] = {}
        per_eq = {eq.equipment_id: {"equipment_type": eq.equipment_type, "site_id": eq.site_id,
                                    "failures": {}, "maintenance": 0, "inspections": 0} for eq in self.equipment}
        for e in events:
            row = per_eq[e["equipment_id"]]
            if e["event_type"] == "failure":
                per_mode[e["failure_mode"]] = per_mode.get(e["failure_mode"], 0) + 1
                row["failures"][e["failure_mode"]] = row["failures"].get(e["failure_mode"], 0) + 1
            elif e["event_type"] == "maintenance":
                row["maintenance"] += 1
            else:
                row["inspections"] += 1
        return {
            "equipment": len(self.equipment),
            "failures": sum(per_mode.values()),
            "failures_per_mode": dict(sorted(per_mode.items())),
            "maintenance": sum(r["maintenance"] for r in per_eq.values()),
            "inspections": sum(r["inspections"] for r in per_eq.values()),
            "per_equipment": per_eq,
        }
