"""Create the Delta tables and register them by name in the Spark SQL catalog.

Tables are path-based (``<lake.root>/<layer>/<name>``) and registered as external tables, so
``SELECT ... FROM bronze.readings`` works in Spark SQL while delta-rs reads the same path.

Example::

    ensure_table(spark, cfg, TABLES["bronze.readings"])
    register_tables(spark, cfg)   # every table found under the lake root
"""
from __future__ import annotations

from sensorlake.config import Config
from sensorlake.lake.tables import TableSpec


def _quote(path) -> str:
    return str(path).replace("'", "\\'")


def ensure_table(spark, cfg: Config, spec: TableSpec) -> str:
    """Create the table at its path if absent (portable protocol) and register its name; return the path."""
    from delta.tables import DeltaTable
    from pyspark.sql.types import StructType

    path = str(cfg.table_path(spec.name))
    layer = spec.name.split(".")[0]
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {layer}")
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(StructType.fromDDL(spec.spark_ddl()))
    if spec.partition_by:
        builder = builder.partitionedBy(*spec.partition_by)
    for key, value in spec.table_properties.items():
        builder = builder.property(key, value)
    if spec.description:
        builder = builder.comment(spec.description)
    builder.execute()
    register_table(spark, spec.name, path)
    return path


def _registered_location(spark, name: str) -> str | None:
    if not spark.catalog.tableExists(name):
        return None
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {name}").where("col_name = 'Location'").collect()
    return rows[0]["data_type"] if rows else None


def register_table(spark, name: str, path: str) -> None:
    """Register a Delta path under ``layer.name``; a name pointing elsewhere is re-pointed here.

    The lake root is the truth: after the lake moves (or another configuration wrote the
    metastore), the names follow the configured paths. Dropping an external table keeps its data.
    """
    layer = name.split(".")[0]
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {layer}")
    location = _registered_location(spark, name)
    if location is not None and location.removeprefix("file:").rstrip("/") != str(path).rstrip("/"):
        spark.sql(f"DROP TABLE {name}")
    spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING delta LOCATION '{_quote(path)}'")


def lake_table_paths(cfg: Config) -> dict[str, str]:
    """Every Delta table under the lake root by name, e.g. ``{'bronze.readings': '/lake/bronze/readings'}``.

    No JVM: DuckDB (``sensorlake sql query``) and the Thrift server's refresh use it too.
    """
    root = cfg.lake_root
    if not root.is_dir():
        return {}
    return {f"{log.parent.parent.name}.{log.parent.name}": str(log.parent)
            for log in sorted(root.glob("*/*/_delta_log")) if not log.parent.parent.name.startswith(("_", "."))}


def register_tables(spark, cfg: Config) -> list[str]:
    """Register every Delta table found under the lake root; return their names."""
    names = []
    root = cfg.lake_root
    if not root.is_dir():
        return names
    for log_dir in sorted(root.glob("*/*/_delta_log")):
        table_dir = log_dir.parent
        name = f"{table_dir.parent.name}.{table_dir.name}"
        register_table(spark, name, str(table_dir))
        names.append(name)
    return names
