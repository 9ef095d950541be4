"""Table upkeep: OPTIMIZE compacts and Z-orders without changing a row, also while a writer appends; VACUUM keeps its retention."""
from __future__ import annotations

import datetime as dt
import threading

import pyarrow as pa
import pytest

from sensorlake import cli
from sensorlake.config import load_config
from sensorlake.errors import ConfigError
from sensorlake.lake import delta_rs, upkeep
from sensorlake.lake.tables import READINGS

SMALL_COMMITS = 12
ROWS_PER_COMMIT = 50


@pytest.fixture
def lake_cfg(cfg, tmp_path):
    """The session configuration with a private lake root (upkeep rewrites files; other tests keep theirs)."""
    return load_config(profile="local", overrides=[f"lake.root={tmp_path / 'lake'}", f"runtime.dir={cfg.runtime_dir}",
                                                   "upkeep.vacuum_minimum_hours=0"], environ={}, base_dir=tmp_path)


def readings_batch(commit: int, n: int = ROWS_PER_COMMIT) -> pa.Table:
    start = dt.datetime(2025, 7, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=commit)
    times = [start + dt.timedelta(milliseconds=100 * i) for i in range(n)]
    rows = {
        "site_id": ["site-u"] * n, "equipment_id": [f"upkeep-{commit % 3}"] * n, "sensor": ["vibration"] * n,
        "event_time": times, "value": [float(commit * n + i) for i in range(n)], "unit": ["mm/s"] * n,
        "event_date": [t.date() for t in times], "ingest_id": [f"upkeep/{commit}/{i}" for i in range(n)],
        "source": ["test"] * n, "job_name": ["test_table_upkeep"] * n, "run_id": ["r1"] * n,
        "ingest_time": [start] * n,
    }
    return pa.table(rows, schema=READINGS.arrow_schema())


def small_file_table(cfg, commits: int = SMALL_COMMITS) -> str:
    path = delta_rs.ensure_table(cfg, READINGS)
    for commit in range(commits):
        delta_rs.append_once(path, readings_batch(commit), f"upkeep-test:{commit}", 0, READINGS.partition_by)
    return path


def table_rows(spark, path: str, version: int | None = None) -> list[tuple]:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return sorted(tuple(r) for r in reader.load(path).select("ingest_id", "event_time", "value").collect())


def test_optimize_compacts_and_zorders_without_changing_rows(spark, lake_cfg):
    path = small_file_table(lake_cfg)
    before = table_rows(spark, path)

    result = upkeep.optimize(spark, lake_cfg, READINGS)

    assert result.files_removed == SMALL_COMMITS
    assert 1 <= result.files_added < SMALL_COMMITS
    assert result.zorder_by == ("equipment_id", "event_time")
    assert table_rows(spark, path) == before
    last = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").collect()[0]
    assert last["operation"] == "OPTIMIZE"
    assert "equipment_id" in last["operationParameters"]["zOrderBy"]


def test_optimize_while_a_writer_appends_loses_no_row(spark, lake_cfg):
    path = small_file_table(lake_cfg)
    appended, errors = [], []

    def writer():
        try:
            for commit in range(SMALL_COMMITS, SMALL_COMMITS + 8):
                delta_rs.append_once(path, readings_batch(commit), f"upkeep-test:{commit}", 0, READINGS.partition_by)
                appended.append(commit)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    upkeep.optimize(spark, lake_cfg, READINGS)
    thread.join()

    assert errors == []
    expected = sorted((i, v) for c in range(SMALL_COMMITS + 8)
                      for i, v in zip(*(readings_batch(c).column(k).to_pylist() for k in ("ingest_id", "value"))))
    assert [(i, v) for i, _, v in table_rows(spark, path)] == expected


def test_vacuum_deletes_compacted_files_and_keeps_the_table(spark, lake_cfg):
    path = small_file_table(lake_cfg)
    upkeep.optimize(spark, lake_cfg, READINGS)
    before = table_rows(spark, path)

    assert upkeep.vacuum(spark, lake_cfg, READINGS, retention_hours=24) == 0  # compacted files are younger than 24 h
    assert upkeep.vacuum(spark, lake_cfg, READINGS, retention_hours=0) == SMALL_COMMITS

    assert table_rows(spark, path) == before


def test_vacuum_refuses_a_retention_below_the_minimum(spark, cfg, tmp_path):
    guarded = load_config(profile="local", overrides=[f"lake.root={tmp_path / 'lake'}"], environ={}, base_dir=tmp_path)
    small_file_table(guarded, commits=1)
    with pytest.raises(ConfigError, match="below upkeep.vacuum_minimum_hours"):
        upkeep.vacuum(spark, guarded, READINGS, retention_hours=1)


def test_upkeep_command_names_an_unknown_table(tmp_path, capsys):
    code = cli.main(["--set", f"lake.root={tmp_path}", "upkeep", "optimize", "--table", "silver.features_nope"])
    assert code == 2
    assert "no feature view named 'nope'" in capsys.readouterr().err
