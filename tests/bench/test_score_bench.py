"""``bench score`` at a tiny size: spark_udf scores equal in-process ones and the line has the transfer floor."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_spark_udf_scores_equal_in_process_ones_and_the_line_has_the_floor(spark, cfg, capsys):
    import mlflow

    from bench import score

    before = mlflow.get_tracking_uri()
    figures = score.run(cfg, rows=20_000, features=8, repeats=1)
    assert mlflow.get_tracking_uri() == before                 # the bench's throwaway store is not left behind
    assert figures["max_abs_diff"] == 0.0
    assert figures["spark_udf_s"] > 0 and figures["inprocess_s"] > 0 and figures["floor_s"] > 0
    assert figures["ratio"] == pytest.approx(figures["inprocess_s"] / figures["spark_udf_s"], rel=0.01)
    assert figures["ratio_floor"] == pytest.approx(figures["inprocess_s"] / figures["floor_s"], rel=0.01)
    assert "BENCH score rows=20000 features=8 trees=100" in capsys.readouterr().out
