"""`sensorlake features`: list the views and show how each engine computes one."""
from __future__ import annotations

import argparse

import pytest

from sensorlake.cli import features
from sensorlake.errors import SensorlakeError


def run(cfg, *argv) -> int:
    parser = argparse.ArgumentParser(prog="sensorlake")
    features.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["features", *argv])
    return args.func(args, cfg)


def test_list_shows_every_view_with_its_engines_and_version(cfg, capsys):
    assert run(cfg, "list") == 0
    out = capsys.readouterr().out
    assert "machine_1m" in out and "machine_10m_sliding" in out and "hopping 10m every 1m" in out
    assert any(line.startswith("machine_vib_fft") and " spark " in line for line in out.splitlines())


def test_show_flink_prints_the_sql_the_stream_runs(cfg, capsys, shipped_views):
    from feature_defs.compile_flink import compile_view

    assert run(cfg, "show", "machine_10m_sliding", "--engine", "flink") == 0
    out = capsys.readouterr().out
    assert "TABLE(HOP(TABLE readings, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '10' MINUTE))" in out
    assert compile_view(shipped_views["machine_10m_sliding"]) in out


def test_show_spark_prints_the_stages_and_column_expressions(cfg, capsys):
    assert run(cfg, "show", "machine_vib_fft", "--engine", "spark") == 0
    out = capsys.readouterr().out
    assert "F.window('event_ts', '60 seconds')" in out and "vibration__kurtosis = " in out
    assert "applyInPandas" in out and "spark-only features (refused by flink): vibration__band_energy_low" in out


def test_show_refuses_a_view_the_engine_cannot_compute(cfg):
    with pytest.raises(SensorlakeError, match="machine_vib_fft: vibration__band_energy_low is not computable by the flink engine"):
        run(cfg, "show", "machine_vib_fft", "--engine", "flink")


def test_show_names_the_known_views_for_an_unknown_one(cfg):
    with pytest.raises(SensorlakeError, match=r"(?s)no feature view named 'nope'.*machine_1m"):
        run(cfg, "show", "nope")


def test_formulas_prints_the_table(cfg, capsys):
    assert run(cfg, "formulas") == 0
    assert "sample standard deviation (n-1)" in capsys.readouterr().out


def test_features_is_a_subcommand_of_sensorlake():
    from sensorlake.cli import SUBCOMMANDS

    assert "features" in SUBCOMMANDS
