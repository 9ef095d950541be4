"""Airflow DAG: the hourly incremental backfill of every feature view (spark-submit ... --since-last).

Copy (or symlink) this file into Airflow's dags folder; it imports only where Airflow is
installed (2.4+ or 3.x). One BashOperator per view runs the Spark job with ``--since-last``:
it recomputes the windows holding readings bronze gained since the view's last run and MERGEs
them, so a retried, late or doubled run changes nothing twice. Runs never overlap
(``max_active_runs=1``) and views run one at a time (``max_active_tasks=1``), for a small cluster.

Settings from the environment of the Airflow worker (defaults in brackets):

    SENSORLAKE_HOME          the sensorlake checkout/venv on the worker [/opt/sensorlake]
    SENSORLAKE_SPARK_MASTER  spark-submit --master [spark://127.0.0.1:7077]
    SENSORLAKE_BACKFILL_VIEWS comma-separated views [machine_1m,machine_10m_sliding,machine_vib_fft]

Example (what one task runs)::

    cd /opt/sensorlake && PYSPARK_PYTHON=.venv/bin/python .venv/bin/spark-submit \
        --master spark://127.0.0.1:7077 --jars "$(ls jars/spark/*.jar | paste -sd, -)" \
        batch_jobs/backfill_features.py --view machine_1m --since-last

``--jars`` puts the Delta jars on the driver's classpath (under spark-submit the JVM starts
before the job's session settings are read). The driver and the workers use the checkout's
venv (sensorlake installed in it); for workers without it, add ``--py-files`` with a zip of
the packages.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG

try:  # Airflow 3: the standard provider
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

SENSORLAKE_HOME = os.environ.get("SENSORLAKE_HOME", "/opt/sensorlake")
SPARK_MASTER = os.environ.get("SENSORLAKE_SPARK_MASTER", "spark://127.0.0.1:7077")
VIEWS = tuple(v.strip() for v in os.environ.get(
    "SENSORLAKE_BACKFILL_VIEWS", "machine_1m,machine_10m_sliding,machine_vib_fft").split(",") if v.strip())
SCHEDULE = "0 * * * *"  # hourly, on the hour


def spark_submit_command(view: str) -> str:
    """The shell command of one view's task."""
    return (f"cd {SENSORLAKE_HOME} && PYSPARK_PYTHON=.venv/bin/python .venv/bin/spark-submit --master {SPARK_MASTER} "
            f'--jars "$(ls jars/spark/*.jar | paste -sd, -)" batch_jobs/backfill_features.py --view {view} --since-last')


with DAG(
    dag_id="sensorlake_backfill",
    description="Hourly incremental Spark backfill of every sensorlake feature view into silver (Delta MERGE).",
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,               # --since-last catches up by itself: one run covers every hour missed
    max_active_runs=1,
    max_active_tasks=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(minutes=50)},
    tags=["sensorlake", "spark", "backfill"],
) as dag:
    for view_name in VIEWS:
        BashOperator(task_id=f"backfill_{view_name}", bash_command=spark_submit_command(view_name))
