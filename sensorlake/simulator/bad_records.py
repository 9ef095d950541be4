"""Bad-record injection into the JSON stream, and the ledger that accounts for every injected record.

Each generated reading is, with probability ``bad_rate``, given one bad kind (drawn uniformly
from ``kinds``); the draw is seeded by (seed, chunk), so the same seed gives the same stream.

Kinds and where each must end up:

=================  =========================================================  =============
kind               what is emitted                                            destination
=================  =========================================================  =============
malformed_json     the reading's line truncated, or in Python-repr quoting    quarantine
missing_key        the reading without one of its six keys                    quarantine
nan_value          the reading with the bare JSON ``NaN`` value               quarantine
out_of_range       the reading with a value outside the sensor's range        quarantine
unknown_sensor     the reading under a sensor name no type declares           quarantine
duplicate          the reading (kept valid) and later an exact copy of it     bronze keeps one
late               the reading (kept valid) and right after it an extra one   quarantine (stream,
                   ``late_by_s`` older, on a new key (off the sampling grid)   reason ``late``);
                                                                              bronze (batch)
out_of_order       the reading itself, moved after a reading of the same      bronze keeps it
                   equipment at most ``allowed_lateness_s / 2`` newer
=================  =========================================================  =============

The five quarantine kinds *replace* the reading, so its key never reaches bronze.
``valid_unique_readings`` = readings emitted valid + out_of_order ones (late ones excluded).
:class:`RecordClassifier` recomputes every count from the emitted records alone.

Example::

    injector = BadRecordInjector(fleet, InjectionSettings(bad_rate=0.01, seed=42))
    emitted = injector.emit(chunk.sorted_by_time())     # lines, kinds, equipment of each record
    ledger.add(emitted)
    ledger.counts()["injected"]["duplicate"]
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from sensorlake.equipment import sensor_ranges
from sensorlake.simulator.records import (READING_KEYS, event_time_ms, format_event_time, reading_prefix,
                                          reading_suffix, encode_readings)

BAD_KINDS = ("malformed_json", "missing_key", "nan_value", "out_of_range", "unknown_sensor",
             "duplicate", "late", "out_of_order")
QUARANTINE_KINDS = BAD_KINDS[:5]
# Kinds a Parquet history can carry (the value column is typed, so nothing else can be wrong).
VALUE_KINDS = ("nan_value", "out_of_range")
VALID = 0  # label of a plain valid record; kind i of BAD_KINDS has label i + 1
LABEL = {kind: i + 1 for i, kind in enumerate(BAD_KINDS)}
UNKNOWN_SENSOR_NAMES = ("humidity", "torque", "flow_rate", "acoustic_level", "oil_level")


@dataclass(frozen=True)
class InjectionSettings:
    """How many bad records, of which kinds, with which lateness.

    Parameters:
        bad_rate: probability that a generated reading becomes (or spawns) a bad record.
        seed: random stream of the injection (with the chunk index).
        kinds: the kinds to draw from (default: all of BAD_KINDS).
        allowed_lateness_s: the stream's allowed lateness; out_of_order records stay within half of it.
        late_by_s: how much older than the reading it follows a late record is (>= 2x allowed lateness).

    Example::

        InjectionSettings(bad_rate=0.02, seed=7, kinds=("nan_value", "out_of_range"))
    """

    bad_rate: float = 0.0
    seed: int = 42
    kinds: tuple[str, ...] = BAD_KINDS
    allowed_lateness_s: float = 60.0
    late_by_s: float = 600.0

    def __post_init__(self):
        if not 0.0 <= self.bad_rate <= 1.0:
            raise ValueError(f"bad_rate must be within [0, 1], got {self.bad_rate}")
        unknown = set(self.kinds) - set(BAD_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"unknown bad-record kinds {sorted(unknown)}; choose from {BAD_KINDS}")
        if self.late_by_s < 2 * self.allowed_lateness_s:
            raise ValueError(f"late_by_s ({self.late_by_s}) must be at least twice allowed_lateness_s "
                             f"({self.allowed_lateness_s}) so late records are unambiguous")

    def as_dict(self) -> dict:
        return {"bad_rate": self.bad_rate, "kinds": list(self.kinds),
                "allowed_lateness_s": self.allowed_lateness_s, "late_by_s": self.late_by_s}


@dataclass
class EmittedChunk:
    """Records of one chunk in emission order: the JSON line, its label (0 valid, else kind) and equipment."""

    lines: list[str]
    labels: np.ndarray           # int8
    equipment_index: np.ndarray  # int32

    def __len__(self) -> int:
        return len(self.lines)

    def head(self, n: int) -> "EmittedChunk":
        return EmittedChunk(self.lines[:n], self.labels[:n], self.equipment_index[:n])


class BadRecordInjector:
    """Encodes the fleet's readings as JSON lines and injects bad records into them.

    Example::

        injector = BadRecordInjector(fleet, InjectionSettings(bad_rate=0.01))
        for chunk in fleet.chunks():
            out = injector.emit(chunk.sorted_by_time())
    """

    def __init__(self, fleet, settings: InjectionSettings):
        self.fleet = fleet
        self.settings = settings
        n_sensors = len(fleet.sensor_names)
        self.prefixes = [reading_prefix(eq.site_id, eq.equipment_id, s)
                         for eq in fleet.equipment for s in fleet.sensor_names]
        self._n_sensors = n_sensors
        self.suffixes = [reading_suffix(u) for u in fleet.units]
        self.ranges = sensor_ranges(fleet.types)
        declared = set(self.ranges)
        self.unknown_sensors = [s for s in UNKNOWN_SENSOR_NAMES if s not in declared] or ["undeclared_sensor"]
        self._kind_labels = np.array([LABEL[k] for k in settings.kinds], dtype=np.int8)
        self._periods = {(s.equipment_index, s.sensor_code): s.period_ms for s in fleet.streams}

    def _reading(self, chunk, i: int, **changes) -> dict:
        eq = self.fleet.equipment[int(chunk.equipment_index[i])]
        reading = {"site_id": eq.site_id, "equipment_id": eq.equipment_id,
                   "sensor": self.fleet.sensor_names[int(chunk.sensor_code[i])],
                   "event_time": format_event_time(int(chunk.event_time_ms[i])),
                   "value": float(chunk.value[i]), "unit": self.fleet.units[int(chunk.unit_code[i])]}
        reading.update(changes)
        return reading

    def encode(self, chunk) -> list[str]:
        """The chunk's readings as JSON lines, in the chunk's order, with no injection."""
        return encode_readings(self.prefixes, chunk.equipment_index.astype(np.int64) * self._n_sensors + chunk.sensor_code,
                               self.suffixes, chunk.unit_code, chunk.event_time_ms, chunk.value)

    def emit(self, chunk) -> EmittedChunk:
        """Lines to emit for a time-sorted chunk, with the bad records of this chunk injected."""
        lines = self.encode(chunk)
        n = len(lines)
        labels = np.zeros(n, dtype=np.int8)
        eq_index = chunk.equipment_index.astype(np.int32)
        if self.settings.bad_rate <= 0 or n == 0:
            return EmittedChunk(lines, labels, eq_index)
        s = self.settings
        rng = np.random.default_rng([s.seed, 0xBAD, chunk.chunk_index])
        chosen = np.flatnonzero(rng.random(n) < s.bad_rate)
        labels[chosen] = rng.choice(self._kind_labels, size=chosen.size)
        times = chunk.event_time_ms
        lateness_ms = int(s.allowed_lateness_s * 1000)
        late_by_ms = int(s.late_by_s * 1000)
        # A late record needs a stream old enough for a watermark to have passed its time.
        warm = times - self.fleet.settings.start_ms >= late_by_ms + lateness_ms
        labels[(labels == LABEL["late"]) & ~warm] = VALID
        order_key = np.arange(n, dtype=np.int64) * 4          # emission order of each original record
        extra_lines, extra_keys, extra_labels, extra_eq = [], [], [], []
        positions_of: dict[int, np.ndarray] = {}
        for i in np.flatnonzero(labels).tolist():
            kind = BAD_KINDS[labels[i] - 1]
            if kind == "malformed_json":
                if rng.random() < 0.5:
                    lines[i] = lines[i][: int(rng.integers(1, len(lines[i]) - 1))]
                else:
                    lines[i] = str(self._reading(chunk, i))          # Python quoting: not JSON
            elif kind == "missing_key":
                reading = self._reading(chunk, i)
                del reading[READING_KEYS[int(rng.integers(len(READING_KEYS)))]]
                lines[i] = json.dumps(reading)
            elif kind == "nan_value":
                lines[i] = json.dumps(self._reading(chunk, i, value=math.nan))
            elif kind == "out_of_range":
                sensor = self.fleet.sensor_names[int(chunk.sensor_code[i])]
                lo, hi = self.ranges[sensor]
                excess = (hi - lo) * float(rng.uniform(0.1, 1.0))
                value = round(hi + excess if rng.random() < 0.5 else lo - excess, 3)
                lines[i] = json.dumps(self._reading(chunk, i, value=value))
            elif kind == "unknown_sensor":
                name = self.unknown_sensors[int(rng.integers(len(self.unknown_sensors)))]
                lines[i] = json.dumps(self._reading(chunk, i, sensor=name))
            elif kind == "duplicate":
                j = min(n - 1, i + int(rng.integers(1, 200)))
                extra_lines.append(lines[i]); extra_keys.append(4 * j + 2)
                extra_labels.append(LABEL["duplicate"]); extra_eq.append(eq_index[i])
                labels[i] = VALID                                     # the original stays valid
            elif kind == "late":
                period = self._periods[(int(chunk.equipment_index[i]), int(chunk.sensor_code[i]))]
                t_late = int(times[i]) - late_by_ms - int(rng.integers(0, lateness_ms + 1))
                if (t_late - self.fleet.settings.start_ms) % period == 0:
                    t_late -= 1                                       # off the sampling grid: a new key
                if period == 1:
                    raise ValueError("late records need a sampling period above 1 ms for new keys")
                extra_lines.append(json.dumps(self._reading(chunk, i, event_time=format_event_time(t_late))))
                extra_keys.append(4 * i + 1); extra_labels.append(LABEL["late"]); extra_eq.append(eq_index[i])
                labels[i] = VALID
            elif kind == "out_of_order":
                # Moved right after a newer valid reading of the same equipment (same Kafka key, so
                # the same partition): out of order in the whole stream and in its partition.
                e = int(eq_index[i])
                if e not in positions_of:
                    positions_of[e] = np.flatnonzero(eq_index == e)
                mine = positions_of[e]
                target = int(times[i]) + int(rng.uniform(1_000, lateness_ms / 2))
                m = int(np.searchsorted(times[mine], target, side="right")) - 1
                while m >= 0 and mine[m] > i and (labels[mine[m]] != VALID or times[mine[m]] <= times[i]):
                    m -= 1
                if m >= 0 and mine[m] > i:
                    order_key[i] = 4 * int(mine[m]) + 3
                else:
                    labels[i] = VALID                                 # nothing newer in reach: keep in order
        if not extra_lines and not (labels == LABEL["out_of_order"]).any():
            return EmittedChunk(lines, labels, eq_index)
        keys = np.concatenate([order_key, np.array(extra_keys, dtype=np.int64)])
        order = np.argsort(keys, kind="stable")
        all_lines = lines + extra_lines
        all_labels = np.concatenate([labels, np.array(extra_labels, dtype=np.int8)])
        all_eq = np.concatenate([eq_index, np.array(extra_eq, dtype=np.int32)])
        return EmittedChunk([all_lines[k] for k in order.tolist()], all_labels[order], all_eq[order])

    def corrupt_values(self, chunk, kinds=VALUE_KINDS) -> np.ndarray:
        """Value-level injection for typed (Parquet) history: replaces values in place, returns labels."""
        n = len(chunk)
        labels = np.zeros(n, dtype=np.int8)
        if self.settings.bad_rate <= 0 or n == 0:
            return labels
        rng = np.random.default_rng([self.settings.seed, 0xBAD, chunk.chunk_index])
        chosen = np.flatnonzero(rng.random(n) < self.settings.bad_rate)
        labels[chosen] = rng.choice(np.array([LABEL[k] for k in kinds], dtype=np.int8), size=chosen.size)
        nan_at = labels == LABEL["nan_value"]
        chunk.value[nan_at] = np.nan
        out_at = np.flatnonzero(labels == LABEL["out_of_range"])
        if out_at.size:
            lo_hi = np.array([self.ranges[self.fleet.sensor_names[c]] for c in chunk.sensor_code[out_at]])
            excess = (lo_hi[:, 1] - lo_hi[:, 0]) * rng.uniform(0.1, 1.0, out_at.size)
            above = rng.random(out_at.size) < 0.5
            chunk.value[out_at] = np.round(np.where(above, lo_hi[:, 1] + excess, lo_hi[:, 0] - excess), 3)
        return labels


class InjectionLedger:
    """Counts emitted records by label and equipment: the source of the manifest's counts.

    Example::

        ledger = InjectionLedger(n_equipment=6)
        ledger.add(emitted)
        ledger.counts()   # {'total_records_emitted': ..., 'valid_unique_readings': ..., 'injected': {...}}
    """

    def __init__(self, n_equipment: int):
        self.by_equipment = np.zeros((n_equipment, len(BAD_KINDS) + 1), dtype=np.int64)

    def add_labels(self, labels: np.ndarray, equipment_index: np.ndarray) -> None:
        np.add.at(self.by_equipment, (equipment_index.astype(np.int64), labels.astype(np.int64)), 1)

    def add(self, emitted: EmittedChunk) -> None:
        self.add_labels(emitted.labels, emitted.equipment_index)

    @staticmethod
    def _counts(row: np.ndarray) -> dict:
        injected = {kind: int(row[LABEL[kind]]) for kind in BAD_KINDS}
        return {
            "total_records_emitted": int(row.sum()),
            "valid_unique_readings": int(row[VALID] + row[LABEL["out_of_order"]]),
            "late_readings": injected["late"],
            "quarantined_records": sum(injected[k] for k in QUARANTINE_KINDS),
            "injected": injected,
        }

    def counts(self) -> dict:
        return self._counts(self.by_equipment.sum(axis=0))

    def per_partition(self, partition_of_equipment: dict[int, int]) -> dict:
        """Counts per Kafka partition, given the partition each equipment's key went to."""
        rows: dict[int, np.ndarray] = {}
        for eq, partition in partition_of_equipment.items():
            rows[partition] = rows.get(partition, 0) + self.by_equipment[eq]
        return {str(p): self._counts(rows[p]) for p in sorted(rows)}


class RecordClassifier:
    """Recomputes each record's kind from the emitted records alone, in emission order.

    Feed it one ordered stream: a JSON-lines file, or one Kafka partition (use a classifier per
    partition and add the counts). Injection keeps every late and out-of-order record behind a
    record of its own equipment, so both orders give the same counts.

    Rules, first match wins: not a JSON object, or a field of the wrong type (an id that is not
    text, a value that is not a number, an unreadable event_time; the simulator emits none, the
    stream quarantines them as bad_value / bad_timestamp) -> malformed_json; lacks a key -> missing_key;
    sensor not declared by any type -> unknown_sensor; NaN -> nan_value; outside the widest
    declared range of the sensor -> out_of_range; key seen before -> duplicate; event_time older
    than the newest event_time so far minus the allowed lateness -> late; older than the newest
    -> out_of_order; else valid.

    Example::

        classifier = RecordClassifier(types, allowed_lateness_s=60)
        for line in lines:
            classifier.classify(line)
        classifier.counts["duplicate"]
        RecordClassifier.total([c1, c2]) # counts of several partitions, manifest-shaped
    """

    def __init__(self, types, allowed_lateness_s: float = 60.0):
        self.ranges = sensor_ranges(types)
        self.lateness_ms = int(allowed_lateness_s * 1000)
        self.seen: set = set()
        self.newest_ms: int | None = None
        self.counts = {kind: 0 for kind in ("valid",) + BAD_KINDS}

    def _kind(self, line) -> str:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):      # UnicodeDecodeError is a ValueError; deep nesting recurses
            return "malformed_json"
        if not isinstance(record, dict):
            return "malformed_json"
        if any(k not in record for k in READING_KEYS):
            return "missing_key"
        value = record["value"]
        if (not all(isinstance(record[k], str) for k in READING_KEYS if k != "value")
                or isinstance(value, bool) or not isinstance(value, (int, float))):
            return "malformed_json"
        try:
            t = event_time_ms(record["event_time"])
        except (ValueError, OverflowError):
            return "malformed_json"
        if record["sensor"] not in self.ranges:
            return "unknown_sensor"
        if isinstance(value, float) and math.isnan(value):
            return "nan_value"
        lo, hi = self.ranges[record["sensor"]]
        if not lo <= value <= hi:
            return "out_of_range"
        key = (record["site_id"], record["equipment_id"], record["sensor"], t)
        if key in self.seen:
            return "duplicate"
        newest = self.newest_ms if self.newest_ms is not None else t
        self.newest_ms = max(newest, t)
        if t < newest - self.lateness_ms:
            return "late"
        self.seen.add(key)
        return "out_of_order" if t < newest else "valid"

    def classify(self, line: str | bytes) -> str:
        kind = self._kind(line)
        self.counts[kind] += 1
        return kind

    def summary(self) -> dict:
        """The same shape as the manifest's counts."""
        return self._summary(self.counts)

    @classmethod
    def total(cls, classifiers) -> dict:
        """Summed summary of several classifiers (e.g. one per Kafka partition)."""
        counts = {k: sum(c.counts[k] for c in classifiers) for k in ("valid",) + BAD_KINDS}
        return cls._summary(counts)

    @staticmethod
    def _summary(c: dict) -> dict:
        return {"total_records_emitted": sum(c.values()), "valid_unique_readings": c["valid"] + c["out_of_order"],
                "late_readings": c["late"], "quarantined_records": sum(c[k] for k in QUARANTINE_KINDS),
                "injected": {k: c[k] for k in BAD_KINDS}}
