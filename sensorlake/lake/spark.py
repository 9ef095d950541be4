"""Build a SparkSession with Delta Lake from the project's resolved jars (no download at run time).

Under ``spark-submit`` the settings the command line gave (``--master``, ``--driver-memory``,
``--jars``, ``--conf k=v``, spark-defaults.conf) win: the settings here only fill what it left
unset, so ``spark-submit --master spark://127.0.0.1:7077`` runs on that master whatever
``spark.master`` the configuration names. The Delta jars must then come with ``--jars`` (the
driver's JVM is already running; see :mod:`sensorlake.lake.submit`).

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
from sensorlake.package_data import packaged_path

LOG4J_CONFIG = packaged_path(__file__, "log4j2.properties")
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"


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
    partitions = str(cfg.get("spark.shuffle_partitions"))
    return {
        "spark.app.name": app_name,
        "spark.master": cfg.get("spark.master"),
        "spark.driver.memory": str(cfg.get("spark.driver_memory")),
        "spark.driver.maxResultSize": str(cfg.get("spark.driver_max_result_size")),
        "spark.jars": ",".join(str(j) for j in delta_jars(cfg)),
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": partitions,
        # Small tables, few cores: sized like the shuffle instead of Spark's and Delta's defaults.
        # Delta's VACUUM lists the table's folders in a Spark job of this many tasks (Spark's
        # default: 10,000, nearly all empty): 44 s -> 13 s for a small table on 2 cores.
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": partitions,
        # Delta rebuilds a table's snapshot (its live files) in a job of this many tasks (default
        # 50) on every new version it reads: the ingest job under spark-submit went 77 s -> 54 s.
        "spark.databricks.delta.snapshotPartitions": partitions,
        # Batches to Python UDFs (scoring's spark_udf) are bounded by rows (maxRecordsPerBatch,
        # 10,000) only: a byte limit (Spark 4.1 default 64 MiB) makes the Arrow writer add up the
        # buffer sizes of every column after every row (60 features: 4.65 -> 3.4 JVM CPU-s per 1M rows).
        "spark.sql.execution.arrow.maxBytesPerBatch": str(2**31 - 1),
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
    launched = launcher_conf()
    if launched and not _driver_loads(DELTA_EXTENSION):
        raise ConfigError("spark-submit started the driver without the Delta Lake jars on its classpath",
                          f"add --jars \"$(ls {cfg.jars_dir / 'spark'}/*.jar | paste -sd, -)\" "
                          "(or build the command with `python -m sensorlake.lake.submit run ...`)")
    builder = SparkSession.builder
    for key, value in spark_conf(cfg, app_name).items():
        if key in launched and not (key == "spark.app.name" and _default_app_name(launched[key])):
            continue      # the command line's value wins
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def launcher_conf() -> dict[str, str]:
    """The settings ``spark-submit`` gave this driver; empty when Python started the JVM itself.

    spark-submit starts the driver's JVM first and hands its gateway to Python
    (``PYSPARK_GATEWAY_PORT``); its settings are then the JVM's ``spark.*`` system properties.
    """
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return {}
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()
    return dict(SparkConf(_jvm=SparkContext._jvm).getAll())


def _default_app_name(name: str) -> bool:
    """spark-submit names an application after its file unless given ``--name``: the job's own name is better."""
    return name == Path(sys.argv[0]).name


def _driver_loads(class_name: str) -> bool:
    """True if the running driver JVM can load ``class_name`` (from --jars, or a jar in $SPARK_HOME/jars)."""
    from pyspark import SparkContext

    try:
        return bool(SparkContext._jvm.org.apache.spark.util.Utils.classIsLoadable(class_name))
    except Exception:  # noqa: BLE001 - cannot tell: let the session start and fail on its own if it must
        return True
