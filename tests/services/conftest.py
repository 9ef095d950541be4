"""Helpers for the service tests: a configuration of one's own, with free ports and runtime folder."""
from __future__ import annotations

import copy
import os

import pytest

from sensorlake.config import Config
from tests.conftest import free_port

PORT_KEYS = ("kafka.port", "kafka.controller_port", "mlflow.port", "flink.rest_port", "flink.rpc_port",
             "spark.master_port", "spark.master_webui_port", "spark.worker_webui_port")


def with_values(cfg: Config, **dotted) -> Config:
    """A copy of ``cfg`` with ``section__key=value`` replaced, e.g. ``with_values(cfg, kafka__port=1)``."""
    data = copy.deepcopy(cfg.data)
    for key, value in dotted.items():
        section, name = key.split("__")
        data[section][name] = value
    return Config(data=data, base_dir=cfg.base_dir)


def group_gone(pgid: int) -> bool:
    """True when no process of the process group ``pgid`` is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def private_cfg(cfg, tmp_path):
    """Like the session ``cfg`` but with its own runtime folder and fresh free ports."""
    values = {k.replace(".", "__"): free_port() for k in PORT_KEYS}
    return with_values(cfg, runtime__dir=str(tmp_path / "runtime"), **values)
