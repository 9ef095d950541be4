"""Build a SparkSession with Delta Lake from the project's resolved jars (no download at run time).

Under ``spark-submit`` the session the launcher configured is reused (``getOrCreate``); the
settings here only fill what the command line left unset.

Example::

    spark = build_spark_session(cfg, app_name="sensorlake-ingest")
    spark.sql("SELECT count(*) FROM bronze.readings").show()
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from sensorlake.config import Config
from sensorlake.errors import ConfigError

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")


def delta_jars(cfg: Config) -> list[Path]:
    """The Delta Lake jars resolved by ``make jars`` into ``<runtime.jars_dir>/spark``."""
    folder = cfg.jars_dir / "spark"
    jars = sorted(folder.glob("*.jar"))
    if not any(j.name.startswith("delta-spark") for j in jars):
        raise ConfigError(f"no Delta Lake jar in {folder}", "run `make jars` (or `make setup`) to resolve the pinned JVM jars")
    return jars


def spark_conf(cfg: Config, app_name: str) -> dict[str, str]:
    """Spark settings for sensorlake: Delta SQL extension and catalog, metastore, portable tables."""
    metastore = cfg.path("lake.metastore_dir")
    return {
        "spark.app.name": app_name,
        "spark.master": cfg.get("spark.master"),
        "spark.driver.memory": str(cfg.get("spark.driver_memory")),
        "spark.jars": ",".join(str(j) for j in delta_jars(cfg)),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(cfg.get("spark.shuffle_partitions")),
        "spark.sql.warehouse.dir": str(metastore / "warehouse"),
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={metastore / 'metastore_db'};create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={metastore} -Dlog4j.configurationFile={LOG4J_CONFIG}",
        # New Delta tables stay writable by delta-rs: no deletion vectors, no table features.
        "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
        "spark.databricks.delta.properties.defaults.minReaderVersion": "1",
        "spark.databricks.delta.properties.defaults.minWriterVersion": "2",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.debug.maxToStringFields": "200",
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
    }


def build_spark_session(cfg: Config, app_name: str = "sensorlake"):
    """Create (or reuse) the SparkSession configured for Delta Lake and the sensorlake catalog."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    cfg.path("lake.metastore_dir").mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder
    for key, value in spark_conf(cfg, app_name).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
