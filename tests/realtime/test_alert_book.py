"""Alert throttling and severity (sensorlake.alerts): one open alert per equipment and failure mode."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sensorlake.alerts import AlertBook, AlertPolicy

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
POLICY = AlertPolicy(throttle=timedelta(hours=2))
MODEL = ("m", "1")


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def observe(book, m, p, mode="bearing_wear", criticality="medium", reasons="a:+1.000"):
    return book.observe(minutes(m), p, 0.4, mode, reasons, criticality, MODEL, "pump-1")


def test_evidence_within_the_throttle_updates_the_one_open_alert_instead_of_raising_another():
    book = AlertBook(POLICY)
    opened = observe(book, 0, 0.5)
    assert [a["status"] for a in opened] == ["open"]
    ids = set()
    for m, p in [(1, 0.7), (2, 0.2), (30, 0.9), (100, 0.45)]:   # 0.2 is below the threshold: not evidence
        for row in observe(book, m, p):
            ids.add(row["alert_id"])
    assert ids == {opened[0]["alert_id"]}
    alert = book.open["bearing_wear"]
    assert alert.evidence_windows == 4 and alert.peak_probability == 0.9 and alert.latest_probability == 0.45
    assert alert.opened_at == minutes(0) and alert.last_evidence_at == minutes(100)
    assert alert.severity == "critical"   # rose with the 0.9 window and does not fall back while open


def test_an_alert_closes_after_the_throttle_without_evidence_and_later_evidence_opens_a_new_one():
    book = AlertBook(POLICY)
    first = observe(book, 0, 0.5)[0]
    assert observe(book, 60, 0.1) == []                      # quiet, but within the throttle
    closed = observe(book, 121, 0.1)                         # 2 h 1 min after the last evidence
    assert [(a["alert_id"], a["status"], a["closed_at"]) for a in closed] == [(first["alert_id"], "closed", minutes(121))]
    assert book.open == {}
    again = observe(book, 130, 0.8)
    assert len(again) == 1 and again[0]["status"] == "open" and again[0]["alert_id"] != first["alert_id"]


def test_each_failure_mode_has_its_own_open_alert():
    book = AlertBook(POLICY)
    a = observe(book, 0, 0.5, mode="bearing_wear")[0]
    b = observe(book, 1, 0.5, mode="overheating")[0]
    c = observe(book, 2, 0.5, mode=None)[0]
    assert len({a["alert_id"], b["alert_id"], c["alert_id"]}) == 3
    assert set(book.open) == {"bearing_wear", "overheating", "unspecified"}


def test_a_replayed_window_leaves_the_alert_as_it_was():
    book = AlertBook(POLICY)
    observe(book, 0, 0.5)
    observe(book, 5, 0.6)
    assert observe(book, 5, 0.6) == [] and observe(book, 3, 0.9) == []
    assert book.open["bearing_wear"].evidence_windows == 2


@pytest.mark.parametrize("p, criticality, expected", [
    (0.5, "medium", "warning"), (0.5, "low", "info"), (0.5, "high", "high"),
    (0.7, "medium", "high"), (0.9, "medium", "critical"), (0.9, "high", "critical"), (0.9, "low", "high"),
])
def test_severity_comes_from_the_risk_tier_moved_by_the_equipments_criticality(p, criticality, expected):
    assert POLICY.severity(p, criticality) == expected


def test_policy_from_config_refuses_an_unknown_level(cfg):
    from sensorlake.config import Config
    from sensorlake.errors import ConfigError

    data = {**cfg.data, "alerts": {**cfg.data["alerts"], "tiers": {"severe": 0.5}}}
    with pytest.raises(ConfigError, match="severe"):
        AlertPolicy.from_config(Config(data=data, base_dir=cfg.base_dir))
    assert AlertPolicy.from_config(cfg).throttle == timedelta(hours=2)
