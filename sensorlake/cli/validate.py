"""``sensorlake validate``: gate a table with its Great Expectations suite (the Spark job, run in-process).

Example::

    sensorlake validate --table bronze.readings --since 12
    sensorlake validate --table bronze.events --table bronze.equipment
"""
from __future__ import annotations

from batch_jobs import validate_table


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate", help="validate a table (or its increment) with its quality suite; exit 3 on a critical failure",
        description="Validate a Delta table, or the rows it gained since a version or time, against its Great "
                    "Expectations suite. Records quality.results, quarantines rows failing critical row-level "
                    "expectations, builds Data Docs. Exits 3 when a critical expectation fails.",
    )
    validate_table.add_arguments(parser)
    parser.set_defaults(func=validate_table.run)
