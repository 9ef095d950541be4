"""Session-scoped fixtures for the real services (Kafka, MLflow, Flink and Spark clusters).

Each fixture starts its service once per test session with the session ``cfg`` (free ports,
temporary runtime folder), yields that ``cfg`` (addresses: ``kafka.address(cfg)``,
``mlflow_server.address(cfg)``, ...), and stops the whole process group at the end, even when
tests fail. Start-up times are printed in the terminal summary.

Example::

    def test_topic_exists(kafka):
        from sensorlake.services import kafka as broker
        assert broker.ensure_topic(kafka, "t", 1) == 1
"""
from __future__ import annotations

import pytest

START_TIMES: dict[str, float] = {}


def _run(cfg, name: str):
    from sensorlake.services import SERVICES

    module = SERVICES[name]
    try:
        START_TIMES[name] = module.start(cfg)
        yield cfg
    finally:
        module.stop(cfg)


@pytest.fixture(scope="session")
def kafka(cfg):
    """A single-node KRaft broker at ``cfg.kafka_bootstrap``; yields ``cfg``."""
    yield from _run(cfg, "kafka")


@pytest.fixture(scope="session")
def mlflow_server(cfg):
    """An MLflow tracking server at ``cfg.mlflow_tracking_uri`` (SQLite + local artifacts); yields ``cfg``."""
    yield from _run(cfg, "mlflow")


@pytest.fixture(scope="session")
def flink_cluster(cfg):
    """PyFlink's standalone cluster (jobmanager + taskmanager); yields ``cfg``."""
    yield from _run(cfg, "flink")


@pytest.fixture(scope="session")
def spark_cluster(cfg):
    """A Spark standalone master and worker at ``spark_cluster.master_url(cfg)``; yields ``cfg``."""
    yield from _run(cfg, "spark")


def with_own_mlflow(cfg, root):
    """``cfg`` with an MLflow server of its own (a free port; store, artifacts, pid and log under ``root``), to
    stop and start without disturbing the session's; start it with ``mlflow_server.start``, stop it with ``stop``."""
    import copy

    from sensorlake.config import Config
    from tests.conftest import free_port

    data = copy.deepcopy(cfg.data)
    data["mlflow"].update(port=free_port(), workers=1)
    data["runtime"]["dir"] = str(root)
    return Config(data=data, base_dir=cfg.base_dir)


def pytest_terminal_summary(terminalreporter):
    if START_TIMES:
        times = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in START_TIMES.items())
        terminalreporter.write_line(f"service start-up (to healthy): {times}")
