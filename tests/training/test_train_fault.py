"""Fault: the MLflow tracking server goes down in the middle of a training run.

``sensorlake train`` runs in a process group of its own on the session's small fleet (``icfg``,
``fleet``: tests/plugins/trained_fleet.py) against an MLflow server of this test's own (free port,
its own SQLite store and artifacts), which already holds a champion. When the run shows up in the
server (REST), the job is frozen (SIGSTOP to its group), the server is killed, and the job is let
go (SIGCONT): its next call finds nobody. The job must exit with an error naming the server, and
the restarted server (same store) must hold no half-registered model.
"""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
import yaml

from sensorlake.services import mlflow_server, process
from tests.job_process import JobProcess
from tests.plugins.services import with_own_mlflow

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]


def test_training_stops_with_a_clear_error_when_the_mlflow_server_goes_down_mid_run_and_registers_nothing(
        spark, icfg, fleet, tmp_path):
    from mlflow import MlflowClient

    from training import train_task
    from training.config import task_config

    own = with_own_mlflow(icfg, tmp_path / "runtime")
    own.data["training"].update(rolling=[], baseline=None)      # the plain window features: quicker to build
    task = task_config(own, "failure")
    config = tmp_path / "sensorlake.yaml"
    config.write_text(yaml.safe_dump(own.data))
    argv = [Path(sys.executable).with_name("sensorlake"), "--config", config,
            "--set", f"lake.metastore_dir={tmp_path / 'metastore'}",       # the session holds its Derby metastore
            "train", "--task", "failure"]
    mlflow_server.start(own)
    try:
        champion = train_task(spark, own, task)
        assert (champion.model_version, champion.promoted) == ("1", True)
        client = MlflowClient(own.mlflow_tracking_uri)
        experiment = client.get_experiment_by_name(task.experiment).experiment_id
        aliases = client.get_registered_model(task.registered_model).aliases
        assert aliases == {"challenger": "1", "champion": "1"}

        def running_run():
            return next(iter(client.search_runs([experiment], "attributes.status = 'RUNNING'")), None)

        with JobProcess.start(argv, tmp_path / "train.log") as training:
            run = training.wait_for(running_run, "the training run in MLflow", timeout=600, interval=0.2).info.run_id
            training.signal(signal.SIGSTOP)
            registered = client.search_model_versions(f"name = '{task.registered_model}'")
            assert [v.version for v in registered] == ["1"], "the server went down after the run registered its model"
            process.kill_process(own, mlflow_server.NAME)          # down at once, as a crash
            training.signal(signal.SIGCONT)
            code = training.wait(timeout=240, what="training without its MLflow server")
        out = training.output()
        assert code == 1, out[-3000:]
        assert (f"error: the MLflow tracking server at {own.mlflow_tracking_uri} stopped answering while training "
                "task failure ([Errno 111] Connection refused); "
                f"run {run} of experiment {task.experiment} stays RUNNING; nothing was registered") in out
        assert "Traceback" not in out and "Max retries exceeded" not in out

        mlflow_server.start(own)                                   # the same store: what did the run leave?
        versions = client.search_model_versions(f"name = '{task.registered_model}'")
        assert [(v.version, v.run_id, v.status) for v in versions] == [("1", champion.run_id, "READY")]
        assert client.get_registered_model(task.registered_model).aliases == aliases
        runs = {r.info.run_id: r.info.status for r in client.search_runs([experiment])}
        assert runs == {champion.run_id: "FINISHED", run: "RUNNING"}
    finally:
        mlflow_server.stop(own)
