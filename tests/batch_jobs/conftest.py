"""Fixtures of the backfill tests: a simulated history in bronze, and views with private silver tables."""
from __future__ import annotations

import pytest

from feature_defs import FeatureView, load_registry
from sensorlake.equipment import load_equipment_types
from sensorlake.ingest import ingest_path
from sensorlake.simulator.fleet import Fleet, FleetSettings
from sensorlake.simulator.history import write_history

# Each test module simulates its own span, so keys never collide with other tests of the session.
HISTORY_START = "2025-06-01T00:00:00Z"


def simulate_and_ingest(spark, cfg, out, seed: int, start: str, days: float, equipment_per_type: int = 1,
                        **settings) -> dict:
    """Simulate ``equipment_per_type`` machines per type over ``days`` from ``start`` and ingest them into bronze;
    return the manifest. ``settings``: other FleetSettings, e.g. ``rate_scale=0.02``."""
    types = load_equipment_types(cfg.equipment_types_file)
    fleet = Fleet(types, FleetSettings.from_config(cfg, seed=seed, equipment_per_type=equipment_per_type, days=days,
                                                   start=start, **settings))
    manifest = write_history(fleet, out, fmt="parquet")
    ingest_path(spark, cfg, out)
    return manifest


def renamed(view: FeatureView, name: str, **changes) -> FeatureView:
    """The same definition under another name (its own silver table), optionally changed."""
    return FeatureView.from_dict({**view.to_dict(), "name": name, **changes})


@pytest.fixture(scope="session")
def registry(cfg):
    return load_registry(cfg)


@pytest.fixture(scope="session")
def history(spark, cfg, tmp_path_factory):
    """72 minutes of three machines (pump, fan, conveyor motor) from 2025-06-01T00:00Z, in bronze.readings."""
    return simulate_and_ingest(spark, cfg, tmp_path_factory.mktemp("backfill-history"), seed=101,
                               start=HISTORY_START, days=0.05)


def settings(cfg) -> list[str]:
    """--set flags giving a job the test session's lake and runtime."""
    keys = ("lake.root", "lake.metastore_dir", "runtime.dir", "runtime.jars_dir", "spark.shuffle_partitions")
    return [arg for key in keys for arg in ("--set", f"{key}={cfg.get(key)}")]
