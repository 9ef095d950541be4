"""Flink SQL of the streaming job: the Kafka source, per-record checks, and per-partition batches.

The hot path stays in the JVM, in Flink SQL: JSON parsing, the checks against the declared
physical ranges, lateness against the watermark, and the batching of rows per Kafka partition into
newline-delimited JSON, so Python sees a few batches a second instead of every record. Four small
Java functions of the project's own (``SQL_FUNCTIONS``, jvm/functions) stand in where the
built-ins cost too much: hash look-ups of the equipment registry and the ranges (SQL has none in
a constant table), and ``JSON_VALUE`` / ``TO_TIMESTAMP_LTZ`` that parse a record once for all the
expressions that read it (each built-in call parses it again).

Reasons (first match wins) are those of batch ingest (sensorlake.ingest.readings), with
``future_timestamp`` judged against the record's Kafka timestamp (the producer's clock) instead of
the ingest clock, plus ``late``: a reading whose event time is at or behind the latest event time
of its Kafka partition minus the allowed lateness (the source's event time: none for a record that
is not JSON, such as one with a NaN literal). A future reading moves neither that latest time
nor the watermark, so a device whose clock runs ahead cannot make its neighbours late. The windows' watermark (the minimum over partitions of the same
bound) is never ahead of that, so every reading the windows would drop is quarantined as late
instead, never silently; and the verdict depends only on the partition's order, so a replay
after a failure gives the same one.

Two stages are materialized once by the job (``job.materialize``), as the planner would
otherwise repeat them wherever they are read: the parsed fields, and the classified records
that both the raw and the feature path read.

Example (what ``sensorlake.streaming.job.register_classified`` does, then the raw path)::

    for ddl in functions_ddl(): t_env.execute_sql(ddl)     # their jar is in pipeline.jars
    t_env.execute_sql(kafka_source_ddl(cfg, lateness_ms=10_000))
    materialize(t_env, parsed_fields_sql(), PARSED_VIEW)
    t_env.execute_sql(classified_view_sql(equipment, types, lateness_ms=10_000, future_ms=future_tolerance_ms(cfg)))
    materialize(t_env, shared_columns_sql(), SHARED_VIEW)
    t_env.execute_sql(valid_readings_view_sql())      # what the feature SQL reads
    batches = t_env.sql_query(partition_batches_sql(flush_ms=2000))
"""
from __future__ import annotations

from typing import Iterable, Mapping

from sensorlake.config import Config
from sensorlake.equipment import EquipmentType
from sensorlake.errors import ConfigError

SOURCE_TABLE = "kafka_readings"
PARSED_VIEW = "parsed_readings"     # parsed_fields_sql, computed once (job.materialize)
CLASSIFIED_VIEW = "classified_readings"
SHARED_VIEW = "classified_once"     # the classified records, computed once for both paths (job.materialize)
VALID_VIEW = "readings"
# What the two paths read of a classified record (the batches and the feature SQL).
SHARED_COLUMNS = ("payload", "kafka_topic", "kafka_partition", "kafka_offset", "produced_at", "event_time", "parsed_time",
                  "site_id", "equipment_id", "sensor", "event_time_text", "unit", "value", "equipment_type", "reason")
EVENT_TIME_FORMAT = "yyyy-MM-dd''T''HH:mm:ss.SSSX"   # 2026-01-05T00:00:00.500Z, as the simulator writes
# Flink's parser is lenient (2026-02-30 becomes March 2, T24:00 the next midnight): a UTC time must
# print back as it was written, or it is a bad_timestamp (as Spark's and pyarrow's parsers judge it).
STRICT_UTC_FORMAT = "yyyy-MM-dd''T''HH:mm:ss.SSS"
CANONICAL_TIME_FORMAT = "yyyy-MM-dd''T''HH:mm:ss.SSS''Z''"   # how the batches carry a valid reading's (UTC) time
KEYS = ("site_id", "equipment_id", "sensor", "event_time", "unit")
# A time written in UTC, and its text up to the milliseconds. The bad_timestamp check requires that
# text to print back as parsed, so a valid one is its own canonical form (partition_batches_sql).
WRITTEN_IN_UTC = "event_time_text LIKE '%Z'"
WRITTEN_TO_MS = "SUBSTRING(event_time_text FROM 1 FOR 23)"


def _s(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def interval_ms(ms: int) -> str:
    """A Flink SQL interval literal of ``ms`` milliseconds (DAY TO SECOND: a SECOND literal holds at most 99)."""
    seconds, millis = divmod(int(ms), 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}' DAY TO SECOND(3)"


def future_tolerance_ms(cfg: Config) -> int:
    """How far an event time may lie ahead of its record's Kafka timestamp (clock skew) and still be valid."""
    return int(cfg.future_tolerance_s * 1000)


def _is_future(time_sql: str, future_ms: int) -> str:
    return f"{time_sql} > produced_at + {interval_ms(future_ms)}"


def kafka_source_ddl(cfg: Config, lateness_ms: int, topic: str | None = None, group_id: str = "sensorlake-stream",
                     startup_mode: str = "group-offsets", bounded: bool = False) -> str:
    """CREATE TABLE for the readings topic: raw payload, Kafka coordinates, event time and watermark.

    Rows whose event time cannot be parsed, or lies in the future of their Kafka timestamp, get
    the epoch as event time, so they never move the watermark; they are quarantined by the checks. ``startup_mode`` group-offsets falls back to
    the earliest offset for a new consumer group. The job's source is unbounded on purpose: the
    per-partition batches close on processing time, which a bounded source's end would cut short.
    ``bounded`` ends the scan at the offsets the topic has when the job starts (bench.stream_stages).
    """
    topic = topic or cfg.get("kafka.topic")
    options = {
        "connector": "kafka",
        "topic": topic,
        "properties.bootstrap.servers": cfg.kafka_bootstrap,
        "properties.group.id": group_id,
        "properties.auto.offset.reset": "earliest",
        "scan.startup.mode": startup_mode,
        "format": "raw",
        "raw.charset": "UTF-8",
    }
    if bounded:
        options["scan.bounded.mode"] = "latest-offset"
    with_clause = ",\n  ".join(f"{_s(k)} = {_s(v)}" for k, v in options.items())
    parsed = f"SHARED_TO_TIMESTAMP_LTZ(SHARED_JSON_VALUE(payload, '$.event_time'), '{EVENT_TIME_FORMAT}')"
    return f"""CREATE TEMPORARY TABLE {SOURCE_TABLE} (
  payload STRING,
  kafka_topic STRING METADATA FROM 'topic' VIRTUAL,
  kafka_partition INT METADATA FROM 'partition' VIRTUAL,
  kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
  produced_at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  event_time AS CASE WHEN {_is_future(parsed, future_tolerance_ms(cfg))} THEN TO_TIMESTAMP_LTZ(0, 3)
                ELSE COALESCE({parsed}, TO_TIMESTAMP_LTZ(0, 3)) END,
  proc_time AS PROCTIME(),
  WATERMARK FOR event_time AS event_time - {interval_ms(lateness_ms)}
) WITH (
  {with_clause}
)"""


# The Java functions of jvm/functions (built into jars/flink by `make jars`; BENCHMARKS.md "stream"):
# - hash look-ups in constant tables: Flink's own `MAP[...][key]` compares the key with every entry
#   in turn, so its cost grows with the fleet (3-4 µs per lookup for 90 machines);
# - JSON_VALUE and TO_TIMESTAMP_LTZ with one parse per record: Flink evaluates a derived column again
#   at every reference, and each built-in call parses the whole text again.
SQL_FUNCTIONS = {"TABLE_LOOKUP_STRING": "io.sensorlake.flink.TableLookupString",
                 "TABLE_LOOKUP_DOUBLE": "io.sensorlake.flink.TableLookupDouble",
                 "SHARED_JSON_VALUE": "io.sensorlake.flink.SharedJsonValue",
                 "SHARED_TO_TIMESTAMP_LTZ": "io.sensorlake.flink.SharedToTimestampLtz"}
LOOKUP_ENTRY_SEPARATOR, LOOKUP_FIELD_SEPARATOR = "\x1e", "\x1f"     # ASCII record and unit separators


def functions_ddl() -> list[str]:
    """The statements that register :data:`SQL_FUNCTIONS` (their jar must be in ``pipeline.jars``)."""
    return [f"CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS {name} AS '{java_class}' LANGUAGE JAVA"
            for name, java_class in SQL_FUNCTIONS.items()]


def lookup_table_literal(pairs: Iterable[tuple[str, object]]) -> str:
    """A SQL string literal holding ``(key, value)`` pairs as a table of the ``TABLE_LOOKUP_*`` functions.

    Entries are joined by the ASCII record separator, key and value by the unit separator; a key
    or value holding either is refused. Example: ``lookup_table_literal([("pump-1", "pump")])``.
    """
    entries = []
    for key, value in pairs:
        for text in (str(key), str(value)):
            if LOOKUP_ENTRY_SEPARATOR in text or LOOKUP_FIELD_SEPARATOR in text:
                raise ConfigError(f"{text!r} holds an ASCII record or unit separator, which the stream's "
                                  "look-up tables use to separate entries", "rename it")
        entries.append(f"{key}{LOOKUP_FIELD_SEPARATOR}{value}")
    return _s(LOOKUP_ENTRY_SEPARATOR.join(entries))


def _java_double(x: float) -> str:
    """``x`` as Java's ``Double.valueOf`` reads it back exactly (Python's repr, but Infinity and NaN)."""
    return {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}.get(repr(float(x)), repr(float(x)))


def _equipment_type_sql(equipment: Mapping[str, str], key_sql: str = "equipment_id") -> str:
    """The equipment type of ``key_sql`` (NULL for unknown equipment) as a hash look-up.

    A look-up, not a CASE with a branch per machine: the planner inlines this expression
    wherever equipment_type is used, and simplifying the nested CASEs grew with the fleet
    (building the job took ~6.5 minutes for 90 machines with CASEs, ~15 s with look-ups).
    """
    if not equipment:
        return "CAST(NULL AS STRING)"
    return f"TABLE_LOOKUP_STRING({lookup_table_literal(sorted(equipment.items()))}, {key_sql})"


def _range_sql(types: Mapping[str, EquipmentType], bound: str) -> str:
    """The declared ``bound`` (min or max) of (equipment_type, sensor) as a hash look-up (NULL if undeclared)."""
    pairs = [(f"{t.name}/{s.name}", _java_double(getattr(s, bound))) for t in types.values() for s in t.sensors.values()]
    if not pairs:
        return "CAST(NULL AS DOUBLE)"
    return f"TABLE_LOOKUP_DOUBLE({lookup_table_literal(pairs)}, CONCAT(equipment_type, '/', sensor))"


# (JSON key, column name) of the fields every record is read for.
JSON_FIELDS = (("site_id", "site_id"), ("equipment_id", "equipment_id"), ("sensor", "sensor"),
               ("event_time", "event_time_text"), ("unit", "unit"), ("value", "value_text"))
_NAN_FREE = "REGEXP_REPLACE(payload, '\"value\"\\s*:\\s*-?NaN', '\"value\": null')"


def parsed_fields_sql() -> str:
    """Every record's JSON fields as text (``j_<column>``, NULL when the payload is not JSON), beside its payload and Kafka coordinates.

    Flink inlines a derived column into every expression that reads it, and each ``JSON_VALUE``
    or ``IS JSON`` parses the whole payload again: the checks read these fields ~20 times per
    record. The job materializes this query once (``job.materialize``), and ``SHARED_JSON_VALUE``
    answers every field (and the source's event time) from one parse of the record;
    :func:`json_fields_sql` parses it again only for a record these found no field in.
    """
    fields = ",\n  ".join(f"SHARED_JSON_VALUE(payload, '$.{key}') AS j_{name}" for key, name in JSON_FIELDS)
    return f"""SELECT payload, kafka_topic, kafka_partition, kafka_offset, produced_at, event_time,
  {fields}
FROM {SOURCE_TABLE}"""


def json_fields_sql() -> str:
    """The select list reading a ``PARSED_VIEW`` row: ``is_json``, ``has_nan`` and the fields of :data:`JSON_FIELDS`.

    A payload that is not JSON only because of a NaN literal is read with it as null, and
    ``has_nan`` remembers it. The payload is parsed again (``IS JSON``, the NaN rewrite) only
    when no field was found in it: a field found means it is a JSON object.
    """
    found = " OR ".join(f"j_{name} IS NOT NULL" for _, name in JSON_FIELDS)
    json_object = f"(CASE WHEN {found} THEN TRUE ELSE payload IS JSON OBJECT END)"
    fields = ",\n  ".join(f"CASE WHEN {json_object} THEN j_{name} ELSE JSON_VALUE({_NAN_FREE}, '$.{key}') END AS {name}"
                          for key, name in JSON_FIELDS)
    return f"""CASE WHEN {json_object} THEN TRUE ELSE {_NAN_FREE} IS JSON OBJECT END AS is_json,
  CASE WHEN {json_object} THEN FALSE ELSE {_NAN_FREE} IS JSON OBJECT END AS has_nan,
  {fields}"""


def classified_view_sql(equipment: Mapping[str, str], types: Mapping[str, EquipmentType], lateness_ms: int,
                        future_ms: int) -> str:
    """Every record with its parsed fields and ``reason`` (NULL for a valid reading).

    ``equipment`` maps equipment_id to equipment type (bronze.equipment at job start);
    ``types`` declares each type's sensors and physical ranges (equipment_types.yaml);
    ``future_ms``: :func:`future_tolerance_ms`, as given to the source. Reads ``PARSED_VIEW``:
    the rows of :func:`parsed_fields_sql` with a processing-time column ``proc_time``.
    """
    missing = " OR ".join(f"COALESCE(TRIM({k}), '') = ''" for k in ("site_id", "equipment_id", "sensor", "event_time_text", "unit"))
    range_min = _range_sql(types, "min")
    return f"""CREATE TEMPORARY VIEW {CLASSIFIED_VIEW} AS
SELECT *,
  CASE
    WHEN NOT is_json THEN 'malformed_json'
    WHEN {missing} OR (value_text IS NULL AND NOT has_nan) THEN 'missing_key'
    WHEN parsed_time IS NULL OR ({WRITTEN_IN_UTC}
      AND {WRITTEN_TO_MS} <> DATE_FORMAT(parsed_time, '{STRICT_UTC_FORMAT}')) THEN 'bad_timestamp'
    WHEN {_is_future('parsed_time', future_ms)} THEN 'future_timestamp'
    WHEN has_nan THEN 'nan_value'
    WHEN `value` IS NULL THEN 'bad_value'
    WHEN equipment_type IS NULL THEN 'unknown_equipment'
    WHEN {range_min} IS NULL THEN 'unknown_sensor'
    WHEN `value` < {range_min} OR `value` > {_range_sql(types, 'max')} THEN 'out_of_range'
    WHEN event_time <= partition_max_time - {interval_ms(lateness_ms)} THEN 'late'
  END AS reason
FROM (
  SELECT *,
    -- lateness is judged per Kafka partition, in offset order: deterministic on replay, and never
    -- looser than the watermark the windows use (the minimum over partitions of the same maximum
    -- of the source's event_time, the epoch for a record with no parseable or a future time)
    MAX(CAST(event_time AS TIMESTAMP_LTZ(3))) OVER (PARTITION BY kafka_partition ORDER BY proc_time
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS partition_max_time
  FROM (
    SELECT *,
      -- the source parsed the same text into event_time, unless it was not JSON, unparseable or in the future
      CASE WHEN event_time > TO_TIMESTAMP_LTZ(0, 3) THEN CAST(event_time AS TIMESTAMP_LTZ(3))
        ELSE SHARED_TO_TIMESTAMP_LTZ(event_time_text, '{EVENT_TIME_FORMAT}') END AS parsed_time,
      TRY_CAST(value_text AS DOUBLE) AS `value`,
      {_equipment_type_sql(equipment, "equipment_id")} AS equipment_type
    FROM (
      SELECT payload, kafka_topic, kafka_partition, kafka_offset, produced_at, event_time, proc_time,
        {json_fields_sql()}
      FROM {PARSED_VIEW}
    )
  )
)"""


def shared_columns_sql() -> str:
    """The classified records with the columns both paths read (no processing time: it is re-declared)."""
    return f"SELECT {', '.join(f'`{c}`' for c in SHARED_COLUMNS)} FROM {CLASSIFIED_VIEW}"


def valid_readings_view_sql() -> str:
    """The valid readings (of ``SHARED_VIEW``), in the source shape the compiled feature SQL expects."""
    return f"""CREATE TEMPORARY VIEW {VALID_VIEW} AS
SELECT site_id, equipment_id, sensor, event_time, `value`, equipment_type
FROM {SHARED_VIEW} WHERE reason IS NULL"""


def partition_batches_sql(flush_ms: int) -> str:
    """Per Kafka partition and processing-time slice, every record (of ``SHARED_VIEW``) as one newline-delimited JSON text.

    Rows of a partition keep their offset order from the source through this window, so batch
    k of a partition holds offsets above those of batch k-1: the writers' idempotence relies on it.
    The rows are joined once the batch is complete (``ARRAY_JOIN(ARRAY_AGG(...))``): Flink's
    ``LISTAGG`` concatenates each row onto the text so far, copying the whole batch per row, and
    that quadratic cost capped the job near 4,000 readings/s.
    """
    row_json = ("JSON_OBJECT(KEY 'o' VALUE kafka_offset, KEY 'r' VALUE reason, KEY 'site_id' VALUE site_id, "
                "KEY 'equipment_id' VALUE equipment_id, KEY 'sensor' VALUE sensor, "
                # a valid row's time as Flink parsed it (its parser resolves e.g. T24:00 that Python's rejects);
                # one written in UTC is its own canonical form (WRITTEN_TO_MS): no DATE_FORMAT for it
                "KEY 't' VALUE CASE WHEN reason IS NOT NULL THEN event_time_text "
                f"WHEN {WRITTEN_IN_UTC} THEN CONCAT({WRITTEN_TO_MS}, 'Z') "
                f"ELSE DATE_FORMAT(parsed_time, '{CANONICAL_TIME_FORMAT}') END, "
                "KEY 'value' VALUE CASE WHEN reason IS NULL THEN `value` END, KEY 'unit' VALUE unit, "
                "KEY 'p' VALUE CASE WHEN reason IS NOT NULL THEN payload END)")
    return f"""SELECT kafka_topic, kafka_partition, MAX(kafka_offset) AS max_offset, COUNT(*) AS n,
  CAST(MAX(produced_at) AS STRING) AS last_produced_at,
  ARRAY_JOIN(ARRAY_AGG({row_json}), '\n') AS rows_json
FROM TABLE(TUMBLE(TABLE {SHARED_VIEW}, DESCRIPTOR(proc_time), {interval_ms(flush_ms)}))
GROUP BY kafka_topic, kafka_partition, window_start, window_end"""
