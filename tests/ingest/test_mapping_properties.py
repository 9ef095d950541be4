"""Property-based tests of the ingest mapping loader: whatever a mapping file holds, the answer is a
valid IngestMapping or a ConfigError naming the mapping, never a bare KeyError, TypeError or ValueError."""
from __future__ import annotations

import datetime as dt
import math

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorlake.errors import ConfigError
from sensorlake.ingest.mapping import FORMATS, LAYOUTS, TIME_UNITS_S, IngestMapping, load_mapping, parse_mapping
from tests.fuzz_inputs import json_values

# What YAML can load: scalars (dates too), lists and mappings of them.
yamlish = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
              st.text(max_size=20), st.dates()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.text(max_size=10), st.integers()),
                                                                           inner, max_size=3)),
    max_leaves=8,
)


def either(valid):
    """Mostly the valid value, one time in ten anything YAML can hold."""
    return st.integers(0, 9).flatmap(lambda i: yamlish if i == 9 else st.just(valid))


def fields(required: dict, optional: dict) -> st.SearchStrategy:
    """A dict of ``required`` (name -> strategy), each sometimes left out, and of ``optional`` ones, often left out."""
    return st.integers(0, 9).flatmap(lambda i: st.fixed_dictionaries({}, optional={**required, **optional}) if i == 9
                                     else st.fixed_dictionaries(required, optional=optional))


# A valid wide mapping (the NAB one), with any field replaced by anything, removed, or added.
near_valid = st.fixed_dictionaries({
    "format": either("csv"), "layout": either("wide"),
    "equipment": fields({"id": either("m-001"), "type": either("industrial_machine")},
                        {"criticality": either("high"), "install_date": either(dt.date(2013, 1, 1))}),
    "time": st.one_of(
        fields({"column": either("timestamp")}, {"format": either("yyyy-MM-dd HH:mm:ss"), "ordinal_column": yamlish}),
        fields({"ordinal_column": either("UDI"), "unit": either("minutes"), "start": either("2020-01-01T00:00:00Z")},
               {"step": either(1)})),
    "sensors": st.dictionaries(st.integers(0, 9).flatmap(lambda i: st.one_of(st.none(), st.integers(), st.text(max_size=10))
                                                         if i == 9 else st.sampled_from(["temperature", "speed"])),
                               fields({"column": either("value"), "unit": either("degF")},
                                      {"min": either(-50), "max": either(300)}),
                               min_size=1, max_size=3),
}, optional={"name": either("nab"), "site_id": either("nab"), "notes": yamlish,
             "labels": fields({"failure_column": either("failed")},
                              {"failure_mode_columns": either({"TWF": "tool_wear_failure"})})})


def assert_well_formed(mapping: IngestMapping) -> None:
    assert mapping.format in FORMATS and mapping.layout in LAYOUTS
    if mapping.layout == "wide":
        assert mapping.sensors and mapping.equipment.type
        assert bool(mapping.equipment.id) != bool(mapping.equipment.column)
        assert bool(mapping.time.column) != bool(mapping.time.ordinal_column)
        if mapping.time.ordinal_column:
            assert mapping.time.unit in TIME_UNITS_S and mapping.time.start and mapping.time.seconds_per_step > 0
        for sensor in mapping.sensors:
            assert isinstance(sensor.column, str) and isinstance(sensor.unit, str) and sensor.unit
            assert (sensor.min is None) == (sensor.max is None)
            assert sensor.min is None or (not math.isnan(sensor.min) and sensor.min <= sensor.max)


@settings(max_examples=300, deadline=None)
@given(st.one_of(yamlish, near_valid))
def test_any_mapping_is_built_valid_or_refused_with_a_config_error(raw):
    try:
        mapping = parse_mapping(raw, name_hint="fuzzed")
    except ConfigError as error:
        assert "fuzzed" in str(error) or "ingest mapping" in str(error)
    else:
        assert_well_formed(mapping)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300), st.builds(lambda v: yaml.safe_dump(v).encode(), json_values),
                 st.sampled_from([b"[" * 5000, b"a: " + b"{b: " * 3000, b"\xff\xfe", b"- - - -", b"!!python/object:os.system {}"])))
def test_any_mapping_file_loads_or_is_refused_with_a_config_error(tmp_path, content):
    path = tmp_path / "fuzzed.yaml"
    path.write_bytes(content)
    try:
        mapping = load_mapping(path)
    except ConfigError as error:
        assert "fuzzed" in str(error)
    else:
        assert_well_formed(mapping)


def test_a_sensor_range_with_min_above_max_is_refused_naming_the_sensor():
    raw = {"name": "m", "format": "csv", "layout": "wide", "equipment": {"id": "a", "type": "pump"},
           "time": {"column": "t"}, "sensors": {"pressure": {"column": "p", "unit": "bar", "min": 60, "max": 0}}}
    try:
        parse_mapping(raw)
    except ConfigError as error:
        assert "pressure" in str(error) and "min <= max" in str(error)
    else:
        raise AssertionError("min above max was accepted")
