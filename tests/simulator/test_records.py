"""JSON encoding of a reading: the Kafka / JSON-lines record."""
from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np

from sensorlake.simulator.records import (decode_reading, encode_reading, encode_readings, event_time_ms,
                                          format_event_time, reading_prefix, reading_suffix)

READING = {"site_id": "plant-a", "equipment_id": "pump-001", "sensor": "pressure",
           "event_time": "2026-01-05T00:00:00.500Z", "value": 6.215, "unit": "bar"}


def test_a_reading_is_one_json_object_with_keys_in_contract_order():
    line = encode_reading(READING)
    assert line == ('{"site_id": "plant-a", "equipment_id": "pump-001", "sensor": "pressure", '
                    '"event_time": "2026-01-05T00:00:00.500Z", "value": 6.215, "unit": "bar"}')
    assert "\n" not in line


def test_a_reading_round_trips_through_json():
    decoded = decode_reading(encode_reading(READING))
    assert decoded["event_time"] == dt.datetime(2026, 1, 5, 0, 0, 0, 500_000, tzinfo=dt.timezone.utc)
    assert {k: v for k, v in decoded.items() if k != "event_time"} == {k: v for k, v in READING.items() if k != "event_time"}
    assert format_event_time(event_time_ms(READING["event_time"])) == READING["event_time"]


def test_event_time_is_utc_with_milliseconds_and_z():
    assert format_event_time(1767571200000) == "2026-01-05T00:00:00.000Z"
    assert encode_reading({**READING, "event_time": dt.datetime(2026, 1, 5, 1, tzinfo=dt.timezone.utc)}).count(
        '"2026-01-05T01:00:00.000Z"') == 1


def test_nan_is_written_as_the_json_nan_literal():
    line = encode_reading({**READING, "value": math.nan})
    assert '"value": NaN,' in line
    assert math.isnan(json.loads(line)["value"])


def test_batch_encoding_is_byte_identical_to_single_encoding():
    rng = np.random.default_rng(0)
    times = 1767571200000 + np.arange(1000, dtype=np.int64) * 500
    values = np.round(rng.normal(50, 30, 1000), 3)
    values[[3, 7]] = [np.nan, 0.0]
    prefixes = [reading_prefix("plant-a", "pump-001", "pressure"), reading_prefix("plant-b", "fan-002", "speed")]
    suffixes = [reading_suffix("bar"), reading_suffix("rpm")]
    which = np.arange(1000) % 2
    lines = encode_readings(prefixes, which, suffixes, which, times, values)
    for k in range(1000):
        site, eq, sensor, unit = (("plant-a", "pump-001", "pressure", "bar"), ("plant-b", "fan-002", "speed", "rpm"))[which[k]]
        expected = encode_reading({"site_id": site, "equipment_id": eq, "sensor": sensor,
                                   "event_time": int(times[k]), "value": values[k], "unit": unit})
        assert lines[k] == expected
