"""Equipment types, their sensors and physical ranges, declared once in YAML.

The simulator generates these sensors, the stream rejects readings outside these ranges, and
the quality suites check the same ranges.

Example::

    types = load_equipment_types(cfg.equipment_types_file)
    types["pump"].sensors["pressure"].max      # 60.0
    physical_range(types, "pump", "pressure")  # (0.0, 60.0)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

from sensorlake.errors import ConfigError

CRITICALITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class SensorSpec:
    """One sensor of an equipment type: unit, nominal sampling rate, physical range."""

    name: str
    unit: str
    rate_hz: float
    min: float
    max: float


@dataclass(frozen=True)
class EquipmentType:
    """An equipment type: its sensors, criticality and failure modes (mode -> sensors it shows in)."""

    name: str
    criticality: str
    sensors: Mapping[str, SensorSpec]
    failure_modes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _sensor(type_name: str, name: str, spec: Mapping) -> SensorSpec:
    where = f"equipment type {type_name!r}, sensor {name!r}"
    missing = {"unit", "rate_hz", "min", "max"} - set(spec)
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(sorted(missing))}", "declare unit, rate_hz, min and max")
    sensor = SensorSpec(name, str(spec["unit"]), float(spec["rate_hz"]), float(spec["min"]), float(spec["max"]))
    if sensor.rate_hz <= 0:
        raise ConfigError(f"{where}: rate_hz must be positive, got {sensor.rate_hz}")
    if sensor.min >= sensor.max:
        raise ConfigError(f"{where}: min ({sensor.min}) must be below max ({sensor.max})")
    return sensor


def parse_equipment_types(raw: Mapping) -> dict[str, EquipmentType]:
    """Validate and build equipment types from a mapping shaped like equipment_types.yaml."""
    types = {}
    for type_name, body in (raw or {}).items():
        if not isinstance(body, Mapping) or not body.get("sensors"):
            raise ConfigError(f"equipment type {type_name!r} declares no sensors")
        criticality = body.get("criticality", "medium")
        if criticality not in CRITICALITIES:
            raise ConfigError(f"equipment type {type_name!r}: unknown criticality {criticality!r}", f"use one of {CRITICALITIES}")
        sensors = {name: _sensor(type_name, name, spec) for name, spec in body["sensors"].items()}
        modes = {}
        for mode, mode_sensors in (body.get("failure_modes") or {}).items():
            unknown = set(mode_sensors) - set(sensors)
            if unknown:
                raise ConfigError(f"equipment type {type_name!r}, failure mode {mode!r}: unknown sensors {sorted(unknown)}")
            modes[mode] = tuple(mode_sensors)
        types[type_name] = EquipmentType(type_name, criticality, sensors, modes)
    if not types:
        raise ConfigError("no equipment types declared")
    return types


def load_equipment_types(path: str | Path) -> dict[str, EquipmentType]:
    """Read and validate an equipment-types YAML file."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"equipment types file {path} does not exist", "set equipment_types_file in the configuration") from None
    return parse_equipment_types(raw)


def sensor_ranges(types: Mapping[str, EquipmentType]) -> dict[str, tuple[float, float]]:
    """Widest physical range per sensor name across all types (for data with no equipment type)."""
    ranges: dict[str, tuple[float, float]] = {}
    for eq_type in types.values():
        for s in eq_type.sensors.values():
            lo, hi = ranges.get(s.name, (s.min, s.max))
            ranges[s.name] = (min(lo, s.min), max(hi, s.max))
    return ranges


def physical_range(types: Mapping[str, EquipmentType], equipment_type: str, sensor: str) -> tuple[float, float]:
    """The declared (min, max) of one sensor on one equipment type."""
    try:
        spec = types[equipment_type].sensors[sensor]
    except KeyError:
        raise ConfigError(f"no sensor {sensor!r} declared for equipment type {equipment_type!r}") from None
    return spec.min, spec.max
