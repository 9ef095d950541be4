"""``sensorlake stream``: the streaming job on PyFlink's local mini cluster (``flink run -py`` on a cluster)."""
from __future__ import annotations

from streaming_jobs import sensor_features


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "stream", help="real-time features: Kafka -> PyFlink -> bronze, quarantine and silver Delta tables",
        description="Run streaming_jobs/sensor_features.py locally: read the readings topic, quarantine bad and late "
                    "records, write valid readings to bronze.readings and feature views to silver, exactly once.")
    sensor_features.add_arguments(parser)
    parser.set_defaults(func=sensor_features.run)
