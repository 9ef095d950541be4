"""A real MLflow tracking server: runs logged over HTTP, read back through the REST API."""
from __future__ import annotations

import json
import urllib.request

import pytest

from sensorlake.services import mlflow_server as server
from tests.services.conftest import with_values


@pytest.mark.integration
def test_a_run_logged_over_http_reads_back_through_the_rest_api(mlflow_server):
    from mlflow.tracking import MlflowClient

    uri = mlflow_server.mlflow_tracking_uri
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("services-test")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "num_leaves", "31")
    client.log_metric(run.info.run_id, "auc", 0.875)
    client.log_text(run.info.run_id, "hello", "notes/readme.txt")
    client.set_terminated(run.info.run_id)

    with urllib.request.urlopen(f"{uri}/api/2.0/mlflow/runs/get?run_id={run.info.run_id}", timeout=10) as resp:
        data = json.load(resp)["run"]["data"]
    assert {"key": "num_leaves", "value": "31"} in data["params"]
    assert [m["value"] for m in data["metrics"] if m["key"] == "auc"] == [0.875]
    stored = list(server.artifacts_dir(mlflow_server).rglob("readme.txt"))
    assert [p.read_text() for p in stored] == ["hello"], "artifacts land in the server's artifacts folder"


def test_default_backend_is_sqlite_under_the_runtime_folder(cfg):
    assert server.backend_store_uri(cfg) == f"sqlite:///{cfg.runtime_dir / 'mlflow' / 'mlflow.db'}"


def test_a_postgresql_backend_uri_passes_through_unchanged(cfg):
    uri = "postgresql://mlflow:secret@127.0.0.1:5432/mlflow"
    argv = server.command(with_values(cfg, mlflow__backend_store_uri=uri))
    assert argv[argv.index("--backend-store-uri") + 1] == uri
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
