"""Session fixtures of one small simulated fleet, ingested, backfilled, validated and trained once.

Training, batch scoring, real-time scoring and the spark-submit tests share them: the fleet is
built once per test session in a private lake (equipment ids of the simulator, September 2025),
with the session's MLflow server and the quick training settings below.

Example::

    def test_something(spark, icfg, fleet, first):
        first.model_version        # the registered champion of the failure task
"""
from __future__ import annotations

import copy

import pytest

from sensorlake.config import Config


def with_lake(cfg: Config, root) -> Config:
    """``cfg`` with its own lake and runtime folder under ``root`` (same services, same metastore)."""
    data = copy.deepcopy(cfg.data)
    data["lake"]["root"] = str(root / "lake")
    data["runtime"]["dir"] = str(root / "runtime")
    return Config(data=data, base_dir=cfg.base_dir)


# ---- a small simulated fleet, ingested, backfilled, validated and trained once per session ----
START, END = "2025-09-10T00:00:00Z", "2025-09-10T18:00:00Z"
TRAINING = {  # small and quick: 18 h of 6 machines that fail every few hours
    "views": ["machine_1m"], "horizon": "1h", "rul_cap": "3h", "rolling": ["15m"], "baseline": "6h",
    "num_boost_round": 80, "early_stopping_rounds": 20, "alert_budget_per_day": 40.0,
    "experiment": "trn-it-{task}", "registered_model": "trn-it-{task}",
}


@pytest.fixture(scope="session")
def icfg(cfg, mlflow_server, tmp_path_factory):
    """A private lake, the session's MLflow server, and the training settings above (shared by the
    integration modules of training and scoring: one fleet, one trained champion per test session)."""
    c = with_lake(cfg, tmp_path_factory.mktemp("training-it"))
    c.data["training"].update(TRAINING)
    return c


@pytest.fixture(scope="session")
def fleet(spark, icfg, tmp_path_factory):
    """18 hours of two machines per type in bronze, machine_1m backfilled into silver and validated."""
    from expectations.runner import validate_table
    from feature_defs import load_registry
    from sensorlake.backfill import backfill_features
    from sensorlake.equipment import load_equipment_types
    from sensorlake.ingest import ingest_path
    from sensorlake.simulator.fleet import Fleet, FleetSettings
    from sensorlake.simulator.history import write_history

    out = tmp_path_factory.mktemp("training-history")
    settings = FleetSettings.from_config(icfg, seed=909, equipment_per_type=2, days=0.75, start=START,
                                         rate_scale=0.25, degradation_hours=4.0, pm_interval_hours=12.0)
    manifest = write_history(Fleet(load_equipment_types(icfg.equipment_types_file), settings), out)
    ingest_path(spark, icfg, out)
    backfill_features(spark, icfg, load_registry(icfg)["machine_1m"], START, END)
    validate_table(spark, icfg, "silver.features_machine_1m", data_docs=False)   # raises GateFailed if it fails
    return manifest


@pytest.fixture(scope="session")
def first(spark, icfg, fleet):
    """The first failure model trained on the fleet: registered, challenger and champion."""
    from training import train_task

    return train_task(spark, icfg, "failure")
