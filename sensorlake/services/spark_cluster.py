"""A Spark standalone master and one worker on 127.0.0.1, from the installed pyspark.

Runs ``spark-class org.apache.spark.deploy.master.Master`` and ``...worker.Worker`` in the
foreground as two process groups of our own (logs to ``<log_dir>/spark-master.log`` and
``spark-worker.log``; the worker's work and scratch folders under ``<runtime>/spark``).
Executors use this environment's Python. Health: the master's ``/json`` lists an ALIVE worker.

Example::

    from sensorlake.services import spark_cluster
    spark_cluster.start(cfg)
    spark_cluster.master_url(cfg)          # 'spark://127.0.0.1:7077' for spark-submit --master
    spark_cluster.stop(cfg)
"""
from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

from sensorlake.errors import ServiceError
from sensorlake.services import process

NAME = "spark"
MASTER, WORKER = "spark-master", "spark-worker"
PROCESSES = (MASTER, WORKER)
START_TIMEOUT_S = 90


def spark_home() -> Path:
    """The Spark distribution inside the installed ``pyspark`` package."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def master_url(cfg) -> str:
    """``spark://127.0.0.1:<spark.master_port>``, for ``spark-submit --master``."""
    return f"spark://127.0.0.1:{cfg.get('spark.master_port')}"


def address(cfg) -> str:
    """The master URL and its web UI, e.g. ``spark://127.0.0.1:7077 (ui http://127.0.0.1:8090)``."""
    return f"{master_url(cfg)} (ui {webui(cfg)})"


def webui(cfg) -> str:
    """The master's web UI, e.g. ``http://127.0.0.1:8090``."""
    return f"http://127.0.0.1:{cfg.get('spark.master_webui_port')}"


def environment(cfg) -> dict[str, str]:
    """Environment for the master, the worker and their executors."""
    base = cfg.runtime_dir / "spark"
    return {
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_DIRS": str(base / "local"),
        "SPARK_WORKER_DIR": str(base / "work"),
        "SPARK_NO_DAEMONIZE": "1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }


def master_state(cfg) -> dict:
    """The master's ``/json`` status (workers, cores, applications)."""
    with urllib.request.urlopen(f"{webui(cfg)}/json", timeout=2) as resp:
        return json.load(resp)


def healthy(cfg) -> bool:
    """True if the master answers and lists at least one ALIVE worker."""
    try:
        return any(w.get("state") == "ALIVE" for w in master_state(cfg).get("workers", []))
    except (OSError, ValueError):
        return False


def start(cfg) -> float:
    """Start master and worker; wait until the worker is ALIVE; return the seconds taken."""
    for key, what in (("spark.master_port", "spark master"), ("spark.master_webui_port", "spark master web UI"),
                      ("spark.worker_webui_port", "spark worker web UI")):
        process.ensure_port_free(cfg, cfg.get(key), what, key)
    env, base = environment(cfg), cfg.runtime_dir / "spark"
    for sub in ("local", "work"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    spark_class = str(spark_home() / "bin" / "spark-class")
    try:
        process.start_process(cfg, MASTER, [
            spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
            "--port", cfg.get("spark.master_port"), "--webui-port", cfg.get("spark.master_webui_port"),
        ], env=env, cwd=base)
        process.start_process(cfg, WORKER, [
            spark_class, "org.apache.spark.deploy.worker.Worker", master_url(cfg), "--host", "127.0.0.1",
            "--cores", cfg.get("spark.worker_cores"), "--memory", cfg.get("spark.worker_memory"),
            "--webui-port", cfg.get("spark.worker_webui_port"), "--work-dir", base / "work",
        ], env=env, cwd=base)
        return process.wait_healthy(cfg, MASTER, lambda: _both_up(cfg), START_TIMEOUT_S,
                                    what=f"GET {webui(cfg)}/json lists an ALIVE worker")
    except ServiceError:
        stop(cfg)
        raise


def _both_up(cfg) -> bool:
    if not process.is_running(cfg, WORKER):
        log = process.log_file(cfg, WORKER)
        raise ServiceError(f"{WORKER} exited during start-up; see {log}:\n{process.tail(log)}")
    return healthy(cfg)


def stop(cfg) -> bool:
    """Stop worker (with its executors) then master; True if any was running."""
    stopped_worker = process.stop_process(cfg, WORKER, timeout=20)
    stopped_master = process.stop_process(cfg, MASTER, timeout=20)
    return stopped_worker or stopped_master
