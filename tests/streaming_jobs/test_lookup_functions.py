"""The stream checks' look-up functions (jvm/functions, sensorlake.streaming.sql.SQL_FUNCTIONS) in a
local Flink job: TABLE_LOOKUP_STRING / TABLE_LOOKUP_DOUBLE answer as a map would, for every key, for
several tables in one query, and for keys SQL quotes or UTF-8 must carry."""
from __future__ import annotations

import copy
import math

import pytest

from sensorlake.config import Config
from sensorlake.errors import ConfigError
from sensorlake.streaming import job
from sensorlake.streaming.sql import _java_double, lookup_table_literal

EQUIPMENT = {"pump-1": "pump", "fan-7": "fan", "o'brien": "pump", "pompe-é": "pompe", "": "blank"}
LOW = {"pump/pressure": 0.1, "fan/speed": -1e-05, "pompe/flow": -math.inf}
HIGH = {"pump/pressure": 60.0, "fan/speed": 3600.5, "pompe/flow": math.inf}


@pytest.fixture(scope="module")
def t_env(cfg):
    _, t_env = job.create_environments(cfg, parallelism=1)
    job.register_sql_functions(t_env, cfg)
    return t_env


def _rows(t_env, select: str, keys: list[str | None]) -> dict:
    values = ", ".join("(CAST(NULL AS STRING))" if k is None else "('" + k.replace("'", "''") + "')" for k in keys)
    with t_env.execute_sql(f"SELECT k, {select} FROM (VALUES {values}) AS v(k)").collect() as rows:
        return {row[0]: tuple(row)[1:] for row in rows}


def test_a_string_table_answers_every_key_as_the_mapping_would(t_env):
    table = lookup_table_literal(sorted(EQUIPMENT.items()))
    keys = [*EQUIPMENT, "pump-2", "PUMP-1", None]
    got = _rows(t_env, f"TABLE_LOOKUP_STRING({table}, k)", keys)
    assert got == {k: (EQUIPMENT.get(k),) for k in keys}


def test_two_tables_through_one_function_in_one_query_keep_their_own_values(t_env):
    low = lookup_table_literal((k, _java_double(v)) for k, v in LOW.items())
    high = lookup_table_literal((k, _java_double(v)) for k, v in HIGH.items())
    keys = [*LOW, "pump/speed", None]
    got = _rows(t_env, f"TABLE_LOOKUP_DOUBLE({low}, k), TABLE_LOOKUP_DOUBLE({high}, k)", keys)
    assert got == {k: (LOW.get(k), HIGH.get(k)) for k in keys}      # exact: the values round-trip


def test_a_key_or_value_holding_a_separator_is_refused():
    with pytest.raises(ConfigError, match="separator"):
        lookup_table_literal([("pump\x1e1", "pump")])
    with pytest.raises(ConfigError, match="separator"):
        lookup_table_literal([("pump-1", "pu\x1fmp")])


def test_without_the_functions_jar_the_job_says_how_to_build_it(cfg, tmp_path):
    (tmp_path / "flink").mkdir()
    data = copy.deepcopy(cfg.data)
    data["runtime"]["jars_dir"] = str(tmp_path)
    no_jars = Config(data=data, base_dir=cfg.base_dir)
    with pytest.raises(ConfigError, match="make jars"):
        job.register_sql_functions(None, no_jars)
