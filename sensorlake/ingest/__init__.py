"""History ingest into the bronze tables (Spark + Delta)."""
from sensorlake.ingest.history import IngestReport, ingest_path
from sensorlake.ingest.mapping import IngestMapping, load_mapping

__all__ = ["IngestMapping", "IngestReport", "ingest_path", "load_mapping"]
