"""Benchmark: where the streaming job's time goes, stage by stage, on one pre-filled topic.

``BENCH stream`` times the whole job; this one times its SQL prefixes, each a bounded Flink job
(``scan.bounded.mode = latest-offset``) over the same ``rows`` simulated readings into a
``blackhole`` sink, in one run:

- ``source``: the Kafka scan with the event time and watermark the job's source declares;
- ``parsed``: + the JSON fields extracted once (``sql.parsed_fields_sql``, materialized);
- ``classified``: + every record's verdict (``sql.classified_view_sql``, materialized);
- ``raw_batches``: + the per-partition batches the bronze/quarantine writer receives;
- ``features``: + the view's features (the SQL compiled from feature_defs) instead of the batches;
- ``both_paths``: the batches and the features in one job, as the streaming job runs them: the
  ceiling of its SQL on this machine, with the Python writers and Delta costing nothing.

Each figure is readings per second of Flink's net job runtime (Python writers and Delta are not
in it; ``BENCH stream`` has them), the faster of ``repeats`` runs. The ``*_us`` figures are what a stage adds per reading, in
wall-clock microseconds of the 2-slot job: the differences of 1/throughput. ``minimal_json_window``
is the floor beside them: Flink's own JSON format (no raw payload kept, no checks) and a 1-minute
tumbling window of a few aggregates per machine and sensor over the same topic.

    python -m bench stream_stages                 # 600,000 readings, ~8 minutes
    BENCH stream_stages rows=... source_per_s=... parsed_per_s=... classified_per_s=... raw_batches_per_s=... ...

Not in ``make bench``'s default list (``python -m bench stream_stages`` runs it).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench import emit
from sensorlake.config import Config

DEFAULT_ROWS = 600_000
REPEATS = 2
MINIMAL_WINDOW_SQL = """SELECT equipment_id, sensor, window_end, AVG(`value`), MIN(`value`), MAX(`value`),
  STDDEV_SAMP(`value`), COUNT(*)
FROM TABLE(TUMBLE(TABLE minimal_json, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY equipment_id, sensor, window_start, window_end"""


def register_minimal_json(t_env, cfg: Config, lateness_ms: int, group_id: str, bounded: bool = True) -> None:
    """The topic read with Flink's JSON format into typed columns, bounded at its current end.

    Takes the job's ``register_*`` arguments so it runs as one more stage; the scan is always bounded.
    """
    from sensorlake.streaming.sql import EVENT_TIME_FORMAT, interval_ms

    t_env.execute_sql(f"""CREATE TEMPORARY TABLE minimal_json (
  equipment_id STRING, sensor STRING, event_time STRING, `value` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(event_time, '{EVENT_TIME_FORMAT}'),
  WATERMARK FOR ts AS ts - {interval_ms(lateness_ms)}
) WITH ('connector' = 'kafka', 'topic' = '{cfg.get("kafka.topic")}', 'properties.bootstrap.servers' = '{cfg.kafka_bootstrap}',
  'properties.group.id' = '{group_id}', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
  'format' = 'json', 'json.ignore-parse-errors' = 'true')""")


def stage_seconds(cfg: Config, register, queries: str | tuple[str, ...], lateness_ms: int, group_id: str) -> float:
    """Net runtime of ``queries`` (one job) over the views ``register`` declares, in a fresh environment."""
    from sensorlake.streaming import job

    _, t_env = job.create_environments(cfg)
    register(t_env, cfg, lateness_ms, group_id=group_id, bounded=True)
    return time_to_blackhole(t_env, *([queries] if isinstance(queries, str) else queries))


def time_to_blackhole(t_env, *queries: str) -> float:
    """Run ``queries`` in one job, each into a blackhole sink, to the end of their bounded source; return the job's net runtime in seconds."""
    from pyflink.table import Schema, TableDescriptor
    from pyflink.table.expressions import col

    statements = t_env.create_statement_set()
    for query in queries:
        table = t_env.sql_query(query)
        table = table.select(*[col(n) for n in table.get_schema().get_field_names()])   # time attributes as plain columns
        sink = f"blackhole_{time.time_ns()}"
        t_env.create_temporary_table(sink, TableDescriptor.for_connector("blackhole").schema(
            Schema.new_builder().from_row_data_type(table.get_schema().to_row_data_type()).build()).build())
        statements.add_insert(sink, table)
    result = statements.execute().get_job_client().get_job_execution_result().result()
    return result.get_net_runtime() / 1000


def run(cfg: Config, rows: int | None = None, repeats: int = REPEATS, keep: bool = False) -> dict:
    from bench.stream import PARTITIONS, VIEW, SimulatedStream, _private, _register_fleet
    from feature_defs.compile_flink import compile_view
    from feature_defs.registry import load_registry
    from sensorlake.services import kafka
    from sensorlake.streaming import job, sql

    rows = rows or DEFAULT_ROWS
    work = Path(tempfile.mkdtemp(prefix="sensorlake-bench-stages-"))
    pcfg = _private(cfg, work)
    view = load_registry(pcfg)[VIEW]
    topic = pcfg.get("kafka.topic")
    kafka.start(pcfg)
    try:
        kafka.ensure_topic(pcfg, topic, PARTITIONS)
        stream = SimulatedStream(pcfg, topic, PARTITIONS)
        _register_fleet(pcfg, stream.fleet)
        stream.produce(stream.take(rows))
        stages = {
            "source": (job.register_source, f"SELECT payload, kafka_partition, event_time FROM {sql.SOURCE_TABLE}"),
            "parsed": (job.register_parsed, f"SELECT payload, j_equipment_id, j_value_text, event_time FROM {sql.PARSED_VIEW}"),
            "classified": (job.register_classified, f"SELECT payload, reason, event_time FROM {sql.SHARED_VIEW}"),
            "raw_batches": (job.register_classified, sql.partition_batches_sql(job.flush_interval_ms(pcfg))),
            "features": (job.register_classified, compile_view(view, source=sql.VALID_VIEW)),
            "both_paths": (job.register_classified, (sql.partition_batches_sql(job.flush_interval_ms(pcfg)),
                                                     compile_view(view, source=sql.VALID_VIEW))),
            "minimal_json_window": (register_minimal_json, MINIMAL_WINDOW_SQL),
        }
        lateness_ms = job.allowed_lateness_ms(pcfg, [view])
        seconds = {}
        for name, (register, query) in stages.items():
            seconds[name] = min(stage_seconds(pcfg, register, query, lateness_ms, f"bench-stages-{name}-{k}")
                                for k in range(repeats))
            print(f"stage {name}: {rows / seconds[name]:,.0f} readings/s", flush=True)
        us = {name: 1e6 * s / rows for name, s in seconds.items()}
        figures = {"rows": rows, **{f"{name}_per_s": round(rows / s) for name, s in seconds.items()},
                   "parse_us": us["parsed"] - us["source"], "classify_us": us["classified"] - us["parsed"],
                   "raw_batches_us": us["raw_batches"] - us["classified"], "features_us": us["features"] - us["classified"],
                   "both_paths_us": us["both_paths"] - us["classified"],
                   "source_us": us["source"], "repeats": repeats, "parallelism": int(pcfg.get("flink.parallelism")), "partitions": PARTITIONS}
        return emit("stream_stages", **figures)
    finally:
        kafka.stop(pcfg)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
