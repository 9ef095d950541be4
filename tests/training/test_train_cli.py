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
