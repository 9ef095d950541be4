"""Ingest mappings: how a history file's columns become narrow readings and events.

A mapping is a YAML file, so a new dataset loads without code. Two layouts:

- ``narrow``: one reading per row with columns site_id, equipment_id, sensor, event_time,
  value (and optional unit) — the simulator's output and the Kafka record shape.
- ``wide``: one row per time step with a column per sensor. ``equipment`` names a constant id
  or an entity ``column``; ``time`` is a timestamp ``column`` (optional Spark ``format``) or an
  ``ordinal_column`` counted in ``unit`` from ``start``; ``sensors`` maps each sensor to its
  column, unit and physical range; optional ``labels`` turn a failure flag column (and failure
  mode flag columns) into bronze.events rows. Label columns never become readings.

Example (conf/mappings/nab_machine_temperature.yaml)::

    name: nab_machine_temperature
    format: csv
    layout: wide
    site_id: nab
    equipment: {id: nab-machine-001, type: industrial_machine, criticality: high, install_date: 2013-01-01}
    time: {column: timestamp, format: "yyyy-MM-dd HH:mm:ss"}
    sensors:
      temperature: {column: value, unit: degF, min: -50, max: 300}
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

from sensorlake.errors import ConfigError

FORMATS = ("csv", "parquet", "jsonl")
LAYOUTS = ("narrow", "wide")
TIME_UNITS_S = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


@dataclass(frozen=True)
class MappedSensor:
    name: str
    column: str
    unit: str | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class EquipmentMapping:
    id: str | None = None
    column: str | None = None
    type: str | None = None
    criticality: str = "medium"
    install_date: dt.date | None = None


@dataclass(frozen=True)
class TimeMapping:
    column: str | None = None
    format: str | None = None
    ordinal_column: str | None = None
    unit: str = "seconds"
    step: float = 1.0
    start: str | None = None

    @property
    def seconds_per_step(self) -> float:
        return TIME_UNITS_S[self.unit] * self.step


@dataclass(frozen=True)
class LabelMapping:
    failure_column: str
    failure_mode_columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [self.failure_column, *self.failure_mode_columns]


@dataclass(frozen=True)
class IngestMapping:
    """How one source's columns map to bronze.readings (and bronze.events, bronze.equipment)."""

    name: str
    format: str
    layout: str
    site_id: str | None = None
    equipment: EquipmentMapping = field(default_factory=EquipmentMapping)
    time: TimeMapping = field(default_factory=TimeMapping)
    sensors: tuple[MappedSensor, ...] = ()
    labels: LabelMapping | None = None


NARROW_PARQUET = IngestMapping(name="narrow", format="parquet", layout="narrow")


def _fail(name: str, what: str, hint: str | None = None):
    raise ConfigError(f"ingest mapping {name!r}: {what}", hint)


def parse_mapping(raw: Mapping, name_hint: str = "mapping") -> IngestMapping:
    """Validate a mapping (as loaded from YAML) and build it; errors name the mapping and the field."""
    name = str(raw.get("name") or name_hint)
    fmt = raw.get("format", "parquet")
    layout = raw.get("layout", "narrow")
    if fmt not in FORMATS:
        _fail(name, f"unknown format {fmt!r}", f"use one of {FORMATS}")
    if layout not in LAYOUTS:
        _fail(name, f"unknown layout {layout!r}", f"use one of {LAYOUTS}")
    if layout == "narrow":
        return IngestMapping(name=name, format=fmt, layout=layout)

    eq = raw.get("equipment") or {}
    equipment = EquipmentMapping(
        id=eq.get("id"), column=eq.get("column"), type=eq.get("type"),
        criticality=eq.get("criticality", "medium"), install_date=eq.get("install_date"),
    )
    if bool(equipment.id) == bool(equipment.column):
        _fail(name, "equipment needs exactly one of id (a constant) or column (an entity column)")
    if not equipment.type:
        _fail(name, "equipment needs a type (an equipment type name; its sensors' ranges come from the mapping or the equipment types file)")
    tm = raw.get("time") or {}
    time = TimeMapping(
        column=tm.get("column"), format=tm.get("format"), ordinal_column=tm.get("ordinal_column"),
        unit=tm.get("unit", "seconds"), step=float(tm.get("step", 1.0)), start=tm.get("start"),
    )
    if bool(time.column) == bool(time.ordinal_column):
        _fail(name, "time needs exactly one of column (timestamps) or ordinal_column (with unit and start)")
    if time.ordinal_column and (time.unit not in TIME_UNITS_S or not time.start):
        _fail(name, "an ordinal time column needs unit (seconds|minutes|hours|days) and start (UTC timestamp)")
    sensors = []
    for sensor_name, spec in (raw.get("sensors") or {}).items():
        spec = {"column": spec} if isinstance(spec, str) else dict(spec)
        if "column" not in spec or not spec.get("unit"):
            _fail(name, f"sensor {sensor_name!r} needs a column and a unit")
        if ("min" in spec) != ("max" in spec):
            _fail(name, f"sensor {sensor_name!r} declares only one of min and max")
        sensors.append(MappedSensor(
            sensor_name, str(spec["column"]), spec.get("unit"),
            None if spec.get("min") is None else float(spec["min"]),
            None if spec.get("max") is None else float(spec["max"]),
        ))
    if not sensors:
        _fail(name, "a wide mapping needs at least one sensor column")
    labels = None
    if raw.get("labels"):
        lb = raw["labels"]
        if not lb.get("failure_column"):
            _fail(name, "labels need failure_column")
        labels = LabelMapping(lb["failure_column"], dict(lb.get("failure_mode_columns") or {}))
    return IngestMapping(name, fmt, layout, raw.get("site_id"), equipment, time, tuple(sensors), labels)


def load_mapping(path: str | Path) -> IngestMapping:
    """Read and validate a mapping YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"mapping file {path} does not exist", "pass an existing file with --mapping (examples: conf/mappings/)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"mapping file {path} is not valid YAML: {exc}") from None
    return parse_mapping(raw, name_hint=path.stem)
