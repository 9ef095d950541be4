"""Load feature views from the definitions folder and keep them in a registry.

The folder is ``features.definitions_dir`` in the configuration; by default (null) the folder
shipped inside the package, ``feature_defs/views/``, so it works from an installed wheel. Each
file defines views as data:

* ``*.yaml`` / ``*.yml``: one view (a mapping) or a list of views, keys as in :meth:`FeatureView.from_dict`;
* ``*.py``: every module-level :class:`FeatureView` instance (Feast style).

Files whose name starts with ``_`` are skipped. ``fingerprints.lock.json`` in the same folder maps
``name:vN`` to the fingerprint recorded when that version was released: a view whose definition
changed while keeping its version is refused (bump ``version``, then ``sensorlake features lock``).

Example::

    registry = load_registry(cfg)          # validated against cfg.equipment_types_file
    registry["machine_1m"].feature_columns
    [v.name for v in registry.views_for("flink")]
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import yaml

from feature_defs.errors import FeatureDefinitionError
from feature_defs.view import FeatureView
from sensorlake.package_data import packaged_path

SHIPPED_VIEWS_DIR = packaged_path(__file__, "views")
LOCK_FILE = "fingerprints.lock.json"


class FeatureRegistry(Mapping[str, FeatureView]):
    """Views by name; refuses two views with one name.

    Example::

        registry = FeatureRegistry([view_a, view_b])
        registry["machine_1m"]
    """

    def __init__(self, views: Iterable[FeatureView] = (), sources: Mapping[str, str] | None = None):
        self._views: dict[str, FeatureView] = {}
        self._sources: dict[str, str] = {}
        for view in views:
            self.add(view, (sources or {}).get(view.name, ""))

    def add(self, view: FeatureView, source: str = "") -> None:
        """Register a view; a second view with the same name is refused, naming both sources."""
        if view.name in self._views:
            first = self._sources.get(view.name) or "an earlier definition"
            raise FeatureDefinitionError(
                f"duplicate feature view name {view.name!r}" + (f" in {source}" if source else "") + f" (already defined in {first})",
                "give every view its own name; to change a view, edit it and bump its version")
        self._views[view.name] = view
        self._sources[view.name] = source

    def source(self, name: str) -> str:
        """The file a view was loaded from ('' for views added in code)."""
        return self._sources.get(name, "")

    def views_for(self, engine: str) -> list[FeatureView]:
        """Views ``engine`` can compute completely (e.g. the streaming job's: ``views_for("flink")``)."""
        return [v for v in self._views.values() if engine in v.engines]

    def __getitem__(self, name: str) -> FeatureView:
        try:
            return self._views[name]
        except KeyError:
            raise FeatureDefinitionError(f"no feature view named {name!r}",
                                         f"known views: {', '.join(sorted(self._views)) or '(none)'}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)


def _views_in_python(path: Path) -> list[FeatureView]:
    spec = importlib.util.spec_from_file_location(f"sensorlake_feature_views_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [obj for obj in vars(module).values() if isinstance(obj, FeatureView)]


def _views_in_yaml(path: Path) -> list[FeatureView]:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise FeatureDefinitionError(f"feature view file {path} is not valid YAML: {exc}") from None
    items = raw if isinstance(raw, list) else [raw]
    return [FeatureView.from_dict(item, source=str(path)) for item in items if item is not None]


def read_lock(folder: Path) -> dict[str, str]:
    """``name:vN`` -> fingerprint from the folder's lock file ({} when absent)."""
    path = Path(folder) / LOCK_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def write_lock(registry: FeatureRegistry, folder: Path) -> Path:
    """Record the fingerprint of every view's current version (keeps entries of older versions)."""
    path = Path(folder) / LOCK_FILE
    lock = read_lock(folder)
    lock.update({f"{v.name}:v{v.version}": v.fingerprint for v in registry.values()})
    path.write_text(json.dumps(dict(sorted(lock.items())), indent=2) + "\n")
    return path


def check_lock(registry: FeatureRegistry, lock: Mapping[str, str]) -> None:
    """Refuse a view whose definition changed but whose version did not."""
    for view in registry.values():
        recorded = lock.get(f"{view.name}:v{view.version}")
        if recorded and recorded != view.fingerprint:
            raise FeatureDefinitionError(
                f"feature view {view.name!r} changed but is still version {view.version} "
                f"(fingerprint {view.fingerprint[:12]}, recorded {recorded[:12]}) in {registry.source(view.name) or 'code'}",
                f"bump version to {view.version + 1}, then run `sensorlake features lock`")


def load_views(folder: str | Path = SHIPPED_VIEWS_DIR, equipment_types: Mapping | None = None,
               check_versions: bool = True) -> FeatureRegistry:
    """Load, validate and register every view in ``folder``.

    ``equipment_types`` (from ``sensorlake.equipment.load_equipment_types``) checks the sensors;
    ``check_versions`` checks the lock file.

    Example::

        registry = load_views("feature_defs/views", load_equipment_types(cfg.equipment_types_file))
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FeatureDefinitionError(f"feature definitions folder {folder} does not exist",
                                     "set features.definitions_dir to a folder of view files (null: the shipped views)")
    registry = FeatureRegistry()
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")) or path.suffix not in (".yaml", ".yml", ".py"):
            continue
        views = _views_in_python(path) if path.suffix == ".py" else _views_in_yaml(path)
        for view in views:
            if equipment_types is not None:
                try:
                    view.validate_sensors(equipment_types)
                except FeatureDefinitionError as exc:
                    raise FeatureDefinitionError(f"{exc.message} ({path})", exc.hint) from None
            registry.add(view, str(path))
    if check_versions:
        check_lock(registry, read_lock(folder))
    return registry


def definitions_dir(cfg) -> Path:
    """The configured definitions folder (``features.definitions_dir``; null -> the shipped views)."""
    return cfg.path("features.definitions_dir") if cfg.get("features.definitions_dir") else SHIPPED_VIEWS_DIR


def load_registry(cfg) -> FeatureRegistry:
    """The views of the configured folder, checked against the configured equipment types.

    Example: ``load_registry(cfg)["machine_1m"]``.
    """
    from sensorlake.equipment import load_equipment_types

    return load_views(definitions_dir(cfg), load_equipment_types(cfg.equipment_types_file))
