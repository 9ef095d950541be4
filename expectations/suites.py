"""Which suite gates which table, and the Great Expectations suite built from it.

The GX suite has one expectation per check, on the per-check figure the runner computes in
one Spark pass: failing rows (row-level checks, allowed at most ``max_failing``) or the
metric (table-level checks, within [min_value, max_value]). ``meta`` carries the severity, the
kind and the Spark SQL that defines the check, so Data Docs show what each expectation means.

Example::

    suite = suite_for(cfg, "bronze.readings")
    gx_suite = build_gx_suite(suite)
    gx_suite.expectations[1].meta["severity"]   # 'critical'
"""
from __future__ import annotations

from sensorlake.config import Config
from sensorlake.errors import ConfigError
from sensorlake.lake.tables import EQUIPMENT, EVENTS, QUARANTINE, READINGS

from expectations.bronze import equipment_suite, events_suite, quarantine_suite, readings_suite
from expectations.checks import TableSuite
from expectations.gold import PREDICTIONS_TABLE, predictions_suite
from expectations.silver import features_suite

FEATURES_PREFIX = "silver.features_"
_FIXED = {READINGS.name: readings_suite, EVENTS.name: events_suite, EQUIPMENT.name: equipment_suite,
          QUARANTINE.name: quarantine_suite}
GATED_TABLES = tuple(_FIXED) + (f"{FEATURES_PREFIX}<view>", PREDICTIONS_TABLE)


def suite_for(cfg: Config, table: str, schema=None) -> TableSuite:
    """The suite of ``table``; silver and gold suites follow the table's ``schema`` (a Spark StructType)."""
    if table in _FIXED:
        return _FIXED[table](cfg)
    if table.startswith(FEATURES_PREFIX):
        if schema is None:
            raise ConfigError(f"the suite of {table} is built from its schema; pass the table's schema")
        return features_suite(cfg, table, schema)
    if table == PREDICTIONS_TABLE:
        return predictions_suite(cfg, schema)
    raise ConfigError(f"no quality suite for table {table!r}", f"gated tables: {', '.join(GATED_TABLES)}")


def build_gx_suite(suite: TableSuite, only: list[str] | None = None):
    """A ``great_expectations.ExpectationSuite`` named after the table, one expectation per check (or per ``only``)."""
    import great_expectations as gx

    expectations = []
    for check in suite.all_checks:
        if only is not None and check.name not in only:
            continue
        low, high = check.bounds
        kind = "row" if check.row_level else "table"
        figure = f"failing rows <= {check.max_failing}" if check.row_level else _bounds_text(low, high)
        expectations.append(gx.expectations.ExpectColumnValuesToBeBetween(
            column=check.name, min_value=low, max_value=high,
            description=f"[{check.severity}] {check.name}: {check.description} ({figure})",
            meta={"severity": check.severity, "kind": kind, "check": check.name, "table": suite.table,
                  "definition": check.fail_when or check.metric},
        ))
    return gx.ExpectationSuite(
        name=suite.table, expectations=expectations,
        meta={"table": suite.table, "key": list(suite.key), "notes": suite.notes,
              "figures": "row-level: failing rows; table-level: the metric"},
    )


def _bounds_text(low, high) -> str:
    if low is None:
        return f"metric <= {high:g}"
    if high is None:
        return f"metric >= {low:g}"
    return f"{low:g} <= metric <= {high:g}"
