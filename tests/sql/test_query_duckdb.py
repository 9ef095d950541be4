"""`sensorlake sql query`: DuckDB over delta-rs datasets answers with the rows written, named as in Spark."""
from __future__ import annotations

import json

import pytest

from sensorlake.cli import main
from sensorlake.errors import QueryError
from sensorlake.lake.duckdb_sql import lake_tables, run_query
from tests.sql.analyst_lake import EXPECTED_ANSWERS, READING_ROWS, answer, expected_answer
from tests.sql.conftest import QUERIES_DIR

QUERY_FILES = sorted(p.name for p in QUERIES_DIR.glob("*.sql"))


def sql_cli(lake_cfg, *args) -> list[str]:
    return ["--set", f"lake.root={lake_cfg.lake_root}", "sql", "query", *args]


def test_every_table_of_the_lake_is_named_layer_dot_table(analyst_lake):
    lake, written = analyst_lake
    assert set(lake_tables(lake)) == set(written)


def test_every_table_counts_the_rows_written(analyst_lake):
    lake, written = analyst_lake
    union = " UNION ALL ".join(f"SELECT '{name}' AS name, count(*) AS n FROM {name}" for name in written)
    counts = {row["name"]: row["n"] for row in run_query(lake, union).to_pylist()}
    assert counts == written


def test_readings_come_back_with_their_values_and_utc_times(analyst_lake):
    lake, _ = analyst_lake
    rows = run_query(lake, "SELECT equipment_id, sensor, event_time, value FROM bronze.readings ORDER BY event_time")
    assert rows.to_pylist() == [{k: r[k] for k in ("equipment_id", "sensor", "event_time", "value")}
                                for r in READING_ROWS]


@pytest.mark.parametrize("query_file", QUERY_FILES)
def test_each_example_query_runs_and_answers_as_expected(analyst_lake, query_file):
    lake, _ = analyst_lake
    sql = (QUERIES_DIR / query_file).read_text()
    assert sql.lstrip().startswith("--"), f"{query_file} needs a comment header saying what it answers"
    columns, expected = expected_answer(query_file)
    assert answer(run_query(lake, sql).to_pylist(), columns) == expected


def test_every_example_query_has_an_expected_answer():
    assert QUERY_FILES and set(QUERY_FILES) == set(EXPECTED_ANSWERS)


def test_cli_prints_csv_with_a_header(analyst_lake, capsys):
    lake, _ = analyst_lake
    code = main(sql_cli(lake, "SELECT equipment_id, criticality FROM bronze.equipment ORDER BY equipment_id",
                        "--format", "csv"))
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "equipment_id,criticality", "fan-01,low", "motor-01,medium", "pump-01,high"]


def test_cli_prints_json_records(analyst_lake, capsys):
    lake, _ = analyst_lake
    code = main(sql_cli(lake, "SELECT equipment_id, failure_probability FROM gold.predictions "
                              "WHERE equipment_id = 'motor-01'", "--format", "json"))
    assert code == 0
    assert json.loads(capsys.readouterr().out) == [{"equipment_id": "motor-01", "failure_probability": 0.55}]


def test_cli_runs_a_query_file_as_a_table(analyst_lake, capsys):
    lake, _ = analyst_lake
    assert main(sql_cli(lake, "--file", str(QUERIES_DIR / "fleet_health.sql"))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["equipment_id", "site_id"]
    assert lines[2].split()[0] == "pump-01" and lines[-1] == "(3 rows)"


def test_an_unknown_table_is_an_error_listing_the_tables_of_the_lake(analyst_lake, capsys):
    lake, _ = analyst_lake
    assert main(sql_cli(lake, "SELECT * FROM bronze.nope")) == QueryError.exit_code != 0
    err = capsys.readouterr().err
    assert err.startswith("error: unknown name in the query") and "nope" in err
    assert "hint: tables of the lake: bronze.equipment, bronze.events, bronze.readings" in err


def test_sql_that_does_not_parse_is_an_error_with_a_hint(analyst_lake, capsys):
    lake, _ = analyst_lake
    assert main(sql_cli(lake, "SELEC count(*) FROM bronze.readings")) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: the SQL does not parse") and "hint:" in err


def test_no_sql_at_all_is_an_error(analyst_lake, capsys):
    lake, _ = analyst_lake
    assert main(sql_cli(lake)) != 0
    assert "error: no SQL given" in capsys.readouterr().err
