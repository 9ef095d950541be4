"""Validate a Delta table, or only the rows it gained, against its Great Expectations suite.

    PYSPARK_PYTHON=$PWD/.venv/bin/python spark-submit --master spark://127.0.0.1:7077 \
        --py-files dist/sensorlake.zip --jars "$(ls jars/spark/*.jar | paste -sd, -)" \
        batch_jobs/validate_table.py --table bronze.readings --since 12      # rows added after version 12
    spark-submit batch_jobs/validate_table.py --table bronze.events --since 2026-01-05T00:00:00Z
    spark-submit batch_jobs/validate_table.py --table silver.features_vibration_1m --since last

Also ``sensorlake validate``. Records quality.results, copies rows failing critical row-level
expectations to quarantine.readings, builds Data Docs and prints their index. Exits 3 naming
the table, the expectation, the failing count and sample keys when a critical expectation fails.
"""
from __future__ import annotations

import argparse
import sys

from sensorlake.entrypoint import run_job
from sensorlake.lake.spark import build_spark_session


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--table", required=True, action="append",
                        help="table to validate, e.g. bronze.readings (repeatable)")
    parser.add_argument("--since", metavar="VERSION|TIME|last",
                        help="only rows added after Delta VERSION, with ingest time at/after TIME (ISO, UTC), "
                             "or after the version the last validation covered; default: the whole table")
    parser.add_argument("--time-column", default="ingest_time",
                        help="column --since TIME compares with (default: ingest_time; e.g. event_time)")
    parser.add_argument("--run-id", help="validation run id recorded in quality.results (default: a new one)")
    parser.add_argument("--no-docs", action="store_true", help="skip building the Data Docs HTML")
    return parser


def run(args, cfg) -> int:
    from expectations import validate_table

    spark = build_spark_session(cfg, app_name="sensorlake-validate")
    reports = [validate_table(spark, cfg, table, args.since, run_id=args.run_id, time_column=args.time_column,
                              data_docs=not args.no_docs, gate=False) for table in args.table]
    for report in reports:
        print(report.summary())
    for report in reports:
        report.raise_if_failed()
    return 0


def main(argv=None) -> int:
    return run_job(__doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
