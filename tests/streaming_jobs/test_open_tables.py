"""The streaming writers keep their Delta tables open between commits (delta_rs.OpenTable): a
handle that other writers have moved past still appends and merges onto the newest version."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from sensorlake.lake import delta_rs
from sensorlake.lake.tables import READINGS
from tests.batch_jobs.test_table_upkeep import readings_batch

KEY = ("site_id", "equipment_id", "sensor", "event_time")


def test_two_open_handles_append_in_turn_and_each_commit_keeps_its_transaction_id(tmp_path):
    path = delta_rs.ensure_table_at(str(tmp_path / "readings"), READINGS.arrow_schema(), READINGS.partition_by)
    first, second = delta_rs.OpenTable(path), delta_rs.OpenTable(path)
    for commit in range(6):
        writer = first if commit % 2 == 0 else second
        delta_rs.append_once(writer, readings_batch(commit, n=10), f"open-test:{commit % 2}", commit, READINGS.partition_by)
    table = DeltaTable(path)
    assert table.version() == 6
    assert table.to_pyarrow_table().num_rows == 60
    assert (table.transaction_version("open-test:0"), table.transaction_version("open-test:1")) == (4, 5)
    assert first.latest().version() == second.latest().version() == 6


def test_a_merge_through_a_stale_handle_replaces_what_another_writer_committed_since(tmp_path):
    path = delta_rs.ensure_table_at(str(tmp_path / "readings"), READINGS.arrow_schema(), READINGS.partition_by)
    stale = delta_rs.OpenTable(path)
    delta_rs.merge_on_key(stale, readings_batch(0, n=5), KEY)            # version 1, and the handle is at it
    delta_rs.merge_on_key(path, readings_batch(1, n=5), KEY)             # another writer: version 2
    replaced = readings_batch(1, n=5)
    replaced = replaced.set_column(replaced.schema.get_field_index("value"), "value", pa.array([-1.0] * 5))
    delta_rs.merge_on_key(stale, replaced, KEY)
    rows = DeltaTable(path).to_pyarrow_table()
    assert rows.num_rows == 10
    start = dt.datetime(2025, 7, 1, 0, 1, tzinfo=dt.timezone.utc)   # readings_batch(1)'s first reading
    of_commit_1 = rows.filter(pc.greater_equal(rows["event_time"], pa.scalar(start, rows.schema.field("event_time").type)))
    assert sorted(of_commit_1["value"].to_pylist()) == [-1.0] * 5
