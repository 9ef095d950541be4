"""Backfill a feature view's windows from bronze.readings into silver.features_<view> (Spark MERGE).

    PYSPARK_PYTHON=$PWD/.venv/bin/python spark-submit --master spark://127.0.0.1:7077 \
        --py-files dist/sensorlake.zip --jars "$(ls jars/spark/*.jar | paste -sd, -)" \
        batch_jobs/backfill_features.py --view machine_1m --start 2026-01-05T00:00:00Z --end 2026-01-06T00:00:00Z
    ... batch_jobs/backfill_features.py --view machine_1m --since-last     # hourly, from a scheduler

(``--jars``: the Delta jars must be on the driver's classpath when spark-submit starts the JVM.)

Also ``sensorlake backfill``. Recomputes the windows whose window_end lies in (start, end]
(reading bronze from start - window size), or every window holding a reading bronze gained since
the last --since-last run, and MERGEs them: new windows inserted, changed ones updated, the
rest untouched, so rerunning any range leaves the table as it is. Refuses a table holding
another feature_set_version. Then validates the rows it wrote (expectations/; ``--no-validate``
skips) and exits 3 when a critical expectation fails.
"""
from __future__ import annotations

import argparse
import sys

from sensorlake.entrypoint import run_job
from sensorlake.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--view", required=True, help="feature view name, e.g. machine_1m (`sensorlake features list`)")
    parser.add_argument("--start", metavar="T0", help="backfill windows ending after T0 (ISO-8601, UTC), e.g. 2026-01-05T00:00:00Z")
    parser.add_argument("--end", metavar="T1", help="... and at or before T1 (ISO-8601, UTC)")
    parser.add_argument("--since-last", action="store_true",
                        help="instead of a range: the windows holding readings bronze gained since the last --since-last run")
    parser.add_argument("--readings-table", default="bronze.readings", help="narrow readings table to read (default: bronze.readings)")
    parser.add_argument("--run-id", help="lineage run id (default: a new one)")
    parser.add_argument("--no-validate", action="store_true",
                        help="skip the quality gate on the rows written (default: validate them; exit 3 on failure)")
    return parser


def _check_arguments(args) -> None:
    if args.since_last and (args.start or args.end):
        raise ConfigError("--since-last takes no --start/--end", "pass either --start T0 --end T1, or --since-last")
    if not args.since_last and not (args.start and args.end):
        raise ConfigError("a backfill needs --start and --end, or --since-last",
                          "e.g. --start 2026-01-05T00:00:00Z --end 2026-01-06T00:00:00Z")


def run(args, cfg) -> int:
    from feature_defs import load_registry
    from feature_defs.compile_spark import check_supported
    from sensorlake.backfill import backfill_features, parse_time
    from sensorlake.lake.spark import build_spark_session

    _check_arguments(args)
    view = load_registry(cfg)[args.view]          # unknown view: the error lists the known ones
    check_supported(view)                          # before starting Spark
    if not args.since_last and parse_time(args.start) >= parse_time(args.end):
        raise ConfigError(f"--start {args.start} is not before --end {args.end}",
                          "windows ending in (start, end] are backfilled: pass start < end")
    spark = build_spark_session(cfg, app_name=f"sensorlake-backfill-{view.name}")
    report = backfill_features(spark, cfg, view, args.start, args.end, run_id=args.run_id,
                               since_last=args.since_last, readings_table=args.readings_table)
    print(report.summary())
    changed = report.table_version_after != report.table_version_before and (report.inserted or report.updated)
    if changed and not args.no_validate:  # the gate: validate what this run wrote (GateFailed -> exit 3)
        from expectations import validate_increments

        for validation in validate_increments(spark, cfg, {report.table: report.table_version_before}, run_id=report.run_id):
            print(validation.summary())
    return 0


def main(argv=None) -> int:
    return run_job(__doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
