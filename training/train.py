"""Train one task end to end and track it in MLflow: the library behind ``sensorlake train``.

Steps: pin and gate the tables, build the point-in-time training set, split it (time / equipment,
purged), fit (LightGBM, or the anomaly baseline), choose the threshold on the validation rows
(expected cost within the alert budget), evaluate on the test rows, then log to the task's
experiment: parameters, pinned Delta versions as dataset inputs, metrics, plots, and the pyfunc
model (signature, input example) registered as ``challenger`` and promoted to ``champion`` only
if it beats the current champion on the same test rows.

Example::

    report = train_task(spark, cfg, "failure")
    print(report.summary())
"""
from __future__ import annotations

import fnmatch
import logging
import time
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from sensorlake.config import Config
from sensorlake.errors import InputError

from training import plots
from training.alerts import choose_threshold
from training.config import TaskConfig, task_config
from training.dataset import TrainingSet, build_training_set
from training.metrics import binary_metrics, multiclass_metrics, ranking_metrics, regression_metrics
from training.pyfunc import PredictiveMaintenanceModel, input_columns
from training.split import Split, split_rows
from training.sources import log_pinned_inputs

log = logging.getLogger(__name__)


@dataclass
class TrainingReport:
    """What one training run produced (figures on the test rows)."""

    task: str
    run_id: str
    experiment: str
    model_name: str | None
    model_version: str | None
    promoted: bool | None
    promotion_reason: str | None
    metrics: dict
    split: dict
    pins: dict
    seconds: dict = field(default_factory=dict)
    training_set: TrainingSet | None = field(default=None, repr=False)

    def summary(self) -> str:
        keys = ("pr_auc", "roc_auc", "f1", "precision_at_budget", "median_lead_time_h", "failure_recall",
                "rmse", "mae", "phm08_score_mean", "macro_f1", "accuracy", "threshold")
        shown = ", ".join(f"{k} {self.metrics[k]:.3f}" for k in keys if k in self.metrics)
        pins = ", ".join(f"{t}@v{v}" for t, v in self.pins.items())
        text = (f"trained task {self.task} (run {self.run_id}, experiment {self.experiment}) on {pins}; "
                f"rows train/valid/test {self.split['rows_train']}/{self.split['rows_valid']}/{self.split['rows_test']}; "
                f"test: {shown}")
        if self.model_version:
            text += f"; registered {self.model_name} v{self.model_version}: {self.promotion_reason}"
        return text


def task_rows(task: TaskConfig, frame: pd.DataFrame) -> np.ndarray:
    """Rows with a known label for the task (the anomaly task fits on every row, evaluates on labelled ones)."""
    if task.kind == "regression":
        return frame["rul"].notna().to_numpy()
    if task.kind == "multiclass":
        return ((frame["fails_within"] == 1) & frame["failure_mode"].notna()).to_numpy()
    return frame["fails_within"].notna().to_numpy()


def metric_value(task: TaskConfig, frame: pd.DataFrame, output, threshold: float | None = None) -> float:
    """The task's promotion metric of a model output on ``frame`` (same function for challenger and champion)."""
    if task.kind in ("binary", "anomaly"):
        labels = frame["fails_within"].to_numpy().astype(int)
        if task.metric == "f1":
            from sklearn.metrics import f1_score

            return float(f1_score(labels, np.asarray(output) >= (threshold if threshold is not None else 0.5)))
        return ranking_metrics(labels, np.asarray(output, float)).get(task.metric, float("nan"))
    if task.kind == "regression":
        return regression_metrics(frame["rul"], output, task.phm08_unit.total_seconds() / 3600)[task.metric]
    return multiclass_metrics(frame["failure_mode"], output)[task.metric]


def _fit(task: TaskConfig, ts: TrainingSet, parts: Split):
    """Fit the task's model; return (pyfunc model, test metrics, figures, test-row mask)."""
    from training.anomaly import fit_anomaly
    from training.models import fit_lightgbm

    frame, features = ts.frame, ts.feature_columns
    known = task_rows(task, frame)
    train, valid, test = parts.train & known, parts.valid & known, parts.test & known
    for name, mask in (("training", train), ("validation", valid), ("test", test)):
        if not mask.any():
            raise InputError(f"task {task.name}: no {name} rows with a known {task.label}",
                             "train on a longer history (more failures) or change training.split")
    X = frame[features]
    figures, throttle, fleet = {}, task.alert_throttle, ts.fleet_size
    if task.kind == "anomaly":
        group = task.anomaly.get("group_by")
        patterns = task.anomaly.get("exclude") or []
        cols = [c for c in features if not any(fnmatch.fnmatch(c, p) for p in patterns)]
        scorer = fit_anomaly(X.loc[parts.train, cols], frame.loc[parts.train, "equipment_id"] if group else None,
                             task.anomaly["method"], group, task.anomaly["clip"], int(task.split.get("seed", 42)))
        model = PredictiveMaintenanceModel("anomaly", cols, anomaly=scorer, group_column=group)
    else:
        fitted = fit_lightgbm(task, X[train], frame.loc[train, task.label], X[valid], frame.loc[valid, task.label])
        model = PredictiveMaintenanceModel(task.kind, features, booster=fitted.booster, classes=fitted.classes)
        importance = fitted.importance()
        figures["plots/feature_importance.png"] = plots.feature_importance(importance)
    metrics: dict = {}
    test_frame = frame[test]
    out = model.predict_frame(test_frame)
    if task.kind in ("binary", "anomaly"):
        valid_scores = model.predict_frame(frame[valid])
        choice = choose_threshold(frame[valid], valid_scores, frame.loc[valid, "fails_within"], task.costs,
                                  task.alert_budget_per_day, throttle, fleet)
        model.threshold = choice.by_budget if task.threshold_rule == "budget" else choice.threshold
        metrics.update(choice.as_metrics())
        metrics["threshold"] = model.threshold
        metrics.update(binary_metrics(test_frame, out, model.threshold, choice.by_budget, throttle, fleet))
        labels = test_frame["fails_within"].to_numpy().astype(int)
        if labels.min() != labels.max():
            figures["plots/pr_curve.png"] = plots.pr_curve(labels, out, model.threshold)
            if task.kind == "binary":
                figures["plots/calibration.png"] = plots.calibration(labels, out)
    elif task.kind == "regression":
        metrics.update(regression_metrics(test_frame["rul"], out, task.phm08_unit.total_seconds() / 3600))
        metrics["censored_share_train"] = float(frame.loc[train, "censored"].mean())
        figures["plots/rul_predicted_vs_true.png"] = plots.rul_predicted_vs_true(
            test_frame["rul"], out, task.rul_cap.total_seconds() / 3600)
    else:
        metrics.update(multiclass_metrics(test_frame["failure_mode"], out))
        predicted = np.asarray(out.columns)[np.argmax(out.to_numpy(), axis=1)]
        truth = test_frame["failure_mode"].astype(str)
        classes = list(out.columns) + sorted(set(truth) - set(out.columns))  # modes never seen in training too
        figures["plots/confusion.png"] = plots.confusion(truth, predicted, classes)
    if task.kind != "anomaly":
        metrics["best_iteration"] = fitted.best_iteration
    if task.metric not in metrics:
        metrics[task.metric] = metric_value(task, test_frame, out, model.threshold)
    return model, metrics, figures, test


def _log_model(task: TaskConfig, model: PredictiveMaintenanceModel, frame: pd.DataFrame, register: bool):
    import importlib.metadata as md

    import mlflow
    from mlflow.models import infer_signature

    inputs = frame[input_columns(model)]
    example = inputs.head(5)
    signature = infer_signature(example, model.predict_frame(example))
    requirements = [f"{p}=={md.version(p)}" for p in ("mlflow", "lightgbm", "pandas", "numpy", "scikit-learn")]
    metadata = {"task": task.name, "kind": task.kind, "label": task.label,
                "threshold": model.threshold, "classes": model.classes, "horizon": str(task.horizon)}
    return mlflow.pyfunc.log_model(
        name="model", python_model=model, signature=signature, input_example=example,
        pip_requirements=requirements + ["sensorlake"], metadata=metadata,
        registered_model_name=task.registered_model if register else None)


def _champion_metric(task: TaskConfig, frame: pd.DataFrame):
    def evaluate(model_uri: str) -> float:
        import mlflow

        champion = mlflow.pyfunc.load_model(model_uri)
        names = champion.metadata.get_input_schema().input_names()
        threshold = (champion.metadata.metadata or {}).get("threshold")
        return metric_value(task, frame, champion.predict(frame[names]), threshold)
    return evaluate


def data_key(task: TaskConfig) -> tuple:
    """What decides a task's training set: tasks with equal keys can share one (``training_set=``)."""
    return (task.views, task.events_table, task.horizon, task.rul_cap, task.rolling, task.baseline,
            task.max_unvalidated_versions, task.label_window, task.down_after_failure)


def train_task(spark, cfg: Config, task: str | TaskConfig, versions: Mapping[str, int] | None = None,
               register: bool = True, gate: bool = True, run_name: str | None = None,
               training_set: TrainingSet | None = None) -> TrainingReport:
    """Train ``task`` (a name in ``training.tasks`` or a TaskConfig) and log it to MLflow; see module doc.

    ``versions``: Delta versions to read (table -> version), to reproduce a run; default: current.
    ``register``: register the model and apply the champion/challenger rule.
    ``training_set``: one already built for a task with the same :func:`data_key` (it is not rebuilt).
    The report's ``training_set`` attribute holds the set used.
    """
    import mlflow
    from mlflow import MlflowClient

    from training.registry import promote_if_better

    from sensorlake.services.mlflow_server import clear_error_if_lost, require_reachable

    task = task_config(cfg, task) if isinstance(task, str) else task
    require_reachable(cfg)   # before the training set is built: nothing is logged or registered
    seconds = {}
    started = time.monotonic()
    ts = training_set or build_training_set(spark, cfg, task, versions, gate=gate)
    ts.frame[ts.feature_columns] = ts.frame[ts.feature_columns].astype("float64")
    seconds["training_set"] = time.monotonic() - started
    parts = split_rows(ts.frame, task.split, task.purge)

    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    # A server lost mid-run: a clear error saying what it holds (the run, a version?), not urllib3's retries.
    with clear_error_if_lost(cfg, f"training task {task.name}") as notes:
        experiment = mlflow.set_experiment(task.experiment)
        with mlflow.start_run(run_name=run_name or f"{task.name}") as run:
            notes.append(f"run {run.info.run_id} of experiment {task.experiment} stays RUNNING; nothing was registered")
            mlflow.log_params(task.params())
            log_pinned_inputs(ts.pins.values())
            mlflow.log_params({f"split.{k}": v for k, v in parts.describe().items() if not k.startswith("rows")})
            mlflow.log_metrics({k: float(v) for k, v in parts.describe().items() if k.startswith("rows")})
            mlflow.log_metrics({"features": len(ts.feature_columns), "equipment": ts.fleet_size})
            t0 = time.monotonic()
            model, metrics, figures, test = _fit(task, ts, parts)
            seconds["fit_and_evaluate"] = time.monotonic() - t0
            keep = list(dict.fromkeys(["equipment_id", "window_end", task.label] + input_columns(model)))
            for context, mask in (("training", parts.train), ("evaluation", test)):
                data = ts.frame.loc[mask & task_rows(task, ts.frame), keep]
                mlflow.log_input(mlflow.data.from_pandas(data, name=f"{task.name}-{context}", targets=task.label), context=context)
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and np.isfinite(v)})
            mlflow.log_metrics({f"seconds_{k}": v for k, v in seconds.items()})
            for path, fig in figures.items():
                mlflow.log_figure(fig, path)
                plots.close(fig)
            info = _log_model(task, model, ts.frame[test], register)
            decision = None
            if register:
                notes[-1] = (f"run {run.info.run_id} stays RUNNING; {task.registered_model} v{info.registered_model_version} "
                             "was registered, its promotion may be incomplete (check its aliases)")
                client = MlflowClient(cfg.mlflow_tracking_uri)
                decision = promote_if_better(client, task.registered_model, task.metric, task.higher_is_better,
                                             task.min_improvement, str(info.registered_model_version),
                                             float(metrics[task.metric]), _champion_metric(task, ts.frame[test]))
            seconds["total"] = time.monotonic() - started
            mlflow.log_metric("seconds_total", seconds["total"])
            report = TrainingReport(
                task=task.name, run_id=run.info.run_id, experiment=experiment.name,
                model_name=task.registered_model if register else None,
                model_version=str(info.registered_model_version) if register else None,
                promoted=decision.promoted if decision else None, promotion_reason=decision.reason if decision else None,
                metrics=metrics, split=parts.describe(), pins={t: p.version for t, p in ts.pins.items()}, seconds=seconds)
    report.training_set = ts
    log.info(report.summary())
    return report
