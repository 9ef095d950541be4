"""`sensorlake simulate`: help, and a small history written through the command."""
from __future__ import annotations

import argparse
import json

import pytest

from sensorlake.cli import simulate
from sensorlake.config import load_config


def parser():
    p = argparse.ArgumentParser(prog="sensorlake")
    simulate.register(p.add_subparsers(dest="command", required=True))
    return p


@pytest.mark.parametrize("argv", [["simulate", "--help"], ["simulate", "history", "--help"], ["simulate", "live", "--help"]])
def test_help_works(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(argv)
    assert exit_.value.code == 0
    assert "usage: sensorlake simulate" in capsys.readouterr().out


def test_history_command_writes_the_layout_with_flags_over_config(tmp_path, capsys):
    cfg = load_config(environ={}, base_dir=tmp_path, overrides=["simulator.seed=99", "simulator.days=5"])
    args = parser().parse_args(["simulate", "history", "--out", str(tmp_path / "h"), "--days", "0.05",
                                "--equipment-per-type", "1", "--format", "jsonl", "--bad-rate", "0.01", "--seed", "7"])
    assert args.func(args, cfg) == 0
    assert sorted(p.name for p in (tmp_path / "h").iterdir()) == ["equipment.parquet", "events.parquet", "manifest.json", "readings"]
    assert list((tmp_path / "h/readings").glob("part-00000.jsonl"))
    manifest = json.loads((tmp_path / "h/manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["parameters"]["days"] == 0.05 and manifest["parameters"]["bad_rate"] == 0.01
    assert "wrote" in capsys.readouterr().out


def test_live_command_says_how_to_start_kafka_when_the_broker_is_unreachable(tmp_path):
    import socket

    from sensorlake.errors import ServiceError
    from sensorlake.simulator.live import produce_live
    from sensorlake.equipment import load_equipment_types
    from sensorlake.simulator.bad_records import InjectionSettings
    from sensorlake.simulator.fleet import Fleet, FleetSettings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]           # nothing listens here once closed
    cfg = load_config(environ={}, base_dir=tmp_path, overrides=[f"kafka.port={port}"])
    fleet = Fleet(load_equipment_types(cfg.equipment_types_file), FleetSettings(equipment_per_type=1, days=0.01))
    with pytest.raises(ServiceError, match="unreachable") as error:
        produce_live(cfg, fleet, InjectionSettings(), count=10, connect_timeout_s=2)
    assert "sensorlake services up kafka" in str(error.value)
