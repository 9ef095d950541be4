"""`services up/down/status`: every service starts healthy and leaves no process behind."""
from __future__ import annotations

import os
import socket

import pytest

from sensorlake import services
from sensorlake.errors import ConfigError, ServiceError
from sensorlake.services import process
from tests.services.conftest import group_gone, with_values


@pytest.mark.parametrize("name", [
    pytest.param("kafka", marks=pytest.mark.integration),
    pytest.param("mlflow", marks=pytest.mark.integration),
    pytest.param("flink", marks=[pytest.mark.integration, pytest.mark.cluster]),
    pytest.param("spark", marks=[pytest.mark.integration, pytest.mark.cluster]),
])
def test_up_is_healthy_and_down_leaves_no_process_of_the_group(private_cfg, name):
    module = services.SERVICES[name]
    try:
        seconds = services.up(private_cfg, [name])[name]
        print(f"{name} healthy in {seconds:.1f} s")
        assert module.healthy(private_cfg)
        assert services.up(private_cfg, [name]) == {name: None}, "a second up leaves it running"
        rows = [r for r in services.status(private_cfg) if r.service == name]
        assert rows and all(r.state == "healthy" and r.pid for r in rows)
        pgids = [r.pid for r in rows]
    finally:
        stopped = services.down(private_cfg, [name])
    assert stopped == [name]
    for pgid in pgids:
        assert group_gone(pgid), f"process group {pgid} of {name} still has processes"
    assert all(r.state == "stopped" for r in services.status(private_cfg) if r.service == name)


@pytest.mark.parametrize("name, key", [
    ("kafka", "kafka.port"), ("kafka", "kafka.controller_port"), ("mlflow", "mlflow.port"),
    ("flink", "flink.rest_port"), ("flink", "flink.rpc_port"), ("spark", "spark.master_port"),
    ("spark", "spark.master_webui_port"), ("thrift", "sql.port"),
])
def test_a_port_in_use_stops_the_start_with_a_clear_error(private_cfg, name, key):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        section, option = key.split(".")
        cfg = with_values(private_cfg, **{f"{section}__{option}": port})
        with pytest.raises(ServiceError) as err:
            services.up(cfg, [name])
    assert f"port {port} for {name}" in err.value.message and "already in use" in err.value.message
    assert f"--set {key}=" in err.value.hint
    assert not any(process.is_running(cfg, p) for p in services.SERVICES[name].PROCESSES)


def test_default_up_set_is_kafka_and_mlflow():
    assert services.resolve(None) == ["kafka", "mlflow"]


def test_an_unknown_service_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown service"):
        services.resolve(["kafak"])


def test_down_with_nothing_running_stops_nothing(private_cfg):
    assert services.down(private_cfg) == []
