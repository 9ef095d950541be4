"""A training set larger than the driver may collect: the configured limit, and a clear error naming it."""
from __future__ import annotations

import pytest

from sensorlake.errors import InputError
from training import dataset


def test_the_session_takes_the_configured_driver_result_limit(spark, cfg):
    assert spark.sparkContext.getConf().get("spark.driver.maxResultSize") == cfg.get("spark.driver_max_result_size") == "2g"


def test_a_training_set_over_the_limit_is_an_input_error_naming_the_setting(spark, monkeypatch):
    def too_big(df):
        raise RuntimeError("Job aborted due to stage failure: Total size of serialized results of 8 tasks "
                           "(1115.3 MiB) is bigger than spark.driver.maxResultSize (1024.0 MiB)")

    monkeypatch.setattr(dataset, "to_pandas", too_big)
    with pytest.raises(InputError, match=r"the training set of silver.features_x \(9 features\) is larger than the driver "
                                         r"may collect \(spark.driver.maxResultSize 2g\)") as raised:
        dataset.collect_training_set(spark.range(1), "the training set of silver.features_x (9 features)")
    assert "spark.driver_max_result_size" in raised.value.hint


def test_other_collect_errors_pass_through(spark, monkeypatch):
    monkeypatch.setattr(dataset, "to_pandas", lambda df: (_ for _ in ()).throw(ValueError("something else")))
    with pytest.raises(ValueError, match="something else"):
        dataset.collect_training_set(spark.range(1), "the training set")
