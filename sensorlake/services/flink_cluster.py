"""PyFlink's standalone cluster (one jobmanager, one taskmanager) on 127.0.0.1.

PyFlink ships Flink's ``bin/``, ``conf/`` and ``lib/`` inside the package. This module writes a
``FLINK_CONF_DIR`` under ``<runtime>/flink/conf`` (ports, memory, the venv's Python), a
``FLINK_LIB_DIR`` that links PyFlink's lib/ plus the connector jars from ``<jars_dir>/flink``
(so ``flink run -py`` jobs find the Kafka connector), and runs ``jobmanager.sh start-foreground``
and ``taskmanager.sh start-foreground`` as two process groups of our own, so stopping is clean.
Flink's own log files go to ``<log_dir>/flink``. Health: REST ``/overview`` lists a taskmanager.

Jobs go in with the ``flink`` CLI as a user submits them (``submit_python_job``) and are followed
and cancelled through REST. Fault tests crash the taskmanager (``kill_taskmanager``: SIGKILL of
its process group) and start a new one (``restart_taskmanager``).

Example::

    from sensorlake.services import flink_cluster
    flink_cluster.start(cfg)
    job_id = flink_cluster.submit_python_job(cfg, "streaming_jobs/sensor_features.py", ["--profile", "cluster"])
    flink_cluster.kill_taskmanager(cfg); flink_cluster.restart_taskmanager(cfg)   # the job fails over
    flink_cluster.cancel_job(cfg, job_id)
    flink_cluster.stop(cfg)
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from sensorlake.errors import ServiceError
from sensorlake.services import process

NAME = "flink"
JOBMANAGER, TASKMANAGER = "flink-jobmanager", "flink-taskmanager"
PROCESSES = (JOBMANAGER, TASKMANAGER)
START_TIMEOUT_S = 120
TERMINAL_JOB_STATES = ("FAILED", "CANCELED", "FINISHED", "SUSPENDED")


def pyflink_home() -> Path:
    """The Flink distribution inside the installed ``pyflink`` package."""
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def home(cfg) -> Path:
    """Folder with the generated conf/, lib/ and the cluster's working folders."""
    return cfg.runtime_dir / "flink"


def address(cfg) -> str:
    """REST (web UI) address of the jobmanager, e.g. ``http://127.0.0.1:8081``."""
    return f"http://127.0.0.1:{cfg.get('flink.rest_port')}"


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def settings(cfg) -> dict:
    """Flat ``config.yaml`` entries: PyFlink's shipped defaults overridden by ours."""
    shipped = yaml.safe_load((pyflink_home() / "conf" / "config.yaml").read_text()) or {}
    base = home(cfg)
    ours = {
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.rpc.port": int(cfg.get("flink.rpc_port")),
        "jobmanager.bind-host": "127.0.0.1",
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.host": "127.0.0.1",
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": int(cfg.get("flink.rest_port")),
        "taskmanager.numberOfTaskSlots": int(cfg.get("flink.taskmanager_slots")),
        "parallelism.default": int(cfg.get("flink.parallelism")),
        "jobmanager.memory.process.size": str(cfg.get("flink.jobmanager_memory") or "1024m"),
        "taskmanager.memory.process.size": str(cfg.get("flink.taskmanager_memory") or "2048m"),
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        "io.tmp.dirs": str(base / "tmp"),
        "web.tmpdir": str(base / "web"),
        "web.upload.dir": str(base / "web" / "upload"),
        "execution.checkpointing.dir": (base / "checkpoints").as_uri(),
        "execution.checkpointing.savepoint-dir": (base / "savepoints").as_uri(),
        "env.log.dir": str(log_dir(cfg)),
        "env.pid.dir": str(base / "run"),
    }
    return {**_flatten(shipped), **ours}


def log_dir(cfg) -> Path:
    """Where Flink writes its own log files (jobmanager, taskmanager, client)."""
    return cfg.log_dir / "flink"


def write_config(cfg) -> Path:
    """Write FLINK_CONF_DIR and FLINK_LIB_DIR under ``home(cfg)``; return the conf dir."""
    base, dist = home(cfg), pyflink_home()
    conf = base / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for f in (dist / "conf").iterdir():
        if f.name not in ("config.yaml", "masters", "workers"):
            shutil.copy2(f, conf / f.name)
    (conf / "masters").write_text(f"127.0.0.1:{cfg.get('flink.rest_port')}\n")
    (conf / "workers").write_text("127.0.0.1\n")
    (conf / "config.yaml").write_text(yaml.safe_dump(settings(cfg), sort_keys=True, width=100000))
    lib = base / "lib"
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir()
    connector_jars = sorted((cfg.jars_dir / "flink").glob("*.jar"))
    for jar in [*sorted((dist / "lib").glob("*.jar")), *connector_jars]:
        (lib / jar.name).symlink_to(jar)
    for sub in ("tmp", "web/upload", "checkpoints", "savepoints", "run"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    log_dir(cfg).mkdir(parents=True, exist_ok=True)
    return conf


def environment(cfg) -> dict[str, str]:
    """Environment variables that point Flink's scripts at our conf, lib, logs and Python."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "FLINK_CONF_DIR": str(home(cfg) / "conf"),
        "FLINK_LIB_DIR": str(home(cfg) / "lib"),
        "FLINK_LOG_DIR": str(log_dir(cfg)),
        "FLINK_PID_DIR": str(home(cfg) / "run"),
        "FLINK_IDENT_STRING": "sensorlake",
        "PYFLINK_PYTHON": sys.executable,
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
    }


# What a PyFlink loopback worker writes into its process's environment (os.environ.update of the
# JVM's worker parameters) and a job-submitting child must not inherit.
LOOPBACK_WORKER_KEYS = frozenset({
    "PYFLINK_GATEWAY_DISABLED", "PYTHON_LOOPBACK_SERVER_ADDRESS", "_PYFLINK_CONN_INFO_PATH", "BOOT_LOG_DIR",
    "SEMI_PERSISTENT_DIRECTORY", "_PYTHON_WORKER_MEMORY_LIMIT", "_PYTHON_WORKING_DIR", "python",
})


def client_environ() -> dict[str, str]:
    """This process's environment for a child that submits a Flink job.

    A process that ran Python operators of a local job in loopback mode holds the worker's
    variables: a child inheriting ``PYFLINK_GATEWAY_DISABLED`` refuses to start its own gateway,
    and an empty ``JAVA_HOME`` makes PyFlink start ``bin/java`` relative to the working directory.
    """
    return {k: v for k, v in os.environ.items()
            if k not in LOOPBACK_WORKER_KEYS and not (k == "JAVA_HOME" and not v)}


def flink_cli(cfg) -> tuple[str, dict[str, str]]:
    """The ``flink`` CLI and a full environment to submit jobs to this cluster.

    Example: ``cli, env = flink_cli(cfg); subprocess.run([cli, "run", "-py", "job.py"], env=env)``.
    """
    if not (home(cfg) / "conf" / "config.yaml").exists():
        write_config(cfg)
    return str(pyflink_home() / "bin" / "flink"), {**client_environ(), **environment(cfg)}


def overview(cfg) -> dict:
    """The jobmanager's REST ``/overview`` (taskmanagers, slots, jobs)."""
    with urllib.request.urlopen(f"{address(cfg)}/overview", timeout=2) as resp:
        return json.load(resp)


def healthy(cfg) -> bool:
    """True if the jobmanager answers and a registered taskmanager has offered its slots.

    A taskmanager shows in ``/overview`` a moment before its slot report does (``slots-total``
    0), so both are checked: healthy means a job submitted now finds slots.
    """
    try:
        view = overview(cfg)
    except (OSError, ValueError):
        return False
    return view.get("taskmanagers", 0) >= 1 and view.get("slots-total", 0) >= 1


def _rest(cfg, path: str, method: str = "GET") -> dict:
    request = urllib.request.Request(f"{address(cfg)}{path}", method=method)
    with urllib.request.urlopen(request, timeout=5) as resp:
        body = resp.read()
    return json.loads(body) if body else {}


def taskmanager_slots(cfg) -> dict[str, int]:
    """Id -> number of slots offered, of each taskmanager registered with the jobmanager (REST ``/taskmanagers``).

    A taskmanager is listed a moment before its slot report arrives: until then it offers 0.
    """
    return {tm["id"]: int(tm.get("slotsNumber", 0)) for tm in _rest(cfg, "/taskmanagers").get("taskmanagers", [])}


def _start_taskmanager(cfg) -> None:
    process.start_process(cfg, TASKMANAGER, ["bash", pyflink_home() / "bin" / "taskmanager.sh", "start-foreground"],
                          env=environment(cfg), cwd=home(cfg))


def start(cfg) -> float:
    """Start jobmanager and taskmanager; wait until a taskmanager registers; return seconds taken."""
    process.ensure_port_free(cfg, cfg.get("flink.rest_port"), "flink (REST)", "flink.rest_port")
    process.ensure_port_free(cfg, cfg.get("flink.rpc_port"), "flink (jobmanager RPC)", "flink.rpc_port")
    write_config(cfg)
    try:
        process.start_process(cfg, JOBMANAGER, ["bash", pyflink_home() / "bin" / "jobmanager.sh", "start-foreground"],
                              env=environment(cfg), cwd=home(cfg))
        _start_taskmanager(cfg)
        return process.wait_healthy(cfg, JOBMANAGER, lambda: _both_up(cfg), START_TIMEOUT_S,
                                    what=f"GET {address(cfg)}/overview lists a taskmanager with slots")
    except ServiceError:
        stop(cfg)
        raise


def kill_taskmanager(cfg) -> int:
    """SIGKILL the taskmanager's process group (its JVM and the Python workers it forked), as a crash would.

    The jobmanager notices the loss by its heartbeat; the running jobs fail over under their
    restart strategy once a taskmanager offers slots again (``restart_taskmanager``). Returns the pid.
    Example: ``kill_taskmanager(cfg); restart_taskmanager(cfg)``.
    """
    return process.kill_process(cfg, TASKMANAGER)


def restart_taskmanager(cfg) -> float:
    """Start a new taskmanager (after ``kill_taskmanager`` or a crash); return seconds until it offers its slots."""
    if process.is_running(cfg, TASKMANAGER):
        raise ServiceError(f"{TASKMANAGER} is still running", hint="stop or kill it before starting another")
    before = set(taskmanager_slots(cfg))
    _start_taskmanager(cfg)

    def offering_slots() -> bool:
        if not process.is_running(cfg, TASKMANAGER):
            log = process.log_file(cfg, TASKMANAGER)
            raise ServiceError(f"{TASKMANAGER} exited during start-up; see {log}:\n{process.tail(log)}")
        return any(slots >= 1 for tm, slots in taskmanager_slots(cfg).items() if tm not in before)

    return process.wait_healthy(cfg, TASKMANAGER, offering_slots, START_TIMEOUT_S,
                                what=f"GET {address(cfg)}/taskmanagers lists a new taskmanager with slots")


def _both_up(cfg) -> bool:
    if not process.is_running(cfg, TASKMANAGER):
        log = process.log_file(cfg, TASKMANAGER)
        raise ServiceError(f"{TASKMANAGER} exited during start-up; see {log}:\n{process.tail(log)}")
    return healthy(cfg)


def stop(cfg) -> bool:
    """Stop taskmanager then jobmanager (each whole process group); True if any was running."""
    stopped_tm = process.stop_process(cfg, TASKMANAGER, timeout=20)
    stopped_jm = process.stop_process(cfg, JOBMANAGER, timeout=20)
    return stopped_tm or stopped_jm


def _run_cli(cfg, args: list[str], what: str, pattern: str, timeout_s: float, cwd=None) -> str:
    """Run the ``flink`` client with ``args``; return the first group of ``pattern`` in its output.

    A timeout, a non-zero exit or output without ``pattern`` raises ServiceError naming ``what``
    and ending with the client's last 40 lines.
    """
    cli, env = flink_cli(cfg)
    try:
        result = subprocess.run([cli, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ServiceError(f"{what} did not return in {timeout_s:.0f} s",
                           hint=f"see the client log under {log_dir(cfg)}") from None
    found = re.search(pattern, result.stdout)
    if result.returncode != 0 or not found:
        output = (result.stdout + result.stderr).strip().splitlines()
        raise ServiceError(f"{what} failed (exit {result.returncode}):\n" + "\n".join(output[-40:]),
                           hint=f"see the client log under {log_dir(cfg)}")
    return found.group(1)


def submit_python_job(cfg, script: str | os.PathLike, args=(), cwd: str | os.PathLike | None = None,
                      timeout_s: float = 300, restore_from: str | None = None) -> str:
    """``flink run -d [-s restore_from] -py script -- args`` on this cluster, as a user would; return the job id.

    ``restore_from``: a savepoint or retained checkpoint to start from (its state and Kafka offsets).
    Example: ``job_id = submit_python_job(cfg, "streaming_jobs/sensor_features.py", ["--profile", "cluster"])``.
    """
    restore = ["-s", restore_from] if restore_from else []
    return _run_cli(cfg, ["run", "-d", *restore, "-py", str(script), "--", *map(str, args)],
                    f"`flink run -py {script}`", r"JobID ([0-9a-f]{32})", timeout_s, cwd=cwd)


def jobs_overview(cfg) -> list[dict]:
    """REST ``/jobs/overview``: every job the jobmanager knows (jid, name, state, ...)."""
    return _rest(cfg, "/jobs/overview")["jobs"]


def job_details(cfg, job_id: str) -> dict:
    """REST ``/jobs/<id>``: name, state (RUNNING, RESTARTING, FAILED, ...), vertices."""
    return _rest(cfg, f"/jobs/{job_id}")


def checkpoint_counts(cfg, job_id: str) -> dict:
    """REST ``/jobs/<id>/checkpoints`` counts: completed, failed, restored (restores from a checkpoint), ..."""
    return _rest(cfg, f"/jobs/{job_id}/checkpoints")["counts"]


def latest_checkpoint(cfg, job_id: str) -> str | None:
    """Path of the job's latest completed checkpoint (retained on cancellation), or None if it has none."""
    completed = _rest(cfg, f"/jobs/{job_id}/checkpoints")["latest"]["completed"]
    return completed["external_path"] if completed else None


def restored_from(cfg, job_id: str) -> str | None:
    """Path of the savepoint or checkpoint the job last restored its state from, or None."""
    restored = _rest(cfg, f"/jobs/{job_id}/checkpoints")["latest"]["restored"]
    return restored["external_path"] if restored else None


def stop_with_savepoint(cfg, job_id: str, timeout_s: float = 300) -> str:
    """``flink stop --savepointPath <savepoints dir> <job id>``, as a user would; return the savepoint's path."""
    target = (home(cfg) / "savepoints").as_uri()
    return _run_cli(cfg, ["stop", "--savepointPath", target, job_id], f"`flink stop` of job {job_id}",
                    r"Savepoint completed\. Path: (\S+)", timeout_s)


def cancel_job(cfg, job_id: str, timeout_s: float = 60) -> str:
    """Cancel a job (REST ``PATCH /jobs/<id>?mode=cancel``) and wait for a terminal state; return it."""
    if job_details(cfg, job_id)["state"] not in TERMINAL_JOB_STATES:
        _rest(cfg, f"/jobs/{job_id}?mode=cancel", method="PATCH")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = job_details(cfg, job_id)["state"]
        if state in TERMINAL_JOB_STATES:
            return state
        time.sleep(0.5)
    raise ServiceError(f"Flink job {job_id} was not cancelled within {timeout_s:.0f} s",
                       hint=f"see {address(cfg)}/#/job/running/{job_id}")
