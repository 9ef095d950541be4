"""Registered models: a new version is the ``challenger``; it becomes ``champion`` only if it wins.

The champion (if any) is loaded by version and scored on the challenger run's evaluation rows;
both figures of the task's metric, the decision and its reason are recorded on the run (metrics
``promotion.champion_<metric>``, ``promotion.challenger_<metric>``; tags ``promotion.*``) and on
the new model version (tags). Promotion needs a strict win by more than ``min_improvement``.

Example::

    decision = promote_if_better(client, task, version="7", evaluate=lambda model: score_on_test(model))
    decision.promoted, decision.reason
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)

CHALLENGER, CHAMPION = "challenger", "champion"


@dataclass
class PromotionDecision:
    promoted: bool
    reason: str
    challenger_version: str
    challenger_value: float
    champion_version: str | None = None
    champion_value: float | None = None

    def tags(self) -> dict[str, str]:
        return {"promotion.decision": "promoted" if self.promoted else "kept_champion",
                "promotion.reason": self.reason, "promotion.challenger_version": self.challenger_version,
                "promotion.champion_version": self.champion_version or "none"}


def champion_version(client, name: str):
    """The model version holding the champion alias, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def beats(new: float, old: float, higher_is_better: bool, margin: float) -> bool:
    if new is None or not math.isfinite(new):
        return False
    if old is None or not math.isfinite(old):
        return True
    return new - old > margin if higher_is_better else old - new > margin


def promote_if_better(client, name: str, metric: str, higher_is_better: bool, margin: float,
                      version: str, challenger_value: float, evaluate: Callable[[str], float]) -> PromotionDecision:
    """Alias ``version`` as challenger; make it champion if it beats the current one (see module doc).

    ``evaluate(model_uri)`` scores a model on the challenger's evaluation rows (the task's metric).
    """
    import mlflow

    client.set_registered_model_alias(name, CHALLENGER, version)
    current = champion_version(client, name)
    if current is None:
        decision = PromotionDecision(True, "no champion yet", version, challenger_value)
    elif str(current.version) == str(version):
        decision = PromotionDecision(True, "already champion", version, challenger_value, str(current.version), challenger_value)
    else:
        try:
            old = evaluate(f"models:/{name}/{current.version}")
        except Exception as exc:  # a champion that cannot score these rows cannot be compared: keep it
            log.warning("champion %s v%s could not be scored on the evaluation rows: %s", name, current.version, exc)
            decision = PromotionDecision(False, f"champion v{current.version} could not be scored on the same rows: "
                                         f"{str(exc).splitlines()[0][:200]}", version, challenger_value, str(current.version))
        else:
            won = beats(challenger_value, old, higher_is_better, margin)
            better = "higher" if higher_is_better else "lower"
            reason = (f"{metric} {challenger_value:.5f} vs champion v{current.version} {old:.5f} "
                      f"({better} is better, margin {margin:g}): {'promoted' if won else 'not better, champion kept'}")
            decision = PromotionDecision(won, reason, version, challenger_value, str(current.version), old)
    if decision.promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
    mlflow.set_tags(decision.tags())
    if math.isfinite(challenger_value):
        mlflow.log_metric(f"promotion.challenger_{metric}", challenger_value)
    if decision.champion_value is not None and math.isfinite(decision.champion_value):
        mlflow.log_metric(f"promotion.champion_{metric}", decision.champion_value)
    for key, value in decision.tags().items():
        client.set_model_version_tag(name, version, key, value)
    log.info("%s v%s: %s", name, version, decision.reason)
    return decision
