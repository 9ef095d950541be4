"""JVM-free SQL over the lake: DuckDB on delta-rs datasets, with the table names Spark SQL uses.

Every Delta table under ``lake.root`` (``<layer>/<name>/_delta_log``) becomes a view
``<layer>.<name>`` (bronze.readings, silver.features_machine_1m, gold.predictions, ...) over
``deltalake.DeltaTable(path).to_pyarrow_dataset()`` of its latest version, so a question takes
a second, not a JVM start. The session time zone is UTC, like the Spark sessions'. DuckDB's own
``delta_scan`` is not used: it needs an extension download. Time travel (``VERSION AS OF``) is
Spark's: use ``sensorlake sql serve`` and beeline for it.

Example::

    result = run_query(cfg, "SELECT equipment_id, count(*) AS n FROM bronze.readings GROUP BY 1")
    print(format_result(result, "table"))
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pyarrow as pa

from sensorlake.config import Config
from sensorlake.errors import QueryError
from sensorlake.lake.catalog import lake_table_paths

FORMATS = ("table", "csv", "json")


def lake_tables(cfg: Config) -> dict[str, Path]:
    """Every Delta table under the lake root, by name: ``{'bronze.readings': Path(...), ...}``."""
    return {name: Path(path) for name, path in lake_table_paths(cfg).items()}


def connect(cfg: Config):
    """An in-memory DuckDB connection with a view per Delta table of the lake (latest version)."""
    import duckdb
    from deltalake import DeltaTable

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, path in lake_tables(cfg).items():
        layer, table = name.split(".", 1)
        hidden = f"__delta__{layer}__{table}"
        con.register(hidden, DeltaTable(str(path)).to_pyarrow_dataset())
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{layer}"')
        con.execute(f'CREATE OR REPLACE VIEW "{layer}"."{table}" AS SELECT * FROM "{hidden}"')
    return con


def run_query(cfg: Config, sql: str) -> pa.Table:
    """Run ``sql`` (one statement, or several: the last one's result) over the lake; return an Arrow table.

    Raises QueryError naming the problem and the tables there are.
    Example: ``run_query(cfg, "SELECT count(*) AS n FROM gold.predictions").column("n")[0].as_py()``.
    """
    import duckdb

    if not sql or not sql.strip():
        raise QueryError("the query is empty", hint='give SQL, e.g. sensorlake sql query "SELECT 1", or --file queries/x.sql')
    con = connect(cfg)
    try:
        cursor = con.execute(sql)
        if cursor.description is None:
            return pa.table({})
        return cursor.to_arrow_table()
    except duckdb.CatalogException as exc:
        tables = ", ".join(lake_tables(cfg)) or f"none (no Delta table under {cfg.lake_root})"
        raise QueryError(f"unknown name in the query: {_first_line(exc)}",
                         hint=f"tables of the lake: {tables}") from None
    except duckdb.ParserException as exc:
        raise QueryError(f"the SQL does not parse: {_first_line(exc)}",
                         hint="DuckDB's dialect; time travel (VERSION AS OF) and other Spark-only syntax "
                              "need `sensorlake sql serve` and beeline") from None
    except duckdb.Error as exc:
        raise QueryError(f"the query failed: {_first_line(exc)}", hint="check the SQL against the table's columns "
                         "(DESCRIBE <layer>.<table>)") from None
    finally:
        con.close()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[:2])


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def format_result(table: pa.Table, fmt: str = "table") -> str:
    """Render a result as an aligned text table, CSV with a header, or a JSON array of objects."""
    if fmt not in FORMATS:
        raise QueryError(f"unknown output format {fmt!r}", hint=f"choose one of: {', '.join(FORMATS)}")
    names = table.column_names
    rows = table.to_pylist()
    if fmt == "json":
        return json.dumps([{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                           for row in rows], default=str, indent=1) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([[_cell(row[n]) for n in names] for row in rows])
        return out.getvalue()
    cells = [names] + [[_cell(row[n]) if row[n] is not None else "NULL" for n in names] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(names))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"
