"""``sensorlake backfill``: recompute a feature view over bronze history into silver (the Spark job, run in-process).

Example::

    sensorlake backfill --view machine_1m --start 2026-01-05T00:00:00Z --end 2026-01-06T00:00:00Z
    sensorlake backfill --view machine_1m --since-last
"""
from __future__ import annotations

from batch_jobs import backfill_features


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "backfill", help="recompute a feature view's windows from bronze.readings into silver (Spark MERGE)",
        description="Recompute the windows of a feature view whose window_end lies in (start, end], or every window "
                    "holding readings bronze gained since the last --since-last run, and MERGE them into "
                    "silver.features_<view>: rerunning any range leaves the table unchanged. Refuses a table "
                    "holding another feature_set_version.",
    )
    backfill_features.add_arguments(parser)
    parser.set_defaults(func=backfill_features.run)
