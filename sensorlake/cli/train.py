"""``sensorlake train``: train, evaluate, log and register a model for a task (the job, run in-process).

Example::

    sensorlake train --task failure
    sensorlake train --task rul --set training.rul_cap=12h
    sensorlake train --task failure --pin bronze.events=12      # reproduce a run's input versions
"""
from __future__ import annotations

from training import job


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a task's model on a point-in-time training set; log to MLflow; register it",
        description="Build the point-in-time training set of a task (training.tasks in the configuration) from "
                    "silver.features_<view> and bronze.events read at pinned Delta versions, train LightGBM "
                    "(binary, RUL regression, failure mode) or the anomaly baseline, choose the alert threshold "
                    "by expected cost within the alert budget, log parameters, metrics, plots and the model to "
                    "the task's MLflow experiment, register it as challenger and promote it to champion only "
                    "if it beats the champion on the same test rows. Refuses feature tables whose latest "
                    "validation failed (exit 3).",
    )
    job.add_arguments(parser)
    parser.set_defaults(func=job.run)
