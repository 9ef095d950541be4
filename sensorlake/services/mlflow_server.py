"""An MLflow tracking server on 127.0.0.1: SQLite backend and local artifacts by default.

Runs ``python -m mlflow server`` from this environment. ``mlflow.backend_store_uri`` (e.g. a
``postgresql://user:pass@host/db`` URI) is passed through unchanged; when unset the store is
``sqlite:///<runtime>/mlflow/mlflow.db``. Artifacts are served by the server itself
(``--artifacts-destination``), so clients need only the tracking URI. Health is ``GET /health``.
The server forks uvicorn workers: stop() ends the whole process group.

Example::

    from sensorlake.services import mlflow_server
    mlflow_server.start(cfg)
    import mlflow; mlflow.set_tracking_uri(mlflow_server.address(cfg))
    mlflow_server.stop(cfg)
"""
from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from sensorlake.errors import ServiceError
from sensorlake.services import process

NAME = "mlflow"
PROCESSES = (NAME,)
START_TIMEOUT_S = 120


def address(cfg) -> str:
    """URL of the server started here, e.g. ``http://127.0.0.1:5000``."""
    return f"http://127.0.0.1:{cfg.get('mlflow.port')}"


def backend_store_uri(cfg) -> str:
    """The configured store URI, or ``sqlite:///<runtime>/mlflow/mlflow.db``."""
    uri = cfg.get("mlflow.backend_store_uri")
    if uri:
        return str(uri)
    return f"sqlite:///{cfg.runtime_dir / 'mlflow' / 'mlflow.db'}"


def artifacts_dir(cfg) -> Path:
    """Folder where the server stores artifacts."""
    if cfg.get("mlflow.artifacts_dir"):
        return cfg.path("mlflow.artifacts_dir")
    return cfg.runtime_dir / "mlflow" / "artifacts"


def command(cfg) -> list[str]:
    """The ``mlflow server`` command line for this configuration."""
    return [sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", backend_store_uri(cfg),
            "--artifacts-destination", artifacts_dir(cfg).as_uri(),
            "--serve-artifacts",
            "--host", "127.0.0.1", "--port", str(cfg.get("mlflow.port")),
            "--workers", str(cfg.get("mlflow.workers") or 2)]


def healthy(cfg) -> bool:
    """True if ``GET /health`` answers 200."""
    try:
        with urllib.request.urlopen(f"{address(cfg)}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def start(cfg) -> float:
    """Start the tracking server and wait for /health; return the seconds it took to start."""
    process.ensure_port_free(cfg, cfg.get("mlflow.port"), "mlflow", "mlflow.port")
    (cfg.runtime_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    artifacts_dir(cfg).mkdir(parents=True, exist_ok=True)
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONUNBUFFERED": "1"}
    process.start_process(cfg, NAME, command(cfg), env=env, cwd=cfg.runtime_dir / "mlflow")
    try:
        return process.wait_healthy(cfg, NAME, lambda: healthy(cfg), START_TIMEOUT_S,
                                    what=f"GET {address(cfg)}/health")
    except ServiceError:
        process.stop_process(cfg, NAME)
        raise


def stop(cfg) -> bool:
    """Stop the server and its workers (whole process group); True if it was running."""
    return process.stop_process(cfg, NAME, timeout=20)
