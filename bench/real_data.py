"""Real data: AI4I 2020 and the NAB machine temperature through the ordinary pipeline, on a private lake.

Ingest (conf/mappings/), backfill the views of feature_defs/public_datasets/, validate bronze and
silver (Great Expectations), train the tasks of conf/public_datasets/sensorlake.yaml and track them
in MLflow (a SQLite store in the temporary folder, no server):

- AI4I (``ai4i_failure``): is this process step a failure? Binary F1 at the validation-chosen
  threshold and PR-AUC on the test rows, once with the configured time split (test = the last 30%
  of the steps) and once with a random stratified split (the usual split of published AI4I
  results). The failure-mode flag columns are never features: they only name the events' mode.
- NAB (``nab_anomaly``): the robust-z anomaly score of every window (baseline fitted on the first
  days, before the first labelled window), alerting at its threshold; for each of the four labelled
  windows: flagged or not, and when first, relative to the window's start and end; and the alerts
  (runs of positive windows, throttled as :func:`training.alerts.alert_starts`) outside every window.

    python -m bench real_data
    BENCH real_data_ai4i split=time rows_test=... f1=... pr_auc=... ...
    BENCH real_data_nab windows_flagged=.../4 false_alerts=... ...

Example::

    from bench import real_data
    results = real_data.run_pipeline(spark, real_data.public_datasets_config(cfg, tmp), data_dir)
    print("\\n".join(results.lines()))
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import yaml

from sensorlake.config import Config, deep_merge

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
PUBLIC_CONFIG = REPO_ROOT / "conf" / "public_datasets" / "sensorlake.yaml"
AI4I_FILE = "ai4i2020/ai4i2020.csv"
NAB_FILE = "nab_machine_temperature/machine_temperature_system_failure.csv"
NAB_WINDOWS = "nab_machine_temperature/anomaly_windows.json"
AI4I_SPAN = ("2020-01-01T00:00:00Z", "2020-01-08T00:00:00Z")     # 10,000 one-minute steps from 2020-01-01
NAB_SPAN = ("2013-12-01T00:00:00Z", "2014-02-21T00:00:00Z")      # 2013-12-02 to 2014-02-19
AI4I_TASK, NAB_TASK = "ai4i_failure", "nab_anomaly"


def public_datasets_config(cfg: Config, root: Path, tracking_uri: str | None = None) -> Config:
    """``cfg`` with conf/public_datasets/sensorlake.yaml merged in and a lake of its own under ``root``.

    ``tracking_uri``: the MLflow store to use (default: ``cfg``'s, e.g. a test session's server).
    """
    data = copy.deepcopy(cfg.data)
    deep_merge(data, yaml.safe_load(PUBLIC_CONFIG.read_text()))
    data["features"]["definitions_dir"] = str(REPO_ROOT / data["features"]["definitions_dir"])
    data["equipment_types_file"] = str(REPO_ROOT / data["equipment_types_file"])
    data["lake"]["root"] = str(root / "lake")
    data["runtime"]["dir"] = str(root / "runtime")
    if tracking_uri:
        data["mlflow"]["tracking_uri"] = tracking_uri
    return Config(data=data, base_dir=cfg.base_dir)


@dataclass
class NabWindow:
    """One labelled NAB window and what the anomaly score did in it."""

    start: pd.Timestamp
    end: pd.Timestamp
    first_alert: pd.Timestamp | None = None

    @property
    def flagged(self) -> bool:
        return self.first_alert is not None

    def describe(self) -> str:
        span = f"{self.start:%Y-%m-%d %H:%M}..{self.end:%m-%d %H:%M}"
        if not self.flagged:
            return f"{span} not flagged"
        after = (self.first_alert - self.start).total_seconds() / 3600
        before = (self.end - self.first_alert).total_seconds() / 3600
        return f"{span} flagged {after:.1f} h after its start, {before:.1f} h before its end"


@dataclass
class RealDataResults:
    """The figures of one run (see module doc)."""

    ai4i: dict = field(default_factory=dict)            # split method -> metrics
    nab_windows: list[NabWindow] = field(default_factory=list)
    nab: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = []
        for method, m in self.ai4i.items():
            out.append(f"AI4I {method} split: F1 {m['f1']:.3f}, PR-AUC {m['pr_auc']:.3f}, ROC-AUC {m['roc_auc']:.3f}, "
                       f"precision {m['precision']:.3f}, recall {m['recall']:.3f} on {m['rows_test']} test rows "
                       f"({m['test_failures']} failures; threshold {m['threshold']:.3f} chosen on validation rows)")
        n = self.nab
        if n:
            out.append(f"NAB: {n['windows_flagged']}/4 labelled windows flagged, {n['false_alerts']} alerts outside them "
                       f"(threshold {n['threshold']:.4f}, throttle {n['throttle']}, scored {n['scored_from']} .. {n['scored_to']}; "
                       f"baseline fitted before {n['fit_until']})")
            out += [f"  window {i + 1}: {w.describe()}" for i, w in enumerate(self.nab_windows)]
        if self.seconds:
            out.append("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in self.seconds.items()))
        return out


def _ingest(spark, cfg: Config, data_dir: Path) -> dict:
    from sensorlake.ingest import ingest_path, load_mapping

    reports = {}
    for name, file in (("ai4i2020", AI4I_FILE), ("nab_machine_temperature", NAB_FILE)):
        mapping = load_mapping(REPO_ROOT / "conf" / "mappings" / f"{name}.yaml")
        reports[name] = ingest_path(spark, cfg, data_dir / file, mapping=mapping)
    return reports


def _backfill_and_validate(spark, cfg: Config) -> None:
    from expectations.runner import validate_table
    from feature_defs import load_registry
    from sensorlake.backfill import backfill_features

    registry = load_registry(cfg)
    backfill_features(spark, cfg, registry["ai4i_1m"], *AI4I_SPAN)
    backfill_features(spark, cfg, registry["nab_temperature_1h"], *NAB_SPAN)
    for table in ("bronze.readings", "bronze.events", "silver.features_ai4i_1m", "silver.features_nab_temperature_1h"):
        validate_table(spark, cfg, table, data_docs=False)      # raises GateFailed on a critical failure


def _ai4i_metrics(report) -> dict:
    m = dict(report.metrics)
    m["rows_test"] = report.split["rows_test"]
    m["test_failures"] = int(round(m.get("positive_rate", 0.0) * m["rows_test"]))
    return m


def train_ai4i(spark, cfg: Config, random_split: bool = True) -> dict:
    """Train ``ai4i_failure`` (time split), and on the same training set with a random stratified split."""
    from training import train_task
    from training.config import task_config

    task = task_config(cfg, AI4I_TASK)
    report = train_task(spark, cfg, task, run_name=f"{AI4I_TASK}-time")
    out = {"time": _ai4i_metrics(report)}
    if random_split:
        shuffled = replace(task, split={**task.split, "method": "random", "test_fraction": 0.2})
        again = train_task(spark, cfg, shuffled, register=False, run_name=f"{AI4I_TASK}-random",
                           training_set=report.training_set)
        out["random"] = _ai4i_metrics(again)
    return out


def nab_windows(data_dir: Path) -> list[NabWindow]:
    labelled = json.loads((data_dir / NAB_WINDOWS).read_text())["machine_temperature_system_failure.csv"]
    return [NabWindow(pd.Timestamp(a, tz="UTC"), pd.Timestamp(b, tz="UTC")) for a, b in labelled]


def evaluate_nab(frame: pd.DataFrame, scores, threshold: float, windows: list[NabWindow], throttle) -> dict:
    """Flag each labelled window at its first positive row inside it; count alert starts outside every window.

    ``frame``: the scored rows (equipment_id, window_end), in time order, all after the baseline's fit.
    """
    import numpy as np

    from training.alerts import alert_starts

    positive = np.asarray(scores, float) >= threshold
    ends = frame["window_end"]
    inside_any = np.zeros(len(frame), dtype=bool)
    for w in windows:
        inside = ((ends >= w.start) & (ends <= w.end)).to_numpy()
        inside_any |= inside
        hits = ends[inside & positive]
        w.first_alert = hits.min() if len(hits) else None
    starts = alert_starts(frame, positive, throttle)
    return {"windows_flagged": sum(w.flagged for w in windows), "false_alerts": int((starts & ~inside_any).sum()),
            "alerts": int(starts.sum()), "positive_rows": int(positive.sum()), "threshold": float(threshold),
            "throttle": str(throttle), "scored_from": f"{ends.min():%Y-%m-%d %H:%M}", "scored_to": f"{ends.max():%Y-%m-%d %H:%M}"}


def train_nab(spark, cfg: Config, data_dir: Path) -> tuple[dict, list[NabWindow]]:
    """Train ``nab_anomaly``, score every window after the training period with the logged model, evaluate."""
    import mlflow

    from training import train_task
    from training.config import task_config

    task = task_config(cfg, NAB_TASK)
    report = train_task(spark, cfg, task, register=False, run_name=NAB_TASK)
    frame = report.training_set.frame
    model = mlflow.pyfunc.load_model(f"runs:/{report.run_id}/model")
    threshold = float(model.metadata.metadata["threshold"])
    cutoff = pd.Timestamp(report.split["cutoff"])
    scored = frame[frame["window_end"] > cutoff].reset_index(drop=True)
    names = model.metadata.get_input_schema().input_names()
    scores = model.predict(scored[names])
    windows = nab_windows(data_dir)
    result = evaluate_nab(scored, scores, threshold, windows, task.alert_throttle)
    result["fit_until"] = f"{cutoff:%Y-%m-%d %H:%M}"
    return result, windows


def run_pipeline(spark, cfg: Config, data_dir: Path = DATA_DIR, random_split: bool = True) -> RealDataResults:
    """Ingest, backfill, validate and train both datasets on ``cfg``'s lake; return the figures."""
    results = RealDataResults()
    t0 = time.monotonic()
    _ingest(spark, cfg, data_dir)
    results.seconds["ingest"] = time.monotonic() - t0
    t1 = time.monotonic()
    _backfill_and_validate(spark, cfg)
    results.seconds["backfill_validate"] = time.monotonic() - t1
    t2 = time.monotonic()
    results.ai4i = train_ai4i(spark, cfg, random_split)
    results.seconds["train_ai4i"] = time.monotonic() - t2
    t3 = time.monotonic()
    results.nab, results.nab_windows = train_nab(spark, cfg, data_dir)
    results.seconds["train_nab"] = time.monotonic() - t3
    results.seconds["total"] = time.monotonic() - t0
    return results


def run(cfg: Config, rows: int | None = None, keep: bool = False) -> RealDataResults:
    """The benchmark entry (``python -m bench real_data``): a temporary lake and SQLite MLflow store."""
    import mlflow

    from bench import emit
    from sensorlake.lake.spark import build_spark_session

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if not DATA_DIR.is_dir():
        raise SystemExit(f"real datasets folder {DATA_DIR} is absent")
    root = Path(tempfile.mkdtemp(prefix="bench-real-data-"))
    rcfg = public_datasets_config(cfg, root, tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    rcfg.data["lake"]["metastore_dir"] = str(root / "metastore")
    mlflow.set_tracking_uri(rcfg.mlflow_tracking_uri)
    for task in (AI4I_TASK, NAB_TASK):       # experiments with their artifacts in the same folder
        mlflow.create_experiment(f"sensorlake-{task}", artifact_location=(root / "artifacts" / task).as_uri())
    spark = build_spark_session(rcfg, app_name="bench-real-data")
    try:
        results = run_pipeline(spark, rcfg)
    finally:
        spark.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    for line in results.lines():
        print(line, flush=True)
    for method, m in results.ai4i.items():
        emit("real_data_ai4i", split=method, rows_test=m["rows_test"], failures_test=m["test_failures"],
             f1=m["f1"], pr_auc=m["pr_auc"], roc_auc=m["roc_auc"], precision=m["precision"], recall=m["recall"])
    n = results.nab
    emit("real_data_nab", windows_flagged=f"{n['windows_flagged']}/4", false_alerts=n["false_alerts"], alerts=n["alerts"],
         threshold=n["threshold"], **{f"window{i + 1}_lead_h": round((w.end - w.first_alert).total_seconds() / 3600, 1)
                                      for i, w in enumerate(results.nab_windows) if w.flagged},
         seconds=round(results.seconds["total"], 1))
    return results
