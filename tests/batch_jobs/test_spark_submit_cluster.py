"""The four batch jobs under `spark-submit --master spark://...` on the standalone cluster, the code shipped as a zip.

Ingest, backfill, validate and score run one after another as a user types them: the job file by
its absolute path, from a folder outside the repository, no PYTHONPATH, the project's packages
only in the archive given to ``--py-files`` (sensorlake.lake.submit). Their lake and Derby
metastore are private (the in-process session holds the session's metastore); the fleet lives in
November 2025. Scoring uses the champion the training fixtures train in-process
(tests/plugins/trained_fleet.py: ``icfg``, ``first``) on the session's MLflow server. Ingest,
backfill and score skip their own quality gate (``--no-validate``): the validate job is the gate
here, and each GX pass costs a minute or more on the cluster of a loaded 2-core machine.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sensorlake.services import spark_cluster as cluster
from tests.conftest import REPO_ROOT
from tests.plugins.trained_fleet import TRAINING

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.slow]

START, END = "2025-11-01T00:00:00Z", "2025-11-01T03:00:00Z"      # 3 h of one machine per type
SCORE_START = "2025-11-01T02:00:00Z"                               # score the last hour's windows
VIEW = "machine_1m"
EXPECTED_APPS = ("sensorlake-ingest", f"sensorlake-backfill-{VIEW}", "sensorlake-validate", "sensorlake-score-failure")


@dataclass
class Submitted:
    job: str
    result: subprocess.CompletedProcess
    seconds: float


@dataclass
class ClusterRun:
    cfg: object            # the jobs' configuration (private lake and metastore)
    manifest: dict         # the simulated history's manifest
    jobs: dict             # job file stem -> Submitted
    archive: Path
    tmpdir: Path           # the jobs' TMPDIR


def _job_config(cfg, root: Path) -> Path:
    """A YAML configuration for the jobs: a lake and metastore of their own, the session's MLflow, quick training."""
    settings = {
        "lake": {"root": str(root / "lake"), "metastore_dir": str(root / "metastore")},
        "runtime": {"dir": str(root / "runtime"), "jars_dir": str(cfg.jars_dir)},
        "spark": {"shuffle_partitions": 4},
        "mlflow": {"port": cfg.get("mlflow.port")},
        "training": TRAINING,
    }
    path = root / "sensorlake.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def _environment(tmpdir: Path) -> dict:
    """The caller's environment without PYTHONPATH or sensorlake settings, plus the venv's Python."""
    from sensorlake.lake.submit import submit_environment

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("SENSORLAKE")}
    env.update(GX_ANALYTICS_ENABLED="false", MLFLOW_DISABLE_TELEMETRY="true", TMPDIR=str(tmpdir))
    return submit_environment(env)


@pytest.fixture(scope="module")
def cluster_run(spark_cluster, icfg, first, tmp_path_factory) -> ClusterRun:
    """Simulate a history, then spark-submit ingest, backfill, validate and score to the standalone master."""
    from sensorlake.config import load_config
    from sensorlake.equipment import load_equipment_types
    from sensorlake.lake.submit import build_code_archive, spark_submit_command
    from sensorlake.simulator.fleet import Fleet, FleetSettings
    from sensorlake.simulator.history import write_history

    root = tmp_path_factory.mktemp("spark-submit")
    config_file = _job_config(spark_cluster, root)
    jcfg = load_config(str(config_file), environ={}, base_dir=root)
    settings = FleetSettings.from_config(jcfg, seed=1101, equipment_per_type=1, days=0.125, start=START, rate_scale=0.25)
    manifest = write_history(Fleet(load_equipment_types(jcfg.equipment_types_file), settings), root / "history")
    archive = build_code_archive(root / "dist" / "sensorlake.zip")
    workdir, tmpdir = root / "elsewhere", root / "tmp"      # neither holds the project's code
    workdir.mkdir()
    tmpdir.mkdir()
    env, master = _environment(tmpdir), cluster.master_url(spark_cluster)

    jobs = {}
    for job, args in (
        ("ingest_history", [str(root / "history"), "--no-validate"]),
        ("backfill_features", ["--view", VIEW, "--start", START, "--end", END, "--no-validate"]),
        ("validate_table", ["--table", f"silver.features_{VIEW}", "--no-docs"]),
        ("score", ["--task", "failure", "--start", SCORE_START, "--end", END, "--no-validate"]),
    ):
        argv = spark_submit_command(jcfg, REPO_ROOT / "batch_jobs" / f"{job}.py", [*args, "--config", str(config_file)],
                                    archive=archive, master=master)
        began = time.monotonic()
        result = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
        jobs[job] = Submitted(job, result, time.monotonic() - began)
        assert result.returncode == 0, f"{job} exited {result.returncode}:\n{result.stdout}\n{result.stderr[-6000:]}"
    print("spark-submit seconds: " + ", ".join(f"{j.job} {j.seconds:.0f}" for j in jobs.values()))
    return ClusterRun(jcfg, manifest, jobs, archive, tmpdir)


def _table(run: ClusterRun, name: str):
    """A table of the jobs' lake as pandas, read with delta-rs (no JVM)."""
    from deltalake import DeltaTable

    return DeltaTable(str(run.cfg.table_path(name))).to_pandas()


def test_each_job_ran_as_an_application_of_the_standalone_master(spark_cluster, cluster_run):
    apps = {a["name"]: a for a in cluster.master_state(spark_cluster)["completedapps"]}
    for name in EXPECTED_APPS:
        assert name in apps, f"{name} is not among the master's completed applications: {sorted(apps)}"
        assert apps[name]["state"] == "FINISHED"


def test_the_code_archive_reached_each_executor_on_the_worker_and_the_driver_imported_from_it(spark_cluster, cluster_run):
    apps = {a["name"]: a["id"] for a in cluster.master_state(spark_cluster)["completedapps"]}
    work = spark_cluster.runtime_dir / "spark" / "work"
    for name in EXPECTED_APPS:
        shipped = list((work / apps[name]).glob("*/sensorlake.zip"))
        assert shipped, f"no executor of {name} ({apps[name]}) under {work} fetched the archive"
        assert shipped[0].read_bytes() == cluster_run.archive.read_bytes()
    # the drivers read the package data (config defaults, feature views) out of the zip they imported it from
    extracted = list(cluster_run.tmpdir.glob("sensorlake-code-*/sensorlake/config/defaults.yaml"))
    assert len(extracted) == 1


def test_ingest_wrote_every_simulated_reading_once_into_bronze(cluster_run):
    readings = _table(cluster_run, "bronze.readings")
    assert "ingested" in cluster_run.jobs["ingest_history"].result.stdout
    assert len(readings) == cluster_run.manifest["counts"]["valid_unique_readings"] > 0
    assert not readings.duplicated(["site_id", "equipment_id", "sensor", "event_time"]).any()
    assert set(readings["equipment_id"]) == set(cluster_run.manifest["fleet"]["per_equipment"])
    assert set(readings["job_name"]) == {"ingest"}


def test_backfill_wrote_one_row_per_equipment_and_minute_holding_readings_in_the_range(cluster_run):
    import pandas as pd

    from feature_defs import load_registry

    silver = _table(cluster_run, f"silver.features_{VIEW}")
    readings = _table(cluster_run, "bronze.readings")
    ends = readings["event_time"].dt.floor("1min") + pd.Timedelta("1min")     # machine_1m: tumbling 1-minute windows
    in_range = readings[(ends > pd.Timestamp(START)) & (ends <= pd.Timestamp(END))].assign(window_end=ends)
    expected = set(in_range[["equipment_id", "window_end"]].itertuples(index=False, name=None))
    assert set(silver[["equipment_id", "window_end"]].itertuples(index=False, name=None)) == expected
    assert len(silver) == len(expected) > 100
    assert not silver.duplicated(["equipment_id", "window_start", "window_end"]).any()
    assert set(silver["equipment_id"]) == set(cluster_run.manifest["fleet"]["per_equipment"])
    assert set(silver["feature_set_version"]) == {load_registry(cluster_run.cfg)[VIEW].feature_set_version}


def test_validate_recorded_a_passing_run_of_the_silver_suite(cluster_run):
    from sensorlake.lake.delta_log import table_version

    out = cluster_run.jobs["validate_table"].result.stdout
    assert f"validated silver.features_{VIEW}" in out and "0 critical failed" in out
    results = _table(cluster_run, "quality.results")
    silver = results[results["table_name"] == f"silver.features_{VIEW}"]
    assert len(silver) > 0 and silver["run_id"].nunique() == 1
    assert silver[silver["severity"] == "critical"]["success"].all()
    assert set(silver["table_version"]) == {table_version(cluster_run.cfg, f"silver.features_{VIEW}")}


def test_score_wrote_the_champions_predictions_for_each_window_of_the_range(cluster_run, first):
    import pandas as pd

    predictions = _table(cluster_run, "gold.predictions")
    silver = _table(cluster_run, f"silver.features_{VIEW}")
    in_range = silver[(silver["window_end"] > pd.Timestamp(SCORE_START)) & (silver["window_end"] <= pd.Timestamp(END))]
    assert len(predictions) == len(in_range) > 0
    assert not predictions.duplicated(["equipment_id", "window_end", "model_name", "model_version"]).any()
    assert set(predictions["model_name"]) == {"trn-it-failure"}
    assert set(predictions["model_version"]) == {first.model_version}
    assert predictions["failure_probability"].between(0, 1).all()
    assert predictions["top_features"].notna().all()
