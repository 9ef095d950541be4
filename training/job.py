"""Train a model for one task: point-in-time training set, LightGBM (or anomaly baseline), MLflow.

    spark-submit --master spark://127.0.0.1:7077 --jars "$(ls jars/spark/*.jar | paste -sd,)" \
        training/job.py --task failure
    spark-submit training/job.py --task rul --pin bronze.events=12 --pin silver.features_machine_1m=40

Also ``sensorlake train``. Prints the run, the metrics on the test rows, the registered version
and whether it became champion. Exits 3 when a feature table's latest validation failed.
"""
from __future__ import annotations

import argparse
import sys

from sensorlake.entrypoint import run_job
from sensorlake.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--task", required=True, action="append",
                        help="task in training.tasks (failure, rul, mode, anomaly, or one you declared); repeatable")
    parser.add_argument("--pin", action="append", default=[], metavar="TABLE=VERSION",
                        help="read TABLE at Delta VERSION (reproduce a run); default: each table's current version")
    parser.add_argument("--no-register", action="store_true",
                        help="log the run and the model without registering it (no challenger/champion)")
    parser.add_argument("--run-name", help="MLflow run name (default: the task name)")
    return parser


def parse_pins(items) -> dict[str, int]:
    """``["bronze.events=12"]`` -> ``{"bronze.events": 12}``."""
    pins = {}
    for item in items:
        table, sep, version = item.partition("=")
        if not sep or not version.strip().isdigit():
            raise ConfigError(f"--pin {item!r} is not TABLE=VERSION", "write e.g. --pin bronze.events=12")
        pins[table.strip()] = int(version)
    return pins


def run(args, cfg) -> int:
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from sensorlake.lake.spark import build_spark_session
    from sensorlake.realtime import quick_failing_mlflow_requests
    from training.config import task_config
    from training.train import data_key, train_task

    tasks = [task_config(cfg, name) for name in args.task]   # every name and pin checked before any work
    pins = parse_pins(args.pin)
    # A server lost mid-run fails the job within about 12 s per call (not MLflow's four minutes of retries),
    # then train_task names the server; the user's MLFLOW_HTTP_REQUEST_* settings win.
    quick_failing_mlflow_requests(retries=3, timeout_s=60)
    spark = build_spark_session(cfg, app_name="sensorlake-train")
    built = {}
    for task in tasks:
        report = train_task(spark, cfg, task, versions=pins, register=not args.no_register, run_name=args.run_name,
                            training_set=built.get(data_key(task)))
        built[data_key(task)] = report.training_set
        print(report.summary())
    return 0


def main(argv=None) -> int:
    return run_job(__doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
