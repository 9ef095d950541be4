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


def _section(raw: Mapping, key: str, name: str) -> Mapping:
    """``raw[key]`` as a mapping ({} when absent); anything else is refused naming the field."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        _fail(name, f"{key} must be a mapping of fields, got {type(value).__name__} {value!r:.60}")
    return value


def _text(value, name: str, what: str) -> str | None:
    """A scalar field as text (None when absent); lists, mappings and booleans are refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        _fail(name, f"{what} must be text, got {type(value).__name__} {value!r:.60}")
    return str(value)


def _column(value, name: str, what: str) -> str | None:
    column = _text(value, name, what)
    if column is not None and "`" in column:
        _fail(name, f"{what} {column!r:.60} contains a backtick", "rename the column in the file")
    return column


def _number(value, name: str, what: str) -> float | None:
    """A numeric field as a float (None when absent); text that is not a number, and NaN, are refused."""
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError
        number = float(value)
    except (ValueError, OverflowError):
        _fail(name, f"{what} must be a number, got {value!r:.60}")
    if number != number:
        _fail(name, f"{what} must be a number, got NaN")
    return number


def parse_mapping(raw: Mapping, name_hint: str = "mapping") -> IngestMapping:
    """Validate a mapping (as loaded from YAML) and build it; errors name the mapping and the field.

    Anything that is not a valid mapping raises ConfigError, never a bare KeyError or TypeError.

    Example::

        parse_mapping({"name": "nab", "format": "csv", "layout": "wide", "equipment": {"id": "m1", "type": "pump"},
                       "time": {"column": "timestamp"}, "sensors": {"temperature": {"column": "value", "unit": "degF"}}})
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"ingest mapping {name_hint!r}: expected a mapping of fields (name, format, layout, ...), "
                          f"got {type(raw).__name__}", "see conf/mappings/ for examples")
    name = str(raw.get("name") or name_hint)
    fmt = raw.get("format", "parquet")
    layout = raw.get("layout", "narrow")
    if fmt not in FORMATS:
        _fail(name, f"unknown format {fmt!r:.60}", f"use one of {FORMATS}")
    if layout not in LAYOUTS:
        _fail(name, f"unknown layout {layout!r:.60}", f"use one of {LAYOUTS}")
    if layout == "narrow":
        return IngestMapping(name=name, format=fmt, layout=layout)

    eq = _section(raw, "equipment", name)
    install_date = eq.get("install_date")
    if install_date is not None and not isinstance(install_date, (dt.date, str)):
        _fail(name, f"equipment install_date must be a date (YYYY-MM-DD), got {install_date!r:.60}")
    equipment = EquipmentMapping(
        id=_text(eq.get("id"), name, "equipment id"), column=_column(eq.get("column"), name, "equipment column"),
        type=_text(eq.get("type"), name, "equipment type"),
        criticality=_text(eq.get("criticality", "medium"), name, "equipment criticality") or "medium",
        install_date=install_date,
    )
    if bool(equipment.id) == bool(equipment.column):
        _fail(name, "equipment needs exactly one of id (a constant) or column (an entity column)")
    if not equipment.type:
        _fail(name, "equipment needs a type (an equipment type name; its sensors' ranges come from the mapping or the equipment types file)")
    tm = _section(raw, "time", name)
    start = tm.get("start")
    start = start.isoformat() if isinstance(start, dt.datetime) else _text(start, name, "time start")
    time = TimeMapping(
        column=_column(tm.get("column"), name, "time column"), format=_text(tm.get("format"), name, "time format"),
        ordinal_column=_column(tm.get("ordinal_column"), name, "time ordinal_column"),
        unit=_text(tm.get("unit", "seconds"), name, "time unit"),
        step=_number(tm.get("step", 1.0), name, "time step"), start=start,
    )
    if bool(time.column) == bool(time.ordinal_column):
        _fail(name, "time needs exactly one of column (timestamps) or ordinal_column (with unit and start)")
    if time.format and "'" in time.format:
        _fail(name, f"time format {time.format!r:.60} contains a single quote", "write literal text in a Spark datetime pattern without quotes")
    if time.ordinal_column and (time.unit not in TIME_UNITS_S or not time.start):
        _fail(name, "an ordinal time column needs unit (seconds|minutes|hours|days) and start (UTC timestamp)")
    if time.ordinal_column and not 0 < time.step < float("inf"):
        _fail(name, f"time step must be a positive number, got {time.step!r}")
    sensors = []
    for sensor_name, spec in _section(raw, "sensors", name).items():
        sensor_name = _text(sensor_name, name, "a sensor name")
        if isinstance(spec, (str, int, float)) and not isinstance(spec, bool):
            spec = {"column": spec}
        elif not isinstance(spec, Mapping):
            _fail(name, f"sensor {sensor_name!r} needs a column and a unit, got {spec!r:.60}")
        if not sensor_name or spec.get("column") is None or not spec.get("unit"):
            _fail(name, f"sensor {sensor_name!r} needs a column and a unit")
        if ("min" in spec) != ("max" in spec):
            _fail(name, f"sensor {sensor_name!r} declares only one of min and max")
        lo, hi = _number(spec.get("min"), name, f"sensor {sensor_name!r} min"), _number(spec.get("max"), name, f"sensor {sensor_name!r} max")
        if (lo is None) != (hi is None) or (lo is not None and lo > hi):
            _fail(name, f"sensor {sensor_name!r} needs min <= max, got min {lo!r} and max {hi!r}")
        sensors.append(MappedSensor(sensor_name, _column(spec["column"], name, f"sensor {sensor_name!r} column"),
                                    _text(spec.get("unit"), name, f"sensor {sensor_name!r} unit"), lo, hi))
    if not sensors:
        _fail(name, "a wide mapping needs at least one sensor column")
    labels = None
    if raw.get("labels"):
        lb = _section(raw, "labels", name)
        failure_column = _column(lb.get("failure_column"), name, "labels failure_column")
        if not failure_column:
            _fail(name, "labels need failure_column")
        modes = {_column(c, name, "a failure mode column"): _text(mode, name, f"failure mode of column {c!r}")
                 for c, mode in _section(lb, "failure_mode_columns", name).items()}
        labels = LabelMapping(failure_column, modes)
    return IngestMapping(name, fmt, layout, _text(raw.get("site_id"), name, "site_id"), equipment, time, tuple(sensors), labels)


def load_mapping(path: str | Path) -> IngestMapping:
    """Read and validate a mapping YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"mapping file {path} does not exist", "pass an existing file with --mapping (examples: conf/mappings/)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"mapping file {path} is not UTF-8 text", "save the mapping as UTF-8 YAML") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"mapping file {path} is not valid YAML: {str(exc)[:200]}") from None
    return parse_mapping(raw, name_hint=path.stem)
