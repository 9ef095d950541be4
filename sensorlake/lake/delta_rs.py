"""JVM-free Delta writes with delta-rs (``deltalake``), for the streaming job's Python operators.

Tables are created with the same schema, partitioning and protocol as the Spark side
(sensorlake.lake.tables), so Spark and delta-rs write and read each other's tables.

A writer that commits every few seconds keeps its tables open (:class:`OpenTable`): each commit
then reads only the log entries written since its last one, not the whole log from its last
checkpoint.

Example::

    bronze = OpenTable(ensure_table(cfg, READINGS))
    append_once(bronze, arrow_rows, app_id="sensorlake-bronze:sensor-readings:3", version=41235)
    merge_on_key(ensure_table(cfg, silver_spec(view)), rows, key=("equipment_id", "window_start", "window_end"))
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from sensorlake.config import Config
from sensorlake.lake.tables import PORTABLE_PROPERTIES, TableSpec


def ensure_table(cfg: Config, spec: TableSpec, schema: pa.Schema | None = None) -> str:
    """Create the table at its path if absent (same schema, partitions and protocol as Spark's)."""
    return ensure_table_at(str(cfg.table_path(spec.name)), schema or spec.arrow_schema(), spec.partition_by,
                           spec.table_properties)


class OpenTable:
    """A Delta table kept open between a writer's commits; :meth:`latest` brings it up to date."""

    def __init__(self, path: str):
        self.path = path
        self._table = None

    def latest(self):
        """The table at its newest version, reading only the commits since the last call (``update_incremental``)."""
        from deltalake import DeltaTable

        if self._table is None:
            self._table = DeltaTable(self.path)
        else:
            self._table.update_incremental()
        return self._table

    def __str__(self) -> str:
        return self.path


def _latest(table: str | OpenTable):
    from deltalake import DeltaTable

    return table.latest() if isinstance(table, OpenTable) else DeltaTable(table)


def append_once(table: str | OpenTable, rows: pa.Table, app_id: str, version: int,
                partition_by: tuple[str, ...] = ()) -> None:
    """Append ``rows`` to ``table`` (a path, or an open table) and record (app_id, version) in the
    same commit (Delta's idempotent-write id)."""
    from deltalake import CommitProperties, Transaction, write_deltalake

    target = table.latest() if isinstance(table, OpenTable) else table   # a path: delta-rs opens it (or creates it)
    write_deltalake(target, rows, mode="append", partition_by=list(partition_by) or None,
                    commit_properties=CommitProperties(app_transactions=[Transaction(app_id, version)],
                                                       max_commit_retries=20))


def merge_on_key(table: str | OpenTable, rows: pa.Table, key: tuple[str, ...]) -> dict:
    """Upsert ``rows`` into ``table`` (a path, or an open table) on ``key``: replace the matching
    rows, insert the others; return delta-rs metrics.

    A MERGE that loses a commit race to another writer (a Spark backfill rewrote files it read) runs
    again against the new version (sensorlake.lake.conflicts).
    """
    from deltalake import CommitProperties

    from sensorlake.lake.conflicts import retry_on_conflict

    predicate = " AND ".join(f"t.{k} = s.{k}" for k in key)

    def merge() -> dict:
        return (
            _latest(table)
            .merge(rows, predicate=predicate, source_alias="s", target_alias="t",
                   commit_properties=CommitProperties(max_commit_retries=20))
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )

    return retry_on_conflict(merge, what=f"MERGE into {table}")[0]


def ensure_table_at(path: str, schema: pa.Schema, partition_by: tuple[str, ...] = (),
                    properties: dict[str, str] | None = None) -> str:
    """Create a Delta table at ``path`` with ``schema`` if absent (portable protocol, or ``properties``)."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(path):
        Path(path).mkdir(parents=True, exist_ok=True)
        try:
            DeltaTable.create(path, schema, partition_by=list(partition_by) or None,
                              configuration=dict(properties or PORTABLE_PROPERTIES),
                              raise_if_key_not_exists=False)    # the project's own keys (sensorlake.*)
        except Exception:
            if not DeltaTable.is_deltatable(path):
                raise
    return path
