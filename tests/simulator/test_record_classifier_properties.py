"""Property-based tests of the simulator's RecordClassifier: any payload gets exactly one kind, never an exception."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sensorlake.simulator.bad_records import BAD_KINDS, RecordClassifier
from tests.fuzz_inputs import Target, record_payloads

PUMP = Target("site-f", "pump-001", "pressure", "bar", 0.0, 60.0, "2026-02-01")


@settings(max_examples=300, deadline=None)
@given(st.lists(record_payloads(PUMP, max_chars=5_000), min_size=1, max_size=20))
def test_every_payload_is_classified_once_and_nothing_raises(types, payloads):
    classifier = RecordClassifier(types, allowed_lateness_s=60)
    kinds = [classifier.classify(p) for p in payloads]
    assert set(kinds) <= {"valid", *BAD_KINDS}
    assert classifier.summary()["total_records_emitted"] == len(payloads)


not_text = st.one_of(st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                    st.booleans(), st.integers(), st.none())


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.tuples(st.sampled_from(["site_id", "equipment_id", "sensor", "unit", "event_time"]), not_text),
                 st.tuples(st.just("event_time"), st.sampled_from(["not a time", "", "2026-02-30T00:00:00Z"])),
                 st.tuples(st.just("value"), st.one_of(st.text(max_size=5), st.booleans(), st.none(), st.lists(st.floats())))))
def test_a_field_of_the_wrong_type_is_malformed_not_valid(types, field):
    key, wrong = field
    assert RecordClassifier(types).classify(json.dumps(PUMP.reading(1, 3.0) | {key: wrong})) == "malformed_json"


def test_a_deeply_nested_payload_is_malformed(types):
    assert RecordClassifier(types).classify("[" * 100_000 + "]" * 100_000) == "malformed_json"
