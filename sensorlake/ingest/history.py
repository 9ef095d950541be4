"""History ingest: files -> bronze.readings, bronze.events, bronze.equipment (+ quarantine.readings).

Idempotent: readings, events and quarantined rows are MERGEd on their keys (insert when new),
equipment is upserted, so ingesting the same file twice adds nothing.

Example::

    report = ingest_path(spark, cfg, "history/")                          # simulator output folder
    report = ingest_path(spark, cfg, "ai4i2020.csv", load_mapping("conf/mappings/ai4i2020.yaml"))
    print(report.summary())
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sensorlake.config import Config
from sensorlake.equipment import load_equipment_types
from sensorlake.errors import ConfigError, InputError
from sensorlake.ingest.mapping import NARROW_PARQUET, IngestMapping
from sensorlake.ingest.readings import read_source, split_valid, to_narrow
from sensorlake.lake.tables import EQUIPMENT, EVENTS, QUARANTINE, READINGS
from sensorlake.lake.writes import insert_new_rows, upsert_rows

JOB_NAME = "ingest"
HISTORY_READINGS_DIR = "readings"


@dataclass
class IngestReport:
    """What one ingest run read, wrote and quarantined."""

    source: str
    run_id: str
    read: int = 0
    written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    events_written: int = 0
    equipment_written: int = 0

    def summary(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.reasons.items())) or "none"
        return (f"ingested {self.source}: read {self.read:,} readings, wrote {self.written:,} new, "
                f"{self.duplicates:,} already present or repeated, quarantined {self.quarantined:,} ({reasons}); "
                f"events written {self.events_written:,}; equipment upserted {self.equipment_written:,}")


def _lineage(df, run_id: str):
    from pyspark.sql import functions as F

    return (df.withColumn("job_name", F.lit(JOB_NAME)).withColumn("run_id", F.lit(run_id))
            .withColumn("ingest_time", F.current_timestamp()))


def _files(path: Path, suffixes: tuple[str, ...]) -> list[str]:
    if path.is_file():
        return [str(path)]
    files = sorted(str(p) for p in path.rglob("*") if p.suffix in suffixes and p.is_file())
    if not files:
        raise InputError(f"no {'/'.join(suffixes)} files in {path}", "point ingest at a file or a folder of data files")
    return files


def _mapping_for(path: Path) -> IngestMapping:
    suffix = path.suffix if path.is_file() else next((p.suffix for p in sorted(path.rglob("*.*"))), "")
    if suffix == ".parquet":
        return NARROW_PARQUET
    if suffix in (".jsonl", ".json"):
        return IngestMapping(name="narrow-jsonl", format="jsonl", layout="narrow")
    raise ConfigError(f"{path}: no mapping given for a {suffix or 'suffix-less'} file",
                      "pass --mapping FILE (examples in conf/mappings/) for CSV or wide files")


def _suffixes(mapping: IngestMapping) -> tuple[str, ...]:
    return {"csv": (".csv",), "parquet": (".parquet",), "jsonl": (".jsonl", ".json")}[mapping.format]


def _check_readable(files: list[str]) -> None:
    for f in files:
        p = Path(f)
        if not p.is_file():
            raise InputError(f"cannot read {f}: no such file", "check the path")
        try:
            with p.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise InputError(f"cannot read {f}: {exc.strerror}", "check the file's permissions") from None


def _sensor_ranges_df(spark, cfg: Config, mapping: IngestMapping):
    """(equipment_type, sensor, min, max) declared by the equipment types file and, for wide files, the mapping."""
    declared = {
        (type_name, s.name): (s.min, s.max)
        for type_name, eq_type in load_equipment_types(cfg.equipment_types_file).items()
        for s in eq_type.sensors.values()
    }
    if mapping.layout == "wide":
        for s in mapping.sensors:
            key = (mapping.equipment.type, s.name)
            declared[key] = (s.min, s.max) if s.min is not None else declared.get(key, (None, None))
    rows = [(t, name, lo, hi) for (t, name), (lo, hi) in declared.items()]
    return spark.createDataFrame(rows, "equipment_type string, sensor string, min double, max double")


def _known_equipment_df(spark, cfg: Config, batch_equipment):
    from delta.tables import DeltaTable

    known = batch_equipment.select("equipment_id", "equipment_type")
    path = str(cfg.table_path(EQUIPMENT.name))
    if DeltaTable.isDeltaTable(spark, path):
        known = known.unionByName(spark.read.format("delta").load(path).select("equipment_id", "equipment_type"))
    return known.dropDuplicates(["equipment_id"])


def _mapped_equipment_df(spark, raw, mapping: IngestMapping):
    from pyspark.sql import functions as F

    eq = mapping.equipment
    ids = raw.select(F.lit(eq.id).alias("equipment_id")).limit(1) if eq.id else \
        raw.select(F.col(f"`{eq.column}`").cast("string").alias("equipment_id")).where("equipment_id IS NOT NULL").distinct()
    return ids.select(
        "equipment_id", F.lit(mapping.site_id).cast("string").alias("site_id"),
        F.lit(eq.type).cast("string").alias("equipment_type"),
        F.lit(eq.install_date).cast("date").alias("install_date"),
        F.lit(eq.criticality).alias("criticality"), F.lit(mapping.name).alias("source"),
    )


def _label_events_df(raw, mapping: IngestMapping):
    from pyspark.sql import functions as F

    labels, eq, tm = mapping.labels, mapping.equipment, mapping.time
    flag = lambda c: F.expr(f"try_cast(`{c}` as int)") == 1  # noqa: E731
    mode = F.coalesce(*[F.when(flag(c), F.lit(name)) for c, name in labels.failure_mode_columns.items()], F.lit("unknown"))
    narrow = to_narrow(raw, mapping).select("equipment_id", "site_id", "_ts", "_raw", "_source").dropDuplicates(["_raw"])
    with_flags = narrow.join(raw.select("_raw", *[F.col(f"`{c}`") for c in labels.columns]), "_raw")
    failures = with_flags.where(flag(labels.failure_column) & F.col("_ts").isNotNull())
    return failures.select(
        F.sha2(F.concat_ws("|", "equipment_id", F.col("_ts").cast("string"), F.lit("failure")), 256).substr(1, 32).alias("event_id"),
        "site_id", "equipment_id", F.col("_ts").alias("event_time"), F.lit("failure").alias("event_type"),
        mode.alias("failure_mode"), F.lit(f"from label column {labels.failure_column!r}").alias("notes"),
        F.col("_source").alias("source"),
    )


def _write_readings(spark, cfg: Config, report: IngestReport, raw, mapping: IngestMapping, known_equipment) -> None:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    narrow = to_narrow(raw, mapping)
    split = split_valid(narrow, known_equipment, _sensor_ranges_df(spark, cfg, mapping),
                        future_tolerance_s=cfg.future_tolerance_s)
    checked = split.valid.unionByName(split.rejected).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = {r["reason"]: r["n"] for r in checked.groupBy("reason").agg(F.count("*").alias("n")).collect()}
        report.read = sum(counts.values())
        report.reasons = Counter({k: v for k, v in counts.items() if k is not None})
        report.quarantined = sum(report.reasons.values())

        valid = checked.where("reason IS NULL").select(
            "site_id", "equipment_id", "sensor", F.col("_ts").alias("event_time"), F.col("_value").alias("value"), "unit",
            F.to_date("_ts").alias("event_date"),
            F.hex(F.xxhash64("_source", "_raw", "sensor")).alias("ingest_id"), F.col("_source").alias("source"),
        )
        report.written = insert_new_rows(spark, cfg, READINGS, _lineage(valid, report.run_id))
        report.duplicates = counts.get(None, 0) - report.written

        if report.quarantined:
            rejected = checked.where("reason IS NOT NULL").select(
                F.sha2(F.concat_ws("|", "_source", "_raw", F.coalesce("sensor", F.lit(""))), 256).substr(1, 32).alias("ingest_id"),
                F.col("_raw").alias("raw_payload"), "reason", F.lit("ingest").alias("stage"), F.col("_source").alias("source"),
                F.lit(None).cast("string").alias("kafka_topic"), F.lit(None).cast("int").alias("kafka_partition"),
                F.lit(None).cast("bigint").alias("kafka_offset"), F.current_timestamp().alias("rejected_at"),
                F.current_date().alias("rejected_date"),
            )
            insert_new_rows(spark, cfg, QUARANTINE, _lineage(rejected, report.run_id), prune=False)
    finally:
        checked.unpersist()


def ingest_history_folder(spark, cfg: Config, folder: Path, report: IngestReport) -> None:
    """Ingest a simulator history folder: equipment.parquet, events.parquet, readings/."""
    equipment_file, events_file = folder / "equipment.parquet", folder / "events.parquet"
    _check_readable([str(equipment_file)])
    equipment = spark.read.parquet(str(equipment_file)).withColumn("source", _source_col())
    report.equipment_written = upsert_rows(spark, cfg, EQUIPMENT, _lineage(equipment, report.run_id))
    if events_file.exists():
        events = spark.read.parquet(str(events_file)).withColumn("source", _source_col())
        report.events_written = insert_new_rows(spark, cfg, EVENTS, _lineage(events, report.run_id))
    readings_dir = folder / HISTORY_READINGS_DIR
    mapping = _mapping_for(readings_dir)
    files = _files(readings_dir, _suffixes(mapping))
    raw = read_source(spark, files, mapping)
    _write_readings(spark, cfg, report, raw, mapping, _known_equipment_df(spark, cfg, equipment))


def _source_col():
    from pyspark.sql import functions as F

    return F.element_at(F.split(F.input_file_name(), "/"), -1)


def ingest_path(spark, cfg: Config, path: str | Path, mapping: IngestMapping | None = None,
                run_id: str | None = None) -> IngestReport:
    """Ingest a simulator history folder, or files described by ``mapping`` (narrow by default)."""
    path = Path(path)
    report = IngestReport(source=str(path), run_id=run_id or uuid.uuid4().hex)
    if not path.exists():
        raise InputError(f"cannot read {path}: no such file or folder", "check the path")
    if mapping is None and path.is_dir() and (path / HISTORY_READINGS_DIR).is_dir():
        ingest_history_folder(spark, cfg, path, report)
        return report
    mapping = mapping or _mapping_for(path)
    files = _files(path, _suffixes(mapping))
    _check_readable(files)
    try:
        raw = read_source(spark, files, mapping)
    except Exception as exc:  # Spark raises AnalysisException / Py4JJavaError with long traces
        raise InputError(f"cannot read {path} as {mapping.format}: {str(exc).splitlines()[0]}",
                         "check the file's format and the mapping") from None
    missing = [c for c in _mapped_columns(mapping) if c not in raw.columns]
    if missing:
        raise InputError(f"{path}: columns {missing} named by mapping {mapping.name!r} are not in the file",
                         f"the file has: {[c for c in raw.columns if not c.startswith('_')]}")
    if mapping.layout == "wide":
        equipment = _mapped_equipment_df(spark, raw, mapping)
        report.equipment_written = upsert_rows(spark, cfg, EQUIPMENT, _lineage(equipment, report.run_id))
        if mapping.labels:
            report.events_written = insert_new_rows(spark, cfg, EVENTS, _lineage(_label_events_df(raw, mapping), report.run_id))
        known = equipment
    else:
        known = spark.createDataFrame([], "equipment_id string, equipment_type string")
    _write_readings(spark, cfg, report, raw, mapping, _known_equipment_df(spark, cfg, known))
    return report


def _mapped_columns(mapping: IngestMapping) -> list[str]:
    if mapping.layout == "narrow":
        return [] if mapping.format == "jsonl" else ["site_id", "equipment_id", "sensor", "event_time", "value"]
    cols = [s.column for s in mapping.sensors]
    cols += [mapping.time.column or mapping.time.ordinal_column]
    cols += [mapping.equipment.column] if mapping.equipment.column else []
    cols += mapping.labels.columns if mapping.labels else []
    return cols
