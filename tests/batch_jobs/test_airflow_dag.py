"""The Airflow DAG file, read without Airflow (not installed here): hourly spark-submit --since-last per view."""
from __future__ import annotations

import ast
import shlex
from pathlib import Path

from batch_jobs import backfill_features as job

DAG_FILE = Path(__file__).resolve().parents[2] / "batch_jobs" / "airflow" / "sensorlake_backfill_dag.py"


def _module():
    return ast.parse(DAG_FILE.read_text())


def _constants_and_command():
    """Execute only the DAG file's constants and its command builder (no Airflow import)."""
    tree = _module()
    keep = [n for n in tree.body if isinstance(n, ast.Assign) or (isinstance(n, ast.FunctionDef) and n.name == "spark_submit_command")]
    namespace: dict = {"os": __import__("os")}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(DAG_FILE), "exec"), namespace)
    return namespace


def test_the_dag_runs_hourly_one_run_at_a_time_without_catchup():
    dag_call = next(n for n in ast.walk(_module()) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "DAG")
    kwargs = {k.arg: k.value for k in dag_call.keywords}
    ns = _constants_and_command()
    assert ns["SCHEDULE"] == "0 * * * *" and getattr(kwargs["schedule"], "id", None) == "SCHEDULE"
    assert ast.literal_eval(kwargs["catchup"]) is False and ast.literal_eval(kwargs["max_active_runs"]) == 1


def test_each_view_runs_the_backfill_job_with_spark_submit_and_since_last(registry):
    ns = _constants_and_command()
    assert set(ns["VIEWS"]) == {v.name for v in registry.views_for("spark")}
    for view in ns["VIEWS"]:
        argv = shlex.split(ns["spark_submit_command"](view).split("&&", 1)[1])
        submit = next(i for i, a in enumerate(argv) if a.endswith("spark-submit"))
        assert all("=" in a for a in argv[:submit]) and argv[submit + 1] == "--master"
        script = argv.index("batch_jobs/backfill_features.py")
        args = job.add_arguments(__import__("argparse").ArgumentParser()).parse_args(argv[script + 1:])
        assert args.view == view and args.since_last


def test_the_dag_uses_a_bash_operator_per_view():
    names = {n.func.id for n in ast.walk(_module()) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "BashOperator" in names
    imports = {a.name for n in ast.walk(_module()) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert "BashOperator" in imports and "DAG" in imports
