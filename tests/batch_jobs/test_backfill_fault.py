"""Fault: the Spark backfill job killed (SIGKILL to its whole process group) in the middle of its MERGE, then rerun.

The job runs as a scheduler starts it, ``batch_jobs/backfill_features.py`` in a process group of its
own, on the session's lake (``settings(cfg)``) with a Derby metastore of its own (the in-process
session holds the session's) and a definitions folder holding one view, ``bf_kill_1m`` (machine_1m
renamed, three aggregations: quick to compute), so the silver table belongs to this module. The
history: 24 h of two machines per type from 2026-03-01, sampled sparsely (many windows, few
readings); the job's MERGE writes with 16 shuffle partitions, so its data files appear over a few
seconds. The kill is sent as soon as the
first of them shows under the table (a parquet file the Delta log does not list): the job has
computed and compared every window and has not committed.
"""
from __future__ import annotations

import math
import sys

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

from batch_jobs import backfill_features as job
from sensorlake.backfill import backfill_features
from sensorlake.lake.tables import FEATURE_KEY, LINEAGE, silver_spec
from tests.batch_jobs.conftest import renamed, settings, simulate_and_ingest
from tests.conftest import REPO_ROOT
from tests.job_process import JobProcess

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]

START, CUT, END = "2026-03-01T00:00:00Z", "2026-03-01T03:00:00Z", "2026-03-02T00:00:00Z"
VIEW, CLEAN = "bf_kill_1m", "bf_kill_clean_1m"
KEY = ", ".join(FEATURE_KEY)


def data_files(path) -> set[str]:
    """Every parquet data file in a Delta table's folder, committed or not (relative paths, as the log lists them)."""
    return {str(p.relative_to(path)) for p in path.rglob("*.parquet") if "_delta_log" not in p.relative_to(path).parts}


def committed_files(path) -> set[str]:
    return set(DeltaTable(str(path)).get_add_actions(flatten=True).column("path").to_pylist())


def rows_at(spark, path, version: int | None = None) -> list[tuple]:
    """The table's rows (sorted by key) at ``version`` (None: the latest), NaN made comparable."""
    at = f" VERSION AS OF {version}" if version is not None else ""
    rows = spark.sql(f"SELECT * FROM delta.`{path}`{at} ORDER BY {KEY}").collect()
    return [tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row) for row in rows]


def feature_frame(spark, path, view) -> pd.DataFrame:
    """Key and values of every window (without lineage, which differs from run to run, and the view's name)."""
    skip = {c for c, _ in LINEAGE} | {"feature_view", "feature_set_version"}
    columns = [c for c in silver_spec(view).column_names if c not in skip]
    return spark.read.format("delta").load(str(path)).select(*columns).orderBy(*FEATURE_KEY).toPandas()


def test_a_backfill_killed_mid_merge_commits_nothing_and_a_rerun_equals_one_clean_run(spark, cfg, registry, tmp_path,
                                                                                       capsys):
    simulate_and_ingest(spark, cfg, tmp_path / "history", seed=3101, start=START, days=1.0,
                        equipment_per_type=2, rate_scale=0.01)
    narrow = {"aggregations": ["count", "mean", "max"], "cross_features": {}}     # cheap to compute: the MERGE is the point
    view, clean = renamed(registry["machine_1m"], VIEW, **narrow), renamed(registry["machine_1m"], CLEAN, **narrow)
    definitions = tmp_path / "views"
    definitions.mkdir()
    (definitions / f"{VIEW}.yaml").write_text(yaml.safe_dump(view.to_dict()))
    path = cfg.table_path(silver_spec(view).name)
    args = ["--view", VIEW, "--start", START, "--end", END, "--no-validate", *settings(cfg),
            "--set", f"features.definitions_dir={definitions}"]

    # Before the run: the windows of the first three hours.
    earlier = backfill_features(spark, cfg, view, START, CUT)
    assert earlier.inserted == earlier.windows_computed > 0
    before_version, before = DeltaTable(str(path)).version(), rows_at(spark, path)

    # The job over the whole day, killed when the MERGE's first data file appears.
    argv = [sys.executable, REPO_ROOT / "batch_jobs" / "backfill_features.py", *args,
            "--set", f"lake.metastore_dir={tmp_path / 'metastore'}", "--set", "spark.shuffle_partitions=16"]
    committed = committed_files(path)
    with JobProcess.start(argv, tmp_path / "killed.log") as killed:
        staged = killed.wait_for(lambda: data_files(path) - committed, "the MERGE writing a data file", timeout=600)
        killed.kill()
    assert DeltaTable(str(path)).version() == before_version, "the killed MERGE committed a version"
    orphans = data_files(path) - committed_files(path)
    assert orphans >= staged, "the MERGE's staged files stay on disk, listed by no commit"
    assert rows_at(spark, path) == before
    read_from = {r[0].rsplit("/", 1)[-1] for r in spark.read.format("delta").load(str(path))
                 .selectExpr("input_file_name()").distinct().collect()}
    assert read_from <= committed and not read_from & orphans, "a read sees only committed files"

    # The rerun (a new process, as a scheduler retries) completes the day in one commit.
    with JobProcess.start(argv, tmp_path / "rerun.log") as rerun:
        assert rerun.wait(timeout=900, what="the rerun") == 0, rerun.output(40)
    reference = backfill_features(spark, cfg, clean, START, END)      # one clean run into a table of its own
    total = reference.inserted
    assert total == reference.windows_computed > earlier.inserted
    assert (f"inserted {total - earlier.inserted:,}, updated 0, unchanged {earlier.inserted:,}; "
            f"table version {before_version} -> {before_version + 1}") in rerun.output()
    after = rows_at(spark, path)
    assert spark.sql(f"SELECT count(*), count(DISTINCT {KEY}) FROM delta.`{path}`").first() == (total, total)
    pd.testing.assert_frame_equal(feature_frame(spark, path, view),
                                  feature_frame(spark, cfg.table_path(silver_spec(clean).name), clean),
                                  check_exact=False, rtol=1e-9)

    # Every committed version holds the table before a backfill or a backfill's complete result.
    history = {h["version"]: h["operation"] for h in DeltaTable(str(path)).history()}
    assert sorted(history) == list(range(before_version + 2)) and history[before_version + 1] == "MERGE"
    states = {version: rows_at(spark, path, version) for version in history}
    assert states[before_version] == before and states[before_version + 1] == after
    for version, state in states.items():
        assert state in ([], before, after), f"version {version} ({history[version]}) holds a partial result"

    # A third run finds every window unchanged and commits nothing.
    capsys.readouterr()
    assert job.main(args) == 0
    assert f"inserted 0, updated 0, unchanged {total:,}" in capsys.readouterr().out
    assert DeltaTable(str(path)).version() == before_version + 1
    assert rows_at(spark, path) == after
