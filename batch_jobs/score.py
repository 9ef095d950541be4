"""Score feature windows with a task's champion model into gold.predictions (Spark, mlflow spark_udf, MERGE).

    PYSPARK_PYTHON=$PWD/.venv/bin/python spark-submit --master spark://127.0.0.1:7077 \
        --py-files dist/sensorlake.zip --jars "$(ls jars/spark/*.jar | paste -sd, -)" \
        batch_jobs/score.py --task failure --start 2026-01-05T00:00:00Z --end 2026-01-06T00:00:00Z
    ... batch_jobs/score.py --task failure --latest          # each equipment's newest window

Also ``sensorlake score``. Loads ``models:/<registered_model>@champion`` (resolved to its version),
builds the same model inputs as training for the windows ending in (start, end] (reading a margin
of earlier windows for the trailing features), scores them through ``mlflow.pyfunc.spark_udf``,
adds each row's top contributing features (LightGBM SHAP), and MERGEs new and changed rows on
(equipment_id, window_end, model_name, model_version): rerunning a range writes nothing. Then
validates the rows written (``--no-validate`` skips) and exits 3 when a critical expectation fails.
"""
from __future__ import annotations

import argparse
import sys

from sensorlake.entrypoint import run_job


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--task", required=True, help="task in training.tasks whose champion scores (failure, rul, anomaly, ...)")
    parser.add_argument("--start", metavar="T0", help="score windows ending after T0 (ISO-8601, UTC), e.g. 2026-01-05T00:00:00Z")
    parser.add_argument("--end", metavar="T1", help="... and at or before T1 (ISO-8601, UTC)")
    parser.add_argument("--latest", action="store_true", help="instead of a range: each equipment's newest window")
    parser.add_argument("--run-id", help="lineage run id (default: a new one)")
    parser.add_argument("--no-validate", action="store_true",
                        help="skip the quality gate on the rows written (default: validate them; exit 3 on failure)")
    return parser


def run(args, cfg) -> int:
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from sensorlake.lake.spark import build_spark_session
    from sensorlake.scoring import score_windows
    from training.config import task_config

    task = task_config(cfg, args.task)          # unknown task: the error lists the known ones
    spark = build_spark_session(cfg, app_name=f"sensorlake-score-{task.name}")
    report = score_windows(spark, cfg, task, start=args.start, end=args.end, latest=args.latest,
                           run_id=args.run_id, validate=not args.no_validate)
    print(report.summary())
    return 0


def main(argv=None) -> int:
    return run_job(__doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
