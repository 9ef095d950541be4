"""``sensorlake score``: score feature windows with a task's champion into gold.predictions (the Spark job, in-process).

Example::

    sensorlake score --task failure --start 2026-01-05T00:00:00Z --end 2026-01-06T00:00:00Z
    sensorlake score --task failure --latest
"""
from __future__ import annotations

from batch_jobs import score


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "score", help="score feature windows with a task's champion model into gold.predictions (spark_udf, MERGE)",
        description="Load models:/<registered_model>@champion, build the training features of the windows ending in "
                    "(start, end] (or each equipment's newest window with --latest), score them with "
                    "mlflow.pyfunc.spark_udf, add the top contributing features (LightGBM SHAP) and MERGE into "
                    "gold.predictions on (equipment_id, window_end, model_name, model_version): rerunning a range "
                    "writes nothing. Validates the rows written (exit 3 on a critical failure).",
    )
    score.add_arguments(parser)
    parser.set_defaults(func=score.run)
