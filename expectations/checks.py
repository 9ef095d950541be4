"""Declarations of the quality checks: one ``Check`` per expectation, one ``TableSuite`` per table.

A check is either row-level (``fail_when``: a Spark SQL condition true on a failing row) or
table-level (``metric``: a Spark SQL aggregate that must lie in [min_value, max_value]). Every
check has a severity: ``critical`` stops the run (GateFailed) and copies failing rows to
quarantine.readings, ``warning`` is reported and recorded. The runner evaluates every check of
a suite in one Spark aggregation and hands the per-check figures to Great Expectations, so the
declaration here is the one definition of what the expectation means.

Example::

    Check("value_within_physical_range", CRITICAL,
          "value inside the sensor's declared [min, max] for the equipment type",
          fail_when="value < _range_min OR value > _range_max")
    Check("latest_window_age_s", WARNING, "the stream is fresh",
          metric="unix_seconds(max(_now)) - unix_seconds(max(window_end))", max_value=900)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

CRITICAL = "critical"
WARNING = "warning"
SEVERITIES = (CRITICAL, WARNING)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Check:
    """One expectation of a table.

    Args:
        name: identifier, unique within the suite; the quarantine reason and the quality.results key.
        severity: ``critical`` (stops the run) or ``warning`` (recorded and reported).
        description: one sentence shown in messages and in Data Docs.
        fail_when: row-level check: Spark SQL, true for a failing row (NULL counts as passing).
        metric: table-level check: a Spark SQL aggregate; must handle empty input and NULLs itself.
        min_value, max_value: bounds of ``metric`` (inclusive; None = unbounded).
        max_failing: failing rows a row-level check tolerates (default 0).
    """

    name: str
    severity: str
    description: str
    fail_when: str | None = None
    metric: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    max_failing: int = 0

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ValueError(f"check name {self.name!r} must be lower_snake_case (it becomes a column and a reason)")
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.name!r}: severity {self.severity!r} is not one of {SEVERITIES}")
        if (self.fail_when is None) == (self.metric is None):
            raise ValueError(f"check {self.name!r}: give exactly one of fail_when (row-level) or metric (table-level)")
        if self.metric is not None and self.min_value is None and self.max_value is None:
            raise ValueError(f"check {self.name!r}: a table-level metric needs min_value and/or max_value")

    @property
    def row_level(self) -> bool:
        return self.fail_when is not None

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """Allowed range of the figure GX checks: failing rows for row-level checks, the metric otherwise."""
        return (0, self.max_failing) if self.row_level else (self.min_value, self.max_value)


@dataclass(frozen=True)
class TableSuite:
    """Every check of one table, plus what the runner needs to evaluate them.

    Args:
        table: ``layer.name``; also the GX suite's name.
        key: the row key: sample keys in messages, the uniqueness scope.
        checks: the expectations (see Check).
        columns: the schema contract, (name, Spark simple type) pairs.
        exact_schema: True: the table has exactly ``columns``; False: at least these (wide tables).
        unique_key: when set, adds ``_key_rows`` (rows sharing this key in the validated scope).
        prepare: ``prepare(spark, cfg, rows, scope) -> rows`` adds the context columns (joins) that
            ``fail_when`` refers to, e.g. the equipment type's physical range.
        notes: shown at the top of the suite in Data Docs.
    """

    table: str
    key: tuple[str, ...]
    checks: tuple[Check, ...]
    columns: tuple[tuple[str, str], ...] = ()
    exact_schema: bool = True
    unique_key: tuple[str, ...] = ()
    prepare: Callable | None = None
    notes: str = ""
    quarantine_rows: bool = True
    checks_by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        names = [c.name for c in self.checks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"suite {self.table}: check names repeated: {repeated}")
        if SCHEMA_CHECK in names:
            raise ValueError(f"suite {self.table}: {SCHEMA_CHECK!r} is added by the runner; do not declare it")
        object.__setattr__(self, "checks_by_name", {c.name: c for c in self.checks})

    @property
    def all_checks(self) -> tuple[Check, ...]:
        """The schema check (evaluated on the driver, from the table's schema) followed by the declared checks."""
        what = "exactly" if self.exact_schema else "at least"
        # Table-level; the runner puts the number of schema problems in place of the metric.
        schema = Check(SCHEMA_CHECK, CRITICAL, f"the table has {what} the contracted columns, with their types",
                       metric="0", max_value=0)
        return (schema,) + self.checks


SCHEMA_CHECK = "schema_matches_contract"


def not_null(column: str, severity: str = CRITICAL) -> Check:
    """A row-level check that ``column`` is never NULL (nor blank, for strings)."""
    return Check(f"{column}_not_null", severity, f"{column} is present",
                 fail_when=f"{column} IS NULL OR trim(cast({column} AS STRING)) = ''")


def key_unique(key: tuple[str, ...], severity: str = CRITICAL) -> Check:
    """A row-level check that no other row of the validated scope has the same key."""
    return Check("key_unique", severity, f"one row per ({', '.join(key)})", fail_when="_key_rows > 1")
