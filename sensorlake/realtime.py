"""Real-time scoring of single feature windows: champions that follow their alias, predictions, alerts.

The streaming job's scoring operator (:mod:`sensorlake.streaming.scoring`) keeps per equipment an
:class:`training.online.EquipmentHistory` and an :class:`sensorlake.alerts.AlertBook` in Flink
state and hands each new window to :meth:`WindowScorer.score`, which returns the gold.predictions
and gold.alerts rows to write. Nothing here depends on Flink, so it is tested directly.

- :class:`ChampionWatcher` resolves ``models:/<name>@champion`` at most every ``refresh_s`` seconds
  and loads a new version when the alias moved: a promotion reaches the running job without a
  restart. When MLflow cannot be reached, the watcher keeps the champion it has (and retries).
- Outputs are the batch scorer's: the same model inputs (:mod:`training.online` mirrors
  :func:`training.dataset.feature_rows`), the same column per task kind, and the same top-3 SHAP
  reasons (:func:`sensorlake.scoring.top_contributions`).

Example::

    scorer = WindowScorer(cfg, ["failure", "anomaly"], view_columns)
    history = scorer.new_history()
    book = AlertBook(scorer.policy)
    predictions, alerts = scorer.score("pump-1", window_end, history.add(window_end, row), book, "high")
"""
from __future__ import annotations

import logging
import os
import time
from datetime import datetime

import numpy as np
import pandas as pd

from sensorlake.alerts import AlertBook, AlertPolicy
from sensorlake.config import Config
from sensorlake.errors import ConfigError
from sensorlake.scoring import OUTPUT_COLUMN, Champion, load_champion, top_contributions

log = logging.getLogger(__name__)

JOB_NAME = "stream-score"


class ChampionWatcher:
    """The current champion of one registered model, re-resolved at most every ``refresh_s`` seconds."""

    def __init__(self, cfg: Config, registered_model: str, refresh_s: float, alias: str = "champion",
                 clock=time.monotonic):
        self.cfg, self.registered_model, self.refresh_s, self.alias, self.clock = cfg, registered_model, refresh_s, alias, clock
        self.champion: Champion | None = None
        self.checked_at: float | None = None
        self.last_error: str | None = None

    def current(self) -> Champion | None:
        """The champion to score with now (None until one exists)."""
        if self.checked_at is None or self.clock() - self.checked_at >= self.refresh_s:
            self.refresh()
        return self.champion

    def refresh(self) -> None:
        """Look up the alias; load the version it names when it differs from the one held."""
        from mlflow import MlflowClient

        self.checked_at = self.clock()
        try:
            version = str(MlflowClient(self.cfg.mlflow_tracking_uri)
                          .get_model_version_by_alias(self.registered_model, self.alias).version)
            if self.champion is None or version != self.champion.version:
                self.champion = load_champion(self.cfg, self.registered_model, self.alias)
                log.info("scoring with %s v%s", self.champion.name, self.champion.version)
            self.last_error = None
        except Exception as exc:  # MLflow down, no alias yet: keep what we have, try again later
            self.last_error = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            held = f"keeping v{self.champion.version}" if self.champion else "no champion yet"
            log.warning("%s@%s not resolved (%s); %s", self.registered_model, self.alias, self.last_error, held)


def quick_failing_mlflow_requests(retries: int = 1, timeout_s: int = 10) -> None:
    """Make MLflow's HTTP client give up fast (its defaults retry for minutes) unless the user set them."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(timeout_s))


class WindowScorer:
    """Scores one equipment window with each task's champion and updates the equipment's alerts."""

    def __init__(self, cfg: Config, tasks: list[str], view_columns: list[str], refresh_s: float | None = None):
        from training.config import task_config

        refresh = float(refresh_s if refresh_s is not None else cfg.get("streaming.scoring.refresh_s", 30))
        self.alert_task = cfg.get("alerts.task")
        self.mode_task = cfg.get("alerts.mode_task")
        names = list(dict.fromkeys(list(tasks) + ([self.mode_task] if self.mode_task and tasks else [])))
        self.tasks = {name: task_config(cfg, name) for name in names}
        first = {t.views[0] for t in self.tasks.values()}
        multi = [t.name for t in self.tasks.values() if len(t.views) > 1]
        if multi or len(first) > 1:
            raise ConfigError(f"real-time scoring takes tasks over one and the same feature view; {multi or sorted(first)} "
                              "differ", "score multi-view tasks in batch (sensorlake score), or list fewer tasks")
        self.scored_tasks = list(tasks)
        self.watchers = {n: ChampionWatcher(cfg, t.registered_model, refresh) for n, t in self.tasks.items()}
        self.view_columns = list(view_columns)
        self.policy = AlertPolicy.from_config(cfg)

    def new_history(self):
        from training.online import EquipmentHistory

        task = next(iter(self.tasks.values()))
        return EquipmentHistory(self.view_columns, task.rolling, task.baseline)

    def score(self, equipment_id: str, window_end: datetime, inputs: dict, book: AlertBook,
              criticality: str | None) -> tuple[list[dict], list[dict]]:
        """gold.predictions rows of this window (one per task with a champion) and the gold.alerts rows it changed."""
        # one float block (a frame from a list of dicts converts column by column: ~10x slower)
        frame = pd.DataFrame(np.array([list(inputs.values())], dtype="float64"), columns=list(inputs))
        frame["equipment_id"] = equipment_id
        predictions, failure = [], None
        for name in self.scored_tasks:
            champion = self.watchers[name].current()
            if champion is None or not _has_inputs(champion, frame):
                continue
            model = champion.model
            if model.kind not in OUTPUT_COLUMN:
                continue
            value = float(np.asarray(model.predict_frame(frame))[0])
            row = {"equipment_id": equipment_id, "window_end": window_end, "model_name": champion.name,
                   "model_version": champion.version, "task": name, "failure_probability": None,
                   "predicted_rul": None, "anomaly_score": None, "top_features": reasons(model, frame)}
            row[OUTPUT_COLUMN[model.kind]] = value
            predictions.append(row)
            if name == self.alert_task and model.kind == "binary":
                failure = (champion, value, row["top_features"])
        alerts = []
        if failure is not None:
            champion, probability, why = failure
            threshold = champion.model.threshold if champion.model.threshold is not None else 0.5
            alerts = book.observe(window_end, probability, threshold, self._mode(frame), why, criticality,
                                  (champion.name, champion.version), equipment_id)
        return predictions, alerts

    def _mode(self, frame: pd.DataFrame) -> str | None:
        watcher = self.watchers.get(self.mode_task) if self.mode_task else None
        champion = watcher.current() if watcher else None
        if champion is None or champion.model.kind != "multiclass" or not _has_inputs(champion, frame):
            return None
        probabilities = champion.model.predict_frame(frame)
        return str(probabilities.iloc[0].idxmax())


def _has_inputs(champion: Champion, frame: pd.DataFrame) -> bool:
    missing = [c for c in champion.model.feature_columns if c not in frame.columns]
    if missing:
        log.error("%s v%s needs %d input(s) the stream does not compute (%s); retrain it on the current view",
                  champion.name, champion.version, len(missing), missing[:3])
    return not missing


def reasons(model, frame: pd.DataFrame) -> str | None:
    """The row's top-3 SHAP contributions as the batch scorer writes them (None for the anomaly baseline)."""
    if model.booster is None:
        return None
    X = frame[model.feature_columns].astype("float64").to_numpy()
    contributions = model.booster.predict(X, pred_contrib=True)[:, :len(model.feature_columns)]
    return top_contributions(contributions, model.feature_columns)[0]


__all__ = ["ChampionWatcher", "JOB_NAME", "WindowScorer", "quick_failing_mlflow_requests", "reasons"]
