"""The stream's shared-parse functions (jvm/functions) against the built-ins they stand for, in a local Flink job.

SHARED_JSON_VALUE(text, path) must answer as JSON_VALUE(text, path) and SHARED_TO_TIMESTAMP_LTZ(text,
format) as TO_TIMESTAMP_LTZ(text, format) for every text, hostile ones included (tests/fuzz_inputs.py),
whether the calls on a text come in a row (what they remember) or alternate between texts.
"""
from __future__ import annotations

import json

import pytest

from sensorlake.streaming import job
from sensorlake.streaming.sql import EVENT_TIME_FORMAT, JSON_FIELDS
from tests.fuzz_inputs import Target, corpus, deep_json, record_payloads

TARGET = Target("site-a", "pump-001", "pressure", "bar", 0.0, 60.0, "2026-02-01")
HAND_PICKED = [
    json.dumps(TARGET.reading(7, 3.5)),
    '{"site_id": "a", "site_id": "b", "value": 1e400, "unit": true, "sensor": null, "event_time": "2026-02-30T00:00:00.000Z"}',
    '{"value": -0.0, "sensor": ["x"], "unit": {"u": 1}, "event_time": "2026-02-01T24:00:00.000Z"} trailing',
    '{"value": NaN, "sensor": "pressure"}',
    '{"value": 12345678901234567890123, "equipment_id": 7, "event_time": "2026-02-01T00:00:00.5+02:00"}',
    '[{"site_id": "in-an-array"}]',
    '"just a string"',
    "",
    "{",
    deep_json(5_000, "object"),
]


@pytest.fixture(scope="module")
def t_env(cfg):
    _, t_env = job.create_environments(cfg, parallelism=1)
    job.register_sql_functions(t_env, cfg)
    return t_env


@pytest.fixture(scope="module")
def texts() -> list[str]:
    fuzzed = [p.decode("utf-8", errors="replace") for p in corpus(record_payloads(TARGET, max_chars=20_000), 300)]
    return HAND_PICKED + fuzzed


def _collect(t_env, texts: list[str], select: str) -> list[tuple]:
    from pyflink.table import DataTypes

    table = t_env.from_elements([(i, t) for i, t in enumerate(texts)],
                                DataTypes.ROW([DataTypes.FIELD("i", DataTypes.INT()), DataTypes.FIELD("p", DataTypes.STRING())]))
    t_env.create_temporary_view("texts", table)
    try:
        with t_env.execute_sql(f"SELECT i, {select} FROM texts").collect() as rows:
            return sorted(tuple(row) for row in rows)
    finally:
        t_env.drop_temporary_view("texts")


def test_shared_json_value_answers_as_json_value_for_every_text(t_env, texts):
    paths = [f"$.{key}" for key, _ in JSON_FIELDS] + ["$.missing", "$", "$[0].site_id"]
    # each path twice, the shared one before and after the built-in: the second call is answered from memory
    select = ", ".join(f"JSON_VALUE(p, '{path}'), SHARED_JSON_VALUE(p, '{path}'), SHARED_JSON_VALUE(p, '{path}')"
                       for path in paths)
    rows = _collect(t_env, texts, select)
    assert len(rows) == len(texts)
    found = 0
    for row in rows:
        for k, path in enumerate(paths):
            builtin, shared, again = row[1 + 3 * k: 4 + 3 * k]
            assert shared == builtin and again == builtin, (texts[row[0]][:200], path)
            found += builtin is not None
    assert found > len(texts)      # the corpus has fields to find, not only errors


def test_shared_to_timestamp_ltz_answers_as_to_timestamp_ltz(t_env, texts):
    times = [json.loads(texts[0])["event_time"], "2026-02-30T00:00:00.000Z", "2026-02-01T24:00:00.000Z",
             "2026-02-01T00:00:00.5+02:00", "2026-02-01 00:00:00", "", "x"]
    fmt = EVENT_TIME_FORMAT     # quoted for a SQL literal already
    calls = [f"TO_TIMESTAMP_LTZ(p, '{fmt}')", f"SHARED_TO_TIMESTAMP_LTZ(p, '{fmt}')", f"SHARED_TO_TIMESTAMP_LTZ(p, '{fmt}')",
             "TO_TIMESTAMP_LTZ(p, 'yyyy-MM-dd HH:mm:ss')", "SHARED_TO_TIMESTAMP_LTZ(p, 'yyyy-MM-dd HH:mm:ss')"]
    select = ", ".join(f"CAST({call} AS STRING)" for call in calls)     # PyFlink collects no TIMESTAMP_LTZ
    rows = _collect(t_env, times + times[::-1], select)
    assert sum(r[1] is not None for r in rows) >= 2
    for row in rows:
        assert row[2] == row[1] and row[3] == row[1] and row[5] == row[4], row
