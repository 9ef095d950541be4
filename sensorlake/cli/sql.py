"""``sensorlake sql serve|stop|query``: SQL on every Delta table, for analysts.

``serve`` starts the Spark Thrift JDBC/ODBC server (beeline, BI tools) over a persistent
metastore where every table of the lake is registered by name; ``stop`` ends it (so does
``sensorlake services down``). ``query`` answers quick questions without a JVM: DuckDB over
delta-rs datasets, with the same table names.

Example::

    sensorlake sql serve                      # jdbc:hive2://127.0.0.1:10000
    beeline -u jdbc:hive2://127.0.0.1:10000 -e "SELECT count(*) FROM bronze.readings VERSION AS OF 3"
    sensorlake sql query "SELECT equipment_id, count(*) FROM bronze.readings GROUP BY 1"
    sensorlake sql query --file queries/fleet_health.sql --format csv
    sensorlake sql stop
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

from sensorlake import services
from sensorlake.config import Config
from sensorlake.errors import QueryError
from sensorlake.lake import duckdb_sql
from sensorlake.services import thrift_server


def register(subparsers) -> None:
    """Add the ``sql`` command and its ``serve``, ``stop`` and ``query`` actions."""
    parser = subparsers.add_parser("sql", help="SQL on every Delta table: Thrift JDBC server or DuckDB",
                                   description="SQL for analysts on every table of the lake (bronze.readings, "
                                               "silver.features_<view>, gold.predictions, quality.results, ...).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    serve = actions.add_parser("serve", help="start the Spark Thrift JDBC/ODBC server (beeline, BI tools)",
                               description="Register every Delta table of the lake in the metastore, then start "
                                           "the Spark Thrift server on sql.host:sql.port (127.0.0.1:10000).")
    serve.add_argument("--port", type=int, help="Thrift (JDBC) port (default: sql.port)")
    serve.add_argument("--foreground", action="store_true", help="run attached to this terminal until Ctrl-C")
    serve.set_defaults(func=_serve)

    stop = actions.add_parser("stop", help="stop the Thrift server (whole process group)")
    stop.set_defaults(func=_stop)

    query = actions.add_parser("query", help="answer a query with DuckDB over the Delta tables (no JVM)",
                               description="Run SQL (DuckDB dialect) over every Delta table of the lake, named "
                                           "as in Spark: bronze.readings, gold.predictions, ...")
    query.add_argument("sql", nargs="?", help="the SQL to run")
    query.add_argument("--file", type=Path, help="read the SQL from this file, e.g. queries/fleet_health.sql")
    query.add_argument("--format", choices=duckdb_sql.FORMATS, default="table", help="output format (default: table)")
    query.set_defaults(func=_query)


def _with_port(cfg: Config, port: int | None) -> Config:
    if port is None:
        return cfg
    data = copy.deepcopy(cfg.data)
    data.setdefault("sql", {})["port"] = port
    return Config(data=data, base_dir=cfg.base_dir)


def _serve(args: argparse.Namespace, cfg) -> int:
    cfg = _with_port(cfg, args.port)
    beeline = thrift_server.spark_home() / "bin" / "beeline"
    if args.foreground:
        url = thrift_server.jdbc_url(cfg)
        print(f"thrift: starting at {url} (Ctrl-C stops it)\nconnect: {beeline} -u {url}", flush=True)
        return thrift_server.run_foreground(cfg)
    seconds = services.up(cfg, ["thrift"])["thrift"]
    state = "already running" if seconds is None else f"up in {seconds:.1f} s"
    url = thrift_server.address(cfg)
    print(f"thrift: {state} at {url}\nconnect: {beeline} -u {url}\n"
          f"log: {services.process.log_file(cfg, thrift_server.NAME)}")
    return 0


def _stop(args: argparse.Namespace, cfg) -> int:
    print("thrift: stopped" if thrift_server.stop(cfg) else "thrift: was not running")
    return 0


def _query(args: argparse.Namespace, cfg) -> int:
    if args.file and args.sql:
        raise QueryError("give the SQL or --file, not both")
    if args.file:
        try:
            sql = args.file.read_text()
        except OSError as exc:
            raise QueryError(f"cannot read {args.file}: {exc.strerror}", hint="give a readable .sql file") from None
    elif args.sql:
        sql = args.sql
    else:
        raise QueryError("no SQL given", hint='sensorlake sql query "SELECT ..." or --file queries/fleet_health.sql')
    result = duckdb_sql.run_query(cfg, sql)
    sys.stdout.write(duckdb_sql.format_result(result, args.format))
    return 0
