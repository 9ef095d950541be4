"""Fixtures of the training tests: a lake of their own, and writers of feature windows and events.

Training tests use equipment ids starting ``trn-`` and times in September 2025, a span no other
test module uses; those that write Delta tables use a private lake (``tcfg``), so labels never
see another module's events.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.plugins.trained_fleet import with_lake

T0 = datetime(2025, 9, 1, tzinfo=timezone.utc)


def at(hours: float = 0.0, minutes: float = 0.0) -> datetime:
    """T0 plus a duration: ``at(2, 10)`` is 2025-09-01T02:10Z."""
    return T0 + timedelta(hours=hours, minutes=minutes)


@pytest.fixture(scope="module")
def tcfg(cfg, tmp_path_factory):
    """A configuration whose lake belongs to one training test module."""
    return with_lake(cfg, tmp_path_factory.mktemp("training"))


EVENT_DDL = "equipment_id STRING, event_time TIMESTAMP, event_type STRING, failure_mode STRING"


def event(equipment_id: str, when: datetime, event_type: str, failure_mode: str | None = None) -> tuple:
    return (equipment_id, when, event_type, failure_mode)


def windows(equipment_id: str, start: datetime, end: datetime, step: timedelta, value=lambda t: 1.0) -> list[tuple]:
    """(equipment_id, window_start, window_end, value) rows of windows ending in [start, end] every ``step``."""
    rows, t = [], start
    while t <= end:
        rows.append((equipment_id, t - step, t, float(value(t))))
        t += step
    return rows
