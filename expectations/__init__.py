"""Great Expectations suites that gate every sensorlake table, and the runner that applies them.

Suites are reviewed Python (bronze.py, silver.py, gold.py): each check has a severity,
``critical`` (stops the run, failing rows copied to quarantine.readings) or ``warning``
(recorded). The runner validates a table or only its increment in one Spark pass, records
quality.results, and builds GX Data Docs.

Example::

    from expectations import validate_table, require_passing_validation
    report = validate_table(spark, cfg, "bronze.readings", since="last")
    print(report.summary())
    require_passing_validation(spark, cfg, "bronze.readings")
"""
from expectations.checks import CRITICAL, WARNING, Check, TableSuite
from expectations.gates import (INGESTED_TABLES, latest_validation_passed, require_passing_validation, table_versions,
                                validate_increments)
from expectations.runner import ValidationReport, validate_table
from expectations.suites import build_gx_suite, suite_for

__all__ = [
    "CRITICAL", "WARNING", "Check", "TableSuite", "INGESTED_TABLES", "ValidationReport", "build_gx_suite",
    "latest_validation_passed", "require_passing_validation", "suite_for", "table_versions", "validate_increments",
    "validate_table",
]
