"""Feature views: declarative definitions of windowed features, validated when built.

A view knows *what* to compute (sensors, window, lateness, aggregations, cross-sensor and
spectral features) and nothing about *how*: ``compile_flink`` and ``compile_spark`` do that.

Example::

    from feature_defs import FeatureView, tumbling, hopping

    view = FeatureView(
        name="machine_1m", version=1,
        sensors=["vibration", "temperature", "current"],
        window=tumbling("1m"), allowed_lateness="60s",
        aggregations=["mean", "std", "rms"],                       # every sensor, or
        # aggregations={"vibration": ["rms", "kurtosis"], "current": ["mean"]},
        cross_features={"current_per_speed": "ratio(current__mean, speed__mean)"},
    )
    view.feature_columns        # ['current__mean', 'current__std', ...]
    view.fingerprint            # sha256 of the canonical definition
    view.feature_set_version    # 'machine_1m:v1:3f2a9c0d1e4b'

Versioning: a view's ``fingerprint`` changes with anything that changes its output (sensors,
filter, window, lateness, aggregations, cross and spectral features, and the formula revision);
``version`` is the human number. A changed definition must bump ``version``: the registry
checks the fingerprints recorded in ``fingerprints.lock.json`` beside the definitions, and the
writers refuse rows whose ``feature_set_version`` differs from the table's
(:func:`check_feature_set_version`).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Iterable, Mapping

from feature_defs.errors import FeatureDefinitionError
from feature_defs.formulas import (AGGREGATIONS, CROSS_FUNCTIONS, ENGINES, FORMULA_REVISION,
                                   SPECTRAL_FEATURES, TIME_DOMAIN)

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
KEY_COLUMNS = ("equipment_id", "site_id", "window_start", "window_end")
META_COLUMNS = ("feature_view", "feature_set_version")
_UNITS_MS = {"ms": 1, "s": 1000, "sec": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_RE = re.compile(r"^\s*(\d+)\s*(ms|s|sec|m|min|h|d)\s*$")


def duration_ms(value, what: str = "duration") -> int:
    """Milliseconds of ``'90s'``, ``'1m'``, ``'10min'``, ``'2h'``, an int (seconds) or a timedelta.

    Example: ``duration_ms("10m") == 600_000``.
    """
    if isinstance(value, timedelta):
        ms = value / timedelta(milliseconds=1)
        if ms != int(ms):
            raise FeatureDefinitionError(f"{what} {value} is not a whole number of milliseconds")
        return int(ms)
    if isinstance(value, bool):
        raise FeatureDefinitionError(f"{what} {value!r} is not a duration", "write e.g. '60s', '1m', '10min', '1h'")
    if isinstance(value, int):
        return value * 1000
    match = _DURATION_RE.match(str(value))
    if not match:
        raise FeatureDefinitionError(f"{what} {value!r} is not a duration", "write e.g. '60s', '1m', '10min', '1h'")
    return int(match.group(1)) * _UNITS_MS[match.group(2)]


def format_duration(ms: int) -> str:
    """Shortest exact text of a duration, e.g. ``format_duration(600_000) == '10m'``."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


@dataclass(frozen=True)
class Window:
    """A tumbling (slide == size) or hopping event-time window, both in milliseconds, aligned to the epoch."""

    size_ms: int
    slide_ms: int

    @property
    def kind(self) -> str:
        return "tumbling" if self.slide_ms == self.size_ms else "hopping"

    def to_dict(self) -> dict:
        out = {"type": self.kind, "size": format_duration(self.size_ms)}
        if self.kind == "hopping":
            out["slide"] = format_duration(self.slide_ms)
        return out

    def __str__(self) -> str:
        if self.kind == "tumbling":
            return f"tumbling {format_duration(self.size_ms)}"
        return f"hopping {format_duration(self.size_ms)} every {format_duration(self.slide_ms)}"


def tumbling(size) -> Window:
    """A tumbling window, e.g. ``tumbling("1m")``."""
    ms = duration_ms(size, "window size")
    return Window(ms, ms)


def hopping(size, slide) -> Window:
    """A hopping (sliding) window, e.g. ``hopping("10m", "1m")``: slide <= size and size % slide == 0."""
    return Window(duration_ms(size, "window size"), duration_ms(slide, "window slide"))


def _window_from(raw) -> Window:
    if isinstance(raw, Window):
        return raw
    if not isinstance(raw, Mapping) or "size" not in raw:
        raise FeatureDefinitionError(f"window {raw!r} is not a window",
                                     "write window: {type: tumbling, size: 1m} or {type: hopping, size: 10m, slide: 1m}")
    kind = raw.get("type", "tumbling" if "slide" not in raw else "hopping")
    if kind == "tumbling":
        if "slide" in raw and duration_ms(raw["slide"]) != duration_ms(raw["size"]):
            raise FeatureDefinitionError("a tumbling window takes no slide", "use type: hopping for a sliding window")
        return tumbling(raw["size"])
    if kind in ("hopping", "sliding"):
        if "slide" not in raw:
            raise FeatureDefinitionError("a hopping window needs a slide", "write {type: hopping, size: 10m, slide: 1m}")
        return hopping(raw["size"], raw["slide"])
    raise FeatureDefinitionError(f"unknown window type {kind!r}", "use tumbling or hopping")


@dataclass(frozen=True)
class CrossFeature:
    """A feature combining two per-sensor features, e.g. ``CrossFeature("current_per_speed", "ratio(current__mean, speed__mean)")``."""

    name: str
    expression: str

    def parse(self) -> tuple[str, str, str]:
        """(function, left feature, right feature) of ``function(left, right)``."""
        match = re.fullmatch(r"\s*([a-z_]+)\s*\(\s*([a-z0-9_]+)\s*,\s*([a-z0-9_]+)\s*\)\s*", self.expression)
        if not match:
            raise FeatureDefinitionError(
                f"cross feature {self.name!r}: cannot read {self.expression!r}",
                f"write function(sensor__aggregation, sensor__aggregation) with function in {', '.join(CROSS_FUNCTIONS)}")
        return match.group(1), match.group(2), match.group(3)


@dataclass(frozen=True)
class SpectralSpec:
    """FFT features of one high-rate sensor: named frequency bands (Hz, [low, high)) and the features wanted.

    Example: ``SpectralSpec("vibration", bands_hz={"low": (0.0, 0.25), "high": (0.25, 1.0)})``.
    """

    sensor: str
    bands_hz: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    features: tuple[str, ...] = tuple(SPECTRAL_FEATURES)

    def columns(self) -> list[tuple[str, str]]:
        """(column, spectral feature kind) pairs."""
        out = []
        for feature in self.features:
            if feature == "band_energy":
                out += [(f"{self.sensor}__band_energy_{band}", feature) for band in self.bands_hz]
            else:
                out.append((f"{self.sensor}__{feature}", feature))
        return out

    def to_dict(self) -> dict:
        return {"bands_hz": {b: [float(lo), float(hi)] for b, (lo, hi) in self.bands_hz.items()},
                "features": list(self.features)}


class FeatureView:
    """A named, versioned set of windowed features over some sensors.

    Arguments:
        name: view name, lower_snake_case; the silver table is ``silver.features_<name>``.
        version: positive int; bump it whenever the definition changes.
        sensors: input sensor names (checked against the equipment types file by the registry).
        window: ``tumbling(size)`` or ``hopping(size, slide)`` (or a dict ``{type, size, slide}``);
            whole seconds, slide <= size, size % slide == 0.
        allowed_lateness: how late (event time) a reading may arrive and still count; the Flink
            source's watermark is ``event_time - allowed_lateness`` (whole seconds).
        aggregations: a list applied to every sensor, or a dict sensor -> list; names from
            :data:`feature_defs.formulas.AGGREGATIONS`.
        cross_features: dict name -> ``function(a, b)`` over this view's features (ratio, difference, product).
        spectral: FFT features, dict sensor -> {bands_hz: {band: [lo, hi]}, features: [...]}; Spark only.
        equipment_types: optional filter; then the readings must carry an ``equipment_type`` column.
        description: free text (not part of the fingerprint).

    Raises :class:`FeatureDefinitionError` (a ValueError) naming the bad item and how to fix it.

    Example::

        FeatureView("machine_1m", 1, ["vibration", "current"], tumbling("1m"), "60s", ["mean", "rms"])
    """

    def __init__(self, name: str, version: int, sensors: Iterable[str], window, allowed_lateness="0s",
                 aggregations: Iterable[str] | Mapping[str, Iterable[str]] = (), cross_features: Mapping[str, str] | None = None,
                 spectral: Mapping | None = None, equipment_types: Iterable[str] | None = None, description: str = ""):
        where = f"feature view {name!r}"
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise FeatureDefinitionError(f"feature view name {name!r} is not lower_snake_case",
                                         "use letters, digits and underscores, starting with a letter, e.g. machine_1m")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise FeatureDefinitionError(f"{where}: version {version!r} must be a positive integer", "start at version: 1")
        self.name, self.version, self.description = name, version, description or ""

        if isinstance(sensors, str):
            sensors = [sensors]
        self.sensors = tuple(sensors or ())
        if not self.sensors:
            raise FeatureDefinitionError(f"{where} declares no sensors", "list the input sensors, e.g. sensors: [vibration, current]")
        for s in self.sensors:
            if not isinstance(s, str) or not NAME_RE.match(s):
                raise FeatureDefinitionError(f"{where}: sensor name {s!r} is not lower_snake_case")
        if len(set(self.sensors)) != len(self.sensors):
            raise FeatureDefinitionError(f"{where}: sensors listed twice: {sorted({s for s in self.sensors if self.sensors.count(s) > 1})}")
        self.equipment_types = tuple(equipment_types) if equipment_types else ()

        try:
            self.window = _window_from(window)
            self.allowed_lateness_ms = duration_ms(allowed_lateness, "allowed_lateness")
        except FeatureDefinitionError as exc:
            raise FeatureDefinitionError(f"{where}: {exc.message}", exc.hint) from None
        w = self.window
        if w.size_ms <= 0 or w.slide_ms <= 0:
            raise FeatureDefinitionError(f"{where}: window size and slide must be positive, got {w}")
        if w.slide_ms > w.size_ms:
            raise FeatureDefinitionError(
                f"{where}: window slide {format_duration(w.slide_ms)} is larger than its size {format_duration(w.size_ms)}",
                "a hopping window's slide must be <= its size (equal means tumbling)")
        if w.size_ms % w.slide_ms:
            raise FeatureDefinitionError(
                f"{where}: window size {format_duration(w.size_ms)} is not a multiple of its slide {format_duration(w.slide_ms)}",
                "choose a slide that divides the size, e.g. size 10m, slide 1m")
        if w.size_ms % 1000 or w.slide_ms % 1000 or self.allowed_lateness_ms % 1000:
            raise FeatureDefinitionError(f"{where}: window size, slide and allowed_lateness must be whole seconds")

        if isinstance(aggregations, Mapping):
            per_sensor = {s: tuple(aggs) for s, aggs in aggregations.items()}
            extra = set(per_sensor) - set(self.sensors)
            if extra:
                raise FeatureDefinitionError(f"{where}: aggregations for sensors not in sensors: {sorted(extra)}",
                                             f"add them to sensors or remove them; sensors are {list(self.sensors)}")
        else:
            aggs = tuple([aggregations] if isinstance(aggregations, str) else aggregations)
            per_sensor = {s: aggs for s in self.sensors} if aggs else {}
        for sensor, aggs in per_sensor.items():
            for agg in aggs:
                if agg not in AGGREGATIONS:
                    raise FeatureDefinitionError(f"{where}, sensor {sensor!r}: unknown aggregation {agg!r}",
                                                 f"use one of {', '.join(TIME_DOMAIN)}")
            if len(set(aggs)) != len(aggs):
                raise FeatureDefinitionError(f"{where}, sensor {sensor!r}: an aggregation is listed twice: {list(aggs)}")
        # Canonical order: sensors as declared, aggregations in formula-table order.
        self.aggregations = {s: tuple(a for a in TIME_DOMAIN if a in per_sensor.get(s, ()))
                             for s in self.sensors if per_sensor.get(s)}

        self.spectral: tuple[SpectralSpec, ...] = ()
        specs = []
        for sensor, body in (spectral or {}).items():
            specs.append(self._spectral_spec(where, sensor, body))
        self.spectral = tuple(specs)

        self.cross_features: tuple[CrossFeature, ...] = ()
        produced = set(self._base_columns())
        crosses = []
        for cname, expression in (cross_features or {}).items():
            cross = expression if isinstance(expression, CrossFeature) else CrossFeature(cname, str(expression))
            if not NAME_RE.match(cname) or "__" in cname:
                raise FeatureDefinitionError(f"{where}: cross feature name {cname!r} is not lower_snake_case without '__'",
                                             "'__' is reserved for <sensor>__<aggregation> columns")
            if cname in produced:
                raise FeatureDefinitionError(f"{where}: cross feature {cname!r} clashes with another feature column")
            try:
                func, left, right = cross.parse()
            except FeatureDefinitionError as exc:
                raise FeatureDefinitionError(f"{where}: {exc.message}", exc.hint) from None
            if func not in CROSS_FUNCTIONS:
                raise FeatureDefinitionError(f"{where}, cross feature {cname!r}: unknown function {func!r}",
                                             f"use one of {', '.join(CROSS_FUNCTIONS)}")
            for ref in (left, right):
                if ref not in produced:
                    raise FeatureDefinitionError(
                        f"{where}, cross feature {cname!r}: {ref!r} is not a feature of this view",
                        "refer to <sensor>__<aggregation> columns the view declares, e.g. current__mean")
            crosses.append(CrossFeature(cname, f"{func}({left}, {right})"))
            produced.add(cname)
        self.cross_features = tuple(crosses)
        if not self.aggregations and not self.spectral:
            raise FeatureDefinitionError(f"{where} declares no aggregations", f"add aggregations, e.g. [mean, std]; known: {', '.join(TIME_DOMAIN)}")

    def _spectral_spec(self, where: str, sensor: str, body) -> SpectralSpec:
        if sensor not in self.sensors:
            raise FeatureDefinitionError(f"{where}: spectral features for {sensor!r}, which is not in sensors",
                                         f"add it to sensors; sensors are {list(self.sensors)}")
        if isinstance(body, SpectralSpec):
            body = body.to_dict()
        body = dict(body or {})
        features = tuple(body.get("features") or SPECTRAL_FEATURES)
        for feature in features:
            if feature not in SPECTRAL_FEATURES:
                raise FeatureDefinitionError(f"{where}, spectral {sensor!r}: unknown spectral feature {feature!r}",
                                             f"use one of {', '.join(SPECTRAL_FEATURES)}")
        bands = {}
        for band, edges in (body.get("bands_hz") or {}).items():
            if not NAME_RE.match(str(band)):
                raise FeatureDefinitionError(f"{where}, spectral {sensor!r}: band name {band!r} is not lower_snake_case")
            try:
                lo, hi = (float(e) for e in edges)
            except (TypeError, ValueError):
                raise FeatureDefinitionError(f"{where}, spectral {sensor!r}: band {band!r} must be [low_hz, high_hz]") from None
            if not 0.0 <= lo < hi:
                raise FeatureDefinitionError(f"{where}, spectral {sensor!r}: band {band!r} [{lo}, {hi}] needs 0 <= low < high")
            bands[str(band)] = (lo, hi)
        if "band_energy" in features and not bands:
            raise FeatureDefinitionError(f"{where}, spectral {sensor!r}: band_energy needs bands_hz",
                                         "declare bands, e.g. bands_hz: {low: [0, 0.25], high: [0.25, 1.0]}")
        return SpectralSpec(sensor, bands, features)

    # ---- what the view produces -------------------------------------------------------------
    def _base_columns(self) -> list[str]:
        cols = [f"{s}__{a}" for s, aggs in self.aggregations.items() for a in aggs]
        for spec in self.spectral:
            cols += [c for c, _ in spec.columns()]
        return cols

    @property
    def feature_columns(self) -> list[str]:
        """Feature columns in output order: ``<sensor>__<aggregation>``, spectral, then cross features."""
        return self._base_columns() + [c.name for c in self.cross_features]

    @property
    def output_columns(self) -> list[str]:
        """Every output column: keys, view name and feature_set_version, then the features."""
        return list(KEY_COLUMNS) + list(META_COLUMNS) + self.feature_columns

    def column_types(self) -> dict[str, str]:
        """Output column -> type (string, timestamp, bigint, double)."""
        types = {"equipment_id": "string", "site_id": "string", "window_start": "timestamp",
                 "window_end": "timestamp", "feature_view": "string", "feature_set_version": "string"}
        for col in self.feature_columns:
            agg = col.split("__", 1)[-1]
            types[col] = AGGREGATIONS[agg].dtype if agg in AGGREGATIONS and "__" in col else "double"
        return types

    def engine_support(self) -> dict[str, tuple[str, ...]]:
        """Feature column -> engines that compute it (cross features inherit from their inputs)."""
        support: dict[str, tuple[str, ...]] = {}
        for sensor, aggs in self.aggregations.items():
            for agg in aggs:
                support[f"{sensor}__{agg}"] = AGGREGATIONS[agg].engines
        for spec in self.spectral:
            for col, kind in spec.columns():
                support[col] = SPECTRAL_FEATURES[kind]
        for cross in self.cross_features:
            _, left, right = cross.parse()
            support[cross.name] = tuple(e for e in ENGINES if e in support[left] and e in support[right])
        return support

    def unsupported(self, engine: str) -> list[str]:
        """Feature columns ``engine`` cannot compute, e.g. ``view.unsupported("flink")``."""
        return [col for col, engines in self.engine_support().items() if engine not in engines]

    @property
    def engines(self) -> tuple[str, ...]:
        """Engines that can compute the whole view."""
        return tuple(e for e in ENGINES if not self.unsupported(e))

    # ---- identity ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The definition as plain data (what a YAML definition file holds)."""
        out = {"name": self.name, "version": self.version, "sensors": list(self.sensors),
               "window": self.window.to_dict(), "allowed_lateness": format_duration(self.allowed_lateness_ms),
               "aggregations": {s: list(a) for s, a in self.aggregations.items()}}
        if self.equipment_types:
            out["equipment_types"] = list(self.equipment_types)
        if self.cross_features:
            out["cross_features"] = {c.name: c.expression for c in self.cross_features}
        if self.spectral:
            out["spectral"] = {s.sensor: s.to_dict() for s in self.spectral}
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def from_dict(cls, raw: Mapping, source: str = "") -> "FeatureView":
        """Build a view from plain data (a parsed YAML file). ``source`` names the file in errors."""
        where = f" in {source}" if source else ""
        if not isinstance(raw, Mapping):
            raise FeatureDefinitionError(f"feature view definition{where} must be a mapping")
        known = {"name", "version", "sensors", "window", "allowed_lateness", "aggregations", "cross_features",
                 "spectral", "equipment_types", "description"}
        unknown = set(raw) - known
        if unknown:
            raise FeatureDefinitionError(f"feature view {raw.get('name')!r}{where}: unknown keys {sorted(unknown)}",
                                         f"known keys: {', '.join(sorted(known))}")
        missing = {"name", "version", "sensors", "window"} - set(raw)
        if missing:
            raise FeatureDefinitionError(f"feature view {raw.get('name')!r}{where} lacks {', '.join(sorted(missing))}")
        try:
            return cls(**{k: raw[k] for k in raw})
        except FeatureDefinitionError as exc:
            if source and source not in exc.message:
                raise FeatureDefinitionError(f"{exc.message} ({source})", exc.hint) from None
            raise

    @property
    def fingerprint(self) -> str:
        """sha256 (hex) of everything that shapes the output; not of ``version`` or ``description``."""
        body = self.to_dict()
        body.pop("version"), body.pop("description", None)
        body["formula_revision"] = FORMULA_REVISION
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    @property
    def feature_set_version(self) -> str:
        """``<name>:v<version>:<fingerprint[:12]>``: the value of every row's feature_set_version column."""
        return f"{self.name}:v{self.version}:{self.fingerprint[:12]}"

    def validate_sensors(self, equipment_types: Mapping) -> None:
        """Check sensors (and spectral bands) against equipment types (``sensorlake.equipment.load_equipment_types``).

        Raises FeatureDefinitionError naming an unknown sensor or equipment type, or a band above
        the Nyquist frequency of the sensor's declared sampling rate.
        """
        where = f"feature view {self.name!r}"
        for t in self.equipment_types:
            if t not in equipment_types:
                raise FeatureDefinitionError(f"{where}: unknown equipment type {t!r}",
                                             f"declared types: {', '.join(sorted(equipment_types))}")
        scope = {t: equipment_types[t] for t in (self.equipment_types or equipment_types)}
        declared = sorted({s for et in scope.values() for s in et.sensors})
        for sensor in self.sensors:
            if sensor not in declared:
                raise FeatureDefinitionError(
                    f"{where}: unknown sensor {sensor!r}" + (f" for equipment types {list(self.equipment_types)}" if self.equipment_types else ""),
                    f"declare it in the equipment types file or use one of: {', '.join(declared)}")
        for spec in self.spectral:
            rates = [et.sensors[spec.sensor].rate_hz for et in scope.values() if spec.sensor in et.sensors]
            nyquist = min(rates) / 2.0
            for band, (lo, hi) in spec.bands_hz.items():
                if hi > nyquist + 1e-12:
                    raise FeatureDefinitionError(
                        f"{where}, spectral {spec.sensor!r}: band {band!r} reaches {hi} Hz, above the Nyquist frequency "
                        f"{nyquist} Hz of its {min(rates)} Hz sampling rate", f"keep bands within [0, {nyquist}] Hz")

    def __eq__(self, other) -> bool:
        return isinstance(other, FeatureView) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"FeatureView({self.name!r}, v{self.version}, {self.window}, {len(self.feature_columns)} features)"


def check_feature_set_version(view: FeatureView, stored: str | None, table: str | None = None) -> None:
    """Refuse writing ``view``'s rows into a table whose rows carry another feature_set_version.

    ``stored``: the table's feature_set_version (None for a new, empty table).

    Example::

        check_feature_set_version(view, "machine_1m:v1:0123456789ab", "silver.features_machine_1m")
    """
    if stored is None or stored == view.feature_set_version:
        return
    table = table or f"silver.features_{view.name}"
    raise FeatureDefinitionError(
        f"{table} holds feature_set_version {stored!r}, but view {view.name!r} now is {view.feature_set_version!r}",
        "the definition changed: bump its version and write to a new table (or drop and backfill this one)")
