"""A single-node Kafka broker in KRaft mode (broker and controller in one JVM) on 127.0.0.1.

Runs ``kafka.Kafka`` from the jars in ``<runtime.jars_dir>/kafka`` with a generated
``<runtime>/kafka/server.properties``; data lives in ``<runtime>/kafka/data`` (formatted once),
logs go to ``<log_dir>/kafka.log``. Health is a metadata request through AdminClient.

Example::

    from sensorlake.services import kafka
    kafka.start(cfg)                       # returns once the broker answers metadata requests
    kafka.ensure_topic(cfg, "sensor-readings", partitions=4)
    kafka.stop(cfg)
"""
from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from pathlib import Path

from sensorlake.errors import ServiceError
from sensorlake.services import process

log = logging.getLogger(__name__)

NAME = "kafka"
PROCESSES = (NAME,)
START_TIMEOUT_S = 90
HEAP = "-Xmx1g"

LOG4J2 = """\
Configuration:
  name: sensorlake-kafka
  Appenders:
    Console:
      name: STDOUT
      target: SYSTEM_OUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: kafka.log.LogCleaner
        level: WARN
      - name: state.change.logger
        level: WARN
      - name: kafka.authorizer.logger
        level: WARN
      - name: org.apache.kafka.storage.internals.log
        level: WARN
"""


def address(cfg) -> str:
    """Bootstrap address clients use, e.g. ``127.0.0.1:19092``."""
    return f"127.0.0.1:{cfg.get('kafka.port')}"


def home(cfg) -> Path:
    """Folder with the broker's generated configuration and its data."""
    return cfg.runtime_dir / "kafka"


def classpath(cfg) -> str:
    """Java classpath for the broker: every jar in ``<jars_dir>/kafka`` (resolved by ``make jars``)."""
    jars_dir = cfg.jars_dir / "kafka"
    jars = sorted(jars_dir.glob("*.jar"))
    if not any(j.name.startswith("kafka_2.13-") for j in jars):
        raise ServiceError(f"no Kafka broker jars in {jars_dir}", hint="run `make jars` (scripts/resolve_jars.sh)")
    return ":".join(str(j) for j in jars)


def write_config(cfg) -> Path:
    """Write ``server.properties`` and ``log4j2.yaml`` under ``home(cfg)``; return the properties path."""
    port, cport = cfg.get("kafka.port"), cfg.get("kafka.controller_port")
    data_dir = home(cfg) / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    props = {
        "process.roles": "broker,controller",
        "node.id": 1,
        # A static voter set: the controller endpoint comes from this file on every start,
        # so changing kafka.controller_port later needs no re-format.
        "controller.quorum.voters": f"1@127.0.0.1:{cport}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": data_dir,
        "num.partitions": cfg.get("kafka.partitions") or 1,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 4,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 4,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        "num.network.threads": 2,
        "num.io.threads": 2,
        "num.recovery.threads.per.data.dir": 1,
        "log.segment.bytes": 64 * 1024 * 1024,
        "log.retention.hours": 168,
        "log.retention.check.interval.ms": 300000,
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
    }
    path = home(cfg) / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (home(cfg) / "log4j2.yaml").write_text(LOG4J2)
    return path


def _java(cfg, main: str, *args: str) -> list[str]:
    return ["java", HEAP, "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={home(cfg) / 'log4j2.yaml'}",
            "-cp", classpath(cfg), main, *args]


def new_cluster_id() -> str:
    """A random KRaft cluster id as Kafka's ``Uuid.randomUuid`` makes them: 22 URL-safe base64
    characters, never starting with ``-`` (the storage tool would read it as an option)."""
    while (cluster_id := base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()).startswith("-"):
        pass
    return cluster_id


def format_storage(cfg, props: Path) -> None:
    """Format the KRaft storage once (a no-op if ``data/meta.properties`` exists)."""
    if (home(cfg) / "data" / "meta.properties").exists():
        return
    cluster_id = new_cluster_id()
    cmd = _java(cfg, "kafka.tools.StorageTool", "format", "--config", str(props),
                "--cluster-id", cluster_id, "--ignore-formatted")
    result = subprocess.run(cmd, capture_output=True, text=True)
    with open(process.log_file(cfg, NAME), "a") as out:
        out.write(f"==== storage format (cluster id {cluster_id})\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        raise ServiceError(f"formatting Kafka storage in {home(cfg) / 'data'} failed:\n{result.stdout}{result.stderr}",
                           hint=f"remove {home(cfg) / 'data'} if it holds a broken format")


UNREACHABLE_HINT = "start it with `sensorlake services up kafka`, or point kafka.bootstrap at a running broker"


def admin(cfg, timeout_s: float = 5.0, bootstrap: str | None = None):
    """A confluent_kafka AdminClient on ``cfg.kafka_bootstrap``, quiet while Kafka is down."""
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap or cfg.kafka_bootstrap,
                        "socket.timeout.ms": int(timeout_s * 1000), "log_level": 0})


def healthy(cfg) -> bool:
    """True if the broker started here answers a metadata request with at least one broker."""
    try:
        md = admin(cfg, 2.0, bootstrap=address(cfg)).list_topics(timeout=2.0)
    except Exception:  # noqa: BLE001 - KafkaException while it starts
        return False
    return bool(md.brokers)


def start(cfg) -> float:
    """Start the broker and wait until it is healthy; return the seconds it took to start."""
    process.ensure_port_free(cfg, cfg.get("kafka.port"), "kafka", "kafka.port")
    process.ensure_port_free(cfg, cfg.get("kafka.controller_port"), "kafka (controller)", "kafka.controller_port")
    props = write_config(cfg)
    process.log_file(cfg, NAME).parent.mkdir(parents=True, exist_ok=True)
    format_storage(cfg, props)
    process.start_process(cfg, NAME, _java(cfg, "kafka.Kafka", str(props)), cwd=home(cfg))
    try:
        return process.wait_healthy(cfg, NAME, lambda: healthy(cfg), START_TIMEOUT_S,
                                    what=f"metadata request to {address(cfg)}")
    except ServiceError:
        process.stop_process(cfg, NAME)
        raise


def stop(cfg) -> bool:
    """Stop the broker (its whole process group); True if it was running."""
    return process.stop_process(cfg, NAME, timeout=30)


def ensure_topic(cfg, name: str, partitions: int | None = None, timeout_s: float = 30.0,
                 bootstrap: str | None = None) -> int:
    """Create topic ``name`` if it does not exist (idempotent); return its partition count.

    An existing topic is left as it is, even with another partition count. An unreachable
    broker raises ServiceError naming it and how to start one.
    Example: ``ensure_topic(cfg, cfg.get("kafka.topic"), cfg.get("kafka.partitions"))``.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    bootstrap = bootstrap or cfg.kafka_bootstrap
    partitions = int(partitions or cfg.get("kafka.partitions") or 1)
    client = admin(cfg, bootstrap=bootstrap)
    try:
        client.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise ServiceError(f"Kafka broker at {bootstrap} is unreachable ({exc})", hint=UNREACHABLE_HINT) from None
    future = client.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                                  request_timeout=timeout_s)[name]
    try:
        future.result(timeout=timeout_s)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise ServiceError(f"cannot create Kafka topic {name!r} on {bootstrap}: {exc}",
                               hint="check that Kafka runs: `sensorlake services status`") from None
    md = client.list_topics(topic=name, timeout=timeout_s)
    existing = len(md.topics[name].partitions)
    if existing != partitions:
        log.warning("topic %s exists with %d partitions (asked for %d); left unchanged", name, existing, partitions)
    return existing
