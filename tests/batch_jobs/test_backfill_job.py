"""The backfill job and `sensorlake backfill`: help, clear errors, and a run under the job's entry point."""
from __future__ import annotations

import pytest

from batch_jobs import backfill_features as job
from sensorlake.cli import main as cli_main
from tests.batch_jobs.conftest import settings


def test_the_cli_and_the_job_print_their_help(capsys):
    for entry in (lambda: cli_main(["backfill", "--help"]), lambda: job.main(["--help"])):
        with pytest.raises(SystemExit) as done:
            entry()
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert "--view" in out and "--since-last" in out and "--start" in out


def test_an_unknown_view_is_refused_listing_the_known_ones(cfg, capsys):
    assert job.main(["--view", "nope", "--since-last"] + settings(cfg)) == 2
    err = capsys.readouterr().err
    assert "no feature view named 'nope'" in err and "machine_1m" in err


def test_a_start_not_before_the_end_is_refused(cfg, capsys):
    assert job.main(["--view", "machine_1m", "--start", "2026-01-06", "--end", "2026-01-05"] + settings(cfg)) == 2
    assert "is not before --end" in capsys.readouterr().err


def test_a_range_and_since_last_together_are_refused(cfg, capsys):
    assert job.main(["--view", "machine_1m", "--since-last", "--start", "2026-01-05"] + settings(cfg)) == 2
    assert "--since-last takes no --start/--end" in capsys.readouterr().err


def test_a_view_spark_cannot_compute_is_refused(cfg, capsys, monkeypatch):
    from feature_defs import UnsupportedFeature, compile_spark

    def refuse(view):
        raise UnsupportedFeature(f"{view.name}: vibration__x is not computable by the spark engine")

    monkeypatch.setattr(compile_spark, "check_supported", refuse)
    assert job.main(["--view", "machine_1m", "--since-last"] + settings(cfg)) == 2
    assert "not computable by the spark engine" in capsys.readouterr().err


@pytest.mark.integration
def test_a_missing_readings_table_says_to_run_ingest_first(spark, cfg, capsys):
    code = job.main(["--view", "machine_1m", "--since-last", "--readings-table", "bronze.absent_readings"] + settings(cfg))
    assert code == 1
    err = capsys.readouterr().err
    assert "bronze.absent_readings does not exist" in err and "ingest" in err


@pytest.mark.integration
def test_the_job_backfills_a_range_and_a_rerun_writes_and_validates_nothing(spark, cfg, history, capsys):
    args = ["--view", "machine_1m", "--start", "2025-06-01T00:05:00Z", "--end", "2025-06-01T00:15:00Z"] + settings(cfg)
    assert job.main(args + ["--no-validate"]) == 0
    out = capsys.readouterr().out
    assert "backfilled silver.features_machine_1m (range" in out and "inserted 0," not in out and "validated" not in out
    assert job.main(args) == 0  # the rerun writes nothing, so the gate has nothing to validate
    out = capsys.readouterr().out
    assert "inserted 0, updated 0" in out and "validated" not in out
