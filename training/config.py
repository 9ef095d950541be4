"""A training task as configuration: the ``training:`` section merged with ``training.tasks.<name>``.

Every key of ``training:`` is a default that a task may override (``views``, ``horizon``,
``rul_cap``, ``split``, ``costs``, ...). Durations are text such as ``30m`` or ``2h``.

Example::

    task = task_config(cfg, "failure")
    task.kind, task.label, task.horizon       # 'binary', 'fails_within', timedelta(hours=2)
    task.experiment, task.registered_model    # 'sensorlake-failure', 'sensorlake-failure'
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sensorlake.config import Config, deep_merge
from sensorlake.errors import ConfigError

KINDS = ("binary", "regression", "multiclass", "anomaly")
LABELS = {"binary": ("fails_within",), "regression": ("rul",), "multiclass": ("failure_mode",),
          "anomaly": ("fails_within",)}
DEFAULT_METRIC = {"binary": "pr_auc", "regression": "rmse", "multiclass": "macro_f1", "anomaly": "pr_auc"}
SPLIT_METHODS = ("time", "group", "time_group", "random")
# Metrics a task may be judged by (for promotion), and whether higher is better.
METRIC_DIRECTION = {"pr_auc": True, "roc_auc": True, "f1": True, "macro_f1": True, "accuracy": True,
                    "rmse": False, "mae": False, "phm08_score_mean": False, "log_loss": False}
ANOMALY_METHODS = ("robust_z", "isolation_forest")
LABEL_WINDOWS = ("horizon", "current")
DOWN_AFTER_FAILURE = ("until_maintenance", "none")
THRESHOLD_RULES = ("cost", "budget")


def parse_duration(value, key: str) -> timedelta:
    """A timedelta from ``'30m'``, ``'2h'``, ``'1d'`` or seconds; ConfigError naming ``key`` otherwise."""
    from feature_defs.view import duration_ms

    try:
        return timedelta(milliseconds=duration_ms(value, key))
    except Exception as exc:  # FeatureDefinitionError: reworded for the training section
        raise ConfigError(f"training key {key}: {value!r} is not a duration", "write e.g. 30m, 2h, 1d") from exc


@dataclass(frozen=True)
class TaskConfig:
    """One resolved training task. Build it with :func:`task_config`."""

    name: str
    kind: str
    label: str
    metric: str
    views: tuple[str, ...]
    events_table: str
    horizon: timedelta
    rul_cap: timedelta
    rolling: tuple[timedelta, ...]
    baseline: timedelta | None
    split: dict
    costs: dict
    alert_budget_per_day: float
    alert_throttle: timedelta
    class_weight: str
    lightgbm: dict
    num_boost_round: int
    early_stopping_rounds: int
    anomaly: dict
    phm08_unit: timedelta
    min_improvement: float
    experiment: str
    registered_model: str
    max_unvalidated_versions: int | None = None
    label_window: str = "horizon"
    down_after_failure: str = "until_maintenance"
    threshold_rule: str = "cost"
    raw: dict = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return METRIC_DIRECTION[self.metric]

    @property
    def purge(self) -> timedelta:
        """How far a row's label looks past its window_end: training rows this close to the test period are dropped."""
        label_reach = timedelta(0) if self.label_window == "current" else self.horizon
        return {"binary": label_reach, "multiclass": label_reach, "regression": self.rul_cap,
                "anomaly": timedelta(0)}[self.kind]

    def params(self) -> dict[str, Any]:
        """Flat parameters for MLflow (``log_params``)."""
        out = {"task": self.name, "kind": self.kind, "label": self.label, "metric": self.metric,
               "views": ",".join(self.views), "events_table": self.events_table,
               "horizon": str(self.horizon), "rul_cap": str(self.rul_cap),
               "rolling": ",".join(str(r) for r in self.rolling) or "none", "baseline": str(self.baseline),
               "class_weight": self.class_weight, "alert_budget_per_day": self.alert_budget_per_day,
               "alert_throttle": str(self.alert_throttle), "num_boost_round": self.num_boost_round,
               "early_stopping_rounds": self.early_stopping_rounds, "min_improvement": self.min_improvement,
               "label_window": self.label_window, "down_after_failure": self.down_after_failure,
               "threshold_rule": self.threshold_rule}
        out.update({f"split.{k}": v for k, v in self.split.items()})
        out.update({f"costs.{k}": v for k, v in self.costs.items()})
        out.update({f"lightgbm.{k}": v for k, v in self.lightgbm.items()})
        if self.kind == "anomaly":
            out.update({f"anomaly.{k}": v for k, v in self.anomaly.items()})
        return out


def task_names(cfg: Config) -> list[str]:
    return sorted((cfg.get("training.tasks") or {}).keys())


def task_config(cfg: Config, name: str) -> TaskConfig:
    """Resolve task ``name``: ``training.*`` defaults overridden by ``training.tasks.<name>.*``; checked.

    Raises ConfigError naming the key and what to write instead.
    """
    section = copy.deepcopy(cfg.get("training") or {})
    tasks = section.pop("tasks", None) or {}
    if name not in tasks:
        raise ConfigError(f"unknown training task {name!r}",
                          f"choose one of {', '.join(sorted(tasks)) or '(none)'} or declare training.tasks.{name}")
    merged = deep_merge(section, tasks[name] or {})
    kind = merged.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"training.tasks.{name}.kind is {kind!r}", f"choose one of {', '.join(KINDS)}")
    label = merged.get("label") or LABELS[kind][0]
    if label not in LABELS[kind]:
        raise ConfigError(f"training.tasks.{name}.label {label!r} does not fit kind {kind}",
                          f"a {kind} task predicts {', '.join(LABELS[kind])}")
    metric = merged.get("metric") or DEFAULT_METRIC[kind]
    if metric not in METRIC_DIRECTION:
        raise ConfigError(f"training.tasks.{name}.metric is {metric!r}", f"choose one of {', '.join(METRIC_DIRECTION)}")
    views = merged.get("views") or []
    if isinstance(views, str):
        views = [views]
    if not views:
        raise ConfigError(f"training task {name} names no feature view", "set training.views, e.g. [machine_1m]")
    split = dict(merged.get("split") or {})
    split.setdefault("method", "time_group")
    split.setdefault("test_fraction", 0.3)
    split.setdefault("valid_fraction", 0.25)
    split.setdefault("seed", 42)
    if split["method"] not in SPLIT_METHODS:
        raise ConfigError(f"training split method {split['method']!r} (task {name})", f"choose one of {', '.join(SPLIT_METHODS)}")
    for key in ("test_fraction", "valid_fraction"):
        if not 0 < float(split[key]) < 1:
            raise ConfigError(f"training split.{key} must lie strictly between 0 and 1, got {split[key]}")
    costs = dict(merged.get("costs") or {})
    for key in ("false_alarm", "missed_failure"):
        if float(costs.get(key, -1)) < 0:
            raise ConfigError(f"training costs.{key} must be a non-negative number", "e.g. costs: {false_alarm: 1, missed_failure: 10}")
    class_weight = str(merged.get("class_weight") or "none")
    if class_weight not in ("balanced", "none"):
        raise ConfigError(f"training class_weight is {class_weight!r}", "choose balanced or none")
    anomaly = dict(merged.get("anomaly") or {})
    anomaly.setdefault("method", "robust_z")
    anomaly.setdefault("group_by", None)
    anomaly.setdefault("clip", 10.0)
    if anomaly["method"] not in ANOMALY_METHODS:
        raise ConfigError(f"training anomaly.method is {anomaly['method']!r}", f"choose one of {', '.join(ANOMALY_METHODS)}")
    if anomaly["group_by"] not in (None, "equipment_id"):
        raise ConfigError(f"training anomaly.group_by is {anomaly['group_by']!r}", "use null or equipment_id")
    choices = {}
    for key, allowed, default in (("label_window", LABEL_WINDOWS, "horizon"),
                                  ("down_after_failure", DOWN_AFTER_FAILURE, "until_maintenance"),
                                  ("threshold_rule", THRESHOLD_RULES, "cost")):
        choices[key] = str(merged.get(key) or default)
        if choices[key] not in allowed:
            raise ConfigError(f"training {key} is {choices[key]!r} (task {name})", f"choose one of {', '.join(allowed)}")
    budget = float(merged.get("alert_budget_per_day") or 0)
    if budget <= 0:
        raise ConfigError("training alert_budget_per_day must be positive", "e.g. 6 alerts per day for the fleet")
    return TaskConfig(
        name=name, kind=kind, label=label, metric=metric, views=tuple(views),
        events_table=str(merged.get("events_table") or "bronze.events"),
        horizon=parse_duration(merged.get("horizon", "2h"), "horizon"),
        rul_cap=parse_duration(merged.get("rul_cap", "8h"), "rul_cap"),
        rolling=tuple(parse_duration(r, "rolling") for r in (merged.get("rolling") or [])),
        baseline=parse_duration(merged["baseline"], "baseline") if merged.get("baseline") else None,
        split=split, costs={k: float(v) for k, v in costs.items()}, alert_budget_per_day=budget,
        alert_throttle=parse_duration(merged.get("alert_throttle", "2h"), "alert_throttle"),
        class_weight=class_weight, lightgbm=dict(merged.get("lightgbm") or {}),
        num_boost_round=int(merged.get("num_boost_round", 400)),
        early_stopping_rounds=int(merged.get("early_stopping_rounds", 40)),
        anomaly=anomaly, phm08_unit=parse_duration(merged.get("phm08_unit", "1h"), "phm08_unit"),
        min_improvement=float(merged.get("min_improvement") or 0.0),
        experiment=str(merged.get("experiment") or "sensorlake-{task}").format(task=name),
        registered_model=str(merged.get("registered_model") or "sensorlake-{task}").format(task=name),
        max_unvalidated_versions=merged.get("max_unvalidated_versions"),
        **choices,
        raw=merged,
    )
