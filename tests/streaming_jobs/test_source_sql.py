"""The Kafka source's DDL: unbounded for the job, bounded at the topic's current end when asked (bench.stream_stages)."""
from sensorlake.streaming.sql import kafka_source_ddl


def test_the_job_source_is_unbounded(cfg):
    ddl = kafka_source_ddl(cfg, lateness_ms=60_000)
    assert "scan.bounded.mode" not in ddl
    assert "'scan.startup.mode' = 'group-offsets'" in ddl


def test_a_bounded_source_stops_at_the_latest_offsets(cfg):
    ddl = kafka_source_ddl(cfg, lateness_ms=60_000, group_id="stages", bounded=True)
    assert "'scan.bounded.mode' = 'latest-offset'" in ddl
    assert "'properties.group.id' = 'stages'" in ddl
