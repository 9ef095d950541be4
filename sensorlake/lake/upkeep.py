"""Table upkeep: compaction with clustering (Delta's OPTIMIZE ... ZORDER BY) and VACUUM.

The streaming job commits a few small files per partition every flush; OPTIMIZE rewrites them
into large files clustered on equipment and time, so analysts' and the backfill's reads prune
well. Both commands are Delta's own (Spark SQL), atomic commits: readers and the streaming
writers keep working while they run. Delta does not conflict an OPTIMIZE with concurrent
appends; a compaction that loses a race with a MERGE that rewrote the same files is retried
here from a fresh snapshot (and a writer that loses retries its MERGE).

VACUUM deletes files no longer referenced by the table for longer than the retention
(``upkeep.vacuum_retention_hours``, default 168 h, Delta's own default): time travel to a
version older than the retention stops working, so keep it longer than the slowest reader and
than any restore you may need (RUNBOOK).

Example::

    result = optimize(spark, cfg, "bronze.readings")      # {'numFilesRemoved': 240, 'numFilesAdded': 2, ...}
    vacuum(spark, cfg, "bronze.readings")                  # files older than the retention
"""
from __future__ import annotations

from dataclasses import dataclass

from sensorlake.config import Config
from sensorlake.errors import ConfigError
from sensorlake.lake.conflicts import retry_on_conflict
from sensorlake.lake.tables import TableSpec



@dataclass(frozen=True)
class OptimizeResult:
    table: str
    files_removed: int
    files_added: int
    zorder_by: tuple[str, ...]
    attempts: int

    def summary(self) -> str:
        zorder = f" ZORDER BY ({', '.join(self.zorder_by)})" if self.zorder_by else ""
        return (f"OPTIMIZE {self.table}{zorder}: {self.files_removed} files rewritten into {self.files_added}"
                f" ({self.attempts} attempt{'s' if self.attempts > 1 else ''})")


def clustering_columns(spec: TableSpec) -> tuple[str, ...]:
    """Equipment and the first time column of the table's key, when the table has them (not partition columns)."""
    types = dict(spec.columns)
    time_column = next((c for c in spec.key if types.get(c) == "timestamp"), None)
    wanted = tuple(c for c in ("equipment_id", time_column) if c and c in types)
    return tuple(c for c in wanted if c not in spec.partition_by)


def _table_ref(cfg: Config, table: str) -> str:
    return f"delta.`{cfg.table_path(table)}`"


def optimize(spark, cfg: Config, spec: TableSpec, zorder: bool = True) -> OptimizeResult:
    """Compact ``spec``'s table (and Z-order it on equipment and time); retried on a lost commit race."""
    from delta.tables import DeltaTable

    path = str(cfg.table_path(spec.name))
    if not DeltaTable.isDeltaTable(spark, path):
        raise ConfigError(f"{spec.name} has no Delta table at {path}", hint="run the job that writes it first")
    columns = clustering_columns(spec) if zorder else ()
    statement = f"OPTIMIZE {_table_ref(cfg, spec.name)}"
    if columns:
        statement += f" ZORDER BY ({', '.join(columns)})"
    metrics, attempts = retry_on_conflict(lambda: spark.sql(statement).collect()[0]["metrics"], what=statement)
    return OptimizeResult(spec.name, int(metrics["numFilesRemoved"]), int(metrics["numFilesAdded"]), columns, attempts)


def _data_files(cfg: Config, spec: TableSpec) -> int:
    """Data files under the table's folder, outside its _delta_log (a local or mounted lake, as delta_log assumes)."""
    root = cfg.table_path(spec.name)
    return sum(1 for p in root.rglob("*") if p.is_file() and "_delta_log" not in p.relative_to(root).parts
               and not p.name.startswith((".", "_")))


def vacuum(spark, cfg: Config, spec: TableSpec, retention_hours: float | None = None) -> int:
    """Delete files unreferenced for longer than the retention; return how many files were deleted."""
    hours = float(cfg.get("upkeep.vacuum_retention_hours") if retention_hours is None else retention_hours)
    minimum = float(cfg.get("upkeep.vacuum_minimum_hours"))
    if hours < minimum:
        raise ConfigError(f"VACUUM retention {hours:g} h is below upkeep.vacuum_minimum_hours ({minimum:g} h)",
                          hint="readers and time travel older than the retention would break; lower the minimum knowingly")
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    before = spark.conf.get(check, "true")
    spark.conf.set(check, "false")  # upkeep.vacuum_minimum_hours applies instead of Delta's fixed 168 h check
    try:
        files_before = _data_files(cfg, spec)
        spark.sql(f"VACUUM {_table_ref(cfg, spec.name)} RETAIN {hours:g} HOURS").collect()
        return files_before - _data_files(cfg, spec)  # counted by listing: a DRY RUN would list the table twice
    finally:
        spark.conf.set(check, before)


def spec_for(cfg: Config, table: str) -> TableSpec:
    """The TableSpec of a fixed table (bronze, quarantine, quality, gold) or of silver.features_<view>."""
    from sensorlake.lake.tables import TABLES, silver_spec

    if table in TABLES:
        return TABLES[table]
    prefix = "silver.features_"
    if table.startswith(prefix):
        from feature_defs import load_registry

        registry = load_registry(cfg)
        view = table.removeprefix(prefix)
        if view in registry:
            return silver_spec(registry[view])
    raise ConfigError(f"unknown table {table!r}", hint="one of: " + ", ".join(sorted(TABLES)) + ", silver.features_<view>")


def existing_tables(cfg: Config) -> list[str]:
    """Names of the Delta tables present under the lake root (layer.name)."""
    root = cfg.lake_root
    return [f"{log.parent.parent.name}.{log.parent.name}" for log in sorted(root.glob("*/*/_delta_log"))] if root.is_dir() else []
