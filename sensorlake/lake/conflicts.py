"""Delta's optimistic concurrency: run a transaction again when another writer won the commit race.

Two writers of one table (the streaming job's delta-rs MERGEs and a Spark backfill, or a
compaction) each read a version, write files and try to commit. When the winner's commit
touched what the loser read, Delta refuses the loser's commit: Spark raises one of Delta's
``ConcurrentModificationException`` subclasses, delta-rs a ``CommitFailedError``. The whole
transaction (read, compare, write) then runs again against the new version; nothing of the
refused attempt is visible (its files are never referenced by the log).

Example::

    result, attempts = retry_on_conflict(lambda: merge(...), what="MERGE into silver.features_machine_1m")
"""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

CONFLICT_RETRIES = 5
# Spark's Delta conflict exceptions (java.util.ConcurrentModificationException and its subclasses),
# as their Python wrappers or Py4J errors name them, and delta-rs's refused commit.
_CONFLICT_MARKERS = ("ConcurrentModificationException", "ConcurrentAppendException", "ConcurrentDeleteReadException",
                     "ConcurrentDeleteDeleteException", "ConcurrentTransactionException", "ConcurrentWriteException",
                     "MetadataChangedException", "ProtocolChangedException", "CommitFailedError")


def is_conflict(error: BaseException) -> bool:
    """True if ``error`` is Delta refusing a commit that lost a race with another writer."""
    text = f"{type(error).__name__} {error}"
    return any(marker in text for marker in _CONFLICT_MARKERS)


def retry_on_conflict(transaction: Callable[[], T], retries: int = CONFLICT_RETRIES, what: str = "commit",
                      pause_s: float = 0.5) -> tuple[T, int]:
    """Run ``transaction`` until it commits, at most ``retries`` times; return (its result, attempts).

    Only Delta's conflict errors are retried, with a pause growing by ``pause_s`` per attempt;
    any other error, or a conflict on the last attempt, propagates.
    """
    for attempt in range(1, retries + 1):
        try:
            return transaction(), attempt
        except Exception as error:  # noqa: BLE001 - only Delta's conflict errors are retried
            if attempt == retries or not is_conflict(error):
                raise
            log.warning("%s lost a commit race to another writer (attempt %d of %d); retrying: %s",
                        what, attempt, retries, str(error).splitlines()[0][:200])
            time.sleep(pause_s * attempt)
    raise AssertionError("unreachable")
