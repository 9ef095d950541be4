"""Point-in-time training sets: silver feature windows + labels from bronze.events, at pinned versions.

One row per (equipment_id, window_end = t). Every feature of the row comes from windows ending
at or before ``t``:

- the first view's window ending at ``t`` (its ``<sensor>__<aggregation>`` columns, unchanged);
- trailing means over ``training.rolling`` spans: ``<column>__mean_<span>`` over the windows
  ending in ``(t - span, t]``, and with ``training.baseline`` the deviation from the machine's own
  trailing mean over that longer span, ``<column>__dev_<baseline>``;
- each further view as of ``t``: its latest window ending at or before ``t``, columns named
  ``<view>__<column>``.

Labels (:mod:`training.labels`) look after ``t`` by definition and are never features. Rows
where the equipment is down (between a failure and the following maintenance) are dropped.

Example::

    ts = build_training_set(spark, cfg, task_config(cfg, "failure"))
    ts.frame[ts.feature_columns]            # pandas, one row per equipment and window_end
    ts.pins["bronze.events"].version         # the version every row was read at
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping

from sensorlake.config import Config
from sensorlake.errors import InputError
from sensorlake.lake.tables import LINEAGE

from training.config import TaskConfig
from training.labels import LABEL_COLUMNS, point_in_time_labels
from training.sources import PinnedTable, pin_tables, read_pinned

log = logging.getLogger(__name__)

ROW_KEY = ("equipment_id", "window_end")
_NOT_FEATURES = {"equipment_id", "site_id", "window_start", "window_end", "feature_view",
                 "feature_set_version"} | {c for c, _ in LINEAGE}
_NUMERIC = ("double", "float", "bigint", "int", "smallint", "tinyint", "long", "integer")


@dataclass
class TrainingSet:
    """A labelled training set in pandas, its feature columns and the pinned tables it was read from."""

    frame: object  # pandas.DataFrame
    feature_columns: list[str]
    pins: dict[str, PinnedTable]

    @property
    def fleet_size(self) -> int:
        return int(self.frame["equipment_id"].nunique())


def feature_table(view: str) -> str:
    return f"silver.features_{view}"


def feature_columns_of(df) -> list[str]:
    """Numeric columns of a silver feature table that are features (not keys, metadata or lineage)."""
    return feature_columns_among((f.name, f.dataType.simpleString()) for f in df.schema.fields)


def feature_columns_among(columns) -> list[str]:
    """The feature columns among (name, Spark SQL type) pairs, e.g. ``silver_spec(view).columns``."""
    return [name for name, kind in columns if name not in _NOT_FEATURES and kind in _NUMERIC]


def _span_name(span) -> str:
    from feature_defs.view import format_duration

    return format_duration(int(span.total_seconds() * 1000))


def derived_names(columns: list[str], spans, baseline=None) -> tuple[list[list[str]], list[str]]:
    """Names of the derived model inputs: per span ``<column>__mean_<span>``, and ``<column>__dev_<baseline>``
    (empty without a baseline). Training, batch scoring and the real-time twin (training.online) name them here."""
    means = [[f"{c}__mean_{_span_name(span)}" for c in columns] for span in spans]
    deviations = [f"{c}__dev_{_span_name(baseline)}" for c in columns] if baseline is not None else []
    return means, deviations


def with_rolling_means(df, columns: list[str], spans, baseline=None) -> tuple[object, list[str]]:
    """Add ``<column>__mean_<span>`` for each span: the mean over the same equipment's windows ending in
    (t - span, t]; with ``baseline``, also ``<column>__dev_<baseline>``: the first span's mean (the
    value itself without spans) minus the mean over (t - baseline, t], i.e. how far the machine is
    from its own recent normal (per-unit gain and drift cancel).

    Means skip NULL and NaN values, as the real-time twin does (training.online); an all-missing
    span gives NULL. Computed per equipment with pandas' time-based rolling mean
    (``groupBy("equipment_id").applyInPandas``): one pass over each machine's windows whatever the
    span, where Spark's sliding frame (``rangeBetween(-span, 0)``) sums every row of the span again
    for each row (a 12 h baseline of 1-minute windows: 720 rows each; BENCHMARKS.md, "training_set").
    One machine's windows are held in memory at once.
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    spans = list(spans)
    mean_names, deviation_names = derived_names(columns, spans, baseline)
    added = [name for names in mean_names for name in names] + deviation_names
    if not added:
        return df, []
    schema = StructType(df.schema.fields + [StructField(name, DoubleType()) for name in added])

    def per_equipment(frame):
        import pandas as pd

        frame = frame.sort_values("window_end", kind="stable").reset_index(drop=True)
        values = frame[columns].astype("float64").set_axis(pd.DatetimeIndex(frame["window_end"]))
        means = [values.rolling(span, closed="right").mean() for span in spans]
        derived = [m.set_axis(names, axis=1) for m, names in zip(means, mean_names)]
        if baseline is not None:
            recent = means[0] if means else values
            derived.append((recent - values.rolling(baseline, closed="right").mean()).set_axis(deviation_names, axis=1))
        return pd.concat([frame, *[d.reset_index(drop=True) for d in derived]], axis=1)

    return df.groupBy("equipment_id").applyInPandas(per_equipment, schema), added


def join_as_of(base, other, view: str, columns: list[str]):
    """Join ``other``'s latest window (same equipment) ending at or before each base row's window_end.

    The other view's columns come as ``<view>__<column>``. Implemented with one ordered window
    over both tables' keys (no range join).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = base.select("equipment_id", F.col("window_end").alias("_t"), F.lit(1).alias("_prio"),
                       F.lit(None).cast("timestamp").alias("_other_end"))
    theirs = other.select("equipment_id", F.col("window_end").alias("_t"), F.lit(0).alias("_prio"),
                          F.col("window_end").alias("_other_end"))
    order = Window.partitionBy("equipment_id").orderBy("_t", "_prio").rowsBetween(Window.unboundedPreceding, 0)
    matched = (keys.unionByName(theirs)
               .select("equipment_id", "_t", "_prio", F.last("_other_end", ignorenulls=True).over(order).alias("_other_end"))
               .where(F.col("_prio") == 1).drop("_prio"))
    renamed = other.select("equipment_id", F.col("window_end").alias("_other_end"),
                           *[F.col(c).alias(f"{view}__{c}") for c in columns])
    return (base.join(matched.withColumnRenamed("_t", "window_end"), ["equipment_id", "window_end"], "left")
            .join(renamed, ["equipment_id", "_other_end"], "left").drop("_other_end"))


def feature_rows(task: TaskConfig, views: Mapping[str, object]):
    """Model inputs, no labels: one row per (equipment_id, window_end) of the task's first view with its
    features, trailing means / baseline deviations, and the further views as of that window_end.

    ``views``: view name -> its silver DataFrame (whole, or windows from a margin before the first row
    wanted: trailing features look back ``max(task.rolling, task.baseline)``). Training and scoring both
    build their inputs here. Returns (DataFrame, feature column names).
    """
    first = task.views[0]
    base_raw = views[first]
    columns = feature_columns_of(base_raw)
    if not columns:
        raise InputError(f"{feature_table(first)} has no numeric feature column", "backfill the view first")
    base = base_raw.select(*ROW_KEY, *columns)
    base, rolled = with_rolling_means(base, columns, task.rolling, task.baseline)
    features = columns + rolled
    for view in task.views[1:]:
        other = views[view]
        other_cols = feature_columns_of(other)
        base = join_as_of(base, other, view, other_cols)
        features += [f"{view}__{c}" for c in other_cols]
    return base, features


def labelled_rows(spark, task: TaskConfig, pins: Mapping[str, PinnedTable]):
    """The Spark DataFrame of the training set: keys, features, labels; down rows removed.

    Returns (DataFrame, feature column names).
    """
    from pyspark.sql import functions as F

    silver = {v: read_pinned(spark, pins[feature_table(v)]) for v in task.views}
    base, features = feature_rows(task, silver)
    if task.label_window == "current":  # the label is the row's own window: it needs the window's start
        base = base.join(silver[task.views[0]].select(*ROW_KEY, "window_start"), list(ROW_KEY))
    events = read_pinned(spark, pins[task.events_table])
    labelled = point_in_time_labels(base, events, task.horizon, task.rul_cap, task.label_window,
                                    task.down_after_failure)
    labelled = labelled.drop("window_start") if task.label_window == "current" else labelled
    return labelled.where(~F.col("down")).drop("down"), features


def to_pandas(df):
    """Collect a Spark DataFrame to pandas through Arrow (restoring the session's setting); timestamps in UTC."""
    import pandas as pd

    conf = df.sparkSession.conf
    key = "spark.sql.execution.arrow.pyspark.enabled"
    before = conf.get(key, "false")
    conf.set(key, "true")
    try:
        frame = df.toPandas()
    finally:
        conf.set(key, before)
    for column in frame.columns:  # Spark hands over session-time-zone (UTC) wall clock, naive
        if pd.api.types.is_datetime64_dtype(frame[column]) and frame[column].dt.tz is None:
            frame[column] = frame[column].dt.tz_localize("UTC")
    return frame


def collect_training_set(df, what: str):
    """:func:`to_pandas` for the training set; a result larger than Spark lets the driver collect is an
    InputError naming the setting to raise, not a Java stack trace."""
    try:
        return to_pandas(df)
    except Exception as error:
        if "maxResultSize" not in str(error):
            raise
        limit = df.sparkSession.sparkContext.getConf().get("spark.driver.maxResultSize", "1g")
        raise InputError(f"{what} is larger than the driver may collect (spark.driver.maxResultSize {limit})",
                         "raise spark.driver_max_result_size (and spark.driver_memory) in the configuration, "
                         "e.g. --set spark.driver_max_result_size=4g --set spark.driver_memory=8g") from None


def build_training_set(spark, cfg: Config, task: TaskConfig, versions: Mapping[str, int] | None = None,
                       gate: bool = True) -> TrainingSet:
    """Pin the task's tables, gate the feature tables, build the labelled rows and collect them.

    ``versions``: table -> Delta version to read (reproduce a run); others are pinned at their
    current version. ``gate``: refuse a feature table whose latest validation failed.
    """
    tables = [feature_table(v) for v in task.views] + [task.events_table]
    pins = pin_tables(cfg, tables, versions)
    if gate:
        from expectations.gates import require_passing_validation

        for view in task.views:
            require_passing_validation(spark, cfg, feature_table(view), task.max_unvalidated_versions)
    df, features = labelled_rows(spark, task, pins)
    frame = collect_training_set(df.orderBy(*ROW_KEY), f"the training set of {', '.join(tables)} ({len(features)} features)")
    if frame.empty:
        raise InputError(f"no training rows from {', '.join(tables)} at the pinned versions",
                         "check that the feature tables hold windows of equipment that has events")
    log.info("training set: %d rows, %d features, %d equipment", len(frame), len(features), frame["equipment_id"].nunique())
    return TrainingSet(frame, features, pins)


__all__ = ["LABEL_COLUMNS", "ROW_KEY", "TrainingSet", "build_training_set", "collect_training_set", "derived_names", "feature_columns_among", "feature_columns_of", "feature_rows", "feature_table",
           "join_as_of", "labelled_rows", "to_pandas", "with_rolling_means"]
