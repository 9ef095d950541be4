"""``bench scale``'s BENCH line: growth ratios between consecutive sizes, and what a stopped stage left missing.

The stages' measuring is replaced, so this runs in well under a second. A real run (six Spark
sessions, the training set built in Spark twice) takes 20 minutes even at a tiny size on the
shared 2-core machine, too long for the suite: the figures in BENCHMARKS.md come from
``python -m bench scale``, which prints every stage of every size it measured.
"""
from __future__ import annotations

import pytest

STAGES = ("backfill", "validate", "train")


def test_scale_line_has_growth_ratios_and_names_what_a_stopped_stage_left_missing(monkeypatch, capsys):
    from bench import scale
    from sensorlake.config import load_config

    def fake_size(cfg, root, rows, overrides, figures):
        figures.update(rows=rows, simulate_s=1.0, events=3)
        for stage in STAGES:
            if rows > 250 and stage == "train":
                raise RuntimeError("the train stage failed (exit -15)")
            figures[stage] = {"wall_s": rows / 10, "work_s": rows / 20, "cpu_s": rows / 5, "peak_rss_mb": 1000.0 + rows,
                              "checked_rows": rows // 10, "failed_checks": 0, "train_rows": rows // 20, "features": 9}

    monkeypatch.setattr(scale, "measure_size", fake_size)
    figures = scale.run(load_config(), base_rows=100, sizes=(16, 1, 4))
    assert figures["sizes"] == "1x,4x,16x"
    assert figures["backfill_time_4x_1x"] == pytest.approx(4.0) and figures["backfill_cpu_4x_1x"] == pytest.approx(4.0)
    assert figures["validate_rss_4x_1x"] == pytest.approx(1400 / 1100)
    assert figures["train_s_1x"] == 10.0 and "train_s_4x" not in figures and "train_time_4x_1x" not in figures
    assert figures["missing"] == "train_4x,backfill_16x,validate_16x,train_16x"
    assert "size 4x stopped" in capsys.readouterr().out
