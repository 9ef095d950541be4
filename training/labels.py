"""Point-in-time labels: for each (equipment_id, window_end = t), what happened after t.

The events are failures and maintenance of ``bronze.events`` (inspections carry no label). For
a row at ``t`` of equipment ``e``, with ``obs_end`` the last window_end observed for ``e``:

- ``down``: the latest failure at or before ``t`` has no maintenance after it (at or before
  ``t``): the equipment is broken and the row is excluded from every task. Only events known at
  ``t`` decide it.
- ``fails_within``: 1 when a failure lies in ``(t, t + horizon]``; 0 when none does and
  ``t + horizon <= obs_end`` (the whole horizon was observed); NULL (unknown, row dropped) otherwise.
- ``rul_h``: hours from ``t`` to the next failure, when no maintenance comes before it;
  ``censored`` is true otherwise (the life ended in a preventive maintenance, or no failure was
  observed before ``obs_end``), and ``censored_at`` is when observation of this life stopped.
- ``rul``: the training target in hours, ``min(rul_h, cap)``; for a censored row the cap when it
  was observed for at least the cap (its capped RUL is known), else NULL (dropped from RUL training).
- ``failure_mode``: the mode of the next failure (NULL when there is none); ``next_failure_time``
  and ``hours_to_failure`` serve lead-time metrics. None of these are features.

Two options fit datasets labelled differently (a task's ``label_window`` and ``down_after_failure``):

- ``label_window="current"``: the row's own window is the label window, for data whose label says
  "this step failed" (AI4I): ``fails_within`` is 1 when a failure lies in ``[window_start,
  window_end)`` (``rows`` need window_start) and 0 otherwise; ``down`` and the time to the next
  failure are judged from window_start (a failure at window_start is in the row's future).
- ``down_after_failure="none"``: no row is down, for data without maintenance or repair events
  (else every row after the first failure would be). Default ``"until_maintenance"``.

Implementation: the rows and the events of one equipment are put in one time-ordered sequence
(events before rows at equal times, so an event at ``t`` is "known at t" and not "after t"), and
window functions carry the previous and next event to every row: no join that multiplies rows.

Example::

    labelled = point_in_time_labels(rows, events, horizon=timedelta(hours=2), rul_cap=timedelta(hours=8))
"""
from __future__ import annotations

from datetime import timedelta

LABEL_COLUMNS = ("fails_within", "rul", "rul_h", "censored", "censored_at", "failure_mode",
                 "next_failure_time", "hours_to_failure", "down")
LABEL_WINDOWS = ("horizon", "current")
DOWN_AFTER_FAILURE = ("until_maintenance", "none")


def point_in_time_labels(rows, events, horizon: timedelta, rul_cap: timedelta, label_window: str = "horizon",
                         down_after_failure: str = "until_maintenance"):
    """``rows`` (needs equipment_id, window_end) with the label columns of :data:`LABEL_COLUMNS` added.

    ``events``: bronze.events rows (equipment_id, event_time, event_type, failure_mode).
    ``label_window``, ``down_after_failure``: see the module doc.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if label_window not in LABEL_WINDOWS:
        raise ValueError(f"label_window {label_window!r}: choose one of {', '.join(LABEL_WINDOWS)}")
    if down_after_failure not in DOWN_AFTER_FAILURE:
        raise ValueError(f"down_after_failure {down_after_failure!r}: choose one of {', '.join(DOWN_AFTER_FAILURE)}")
    current = label_window == "current"
    if current and "window_start" not in rows.columns:
        raise ValueError("label_window current needs the rows' window_start column")
    ts = lambda c: F.unix_micros(c)  # noqa: E731 - microseconds since the epoch, exact ordering
    # The instant a row is judged at, and its place among events at that instant: after them
    # (known at t) at window_end; before them (still in the row's own window) at window_start.
    anchor, row_prio = (ts("window_start"), -1) if current else (ts("window_end"), 1)
    horizon_us = int(horizon / timedelta(microseconds=1))
    cap_h = rul_cap / timedelta(hours=1)

    ev = (events.where(F.col("event_type").isin("failure", "maintenance"))
          .join(rows.select("equipment_id").distinct(), "equipment_id")
          .select("equipment_id", ts("event_time").alias("_t"), F.lit(0).alias("_prio"),
                  F.when(F.col("event_type") == "failure", F.struct(ts("event_time").alias("t"), F.col("failure_mode").alias("mode")))
                  .alias("_failure"),
                  F.when(F.col("event_type") == "maintenance", ts("event_time")).alias("_maint"),
                  F.lit(None).cast("long").alias("_we")))
    spine = rows.select("equipment_id", anchor.alias("_t"), F.lit(row_prio).alias("_prio"),
                        F.lit(None).cast(ev.schema["_failure"].dataType).alias("_failure"),
                        F.lit(None).cast("long").alias("_maint"), ts("window_end").alias("_we"))
    seq = ev.unionByName(spine)
    order = Window.partitionBy("equipment_id").orderBy("_t", "_prio")
    past = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    future = order.rowsBetween(1, Window.unboundedFollowing)
    whole = Window.partitionBy("equipment_id")
    carried = (seq.select(
        "equipment_id", "_t", "_prio", "_we",
        F.last("_failure", ignorenulls=True).over(past).alias("_prev_failure"),
        F.last("_maint", ignorenulls=True).over(past).alias("_prev_maint"),
        F.first("_failure", ignorenulls=True).over(future).alias("_next_failure"),
        F.first("_maint", ignorenulls=True).over(future).alias("_next_maint"),
        F.max(F.when(F.col("_prio") == row_prio, F.col("_t"))).over(whole).alias("_obs_end"),
    ).where(F.col("_prio") == row_prio))

    t, nf, nm, end = F.col("_t"), F.col("_next_failure.t"), F.col("_next_maint"), F.col("_obs_end")
    hours = lambda us: us / F.lit(3.6e9)  # noqa: E731
    uncensored = nf.isNotNull() & (nm.isNull() | (nf <= nm))
    censored_at = F.when(~uncensored, F.least(F.coalesce(nm, end), end))
    rul_h = F.when(uncensored, hours(nf - t))
    down = (F.col("_prev_failure").isNotNull()
            & (F.col("_prev_maint").isNull() | (F.col("_prev_maint") < F.col("_prev_failure.t"))))
    fails_within = (F.when(nf.isNotNull() & (nf < F.col("_we")), F.lit(1)).otherwise(F.lit(0)) if current else
                    F.when(nf.isNotNull() & (nf <= t + horizon_us), F.lit(1)).when(t + horizon_us <= end, F.lit(0)))
    labels = carried.select(
        "equipment_id", "_t",
        (down if down_after_failure == "until_maintenance" else F.lit(False)).alias("down"),
        fails_within.alias("fails_within"),
        rul_h.alias("rul_h"),
        (~uncensored).alias("censored"),
        F.timestamp_micros(censored_at).alias("censored_at"),
        F.when(uncensored, F.least(rul_h, F.lit(cap_h)))
         .when(hours(censored_at - t) >= cap_h, F.lit(cap_h)).alias("rul"),
        F.col("_next_failure.mode").alias("failure_mode"),
        F.timestamp_micros(nf).alias("next_failure_time"),
        hours(nf - t).alias("hours_to_failure"),
    )
    keyed = rows.withColumn("_t", anchor)
    return keyed.join(labels, ["equipment_id", "_t"]).drop("_t")
