"""Hostile inputs for the record parsers (hypothesis strategies), and a deterministic corpus builder.

The strategies produce raw record payloads (bytes) of every shape a producer or a history file
can carry: arbitrary bytes, text that is not UTF-8, JSON of the wrong types, huge and
non-finite numbers, unicode in ids and sensors, deeply nested JSON (thousands of levels), huge
strings, and readings with their fields replaced one at a time. ``corpus`` draws a fixed list
from a strategy with hypothesis's derandomized generation, so every run fuzzes the same inputs.

Example::

    payloads = corpus(record_payloads(Target("site-a", "pump-001", "pressure", "bar", 0.0, 60.0, "2026-02-01")), 200)
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

DEEP_LEVELS = (1_000, 5_000)


@dataclass(frozen=True)
class Target:
    """A declared reading the mutations start from: known equipment, a declared sensor and its range."""

    site_id: str
    equipment_id: str
    sensor: str
    unit: str
    low: float
    high: float
    day: str                     # YYYY-MM-DD: the span the fuzzed readings' times fall in

    def reading(self, second: int, value: float) -> dict:
        return {"site_id": self.site_id, "equipment_id": self.equipment_id, "sensor": self.sensor,
                "event_time": f"{self.day}T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}.000Z",
                "value": value, "unit": self.unit}


def corpus(strategy, n: int) -> list:
    """``n`` examples of ``strategy`` (fewer if it has fewer), the same on every run."""
    drawn: list = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example):
        drawn.append(example)

    collect()
    return drawn


def _dumps(value) -> str:
    return json.dumps(value, allow_nan=True, ensure_ascii=False)


# Text of every kind: control characters, NUL, quotes and backslashes, combining marks, right-to-left,
# emoji, the replacement character; no lone surrogates (they cannot be encoded as UTF-8 at all).
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["", " ", "\x00", "'", '"', "\\", "\u202e-pump", "pump\u0301", "\U0001f525", "\ufffd", "null",
                     "NaN", "1e309", "0x10", "true", "pump-001 ", " pump-001", "PUMP-001", "\t\n\r"]),
)
huge_numbers = st.sampled_from([10**400, -(10**400), 1e308, -1e308, 5e-324, 2**63, -(2**63) - 1, 2**64])
numbers = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), huge_numbers)
scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(hostile_text, inner, max_size=4)),
                           max_leaves=12)
future_or_odd_times = st.sampled_from([
    "9999-12-31T23:59:59.999Z", "+275760-09-13T00:00:00.000Z", "2026-02-30T00:00:00.000Z", "2026-02-01T24:00:00.000Z",
    "2026-02-01T00:00:00Z", "2026-02-01 00:00:00.000", "2026-02-01T00:00:00.000+14:00", "0000-01-01T00:00:00.000Z",
    "1969-12-31T23:59:59.999Z", "", "now", "1767571200000",
])


def deep_json(levels: int, kind: str) -> str:
    if kind == "array":
        return "[" * levels + "]" * levels
    if kind == "object":
        return '{"a":' * levels + "1" + "}" * levels
    return "[" * levels                                     # never closed


def _replace_field(target: Target):
    """A reading of ``target`` with one field replaced by anything, removed, or extra fields added."""
    keys = ("site_id", "equipment_id", "sensor", "event_time", "value", "unit")

    @st.composite
    def build(draw):
        record = target.reading(draw(st.integers(0, 3599)), draw(st.floats(target.low, target.high)))
        how = draw(st.sampled_from(["replace", "replace", "remove", "extra", "time"]))
        key = draw(st.sampled_from(keys))
        if how == "replace":
            record[key] = draw(json_values)
        elif how == "remove":
            del record[key]
        elif how == "extra":
            record[draw(hostile_text)] = draw(json_values)
        else:
            record["event_time"] = draw(future_or_odd_times)
        return _dumps(record).encode("utf-8")

    return build()


def _deep(target: Target):
    levels, kind = st.sampled_from(DEEP_LEVELS), st.sampled_from(["array", "object", "open"])
    plain = st.builds(lambda n, k: deep_json(n, k).encode(), levels, kind)
    inside = st.builds(lambda n, k: _dumps(target.reading(0, 1.0)).replace("1.0}", deep_json(n, k) + "}").encode(),
                       levels, kind)
    return st.one_of(plain, inside)


def _not_utf8(target: Target):
    bad = st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80\x80"])
    return st.builds(lambda b, at: _dumps(target.reading(at, target.low)).encode().replace(b"-0", b"-" + b, 1),
                     bad, st.integers(0, 3599))


def _huge_strings(target: Target, max_chars: int):
    fillers = st.sampled_from(["x", "\x01", '"', "\u00e9", "\U0001f525"])
    size = st.integers(max_chars // 4, max_chars)
    # ``n`` bytes once encoded in JSON (a control character is escaped to six)
    return st.builds(lambda f, n, key: _dumps({**target.reading(1, target.low), key: f * (n // (len(_dumps(f).encode()) - 2))}).encode(),
                     fillers, size, st.sampled_from(["sensor", "equipment_id", "unit", "note"]))


def record_payloads(target: Target, max_chars: int = 200_000):
    """Raw payloads (bytes) of one record each: arbitrary, wrong-typed, huge, deep or mutated readings."""
    return st.one_of(
        st.binary(max_size=200),
        _not_utf8(target),
        st.builds(lambda v: _dumps(v).encode("utf-8"), json_values),           # JSON of any type and shape
        _replace_field(target),
        _replace_field(target),
        _deep(target),
        _huge_strings(target, max_chars),
        st.builds(lambda t: t.encode("utf-8"), st.text(max_size=80)),          # arbitrary text, not JSON
    )
