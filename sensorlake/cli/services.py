"""``sensorlake services up|down|status``: the local Kafka, MLflow, Flink and Spark services.

Example::

    sensorlake services up                 # kafka + mlflow
    sensorlake services up --all           # + the Flink and Spark standalone clusters
    sensorlake services status
    sensorlake services down               # everything that runs
"""
from __future__ import annotations

import argparse

from sensorlake import services


def register(subparsers) -> None:
    """Add the ``services`` command and its ``up``, ``down`` and ``status`` actions."""
    names = ", ".join(services.SERVICES)
    parser = subparsers.add_parser("services", help="start, stop and inspect the local services",
                                   description=f"Local services on 127.0.0.1: {names}. "
                                               "Logs in <runtime.dir>/logs, pid files in <runtime.dir>/run.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    up = actions.add_parser("up", help="start services and wait until they are healthy",
                            description=f"Start services (default: {', '.join(services.DEFAULT_UP)}).")
    up.add_argument("names", nargs="*", metavar="NAME", help=f"services to start: {names}")
    up.add_argument("--all", action="store_true", help="start every service, the clusters included")
    up.set_defaults(func=_up)

    down = actions.add_parser("down", help="stop services (whole process groups)",
                              description="Stop services (default: every one that runs).")
    down.add_argument("names", nargs="*", metavar="NAME", help=f"services to stop: {names}")
    down.set_defaults(func=_down)

    status = actions.add_parser("status", help="show each service process: state, pid, address, log")
    status.set_defaults(func=_status)


def _up(args: argparse.Namespace, cfg) -> int:
    names = list(services.SERVICES) if args.all else args.names
    for name in services.resolve(names):
        result = services.up(cfg, [name])[name]
        address = services.SERVICES[name].address(cfg)
        if result is None:
            print(f"{name}: already running at {address}")
        else:
            print(f"{name}: up at {address} in {result:.1f} s")
    print(f"logs: {cfg.log_dir}")
    return 0


def _down(args: argparse.Namespace, cfg) -> int:
    stopped = services.down(cfg, args.names or None)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def _status(args: argparse.Namespace, cfg) -> int:
    rows = [("NAME", "STATE", "PID", "ADDRESS", "LOG")]
    rows += [(r.name, r.state, str(r.pid or "-"), r.address, r.log_file) for r in services.status(cfg)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
    return 0
