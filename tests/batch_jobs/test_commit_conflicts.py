"""A Delta transaction that lost a commit race runs again against the new version; other errors do not."""
from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from sensorlake.lake.conflicts import is_conflict, retry_on_conflict


def _upsert(table: DeltaTable, k: int, v: float) -> dict:
    return (table.merge(pa.table({"k": [k], "v": [v]}), predicate="t.k = s.k", source_alias="s", target_alias="t")
            .when_matched_update_all().when_not_matched_insert_all().execute())


def test_a_merge_refused_for_a_concurrent_commit_runs_again_and_keeps_both_writers_rows(tmp_path):
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"k": [1, 2, 3], "v": [1.0, 2.0, 3.0]}))
    stale = DeltaTable(path)                       # read before the other writer commits
    _upsert(DeltaTable(path), 1, 10.0)             # the other writer wins the race
    opened = []

    def transaction() -> dict:
        opened.append(stale if not opened else DeltaTable(path))
        return _upsert(opened[-1], 2, 20.0)

    _, attempts = retry_on_conflict(transaction, pause_s=0)
    assert attempts == 2
    rows = DeltaTable(path).to_pyarrow_table().sort_by("k").to_pylist()
    assert rows == [{"k": 1, "v": 10.0}, {"k": 2, "v": 20.0}, {"k": 3, "v": 3.0}]


def test_a_spark_merge_whose_files_another_writer_rewrote_meanwhile_runs_again(spark, tmp_path):
    from delta.tables import DeltaTable as SparkDeltaTable
    from pyspark.sql.functions import udf

    path, raced = str(tmp_path / "t"), tmp_path / "raced"
    write_deltalake(path, pa.table({"k": [1, 2, 3], "v": [1.0, 2.0, 3.0]}))

    @udf("double")
    def racing(v):
        """Runs while the MERGE executes: once, another writer (delta-rs) rewrites the file the MERGE reads."""
        if not raced.exists():
            raced.touch()
            _upsert(DeltaTable(path), 1, 10.0)
        return v

    def transaction():
        source = spark.createDataFrame([(2, 20.0)], "k long, v double").select("k", racing("v").alias("v"))
        (SparkDeltaTable.forPath(spark, path).alias("t").merge(source.alias("s"), "t.k = s.k")
         .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())

    _, attempts = retry_on_conflict(transaction, pause_s=0)
    assert attempts == 2
    rows = DeltaTable(path).to_pyarrow_table().sort_by("k").to_pylist()
    assert rows == [{"k": 1, "v": 10.0}, {"k": 2, "v": 20.0}, {"k": 3, "v": 3.0}]


def test_other_errors_and_a_conflict_on_the_last_attempt_propagate():
    class ConcurrentAppendException(Exception):
        """Named as Spark's Delta conflict error."""

    calls = []

    def always_conflicts():
        calls.append(1)
        raise ConcurrentAppendException("Files were added to the root of the table by a concurrent update")

    with pytest.raises(ConcurrentAppendException):
        retry_on_conflict(always_conflicts, retries=3, pause_s=0)
    assert len(calls) == 3
    assert not is_conflict(ValueError("bad input"))
    for name in ("MetadataChangedException", "ProtocolChangedException", "ConcurrentDeleteReadException"):
        assert is_conflict(type(name, (Exception,), {})("changed by a concurrent update")), name
    with pytest.raises(ValueError):
        retry_on_conflict(lambda: int("x"), pause_s=0)
