"""``sensorlake train``: refuses an unknown task or a malformed pin before any work, with a hint."""
from __future__ import annotations

from sensorlake.cli import main


def test_an_unknown_task_exits_2_naming_the_tasks_that_exist(capsys):
    assert main(["train", "--task", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown training task 'nope'" in err and "anomaly, failure, mode, rul" in err


def test_a_malformed_pin_exits_2_showing_the_form(capsys):
    assert main(["train", "--task", "failure", "--pin", "bronze.events"]) == 2
    assert "write e.g. --pin bronze.events=12" in capsys.readouterr().err


def test_train_is_a_subcommand_with_help(capsys):
    try:
        main(["train", "--help"])
    except SystemExit as done:
        assert done.code == 0
    out = capsys.readouterr().out
    assert "--task" in out and "--pin TABLE=VERSION" in out and "champion" in out


def test_training_stops_before_any_work_with_a_clear_error_when_the_mlflow_server_does_not_answer(cfg):
    import copy

    import pytest

    from sensorlake.config import Config
    from sensorlake.errors import ServiceError
    from tests.conftest import free_port
    from training import train_task

    data = copy.deepcopy(cfg.data)
    data["mlflow"]["port"] = free_port()          # nothing listens there
    down = Config(data=data, base_dir=cfg.base_dir)
    with pytest.raises(ServiceError, match=f"tracking server at {down.mlflow_tracking_uri} does not answer") as raised:
        train_task(None, down, "failure")         # no Spark session: it must stop before reading any table
    assert "sensorlake services up mlflow" in str(raised.value)
