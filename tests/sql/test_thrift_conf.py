"""How `sensorlake sql serve` configures the Thrift server: metastore, bind address, port (no JVM started)."""
from __future__ import annotations

import pytest

from sensorlake.errors import ConfigError
from sensorlake.services import thrift_server
from tests.services.conftest import with_values


def conf_of(argv: list[str]) -> dict[str, str]:
    return dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--conf")


def test_by_default_the_metastore_is_embedded_derby_of_its_own(cfg):
    conf = thrift_server.server_conf(cfg, environ={})
    store = cfg.path("lake.metastore_dir") / "thrift"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == \
        f"jdbc:derby:;databaseName={store / 'metastore_db'};create=true"
    assert f"-Dderby.system.home={store}" in conf["spark.driver.extraJavaOptions"]
    assert thrift_server.LOG4J_CONFIG.is_file() and str(thrift_server.LOG4J_CONFIG) in conf["spark.driver.extraJavaOptions"]
    assert conf["spark.sql.catalogImplementation"] == "hive"
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"


def test_it_binds_loopback_on_the_configured_port(cfg):
    argv = thrift_server.command(with_values(cfg, sql__port=10123), environ={})
    conf = conf_of(argv)
    assert conf["spark.hadoop.hive.server2.thrift.bind.host"] == "127.0.0.1"
    assert conf["spark.hadoop.hive.server2.thrift.port"] == "10123"
    assert argv[-4:] == ["--set", f"lake.root={cfg.lake_root}", "--set", "sql.register_interval_s=60"]


def test_a_metastore_url_passes_through_with_the_password_from_the_environment_only(cfg):
    shared = with_values(cfg, sql__metastore_url="jdbc:postgresql://db:5432/metastore", sql__metastore_user="hive")
    conf = thrift_server.server_conf(shared, environ={thrift_server.METASTORE_PASSWORD_ENV: "s3cret-pass"})
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == "jdbc:postgresql://db:5432/metastore"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionDriverName"] == "org.postgresql.Driver"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionUserName"] == "hive"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionPassword"] == "s3cret-pass"
    assert "ConnectionPassword" not in str(thrift_server.server_conf(shared, environ={}))


def test_a_missing_extra_jar_is_a_config_error_naming_it(cfg, tmp_path):
    with pytest.raises(ConfigError, match="postgresql.jar"):
        thrift_server.server_conf(with_values(cfg, sql__extra_jars=[str(tmp_path / "postgresql.jar")]), environ={})


def test_extra_spark_settings_reach_the_server(cfg):
    tuned = with_values(cfg, sql__spark_conf={"spark.databricks.delta.snapshotPartitions": 2})
    assert thrift_server.server_conf(tuned, environ={})["spark.databricks.delta.snapshotPartitions"] == "2"


def test_whole_line_comments_are_dropped_for_beeline_e():
    sql = "-- what it answers\n  -- more\nSELECT 1 -- one\nFROM t;"
    assert thrift_server.without_comments(sql) == "SELECT 1 -- one\nFROM t;"


def test_the_metastore_password_never_reaches_the_command_line(cfg, tmp_path):
    shared = with_values(cfg, sql__metastore_url="jdbc:postgresql://db:5432/metastore",
                         runtime__dir=str(tmp_path / "runtime"))
    argv = thrift_server.command(shared, environ={thrift_server.METASTORE_PASSWORD_ENV: "s3cret-pass"})
    assert "s3cret-pass" not in " ".join(argv)
    secrets = thrift_server.secrets_file(shared)
    assert argv[argv.index("--properties-file") + 1] == str(secrets)
    assert secrets.stat().st_mode & 0o077 == 0, "readable by its owner only"
    assert "spark.hadoop.javax.jdo.option.ConnectionPassword s3cret-pass" in secrets.read_text()
