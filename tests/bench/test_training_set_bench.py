"""``bench training_set`` at a tiny size: the shipped trailing means agree with Spark's sliding frames."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_pandas_rolling_means_equal_the_sliding_frame_ones_and_the_line_has_both_timings(spark, cfg, capsys):
    from bench import training_set

    figures = training_set.run(cfg, rows=3 * 2 * 24 * 60, columns=3)      # three machines, two days
    assert (figures["rows"], figures["machines"], figures["derived"]) == (8640, 3, 6)
    assert figures["max_abs_diff"] < 1e-9
    assert figures["pandas_s"] > 0 and figures["sliding_s"] > 0
    assert "BENCH training_set rows=8640 machines=3 columns=3" in capsys.readouterr().out
