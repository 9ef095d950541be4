"""Table upkeep: compact and cluster (Delta OPTIMIZE ... ZORDER BY), then VACUUM, one or every table.

    spark-submit --jars "$(ls jars/spark/*.jar | paste -sd,)" batch_jobs/table_upkeep.py optimize --table bronze.readings
    spark-submit ... batch_jobs/table_upkeep.py optimize --all          # every table under the lake root
    spark-submit ... batch_jobs/table_upkeep.py vacuum --all --retain-hours 168

Also ``sensorlake upkeep``. A cron line that compacts hourly and vacuums nightly::

    15 * * * *  cd /srv/sensorlake && .venv/bin/sensorlake upkeep optimize --all
    45 3 * * *  cd /srv/sensorlake && .venv/bin/sensorlake upkeep vacuum --all

Readers and the streaming job keep working while these run (atomic Delta commits).
"""
from __future__ import annotations

import argparse
import sys

from sensorlake.entrypoint import run_job
from sensorlake.lake.spark import build_spark_session


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("action", choices=("optimize", "vacuum"),
                        help="optimize: compact small files, Z-ordered on equipment and time; vacuum: delete old unreferenced files")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--table", action="append", help="table, e.g. bronze.readings (repeatable)")
    which.add_argument("--all", action="store_true", help="every Delta table under the lake root")
    parser.add_argument("--no-zorder", action="store_true", help="optimize: compact only, no clustering")
    parser.add_argument("--retain-hours", type=float,
                        help="vacuum: retention in hours (default upkeep.vacuum_retention_hours)")
    return parser


def run(args, cfg) -> int:
    from sensorlake.lake import upkeep

    names = upkeep.existing_tables(cfg) if args.all else args.table
    specs = [upkeep.spec_for(cfg, name) for name in names]
    spark = build_spark_session(cfg, app_name=f"sensorlake-upkeep-{args.action}")
    for spec in specs:
        if args.action == "optimize":
            print(upkeep.optimize(spark, cfg, spec, zorder=not args.no_zorder).summary())
        else:
            deleted = upkeep.vacuum(spark, cfg, spec, args.retain_hours)
            print(f"VACUUM {spec.name}: {deleted} unreferenced files deleted")
    return 0


def main(argv=None) -> int:
    return run_job(__doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
