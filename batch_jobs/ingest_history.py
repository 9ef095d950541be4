"""Ingest history files into bronze.readings, bronze.events and bronze.equipment.

    PYSPARK_PYTHON=$PWD/.venv/bin/python spark-submit --master spark://127.0.0.1:7077 \
        --py-files dist/sensorlake.zip --jars "$(ls jars/spark/*.jar | paste -sd, -)" \
        batch_jobs/ingest_history.py history/            # a simulator history folder
    spark-submit batch_jobs/ingest_history.py ai4i2020.csv --mapping conf/mappings/ai4i2020.yaml

Also ``sensorlake ingest``. Exits 1 naming the file when a file cannot be read at all. Then
validates the rows it wrote (expectations/; ``--no-validate`` skips) and exits 3 when a
critical expectation fails.
"""
from __future__ import annotations

import argparse
import sys

from expectations import table_versions, validate_increments
from sensorlake.entrypoint import run_job
from sensorlake.ingest import ingest_path, load_mapping
from sensorlake.lake.spark import build_spark_session


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("source", help="a file, a folder of files, or a simulator history folder")
    parser.add_argument("--mapping", help="ingest mapping YAML for wide or CSV files (see conf/mappings/)")
    parser.add_argument("--run-id", help="lineage run id (default: a new one)")
    parser.add_argument("--no-validate", action="store_true",
                        help="skip the quality gate on the rows written (default: validate them; exit 3 on failure)")
    return parser


def run(args, cfg) -> int:
    mapping = load_mapping(args.mapping) if args.mapping else None
    spark = build_spark_session(cfg, app_name="sensorlake-ingest")
    before = None if getattr(args, "no_validate", False) else table_versions(cfg)
    report = ingest_path(spark, cfg, args.source, mapping, run_id=args.run_id)
    print(report.summary())
    if before is not None:  # the gate: validate what this run wrote (GateFailed -> exit 3)
        for validation in validate_increments(spark, cfg, before):
            print(validation.summary())
    return 0


def main(argv=None) -> int:
    return run_job(__doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
