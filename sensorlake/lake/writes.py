"""Idempotent Delta writes shared by the batch jobs.

Example::

    inserted = insert_new_rows(spark, cfg, TABLES["bronze.readings"], readings_df)
    upsert_rows(spark, cfg, TABLES["bronze.equipment"], equipment_df)
"""
from __future__ import annotations

from sensorlake.config import Config
from sensorlake.lake.catalog import ensure_table
from sensorlake.lake.tables import TableSpec


def _partition_filter(df, spec: TableSpec) -> str:
    """A literal predicate on the target's partition values present in ``df`` (for file pruning)."""
    if not spec.partition_by:
        return ""
    col = spec.partition_by[0]
    values = [r[0] for r in df.select(col).distinct().collect() if r[0] is not None]
    if not values:
        return ""
    listed = ", ".join(f"'{v}'" for v in sorted(values))
    return f"t.{col} IN ({listed}) AND "


def insert_new_rows(spark, cfg: Config, spec: TableSpec, df, prune: bool = True) -> int:
    """MERGE ``df`` into the table, inserting rows whose key is not there yet; return rows inserted.

    Rows of ``df`` sharing a key count once. Rerunning with the same ``df`` inserts nothing.
    ``prune`` limits the MERGE to the partitions present in ``df``: right only when the
    partition column is a function of the key (event_date of event_time), not for quarantine.
    """
    from delta.tables import DeltaTable

    path = ensure_table(spark, cfg, spec)
    source = df.select(*spec.column_names).dropDuplicates(list(spec.key))
    key_match = " AND ".join(f"t.{k} = s.{k}" for k in spec.key)
    condition = (_partition_filter(source, spec) if prune else "") + key_match
    metrics = (
        DeltaTable.forPath(spark, path).alias("t")
        .merge(source.alias("s"), condition)
        .whenNotMatchedInsertAll()
        .execute()
    )
    return int(metrics.collect()[0]["num_inserted_rows"])


def upsert_rows(spark, cfg: Config, spec: TableSpec, df) -> int:
    """MERGE ``df`` into the table on its key: update matched rows, insert new ones; return rows affected."""
    from delta.tables import DeltaTable

    path = ensure_table(spark, cfg, spec)
    source = df.select(*spec.column_names).dropDuplicates(list(spec.key))
    key_match = " AND ".join(f"t.{k} = s.{k}" for k in spec.key)
    metrics = (
        DeltaTable.forPath(spark, path).alias("t")
        .merge(source.alias("s"), _partition_filter(source, spec) + key_match)
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    return int(metrics.collect()[0]["num_affected_rows"])
