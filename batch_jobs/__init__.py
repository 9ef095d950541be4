"""Spark jobs: each file runs under ``spark-submit`` and backs a ``sensorlake`` subcommand."""
