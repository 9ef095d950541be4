"""``sensorlake ingest``: history files into the bronze Delta tables (the Spark job, run in-process)."""
from __future__ import annotations

from batch_jobs import ingest_history


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ingest", help="load history files into bronze.readings / events / equipment (Delta)",
        description="Load a simulator history folder, or CSV/Parquet/JSON-lines files through a mapping, "
                    "into the bronze Delta tables. Idempotent: the same file twice adds nothing.",
    )
    ingest_history.add_arguments(parser)
    parser.set_defaults(func=ingest_history.run)
