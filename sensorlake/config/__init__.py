"""Configuration: one YAML of documented defaults, a profile, a user file, env vars, CLI flags.

Example::

    from sensorlake.config import load_config
    cfg = load_config(profile="local", overrides=["kafka.port=29092"])
    cfg.kafka_bootstrap        # '127.0.0.1:29092'
    cfg.table_path("bronze.readings")
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from sensorlake.errors import ConfigError
from sensorlake.package_data import packaged_path

DEFAULTS_FILE = packaged_path(__file__, "defaults.yaml")
EQUIPMENT_TYPES_FILE = packaged_path(__file__, "equipment_types.yaml")
ENV_PREFIX = "SENSORLAKE__"


def deep_merge(base: dict, update: Mapping) -> dict:
    """Merge ``update`` into ``base`` in place (nested dicts merged, other values deep-copied); return ``base``."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _set_dotted(tree: dict, dotted: str, raw_value: str, origin: str) -> None:
    keys = dotted.strip().split(".")
    if not all(keys):
        raise ConfigError(f"bad configuration key {dotted!r} from {origin}", "write keys as section.key, e.g. kafka.port=19092")
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"configuration key {dotted!r} from {origin}: {key!r} is a value, not a section")
        node = child
    node[keys[-1]] = yaml.safe_load(raw_value) if raw_value != "" else None


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist", "pass an existing file with --config or SENSORLAKE_CONFIG") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {path} must hold a mapping at its top level")
    return data


@dataclass(frozen=True)
class Config:
    """Resolved configuration with helpers for the values derived from it."""

    data: dict
    base_dir: Path

    def get(self, dotted: str, default: Any = None) -> Any:
        """Value at ``section.key``, e.g. ``cfg.get("kafka.port")``."""
        node: Any = self.data
        for key in dotted.split("."):
            if not isinstance(node, Mapping) or key not in node:
                return default
            node = node[key]
        return node

    def path(self, dotted: str) -> Path:
        """A configured path, resolved against the directory the configuration applies to."""
        value = self.get(dotted)
        if value is None:
            raise ConfigError(f"configuration key {dotted} is not set")
        p = Path(os.path.expanduser(str(value)))
        return (p if p.is_absolute() else self.base_dir / p).resolve()

    @property
    def profile(self) -> str:
        return self.data["profile"]

    @property
    def lake_root(self) -> Path:
        return self.path("lake.root")

    @property
    def runtime_dir(self) -> Path:
        return self.path("runtime.dir")

    @property
    def log_dir(self) -> Path:
        return self.runtime_dir / "logs"

    @property
    def jars_dir(self) -> Path:
        return self.path("runtime.jars_dir")

    @property
    def kafka_bootstrap(self) -> str:
        return self.get("kafka.bootstrap") or f"{self.get('kafka.host')}:{self.get('kafka.port')}"

    @property
    def mlflow_tracking_uri(self) -> str:
        return self.get("mlflow.tracking_uri") or f"http://{self.get('mlflow.host')}:{self.get('mlflow.port')}"

    @property
    def future_tolerance_s(self) -> float:
        """How far (seconds) a reading's time may lie ahead of the clock that receives it before it is
        quarantined as ``future_timestamp`` (``quality.future_tolerance_s``); every engine reads it here."""
        return float(self.get("quality.future_tolerance_s", 300))

    @property
    def equipment_types_file(self) -> Path:
        if self.get("equipment_types_file"):
            return self.path("equipment_types_file")
        return EQUIPMENT_TYPES_FILE

    def table_path(self, table: str) -> Path:
        """Storage path of a Delta table named ``layer.name``, e.g. ``bronze.readings``."""
        layer, _, name = table.partition(".")
        if not layer or not name:
            raise ConfigError(f"table name {table!r} must be layer.name, e.g. bronze.readings")
        return self.lake_root / layer / name


def load_config(
    config_file: str | os.PathLike | None = None,
    profile: str | None = None,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike | None = None,
) -> Config:
    """Resolve the configuration (defaults < profile < user file < env < overrides).

    ``overrides`` are ``section.key=value`` strings, as given to ``--set``.
    Relative paths resolve against ``base_dir`` (default: the current directory).
    """
    environ = os.environ if environ is None else environ
    data = _read_yaml(DEFAULTS_FILE)
    user_file = config_file or environ.get("SENSORLAKE_CONFIG")
    user = _read_yaml(Path(user_file)) if user_file else {}
    chosen = profile or environ.get("SENSORLAKE_PROFILE") or user.get("profile") or data["profile"]
    profiles = deep_merge(copy.deepcopy(data.get("profiles", {})), user.get("profiles", {}))
    if chosen not in profiles:
        raise ConfigError(f"unknown profile {chosen!r}", f"choose one of: {', '.join(sorted(profiles))}")
    deep_merge(data, profiles[chosen])
    deep_merge(data, {k: v for k, v in user.items() if k != "profiles"})
    data["profile"] = chosen
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX):
            _set_dotted(data, name[len(ENV_PREFIX):].lower().replace("__", "."), value, f"environment variable {name}")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r} has no '='", "write --set section.key=value")
        _set_dotted(data, key, value, f"--set {item}")
    root = Path(base_dir) if base_dir else Path.cwd()
    return Config(data=data, base_dir=root.resolve())
