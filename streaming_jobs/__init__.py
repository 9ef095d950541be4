"""PyFlink jobs: each file runs under ``flink run -py`` and backs a ``sensorlake`` subcommand."""
