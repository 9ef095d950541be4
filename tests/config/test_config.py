"""Configuration precedence: defaults < profile < user file < environment < --set."""
from __future__ import annotations

import pytest

from sensorlake.config import load_config
from sensorlake.errors import ConfigError


def test_defaults_name_the_local_profile_and_derived_addresses(tmp_path):
    cfg = load_config(environ={}, base_dir=tmp_path)
    assert cfg.profile == "local" and cfg.get("spark.master").startswith("local")
    assert cfg.kafka_bootstrap == f"127.0.0.1:{cfg.get('kafka.port')}"
    assert cfg.mlflow_tracking_uri == f"http://127.0.0.1:{cfg.get('mlflow.port')}"
    assert cfg.table_path("bronze.readings") == (tmp_path / "lake" / "bronze" / "readings").resolve()


def test_the_cluster_profile_points_spark_at_the_standalone_master(tmp_path):
    assert load_config(profile="cluster", environ={}, base_dir=tmp_path).get("spark.master") == "spark://127.0.0.1:7077"


def test_user_file_then_environment_then_set_each_win_over_the_one_before(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("kafka:\n  port: 1111\n  topic: from-file\nmlflow:\n  port: 2222\n")
    environ = {"SENSORLAKE__KAFKA__PORT": "3333", "SENSORLAKE__MLFLOW__PORT": "4444"}
    cfg = load_config(user, environ=environ, overrides=["mlflow.port=5555"], base_dir=tmp_path)
    assert cfg.get("kafka.topic") == "from-file"
    assert cfg.get("kafka.port") == 3333          # environment over file, parsed as YAML (an int)
    assert cfg.get("mlflow.port") == 5555         # --set over environment


def test_an_unknown_profile_is_refused_with_the_choices(tmp_path):
    with pytest.raises(ConfigError, match="choose one of: cluster, local"):
        load_config(profile="prod", environ={}, base_dir=tmp_path)


def test_a_set_without_equals_is_refused_with_the_expected_form(tmp_path):
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(overrides=["kafka.port"], environ={}, base_dir=tmp_path)


def test_a_missing_user_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nothere.yaml"):
        load_config(tmp_path / "nothere.yaml", environ={}, base_dir=tmp_path)
