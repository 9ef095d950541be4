"""Assemble the streaming job: Kafka -> checks -> bronze / quarantine, and feature views -> silver.

Example (what streaming_jobs/sensor_features.py does)::

    env, t_env = create_environments(cfg)
    build_streaming_job(env, t_env, cfg, views=[registry["machine_1m"]], run_id="stream-1")
    env.execute("sensorlake-stream")
"""
from __future__ import annotations

import os
import sys
import uuid

from sensorlake.config import Config
from sensorlake.equipment import load_equipment_types
from sensorlake.errors import ConfigError
from sensorlake.lake.tables import EQUIPMENT, silver_spec
from sensorlake.streaming import sql

FUNCTIONS_JAR = "sensorlake-flink-functions"     # jvm/functions, built into <jars_dir>/flink by `make jars`


def create_environments(cfg: Config, parallelism: int | None = None):
    """A StreamExecutionEnvironment (checkpointing on) and its StreamTableEnvironment, in UTC."""
    from pyflink.common import Configuration
    from pyflink.datastream import CheckpointingMode, StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    os.environ.setdefault("FLINK_LOG_DIR", str(cfg.log_dir / "flink"))
    (cfg.log_dir / "flink").mkdir(parents=True, exist_ok=True)
    conf = Configuration()
    conf.set_string("python.executable", sys.executable)
    conf.set_string("python.client.executable", sys.executable)
    checkpoints = cfg.runtime_dir / "flink" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    conf.set_string("execution.checkpointing.storage", "filesystem")
    conf.set_string("execution.checkpointing.dir", checkpoints.as_uri())
    conf.set_string("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    # Chained operators hand rows on without a defensive copy: the SQL operators are written for it,
    # and the Python operators serialize their input anyway (the copies were ~10 % of the JVM's CPU).
    conf.set_string("pipeline.object-reuse", "true")
    conf.set_string("restart-strategy.type", "fixed-delay")
    conf.set_string("restart-strategy.fixed-delay.attempts", "20")
    conf.set_string("restart-strategy.fixed-delay.delay", "2 s")
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    # Appended, not set: under `flink run -py` the CLI has put the flink-python jar in pipeline.jars
    # already, and a `pipeline.jars` in ``conf`` would replace it (the cluster then cannot load the
    # Python operators).
    jars = sorted((cfg.jars_dir / "flink").glob("*.jar"))
    if jars:
        env.add_jars(*(j.as_uri() for j in jars))
    env.set_parallelism(int(parallelism or cfg.get("flink.parallelism")))
    env.enable_checkpointing(int(float(cfg.get("flink.checkpoint_interval_s")) * 1000), CheckpointingMode.EXACTLY_ONCE)
    t_env = StreamTableEnvironment.create(env)
    t_conf = t_env.get_config()
    t_conf.set("table.local-time-zone", "UTC")
    t_conf.set("table.exec.source.idle-timeout", f"{cfg.get('streaming.idle_timeout_s')} s")
    return env, t_env


def equipment_registry(cfg: Config) -> dict[str, str]:
    """equipment_id -> equipment_type from bronze.equipment (empty when the table does not exist)."""
    from deltalake import DeltaTable

    path = str(cfg.table_path(EQUIPMENT.name))
    if not DeltaTable.is_deltatable(path):
        return {}
    rows = DeltaTable(path).to_pyarrow_table(columns=["equipment_id", "equipment_type"]).to_pylist()
    return {r["equipment_id"]: r["equipment_type"] for r in rows if r["equipment_id"]}


def build_streaming_job(env, t_env, cfg: Config, views, run_id: str | None = None) -> str:
    """Add the raw path and one feature path per view to ``env``; return the run id used for lineage."""
    from pyflink.common import Types

    from feature_defs.compile_flink import compile_view
    from sensorlake.streaming.writers import FeatureRowsWriter, RawBatchWriter

    run_id = run_id or f"stream-{uuid.uuid4().hex[:12]}"
    lateness_ms, flush_ms = allowed_lateness_ms(cfg, views), flush_interval_ms(cfg)
    register_classified(t_env, cfg, lateness_ms, group_id=cfg.get("streaming.group_id"))

    batches = t_env.to_data_stream(t_env.sql_query(sql.partition_batches_sql(flush_ms)))
    stats_type = Types.TUPLE([Types.STRING(), Types.INT(), Types.LONG(), Types.INT(), Types.INT(), Types.STRING(), Types.DOUBLE()])
    (batches.key_by(lambda b: b[1], key_type=Types.INT())
        .map(RawBatchWriter(cfg.data, str(cfg.base_dir), run_id, lateness_ms), output_type=stats_type)
        .name("bronze+quarantine writer").print())

    scoring = scoring_plan(cfg, views)
    for view in views:
        table = t_env.sql_query(compile_view(view, source=sql.VALID_VIEW))
        names = table.get_schema().get_field_names()
        writer = FeatureRowsWriter(cfg.data, str(cfg.base_dir), silver_spec(view), names, run_id, flush_ms)
        features = t_env.to_data_stream(table)
        (features.key_by(lambda r: 0, key_type=Types.INT())
            .process(writer, output_type=Types.TUPLE([Types.STRING(), Types.INT(), Types.DOUBLE()]))
            .name(f"silver writer {view.name}").print())
        if scoring and scoring[0] == view.name:
            add_scoring(features, cfg, scoring[1], view, names, run_id, flush_ms)
    return run_id


def allowed_lateness_ms(cfg: Config, views) -> int:
    """The job's lateness bound: the largest of its views' (``streaming.allowed_lateness_s`` with none)."""
    return max([v.allowed_lateness_ms for v in views] or [int(float(cfg.get("streaming.allowed_lateness_s", 10)) * 1000)])


def flush_interval_ms(cfg: Config) -> int:
    """How often the writers flush, and the length of the raw path's processing-time batches."""
    return int(float(cfg.get("streaming.flush_interval_s", 2)) * 1000)


def register_source(t_env, cfg: Config, lateness_ms: int, group_id: str, bounded: bool = False) -> None:
    """Register the Kafka readings table (``sql.SOURCE_TABLE``) and the functions it calls; ``bounded`` ends the scan at the topic's current end."""
    register_sql_functions(t_env, cfg)
    t_env.execute_sql(sql.kafka_source_ddl(cfg, lateness_ms, group_id=group_id, bounded=bounded))


def register_parsed(t_env, cfg: Config, lateness_ms: int, group_id: str, bounded: bool = False) -> None:
    """The source, and its records with their JSON fields extracted once (``sql.PARSED_VIEW``)."""
    register_source(t_env, cfg, lateness_ms, group_id, bounded)
    materialize(t_env, sql.parsed_fields_sql(), sql.PARSED_VIEW)


def register_classified(t_env, cfg: Config, lateness_ms: int, group_id: str, bounded: bool = False) -> None:
    """The parsed records with their verdicts, computed once (``sql.SHARED_VIEW``), and the valid ones (``sql.VALID_VIEW``)."""
    register_parsed(t_env, cfg, lateness_ms, group_id, bounded)
    t_env.execute_sql(sql.classified_view_sql(equipment_registry(cfg), load_equipment_types(cfg.equipment_types_file), lateness_ms,
                                              sql.future_tolerance_ms(cfg)))
    materialize(t_env, sql.shared_columns_sql(), sql.SHARED_VIEW)
    t_env.execute_sql(sql.valid_readings_view_sql())


def register_sql_functions(t_env, cfg: Config) -> None:
    """Register the project's Java functions the job's SQL calls (``sql.SQL_FUNCTIONS``), whose jar ``create_environments`` added."""
    if not list((cfg.jars_dir / "flink").glob(f"{FUNCTIONS_JAR}-*.jar")):
        raise ConfigError(f"{FUNCTIONS_JAR}-*.jar is not in {cfg.jars_dir / 'flink'}: the stream's SQL calls its functions",
                          "build it with: make jars (scripts/resolve_jars.sh)")
    for ddl in sql.functions_ddl():
        t_env.execute_sql(ddl)


def materialize(t_env, query: str, view: str) -> None:
    """Register ``view`` as the rows of ``query``, computed once however many queries read them.

    The planner inlines a view into every query and every expression that reads it, so the
    payload would be parsed for each field's every use, and each ``to_data_stream`` would scan
    Kafka and classify every record for itself. A DataStream is a boundary it does not cross:
    ``query`` runs once, and its rows come back as a table whose ``event_time`` keeps the
    source's watermarks (``SOURCE_WATERMARK()``) with a new processing-time column ``proc_time``
    (``query`` must not select one). The rows cross it as Flink's internal ``RowData`` (Java API:
    PyFlink's ``to_data_stream`` converts every row to a ``Row`` of Java strings and back, ~10 % of
    the job's CPU; BENCHMARKS.md "stream").
    """
    from pyflink.java_gateway import get_gateway
    from pyflink.table import Schema

    j_table = t_env.sql_query(query)._j_table
    row_data = get_gateway().jvm.java.lang.Class.forName("org.apache.flink.table.data.RowData")
    internal = j_table.getResolvedSchema().toPhysicalRowDataType().bridgedTo(row_data)
    rows = t_env._j_tenv.toDataStream(j_table, internal)
    schema = (Schema.new_builder()
              .column_by_expression("proc_time", "PROCTIME()")
              .watermark("event_time", "SOURCE_WATERMARK()")
              .build())
    t_env._j_tenv.createTemporaryView(view, t_env._j_tenv.fromDataStream(rows, schema._j_schema))


def scoring_plan(cfg: Config, views) -> tuple[str, list[str]] | None:
    """(view, tasks) the job scores in real time (``streaming.scoring.tasks``), or None when off.

    Raises ConfigError when the tasks' view is not among the views the job computes.
    """
    from sensorlake.errors import ConfigError
    from training.config import task_config

    tasks = list(cfg.get("streaming.scoring.tasks") or [])
    if not tasks:
        return None
    view = task_config(cfg, tasks[0]).views[0]
    if view not in {v.name for v in views}:
        raise ConfigError(f"streaming.scoring.tasks {tasks} score view {view!r}, which this job does not compute",
                          f"add {view} to streaming.views, or --set streaming.scoring.tasks=[] to stream without scoring")
    return view, tasks


def add_scoring(features, cfg: Config, tasks: list[str], view, field_names, run_id: str, flush_ms: int) -> None:
    """Score each feature row of ``view`` with the tasks' champions into gold.predictions and gold.alerts."""
    from pyflink.common import Types

    from sensorlake.realtime import WindowScorer
    from sensorlake.streaming.scoring import DeltaRowsWriter, WindowScoringFunction
    from training.dataset import feature_columns_among

    columns = feature_columns_among(silver_spec(view).columns)
    WindowScorer(cfg, tasks, columns)   # the configuration is checked here, before the job is submitted
    equipment = list(field_names).index("equipment_id")
    scored = (features.key_by(lambda r: r[equipment], key_type=Types.STRING())
              .process(WindowScoringFunction(cfg.data, str(cfg.base_dir), tasks, list(field_names), columns),
                       output_type=Types.TUPLE([Types.STRING(), Types.PICKLED_BYTE_ARRAY()]))
              .name(f"real-time scoring {view.name}"))
    (scored.key_by(lambda r: r[0], key_type=Types.STRING())
        .process(DeltaRowsWriter(cfg.data, str(cfg.base_dir), run_id, flush_ms),
                 output_type=Types.TUPLE([Types.STRING(), Types.INT(), Types.DOUBLE()]))
        .name("gold writer").print())
