"""The Spark Thrift JDBC/ODBC server for analysts: every Delta table of the lake, by name, over JDBC.

``spark-submit`` runs ``sensorlake/services/thrift_driver.py``, which registers every Delta
table under ``lake.root`` in a persistent Hive metastore, then starts Spark's
``HiveThriftServer2`` inside the same session (``startWithSparkSession``); every
``sql.register_interval_s`` seconds it names the tables created since. Extra Spark settings of
the server come from ``sql.spark_conf``.
Analysts connect with ``beeline -u jdbc:hive2://127.0.0.1:10000`` or any Hive JDBC/ODBC client.

The metastore is embedded Derby in ``sql.metastore_dir`` (default ``<lake.metastore_dir>/thrift``:
embedded Derby admits one JVM at a time, so the server keeps its own and the Spark jobs keep
theirs; both point at the same Delta paths). ``sql.metastore_url`` (e.g.
``jdbc:postgresql://db:5432/metastore``) with ``sql.metastore_driver``, ``sql.metastore_user``,
the password from ``SENSORLAKE_SQL_METASTORE_PASSWORD`` (handed over in an owner-only properties
file, never on the command line) and the driver jar in ``sql.extra_jars`` passes through to the
Hive client instead.

It binds ``sql.host`` (127.0.0.1 unless told otherwise). Health: the Thrift port accepts a
connection (it opens only after the tables are registered and the server has started).

Example::

    from sensorlake.services import thrift_server
    thrift_server.start(cfg)
    thrift_server.jdbc_url(cfg)        # 'jdbc:hive2://127.0.0.1:10000'
    thrift_server.beeline(cfg, "SELECT count(*) FROM bronze.readings")
    thrift_server.stop(cfg)
"""
from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from sensorlake.errors import ConfigError, ServiceError
from sensorlake.lake.spark import spark_conf
from sensorlake.package_data import packaged_path
from sensorlake.services import process

log = logging.getLogger(__name__)

NAME = "thrift"
PROCESSES = (NAME,)
START_TIMEOUT_S = 240
LOOPBACK = "127.0.0.1"
METASTORE_PASSWORD_ENV = "SENSORLAKE_SQL_METASTORE_PASSWORD"
DRIVER = Path(__file__).with_name("thrift_driver.py")
LOG4J_CONFIG = packaged_path(__file__, "thrift_log4j2.properties")
PROMPT = re.compile(r"^\d+: jdbc:hive2://\S+> ", re.MULTILINE)


def spark_home() -> Path:
    """The Spark distribution inside the installed ``pyspark`` package (bin/spark-submit, bin/beeline)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def host(cfg) -> str:
    """The interface the server binds: ``sql.host``, 127.0.0.1 unless told otherwise."""
    return str(cfg.get("sql.host") or LOOPBACK)


def port(cfg) -> int:
    """The Thrift (JDBC) port: ``sql.port``, 10000 by default."""
    return int(cfg.get("sql.port") or 10000)


def jdbc_url(cfg) -> str:
    """The URL clients connect to, e.g. ``jdbc:hive2://127.0.0.1:10000``."""
    return f"jdbc:hive2://{_reach(host(cfg))}:{port(cfg)}"


def _reach(bound: str) -> str:
    return LOOPBACK if bound in ("0.0.0.0", "::") else bound


def served_file(cfg) -> Path:
    """Where a started server records the host and port it binds (``serve --port`` may differ from sql.port)."""
    return cfg.runtime_dir / "run" / f"{NAME}.address"


def served_at(cfg) -> tuple[str, int]:
    """(host, port) of the running server as recorded at its start, else of the configuration."""
    if process.is_running(cfg, NAME):
        try:
            bound, recorded = served_file(cfg).read_text().split()
            return bound, int(recorded)
        except (OSError, ValueError):
            pass
    return host(cfg), port(cfg)


def address(cfg) -> str:
    """The JDBC URL of the running server (or the configured one): what ``services status`` shows."""
    bound, served = served_at(cfg)
    return f"jdbc:hive2://{_reach(bound)}:{served}"


def metastore_dir(cfg) -> Path:
    """Where the embedded Derby metastore and the warehouse live (``sql.metastore_dir``)."""
    if cfg.get("sql.metastore_dir"):
        return cfg.path("sql.metastore_dir")
    return cfg.path("lake.metastore_dir") / "thrift"


def metastore_conf(cfg, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Hive metastore settings: embedded Derby by default, or ``sql.metastore_url`` passed through."""
    environ = os.environ if environ is None else environ
    url = cfg.get("sql.metastore_url")
    if not url:
        return {"spark.hadoop.javax.jdo.option.ConnectionURL":
                f"jdbc:derby:;databaseName={metastore_dir(cfg) / 'metastore_db'};create=true"}
    conf = {
        "spark.hadoop.javax.jdo.option.ConnectionURL": str(url),
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": str(cfg.get("sql.metastore_driver") or ""),
        # An empty database gets the metastore schema on first use.
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
    }
    if cfg.get("sql.metastore_user"):
        conf["spark.hadoop.javax.jdo.option.ConnectionUserName"] = str(cfg.get("sql.metastore_user"))
    if environ.get(METASTORE_PASSWORD_ENV):
        conf["spark.hadoop.javax.jdo.option.ConnectionPassword"] = environ[METASTORE_PASSWORD_ENV]
    return conf


def server_conf(cfg, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Spark settings of the server: the jobs' Delta settings, its own metastore, its bind address and port."""
    conf = spark_conf(cfg, "sensorlake-thrift")
    store = metastore_dir(cfg)
    extra = [str(cfg.base_dir / j) if not os.path.isabs(str(j)) else str(j) for j in (cfg.get("sql.extra_jars") or [])]
    missing = [j for j in extra if not Path(j).is_file()]
    if missing:
        raise ConfigError(f"sql.extra_jars names jar(s) that do not exist: {', '.join(missing)}",
                          hint="put the JDBC driver jar of the metastore database there, or fix the path")
    jars = [j for j in conf["spark.jars"].split(",") if j] + extra
    conf.update({
        "spark.jars": ",".join(jars),
        # The Thrift sessions resolve the Delta catalog with the system class loader, not spark.jars' one.
        "spark.driver.extraClassPath": os.pathsep.join(jars),
        "spark.driver.memory": str(cfg.get("sql.driver_memory") or cfg.get("spark.driver_memory")),
        "spark.sql.warehouse.dir": str(store / "warehouse"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={store} -Dlog4j.configurationFile={LOG4J_CONFIG}",
        "spark.hadoop.hive.server2.thrift.bind.host": host(cfg),
        "spark.hadoop.hive.server2.thrift.port": str(port(cfg)),
        "spark.hadoop.hive.server2.transport.mode": "binary",
        # Analysts' ad-hoc results can be large: stream them to the client instead of collecting at once.
        "spark.sql.thriftServer.incrementalCollect": "true",
    })
    conf.update(metastore_conf(cfg, environ))
    conf.update({str(k): str(v) for k, v in (cfg.get("sql.spark_conf") or {}).items()})
    return conf


SECRET_KEYS = ("spark.hadoop.javax.jdo.option.ConnectionPassword",)


def secrets_file(cfg) -> Path:
    """Spark properties file (owner-only) carrying the settings that must not show in ``ps`` or logs."""
    return cfg.runtime_dir / "sql" / "secret.properties"


def command(cfg, environ: Mapping[str, str] | None = None) -> list[str]:
    """The ``spark-submit`` command line that runs the server driver.

    A metastore password goes to ``secrets_file`` (``--properties-file``), never onto the command line.
    """
    argv = [str(spark_home() / "bin" / "spark-submit"), "--name", "sensorlake-thrift"]
    conf = server_conf(cfg, environ)
    secret = {k: conf.pop(k) for k in SECRET_KEYS if k in conf}
    if secret:
        path = secrets_file(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.writelines(f"{k} {v}\n" for k, v in secret.items())
        argv += ["--properties-file", str(path)]
    for key, value in conf.items():
        argv += ["--conf", f"{key}={value}"]
    argv += [str(DRIVER), "--set", f"lake.root={cfg.lake_root}",
             "--set", f"sql.register_interval_s={cfg.get('sql.register_interval_s') or 0}"]
    return argv


def environment(cfg) -> dict[str, str]:
    """Environment of the server: this venv's Python, loopback Spark, the Thrift bind address and port."""
    return {
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": LOOPBACK,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONUNBUFFERED": "1",
        # HiveServer2 reads these before its configuration: they must agree with sql.host / sql.port.
        "HIVE_SERVER2_THRIFT_BIND_HOST": host(cfg),
        "HIVE_SERVER2_THRIFT_PORT": str(port(cfg)),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }


def healthy(cfg) -> bool:
    """True if the Thrift port (recorded at start, else ``sql.port``) accepts a connection."""
    bound, served = served_at(cfg)
    try:
        with socket.create_connection((_reach(bound), served), timeout=2):
            return True
    except OSError:
        return False


def _prepare(cfg, environ: Mapping[str, str] | None = None) -> list[str]:
    process.ensure_port_free(cfg, port(cfg), NAME, "sql.port", host=host(cfg))
    if host(cfg) != LOOPBACK:
        log.warning("the Thrift server binds %s without authentication: anyone who reaches it can read "
                    "every table of the lake", host(cfg))
    metastore_dir(cfg).mkdir(parents=True, exist_ok=True)
    served_file(cfg).parent.mkdir(parents=True, exist_ok=True)
    served_file(cfg).write_text(f"{host(cfg)} {port(cfg)}\n")
    return command(cfg, environ)


def start(cfg, environ: Mapping[str, str] | None = None) -> float:
    """Register every Delta table, start the server in the background and wait for its port; return seconds."""
    argv = _prepare(cfg, environ)
    process.start_process(cfg, NAME, argv, env=environment(cfg), cwd=metastore_dir(cfg))
    try:
        return process.wait_healthy(cfg, NAME, lambda: healthy(cfg), START_TIMEOUT_S,
                                    what=f"{jdbc_url(cfg)} accepts connections")
    except ServiceError:
        process.stop_process(cfg, NAME)
        raise


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run_foreground(cfg, environ: Mapping[str, str] | None = None) -> int:
    """Run the server attached to this terminal until Ctrl-C (or SIGTERM); return its exit code.

    The server runs in a process group of its own (spark-submit's JVM and the Python driver it
    forks), stopped as a whole on the way out.
    """
    argv = _prepare(cfg, environ)
    env = {**os.environ, **environment(cfg)}
    proc = subprocess.Popen(argv, env=env, cwd=metastore_dir(cfg), stdin=subprocess.DEVNULL, start_new_session=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        served_file(cfg).unlink(missing_ok=True)


def stop(cfg) -> bool:
    """Stop the server (whole process group: spark-submit, the JVM and the Python driver)."""
    stopped = process.stop_process(cfg, NAME, timeout=30)
    served_file(cfg).unlink(missing_ok=True)
    return stopped


def without_comments(sql: str) -> str:
    """``sql`` without its whole-line ``--`` comments: ``beeline -e`` skips a statement that starts with one."""
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def beeline(cfg, sql: str, fmt: str = "tsv2", timeout: float = 180) -> str:
    """Run ``sql`` (one or more statements) through ``beeline`` against the running server; return stdout.

    Output is tab-separated with a header per result by default. Raises ServiceError with
    beeline's message if a statement fails.
    Example: ``beeline(cfg, "SELECT count(*) AS n FROM bronze.readings")`` -> ``'n\\n42\\n'``.
    """
    argv = [str(spark_home() / "bin" / "beeline"), "-u", address(cfg), "--silent=true",
            f"--outputformat={fmt}", "--showHeader=true", "-e", without_comments(sql)]
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": LOOPBACK}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ServiceError(f"beeline did not finish within {timeout:.0f} s: {sql[:200]}",
                           hint=f"check the server log {process.log_file(cfg, NAME)}") from None
    if done.returncode != 0 or "Error:" in done.stderr:
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        message = (errors[0][:600] if errors else done.stderr.strip()[-600:]) or f"exit code {done.returncode}"
        raise ServiceError(f"beeline failed on {address(cfg)}: {message}",
                           hint=f"check the SQL, and the server log {process.log_file(cfg, NAME)}")
    # beeline echoes its prompt ("0: jdbc:hive2://...> ") before the first result when not on a
    # terminal, and wraps values holding separators in NUL characters (quoting is off in *sv2).
    return PROMPT.sub("", done.stdout).replace("\x00", "")


def beeline_rows(cfg, sql: str, timeout: float = 180) -> list[dict[str, str]]:
    """The rows of one query through beeline, as dicts of strings ('NULL' for null).

    Example: ``beeline_rows(cfg, "SELECT count(*) AS n FROM gold.predictions")`` -> ``[{'n': '4'}]``.
    """
    lines = [line for line in beeline(cfg, sql, "tsv2", timeout).splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]
