"""`sensorlake validate`, the spark-submit job and the ingest gate: exit codes and messages."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from batch_jobs import ingest_history, validate_table as validate_job
from expectations import latest_validation_passed, require_passing_validation
from sensorlake.cli import main as sensorlake_main
from sensorlake.errors import GateFailed
from tests.expectations.conftest import T0, equipment, reading, write_rows

pytestmark = pytest.mark.integration


def settings(cfg) -> list[str]:
    """--set flags that point a command at the test's lake and runtime folder."""
    flags = []
    for key in ("lake.root", "lake.metastore_dir", "runtime.dir", "runtime.jars_dir"):
        flags += ["--set", f"{key}={cfg.get(key)}"]
    return flags


@pytest.fixture(scope="module")
def lake(spark, qcfg):
    write_rows(spark, qcfg, "bronze.equipment", [equipment("eq-pump-1", "pump", date(2025, 6, 1))])
    clean = write_rows(spark, qcfg, "bronze.readings", [reading(at=T0 + timedelta(seconds=i)) for i in range(3)])
    return clean


def test_validate_command_passes_clean_data_and_prints_the_data_docs_index(spark, qcfg, lake, capsys):
    assert sensorlake_main(settings(qcfg) + ["validate", "--table", "bronze.readings"]) == 0
    out = capsys.readouterr().out
    assert "validated bronze.readings" in out and "0 critical failed" in out
    assert f"data docs: {qcfg.runtime_dir / 'data_docs' / 'index.html'}" in out
    assert latest_validation_passed(spark, qcfg, "bronze.readings")
    require_passing_validation(spark, qcfg, "bronze.readings", max_versions_behind=0)


def test_validate_command_exits_3_naming_table_expectation_count_and_keys(spark, qcfg, lake, capsys):
    write_rows(spark, qcfg, "bronze.readings", [reading(at=T0 + timedelta(minutes=5), value=75.0)])
    code = sensorlake_main(settings(qcfg) + ["validate", "--table", "bronze.readings", "--since", str(lake)])
    err = capsys.readouterr().err
    assert code == 3
    assert "bronze.readings" in err and "value_within_physical_range" in err and "1 failing row" in err
    assert "eq-pump-1" in err and "2026-01-05T00:05:00" in err


def test_training_gate_refuses_a_table_whose_latest_validation_failed(spark, qcfg, lake):
    assert not latest_validation_passed(spark, qcfg, "bronze.readings")
    with pytest.raises(GateFailed, match="value_within_physical_range"):
        require_passing_validation(spark, qcfg, "bronze.readings")
    with pytest.raises(GateFailed, match="no recorded validation"):
        require_passing_validation(spark, qcfg, "gold.predictions")


def test_spark_submit_job_exits_3_on_a_failed_gate_and_validates_only_since_last(spark, qcfg, lake, capsys):
    code = validate_job.main(["--table", "bronze.readings", "--since", "last", "--no-docs"] + settings(qcfg))
    out, err = capsys.readouterr()
    assert code == 0 and "0 rows" in out  # nothing new since the last validated version
    write_rows(spark, qcfg, "bronze.readings", [reading(at=T0 + timedelta(minutes=6), value=-3.0)])
    code = validate_job.main(["--table", "bronze.readings", "--since", "last", "--no-docs"] + settings(qcfg))
    out, err = capsys.readouterr()
    assert code == 3 and "1 failing row" in err and "2026-01-05T00:06:00" in err


def _jsonl(path, rows):
    path.write_text("".join(json.dumps({**r, "event_time": r["event_time"].isoformat()}) + "\n" for r in rows))
    return path


def _json_reading(at: datetime, value: float):
    return {"site_id": "plant-a", "equipment_id": "eq-pump-1", "sensor": "pressure", "event_time": at,
            "value": value, "unit": "bar"}


def test_ingest_validates_what_it_wrote_and_exits_3_on_readings_before_install(spark, qcfg, lake, tmp_path, capsys):
    good = _jsonl(tmp_path / "good.jsonl", [_json_reading(T0 + timedelta(hours=1, seconds=i), 4.0) for i in range(3)])
    assert ingest_history.main([str(good)] + settings(qcfg)) == 0
    out = capsys.readouterr().out
    assert "validated bronze.readings (rows added after version" in out and "3 rows" in out
    early = _jsonl(tmp_path / "early.jsonl", [_json_reading(datetime.fromisoformat("2025-01-01T00:00:00+00:00"), 4.0)])
    assert ingest_history.main([str(early)] + settings(qcfg)) == 3
    assert "event_time_after_install" in capsys.readouterr().err


def test_ingest_with_no_validate_skips_the_gate(spark, qcfg, lake, tmp_path, capsys):
    early = _jsonl(tmp_path / "early2.jsonl", [_json_reading(datetime.fromisoformat("2025-02-01T00:00:00+00:00"), 4.0)])
    assert ingest_history.main([str(early), "--no-validate"] + settings(qcfg)) == 0
    assert "validated" not in capsys.readouterr().out
