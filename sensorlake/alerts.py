"""Alerts of one equipment from its scored windows: throttled, tiered, updated by later evidence.

Rules (event time, one :class:`AlertBook` per equipment):

- a window whose failure probability reaches the model's threshold is *evidence*;
- evidence opens an alert for (equipment, failure mode) unless one is open for that mode; then it
  updates that alert (latest and peak probability, evidence count, reasons, severity);
- an open alert closes when a window of the equipment ends more than ``throttle`` after the
  alert's last evidence (the same rule as training's alert count, :func:`training.alerts.alert_starts`);
- severity: the probability's tier (``tiers``: tier -> lowest probability, the lowest tier from the
  threshold up) moved up or down by the equipment's criticality (``criticality_shift``); while an
  alert is open its severity only rises.

Each call returns the alerts it opened, changed or closed, as rows of gold.alerts; the
``alert_id`` (equipment, mode, opening window) makes a replay overwrite the same rows.

Example::

    book = AlertBook(AlertPolicy.from_config(cfg))
    changed = book.observe(window_end, probability=0.91, threshold=0.4, failure_mode="bearing_wear",
                           reasons="vibration__rms:+1.2", criticality="high", model=("m", "3"),
                           equipment_id="pump-1")
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

from sensorlake.config import Config

LEVELS = ("info", "warning", "high", "critical")
UNSPECIFIED_MODE = "unspecified"


@dataclass(frozen=True)
class AlertPolicy:
    """Throttle, probability tiers and criticality shifts (config section ``alerts``)."""

    throttle: timedelta
    tiers: dict = field(default_factory=lambda: {"warning": 0.0, "high": 0.6, "critical": 0.85})
    criticality_shift: dict = field(default_factory=lambda: {"low": -1, "medium": 0, "high": 1})

    @classmethod
    def from_config(cls, cfg: Config) -> "AlertPolicy":
        from training.config import parse_duration

        unknown = set(cfg.get("alerts.tiers")) - set(LEVELS)
        if unknown:
            from sensorlake.errors import ConfigError

            raise ConfigError(f"alerts.tiers names unknown level(s) {sorted(unknown)}", f"use some of {LEVELS}")
        return cls(throttle=parse_duration(cfg.get("alerts.throttle"), "alerts.throttle"),
                   tiers=dict(cfg.get("alerts.tiers")), criticality_shift=dict(cfg.get("alerts.criticality_shift")))

    def severity(self, probability: float, criticality: str | None) -> str:
        reached = [LEVELS.index(level) for level, low in self.tiers.items() if probability >= float(low)]
        base = max(reached, default=min(LEVELS.index(level) for level in self.tiers))
        shifted = base + int(self.criticality_shift.get(criticality or "medium", 0))
        return LEVELS[min(max(shifted, 0), len(LEVELS) - 1)]


@dataclass
class Alert:
    """One alert as gold.alerts holds it (lineage aside)."""

    alert_id: str
    equipment_id: str
    failure_mode: str
    status: str
    severity: str
    criticality: str | None
    opened_at: datetime
    last_evidence_at: datetime
    closed_at: datetime | None
    latest_probability: float
    peak_probability: float
    evidence_windows: int
    reasons: str | None
    model_name: str
    model_version: str

    def row(self) -> dict:
        return asdict(self)


class AlertBook:
    """The open alerts of one equipment and the rules that open, update and close them (see module doc)."""

    def __init__(self, policy: AlertPolicy):
        self.policy = policy
        self.open: dict[str, Alert] = {}

    def observe(self, window_end: datetime, probability: float | None, threshold: float, failure_mode: str | None,
                reasons: str | None, criticality: str | None, model: tuple[str, str], equipment_id: str) -> list[dict]:
        """Apply one scored window; return the gold.alerts rows it changed."""
        changed = self._close_quiet(window_end)
        if probability is None or probability < threshold:
            return changed
        mode = failure_mode or UNSPECIFIED_MODE
        severity = self.policy.severity(probability, criticality)
        alert = self.open.get(mode)
        if alert is None:
            alert = Alert(alert_id=f"{equipment_id}|{mode}|{window_end.isoformat()}", equipment_id=equipment_id,
                          failure_mode=mode, status="open", severity=severity, criticality=criticality,
                          opened_at=window_end, last_evidence_at=window_end, closed_at=None,
                          latest_probability=probability, peak_probability=probability, evidence_windows=1,
                          reasons=reasons, model_name=model[0], model_version=model[1])
        elif window_end <= alert.last_evidence_at:
            return changed      # a window already counted (replayed or rescored): the alert stands
        else:
            alert = replace(alert, last_evidence_at=window_end, latest_probability=probability,
                            peak_probability=max(alert.peak_probability, probability),
                            evidence_windows=alert.evidence_windows + 1, reasons=reasons or alert.reasons,
                            severity=max(alert.severity, severity, key=LEVELS.index),
                            model_name=model[0], model_version=model[1])
        self.open[mode] = alert
        return changed + [alert.row()]

    def _close_quiet(self, now: datetime) -> list[dict]:
        closed = []
        for mode, alert in list(self.open.items()):
            if now - alert.last_evidence_at > self.policy.throttle:
                closed.append(replace(alert, status="closed", closed_at=now).row())
                del self.open[mode]
        return closed


__all__ = ["Alert", "AlertBook", "AlertPolicy", "LEVELS", "UNSPECIFIED_MODE"]
