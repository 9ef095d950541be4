"""`sensorlake sql serve`: the Spark Thrift JDBC server answers beeline on every layer, time travel included.

One real server (spark-submit, Delta, embedded Derby metastore) over a private small lake;
every statement goes through ``beeline -u jdbc:hive2://127.0.0.1:<port>``.
"""
from __future__ import annotations

import os
import time

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from sensorlake import services
from sensorlake.lake import delta_rs
from sensorlake.services import process, thrift_server
from tests.conftest import free_port
from tests.services.conftest import group_gone, with_values
from tests.sql.analyst_lake import FIRST_READINGS, answer, expected_answer, write_analyst_lake
from tests.sql.conftest import QUERIES_DIR, lake_cfg

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUERY_FILES = sorted(p.name for p in QUERIES_DIR.glob("*.sql"))


@pytest.fixture(scope="module")
def served(cfg, tmp_path_factory):
    """(cfg, rows per table): the Thrift server on a free port over its own small lake, stopped at the end."""
    root = tmp_path_factory.mktemp("thrift")
    lake = lake_cfg(cfg, root)
    written = write_analyst_lake(lake)
    server_cfg = with_values(lake, runtime__dir=str(root / "runtime"), sql__port=free_port(),
                             sql__driver_memory="1g", sql__register_interval_s=3,
                             sql__spark_conf={"spark.databricks.delta.snapshotPartitions": 1})
    seconds = services.up(server_cfg, ["thrift"])["thrift"]
    print(f"thrift server healthy in {seconds:.1f} s at {thrift_server.jdbc_url(server_cfg)}")
    pgid = process.read_pid(server_cfg, thrift_server.NAME)
    try:
        yield server_cfg, written
    finally:
        assert services.down(server_cfg, ["thrift"]) == ["thrift"]
    assert group_gone(pgid), "spark-submit, the JVM or the Python driver outlived the stop"


def test_the_server_binds_loopback_and_registers_every_table_in_the_metastore(served):
    cfg, written = served
    assert thrift_server.jdbc_url(cfg).startswith("jdbc:hive2://127.0.0.1:")
    assert (thrift_server.metastore_dir(cfg) / "metastore_db").is_dir(), "a persistent Derby metastore"
    log = process.log_file(cfg, thrift_server.NAME).read_text()
    assert f"registered {len(written)} Delta table(s)" in log


def test_beeline_counts_every_table_of_every_layer(served):
    cfg, written = served
    union = " UNION ALL ".join(f"SELECT '{name}' AS name, count(*) AS n FROM {name}" for name in written)
    counts = {row["name"]: int(row["n"]) for row in thrift_server.beeline_rows(cfg, union)}
    assert counts == written
    assert {name.split(".")[0] for name in counts} == {"bronze", "silver", "gold", "quarantine", "quality"}


def test_time_travel_version_as_of_returns_the_older_row_count(served):
    cfg, written = served
    rows = thrift_server.beeline_rows(cfg, """
        SELECT 'v1' AS version, count(*) AS n FROM bronze.readings VERSION AS OF 1
        UNION ALL SELECT 'v2', count(*) FROM bronze.readings VERSION AS OF 2
        UNION ALL SELECT 'latest', count(*) FROM bronze.readings""")
    counts = {row["version"]: int(row["n"]) for row in rows}
    assert counts == {"v1": FIRST_READINGS, "v2": written["bronze.readings"], "latest": written["bronze.readings"]}
    assert FIRST_READINGS < written["bronze.readings"]


@pytest.mark.parametrize("query_file", QUERY_FILES)
def test_each_example_query_answers_as_on_duckdb(served, query_file):
    cfg, _ = served
    columns, expected = expected_answer(query_file)
    rows = thrift_server.beeline_rows(cfg, (QUERIES_DIR / query_file).read_text())
    assert answer(rows, columns) == expected


def test_a_table_created_while_serving_gets_its_name(served):
    cfg, _ = served
    schema = pa.schema([("ticket_id", pa.string()), ("severity", pa.string())])
    path = delta_rs.ensure_table_at(str(cfg.table_path("gold.maintenance_tickets")), schema)
    write_deltalake(path, pa.table({"ticket_id": ["t-1"], "severity": ["high"]}, schema=schema), mode="append")
    deadline = time.monotonic() + 90
    while True:
        names = {row["tableName"] for row in thrift_server.beeline_rows(cfg, "SHOW TABLES IN gold")}
        if "maintenance_tickets" in names or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert "maintenance_tickets" in names
    assert thrift_server.beeline_rows(cfg, "SELECT severity FROM gold.maintenance_tickets") == [{"severity": "high"}]


def test_a_bad_statement_is_a_clear_error(served):
    cfg, _ = served
    with pytest.raises(Exception) as err:
        thrift_server.beeline(cfg, "SELECT * FROM bronze.nope")
    assert "TABLE_OR_VIEW_NOT_FOUND" in str(err.value) and "bronze`.`nope" in str(err.value)
