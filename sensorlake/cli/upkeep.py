"""``sensorlake upkeep``: compact (OPTIMIZE, Z-order) and VACUUM Delta tables (the Spark job, run in-process).

Example::

    sensorlake upkeep optimize --table bronze.readings
    sensorlake upkeep vacuum --all --retain-hours 168
"""
from __future__ import annotations

from batch_jobs import table_upkeep


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "upkeep", help="compact small files (OPTIMIZE ... ZORDER BY) or VACUUM old files of Delta tables",
        description="Table upkeep a scheduler runs: OPTIMIZE rewrites small files into large ones clustered on "
                    "equipment and time; VACUUM deletes files unreferenced for longer than the retention "
                    "(time travel further back stops working). Readers and writers keep working meanwhile.",
    )
    table_upkeep.add_arguments(parser)
    parser.set_defaults(func=table_upkeep.run)
