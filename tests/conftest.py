"""Shared test fixtures: one configuration, one Spark session and one of each service per test session.

Every service a test session starts listens on free ports picked at start and keeps its data
and logs under a temporary runtime folder, so parallel sessions never collide.
"""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sensorlake.config import load_config

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

pytest_plugins = ["tests.plugins.services", "tests.plugins.trained_fleet"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def cfg(tmp_path_factory):
    """A configuration whose lake, runtime folder and service ports belong to this test session."""
    root = tmp_path_factory.mktemp("sensorlake")
    overrides = [
        f"lake.root={root / 'lake'}",
        f"lake.metastore_dir={root / 'metastore'}",
        f"runtime.dir={root / 'runtime'}",
        f"runtime.jars_dir={REPO_ROOT / 'jars'}",
        f"kafka.port={free_port()}",
        f"kafka.controller_port={free_port()}",
        f"mlflow.port={free_port()}",
        f"flink.rest_port={free_port()}",
        f"flink.rpc_port={free_port()}",
        f"spark.master_port={free_port()}",
        f"spark.master_webui_port={free_port()}",
        f"spark.worker_webui_port={free_port()}",
        "spark.shuffle_partitions=4",
        "streaming.scoring.tasks=[]",   # real-time scoring is tested on its own (tests/realtime)
    ]
    return load_config(profile="local", overrides=overrides, environ={}, base_dir=root)


@pytest.fixture(scope="session")
def spark(cfg):
    """One local Spark session with Delta Lake for the whole test session."""
    from sensorlake.lake.spark import build_spark_session

    session = build_spark_session(cfg, app_name="sensorlake-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public datasets beside the project; tests that need them skip, loudly, without them."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets folder {SHARED_DATA} is absent")
    return SHARED_DATA
