"""The services sensorlake starts and stops itself, on 127.0.0.1, as a registry.

Each entry is a module with ``start(cfg) -> seconds``, ``stop(cfg) -> bool``,
``healthy(cfg) -> bool``, ``address(cfg)`` and ``PROCESSES`` (the process names it runs).
Logs: ``<runtime>/logs``; pid files: ``<runtime>/run``.

Example::

    from sensorlake import services
    services.up(cfg)                       # kafka and mlflow: {'kafka': 3.9, 'mlflow': 9.8}
    services.up(cfg, ["flink", "spark"])   # the standalone clusters, on request
    services.up(cfg, ["thrift"])           # the Spark Thrift JDBC server (sensorlake sql serve)
    for row in services.status(cfg): print(row)
    services.down(cfg)                     # everything that runs
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sensorlake.errors import ConfigError, ServiceError
from sensorlake.services import flink_cluster, kafka, mlflow_server, process, spark_cluster, thrift_server

SERVICES = {"kafka": kafka, "mlflow": mlflow_server, "flink": flink_cluster, "spark": spark_cluster,
            "thrift": thrift_server}
DEFAULT_UP = ("kafka", "mlflow")


@dataclass(frozen=True)
class ProcessStatus:
    """One row of ``sensorlake services status``: a process of a service."""

    service: str
    name: str
    state: str          # healthy | starting/unhealthy | stopped | partly running
    pid: int | None
    address: str
    log_file: str


def resolve(names: Iterable[str] | None, default: Iterable[str] = DEFAULT_UP) -> list[str]:
    """Validate service names (in registry order); ``None`` or empty means ``default``."""
    chosen = list(names or default)
    unknown = [n for n in chosen if n not in SERVICES]
    if unknown:
        raise ConfigError(f"unknown service(s): {', '.join(unknown)}", f"choose from: {', '.join(SERVICES)}")
    return [n for n in SERVICES if n in chosen]


def running(cfg, name: str) -> bool:
    """True if any process of service ``name`` runs."""
    return any(process.is_running(cfg, p) for p in SERVICES[name].PROCESSES)


def up(cfg, names: Iterable[str] | None = None) -> dict[str, float | None]:
    """Start services (default: kafka and mlflow) and wait for each to be healthy.

    Returns seconds to healthy per service, None for one already running and healthy.
    Example: ``up(cfg, ["kafka"])`` -> ``{'kafka': 3.8}``.
    """
    started: dict[str, float | None] = {}
    for name in resolve(names):
        module = SERVICES[name]
        if running(cfg, name):
            if module.healthy(cfg):
                started[name] = None
                continue
            raise ServiceError(f"{name} runs but is not healthy (see {process.log_file(cfg, module.PROCESSES[0])})",
                               hint=f"run `sensorlake services down {name}`, then up again")
        started[name] = module.start(cfg)
    return started


def down(cfg, names: Iterable[str] | None = None) -> list[str]:
    """Stop services (default: every one that runs), clusters first; return those stopped.

    Example: ``down(cfg)`` -> ``['mlflow', 'kafka']``.
    """
    chosen = resolve(names, default=SERVICES)
    stopped = []
    for name in reversed(chosen):
        if SERVICES[name].stop(cfg):
            stopped.append(name)
    return stopped


def status(cfg) -> list[ProcessStatus]:
    """One row per process of every service: state, pid, address and log file."""
    rows = []
    for name, module in SERVICES.items():
        alive = {p: process.is_running(cfg, p) for p in module.PROCESSES}
        if not any(alive.values()):
            state = "stopped"
        elif not all(alive.values()):
            state = "partly running"
        else:
            state = "healthy" if module.healthy(cfg) else "starting/unhealthy"
        for p in module.PROCESSES:
            rows.append(ProcessStatus(service=name, name=p, state=state if alive[p] else "stopped",
                                      pid=process.read_pid(cfg, p) if alive[p] else None,
                                      address=module.address(cfg), log_file=str(process.log_file(cfg, p))))
    return rows
