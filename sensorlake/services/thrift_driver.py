"""Spark Thrift server driver: register every Delta table of the lake, serve JDBC, name new tables.

Submitted by ``sensorlake sql serve`` (sensorlake.services.thrift_server), which passes the
metastore, bind address and port as ``--conf``; runs until stopped (SIGTERM to its group).
Runnable by hand too::

    spark-submit --conf spark.hadoop.hive.server2.thrift.port=10001 ... \
        sensorlake/services/thrift_driver.py --set lake.root=/data/lake
"""
from __future__ import annotations

import logging
import time

from sensorlake.entrypoint import run_job
from sensorlake.lake.catalog import lake_table_paths, register_table, register_tables

log = logging.getLogger("sensorlake.thrift")
JVM_CHECK_S = 5


def add_arguments(parser):
    return parser


def start_thrift_server(spark) -> None:
    """Start HiveThriftServer2 on ``spark``'s own session (its catalog, Delta extension and settings)."""
    jvm = spark.sparkContext._jvm
    jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithSparkSession(spark._jsparkSession, True)


def serve(args, cfg) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from pyspark.sql import SparkSession

    # Every setting comes from spark-submit's --conf (thrift_server.server_conf): nothing here overrides them.
    spark = SparkSession.builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    names = register_tables(spark, cfg)
    log.info("registered %d Delta table(s) under %s: %s", len(names), cfg.lake_root, ", ".join(names) or "none")
    start_thrift_server(spark)
    port = spark.sparkContext.getConf().get("spark.hadoop.hive.server2.thrift.port", "10000")
    log.info("HiveThriftServer2 started on port %s", port)
    interval = float(cfg.get("sql.register_interval_s") or 0)
    known, next_look = set(names), time.monotonic() + interval
    while jvm_alive(spark):
        time.sleep(JVM_CHECK_S)
        if interval > 0 and time.monotonic() >= next_look:
            known |= register_new_tables(spark, cfg, known)
            next_look = time.monotonic() + interval
    log.error("the Spark JVM is gone: stopping")
    return 1


def jvm_alive(spark) -> bool:
    """False once the JVM behind ``spark`` has exited (this Python driver must not outlive it)."""
    try:
        spark.sparkContext._jvm.java.lang.System.currentTimeMillis()
        return True
    except Exception:  # noqa: BLE001 - py4j raises several kinds once the gateway is closed
        return False


def register_new_tables(spark, cfg, known: set[str]) -> set[str]:
    """Register the tables of the lake not in ``known`` (created since); return their names."""
    new = {}
    try:
        new = {name: path for name, path in lake_table_paths(cfg).items() if name not in known}
        for name, path in new.items():
            register_table(spark, name, path)
            log.info("registered new Delta table %s (%s)", name, path)
    except Exception as exc:  # noqa: BLE001 - a failed refresh must not stop the server
        log.warning("registering new Delta tables failed (will retry): %s", exc)
        return set()
    return set(new)


def main(argv=None) -> int:
    return run_job(__doc__, add_arguments, serve, argv)


if __name__ == "__main__":
    raise SystemExit(main())
