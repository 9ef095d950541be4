"""Run the streaming job (its own process, or ``flink run -py`` on the standalone cluster) and follow it through the Delta log.

The writers record, per Kafka partition, the highest offset committed to bronze.readings and
quarantine.readings (Delta transaction ids), so "caught up" is a fact read from the tables.

Example::

    job = start_stream_job(cfg, run_id="demo", log_path=Path("stream.log"))
    wait_until_written(cfg, topic_end_offsets(cfg), job, timeout_s=300)
    stop_stream_job(job)

    job = submit_stream_job(cfg, run_id="demo", log_path=Path("stream.log"))   # on the standalone cluster
    wait_until_written(cfg, topic_end_offsets(cfg), job, timeout_s=300)
    job.cancel()
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from sensorlake.config import Config
from sensorlake.errors import ServiceError
from sensorlake.services import flink_cluster

JOB_FILE = Path(__file__).resolve().parents[2] / "streaming_jobs" / "sensor_features.py"
WRITER_APPS = {"bronze.readings": "sensorlake-bronze", "quarantine.readings": "sensorlake-quarantine"}


def _job_config_file(cfg: Config, log_path: Path) -> Path:
    """This configuration as a YAML file beside the job's log, for the job's --config."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    config_file = log_path.with_suffix(".config.yaml")
    config_file.write_text(yaml.safe_dump(cfg.data))
    return config_file


def start_stream_job(cfg: Config, run_id: str, log_path: Path, extra_args: tuple[str, ...] = ()) -> subprocess.Popen:
    """Start streaming_jobs/sensor_features.py with this configuration, in its own process group."""
    config_file = _job_config_file(cfg, log_path)
    with open(log_path, "w") as log:
        return subprocess.Popen([sys.executable, str(JOB_FILE), "--config", str(config_file), "--run-id", run_id, *extra_args],
                                cwd=cfg.base_dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=flink_cluster.client_environ())


@dataclass
class ClusterJob:
    """The streaming job running on the standalone Flink cluster, followed through the REST API.

    ``poll()`` answers like ``Popen.poll()`` (None while the job has not reached a terminal state,
    else that state, also in ``returncode``), so the waits below accept it as ``job``.
    """

    cfg: Config
    job_id: str
    returncode: str | None = None

    def poll(self) -> str | None:
        state = flink_cluster.job_details(self.cfg, self.job_id)["state"]
        if state in flink_cluster.TERMINAL_JOB_STATES:
            self.returncode = state
        return self.returncode

    def cancel(self) -> str:
        self.returncode = flink_cluster.cancel_job(self.cfg, self.job_id)
        return self.returncode


def submit_stream_job(cfg: Config, run_id: str, log_path: Path, extra_args: tuple[str, ...] = (),
                      restore_from: str | None = None) -> ClusterJob:
    """Submit streaming_jobs/sensor_features.py to the standalone cluster with ``flink run -d -py``.

    The same command a user runs (README, "Run the streaming job on a Flink cluster"), with this
    configuration passed as --config; the CLI's output goes to ``log_path``. ``restore_from``: a
    savepoint or retained checkpoint to resume from (``flink run -s``).
    """
    config_file = _job_config_file(cfg, log_path)
    job_id = flink_cluster.submit_python_job(cfg, JOB_FILE, ["--config", config_file, "--run-id", run_id, *extra_args],
                                             cwd=cfg.base_dir, restore_from=restore_from)
    resumed = f" from {restore_from}" if restore_from else ""
    with open(log_path, "a") as log:
        log.write(f"submitted {JOB_FILE} as Flink job {job_id}{resumed} to {flink_cluster.address(cfg)}\n")
    return ClusterJob(cfg, job_id)


def stop_stream_job(job: subprocess.Popen, timeout_s: float = 60) -> None:
    """Stop the job's whole process group (the mini cluster and its Python workers)."""
    if job.poll() is None:
        os.killpg(job.pid, signal.SIGTERM)
        try:
            job.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()


def topic_end_offsets(cfg: Config, topic: str | None = None) -> dict[int, int]:
    """Partition -> offset of the last record in the topic (-1 for an empty partition)."""
    from confluent_kafka import Consumer, TopicPartition

    topic = topic or cfg.get("kafka.topic")
    consumer = Consumer({"bootstrap.servers": cfg.kafka_bootstrap, "group.id": "sensorlake-offsets-probe"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] - 1 for p in partitions}
    finally:
        consumer.close()


def committed_offsets(cfg: Config, table: str, topic: str, partitions) -> dict[int, int | None]:
    """Partition -> highest offset the stream has committed to ``table`` (None: nothing yet)."""
    from deltalake import DeltaTable

    path = str(cfg.table_path(table))
    if not DeltaTable.is_deltatable(path):
        return {p: None for p in partitions}
    delta = DeltaTable(path)
    return {p: delta.transaction_version(f"{WRITER_APPS[table]}:{topic}:{p}") for p in partitions}


def wait_until_written(cfg: Config, end_offsets: dict[int, int], job: subprocess.Popen | ClusterJob | None = None,
                       timeout_s: float = 600, topic: str | None = None, poll_s: float = 3.0) -> float:
    """Wait until bronze and quarantine hold every offset up to ``end_offsets``; return seconds waited."""
    topic = topic or cfg.get("kafka.topic")
    started = time.monotonic()
    pending = {p: end for p, end in end_offsets.items() if end >= 0}
    while time.monotonic() - started < timeout_s:
        done = all(
            (v is not None and v >= pending[p])
            for table in WRITER_APPS for p, v in committed_offsets(cfg, table, topic, pending).items()
        )
        if done:
            return time.monotonic() - started
        if job is not None and job.poll() is not None:
            raise ServiceError(f"the streaming job stopped (exit {job.returncode}) before writing every record",
                               hint="see its log for the cause")
        time.sleep(poll_s)
    raise ServiceError(f"the streaming job did not write up to offsets {pending} of topic {topic} in {timeout_s:.0f} s",
                       hint="see its log; the job may be overloaded or failing to start")


def rows_of_run(cfg: Config, table: str, run_id: str) -> int:
    """Rows ``run_id`` has written to ``table`` (0 when the table does not exist yet)."""
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    path = str(cfg.table_path(table))
    if not DeltaTable.is_deltatable(path):
        return 0
    return DeltaTable(path).to_pyarrow_dataset().count_rows(filter=ds.field("run_id") == run_id)


def wait_for_rows(cfg: Config, table: str, run_id: str, job: subprocess.Popen | ClusterJob | None = None,
                  timeout_s: float = 180, poll_s: float = 3.0) -> int:
    """Wait until ``run_id`` has written rows to ``table`` (e.g. the first closed windows); return the count."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        n = rows_of_run(cfg, table, run_id)
        if n:
            return n
        if job is not None and job.poll() is not None:
            raise ServiceError(f"the streaming job stopped (exit {job.returncode}) before writing {table}",
                               hint="see its log for the cause")
        time.sleep(poll_s)
    raise ServiceError(f"no rows of run {run_id} reached {table} in {timeout_s:.0f} s",
                       hint="windows close when the watermark passes them; an idle partition holds it back "
                            "for streaming.idle_timeout_s")
