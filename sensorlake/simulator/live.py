"""Live production of the simulated fleet to Kafka, paced to a target rate, with a manifest.

Each record is one JSON reading (see ``records.py``), keyed by its equipment id, with the
message timestamp set by the producer (CreateTime = produce time). Simulated time starts at
``start`` and advances as fast as the target rate asks: at ``--rate R`` the simulated clock runs
``R / fleet.readings_per_second`` times faster than the wall clock, but never ahead of it (a real
device does not send readings from the future; the stream would quarantine them as
``future_timestamp``): once it catches up, production goes on at the fleet's real-time pace.
:func:`backdated_start` starts a run early enough that its simulated span ends about now.

The producer batches (linger, large batches, lz4) and is idempotent, so broker retries never
duplicate a record: every duplicate in the topic is an injected one, and the manifest's counts
hold exactly for what the topic holds.

Example::

    manifest = produce_live(cfg, fleet, InjectionSettings(bad_rate=0.01), rate=5000, count=100_000)
    manifest["counts"]["per_partition"]
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path

import numpy as np

from sensorlake.errors import ServiceError
from sensorlake.services import kafka
from sensorlake.services.kafka import UNREACHABLE_HINT as KAFKA_HINT
from sensorlake.progress import Progress
from sensorlake.simulator.bad_records import BadRecordInjector, InjectionLedger, InjectionSettings
from sensorlake.simulator.fleet import Fleet
from sensorlake.simulator.history import build_manifest, equipment_table, events_table, write_manifest

log = logging.getLogger(__name__)



def _wait_for_clock(simulated_ms: int, started: float, duration_s: float | None) -> bool:
    """Sleep until the wall clock reaches ``simulated_ms``; False if ``duration_s`` ran out first."""
    while (ahead_s := simulated_ms / 1000 - time.time()) > 0:
        left_s = None if duration_s is None else duration_s - (time.monotonic() - started)
        if left_s is not None and left_s <= 0:
            return False
        time.sleep(min(ahead_s, 0.5, left_s if left_s is not None else 0.5))
    return True


def backdated_start(fleet_readings_per_second: float, rate: float | None, duration_s: float | None,
                    count: int | None, now: dt.datetime | None = None) -> dt.datetime:
    """A start such that ``count`` records (or ``rate`` x ``duration_s``) of a fleet producing
    ``fleet_readings_per_second`` end about ``now``; ``now`` itself for an unbounded run."""
    now = now or dt.datetime.now(dt.timezone.utc)
    records = count if count is not None else (rate * duration_s if rate and duration_s else 0)
    return (now - dt.timedelta(seconds=records / max(fleet_readings_per_second, 1e-9))).replace(microsecond=0)


def producer_config(bootstrap: str, **overrides) -> dict:
    """librdkafka settings for a high-rate, loss-free, duplicate-free producer.

    Example::

        Producer(producer_config("127.0.0.1:19092", **{"linger.ms": 5}))
    """
    conf = {
        "bootstrap.servers": bootstrap,
        "client.id": "sensorlake-simulator",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "batch.num.messages": 100_000,
        "compression.type": "lz4",
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "enable.idempotence": True,          # retries never write a record twice
        "acks": "all",
        "partitioner": "murmur2_random",     # the same key -> partition mapping as Java clients (Flink, Spark)
        "message.timeout.ms": 120_000,
    }
    conf.update(overrides)
    return conf


def produce_live(cfg, fleet: Fleet, injection: InjectionSettings, topic: str | None = None,
                 rate: float | None = None, duration_s: float | None = None, count: int | None = None,
                 manifest_path: Path | None = None, history_out: Path | None = None,
                 progress: Progress | None = None, bootstrap: str | None = None, connect_timeout_s: float = 10.0,
                 unpaced: threading.Event | None = None, **producer_overrides) -> dict:
    """Produce the fleet's readings (with bad records) to Kafka and return the manifest.

    Parameters:
        rate: target records per second (None or 0: as fast as possible).
        duration_s / count: stop after this long / this many records (count = rate x duration
            when both rate and duration are given); neither: until interrupted.
        manifest_path: where to write the manifest JSON.
        history_out: a folder for events.parquet and equipment.parquet of the simulated span.
        connect_timeout_s: how long to wait for the broker before raising ServiceError.
        unpaced: once this event is set, the rest is produced as fast as possible (a paced phase
            that another thread ends, e.g. when a test has injected its faults).

    Example::

        produce_live(cfg, fleet, InjectionSettings(bad_rate=0.02, seed=1), rate=1000, duration_s=10,
                     manifest_path=Path("/tmp/live-manifest.json"))
    """
    from confluent_kafka import Producer

    topic = topic or cfg.get("kafka.topic")
    bootstrap = bootstrap or cfg.kafka_bootstrap
    rate = float(rate) if rate else None
    if count is None and duration_s is not None and rate:
        count = int(round(rate * duration_s))
    n_partitions = kafka.ensure_topic(cfg, topic, timeout_s=connect_timeout_s, bootstrap=bootstrap)

    delivered = {"ok": 0, "failed": 0, "first_error": None}
    partition_of_key: dict[bytes, int] = {}

    def on_delivery(err, msg):
        if err is not None:
            delivered["failed"] += 1
            delivered["first_error"] = delivered["first_error"] or str(err)
        else:
            delivered["ok"] += 1
            partition_of_key[msg.key()] = msg.partition()

    producer = Producer(producer_config(bootstrap, on_delivery=on_delivery, **producer_overrides))
    injector = BadRecordInjector(fleet, injection)
    ledger = InjectionLedger(len(fleet.equipment))
    keys = [eq.equipment_id.encode() for eq in fleet.equipment]
    progress = progress or Progress("simulate live", total=count, unit="records")
    produce, poll = producer.produce, producer.poll
    slice_size = max(1, min(20_000, int(rate / 50) if rate else 20_000))  # ~20 ms of records per slice
    sent, last_time_ms = 0, fleet.settings.start_ms
    started = time.monotonic()
    far_end = fleet.settings.start_ms + 100 * 365 * 86_400_000
    chunk_index, stop = 0, False
    try:
        while not stop:
            chunk = fleet.chunk(chunk_index, end_ms=far_end).sorted_by_time()
            chunk_index += 1
            emitted = injector.emit(chunk)
            if count is not None and sent + len(emitted) >= count:
                emitted, stop = emitted.head(count - sent), True
            lines, eq_index = emitted.lines, emitted.equipment_index.tolist()
            done_in_chunk = 0
            try:
                lo = 0
                while lo < len(lines):
                    hi = min(lo + slice_size, len(lines))
                    if len(chunk):   # never ahead of the wall clock (emitted lines follow the chunk's times, roughly)
                        times = chunk.event_time_ms
                        if not _wait_for_clock(int(times[min(lo, len(times) - 1)]), started, duration_s):
                            stop = True
                            break
                        hi = max(lo + 1, min(hi, int(np.searchsorted(times, time.time() * 1000, side="right"))))
                    for k in range(lo, hi):
                        try:
                            produce(topic, lines[k], keys[eq_index[k]])
                        except BufferError:        # local queue full: let deliveries drain, then retry
                            poll(0.05)
                            produce(topic, lines[k], keys[eq_index[k]])
                        done_in_chunk += 1
                    poll(0)
                    sent += hi - lo
                    progress.advance(hi - lo)
                    lo = hi
                    elapsed = time.monotonic() - started
                    if rate and not (unpaced is not None and unpaced.is_set()):
                        ahead = sent / rate - elapsed
                        if ahead > 0:
                            time.sleep(ahead)
                    if duration_s is not None and elapsed >= duration_s:
                        stop = True
                        break
            finally:
                ledger.add(emitted.head(done_in_chunk))
                if done_in_chunk and len(chunk):  # ~ the newest simulated time produced (for the events span)
                    last_time_ms = int(chunk.event_time_ms[min(done_in_chunk, len(chunk)) - 1])
    except KeyboardInterrupt:
        log.warning("interrupted: flushing what was produced")
    finally:
        remaining = producer.flush(60)
        elapsed = progress.finish()
    if remaining:
        raise ServiceError(f"{remaining} records were still undelivered to Kafka topic {topic} at {bootstrap} after 60 s",
                           KAFKA_HINT)
    partition_of_eq = {i: partition_of_key[k] for i, k in enumerate(keys) if k in partition_of_key}
    extra = {"delivered": delivered["ok"], "delivery_failures": delivered["failed"],
             "per_partition": ledger.per_partition(partition_of_eq)}
    events = fleet.events(last_time_ms + 1)
    manifest = build_manifest("live", fleet, injection, ledger, events, {
        "topic": topic, "bootstrap": bootstrap, "partitions": n_partitions, "target_rate": rate,
        "duration_s": duration_s, "count": count, "wall_seconds": round(elapsed, 3),
        "records_per_second": round(sent / max(elapsed, 1e-9), 1),
    }, last_time_ms + 1, extra)
    if manifest_path:
        write_manifest(manifest, Path(manifest_path))
    if history_out:
        import pyarrow.parquet as pq
        Path(history_out).mkdir(parents=True, exist_ok=True)
        pq.write_table(events_table(events), Path(history_out) / "events.parquet")
        pq.write_table(equipment_table(fleet), Path(history_out) / "equipment.parquet")
    if delivered["failed"]:
        raise ServiceError(f"{delivered['failed']} records failed delivery to Kafka topic {topic} "
                           f"(first error: {delivered['first_error']})", KAFKA_HINT)
    return manifest
