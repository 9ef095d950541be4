"""PyFlink's standalone cluster and a Spark standalone master + worker, for real."""
from __future__ import annotations

import subprocess

import pytest

from sensorlake.services import flink_cluster as flink, spark_cluster as spark

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_flink_rest_lists_a_taskmanager_with_the_configured_slots(flink_cluster):
    overview = flink.overview(flink_cluster)
    assert overview["taskmanagers"] == 1
    assert overview["slots-total"] == flink_cluster.get("flink.taskmanager_slots")
    assert list(flink.taskmanager_slots(flink_cluster).values()) == [flink_cluster.get("flink.taskmanager_slots")]


def test_flink_cluster_finds_the_kafka_connector(flink_cluster):
    lib = flink.home(flink_cluster) / "lib"
    assert any(p.name.startswith("flink-sql-connector-kafka") for p in lib.iterdir())


def test_flink_cli_reaches_the_cluster(flink_cluster):
    cli, env = flink.flink_cli(flink_cluster)
    result = subprocess.run([cli, "list"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No running jobs" in result.stdout


def test_spark_master_lists_an_alive_worker_with_the_configured_cores(spark_cluster):
    state = spark.master_state(spark_cluster)
    assert state["url"] == spark.master_url(spark_cluster)
    alive = [w for w in state["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == 1 and alive[0]["cores"] == spark_cluster.get("spark.worker_cores")
