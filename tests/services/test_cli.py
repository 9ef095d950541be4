"""`sensorlake services status|down` print what runs, where, and where its log is."""
from __future__ import annotations

import argparse

from sensorlake.cli import services as services_cli


def run(argv, cfg) -> int:
    parser = argparse.ArgumentParser(prog="sensorlake")
    services_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args, cfg)


def test_status_prints_a_row_per_process_with_state_address_and_log(private_cfg, capsys):
    assert run(["services", "status"], private_cfg) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "PID", "ADDRESS", "LOG"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == ["kafka", "mlflow", "flink-jobmanager", "flink-taskmanager", "spark-master", "spark-worker",
                     "thrift"]
    assert all(" stopped " in line for line in lines[1:])
    assert str(private_cfg.log_dir / "kafka.log") in lines[1]


def test_down_with_nothing_running_says_so(private_cfg, capsys):
    assert run(["services", "down"], private_cfg) == 0
    assert capsys.readouterr().out.strip() == "nothing was running"


def test_up_all_selects_every_service():
    parser = argparse.ArgumentParser(prog="sensorlake")
    services_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["services", "up", "--all"])
    assert args.all and args.names == []
