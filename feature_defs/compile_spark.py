"""Compile a feature view to Spark DataFrame operations (the backfill's engine).

The same stages as the Flink query (see :mod:`feature_defs.compile_flink`), the same formula
trees (:mod:`feature_defs.formulas`) rendered as PySpark Columns, planned so the readings are
shuffled once:

0. the view's readings are hash-partitioned by ``(site_id, equipment_id)``: every later stage
   groups by keys that include both, so Spark adds no further exchange of raw readings. The
   sensor becomes ``sensor_no``, its position in the view's sensor list: an int key compares and
   hashes cheaper than the name (5% of the backfill's CPU);
1. ``window()`` (epoch-aligned ``[start, end)``, tumbling or hopping) on event_time truncated to
   milliseconds (Flink's TIMESTAMP(3));
2. dedup and centring in one sort: rows ordered by ``(event_ts, value desc)`` within each window
   and sensor, a row whose ``lag(event_ts)`` is its own event time is a duplicate (the first, with
   the largest value, stays: Flink's ``MAX(value)`` per key); then, over the same partition and
   with no further sort, the mean (centring shift) and the latest event time. A duplicate falls in
   the same windows as its original, so deduplicating per window equals Flink's per-window
   deduplication. (A ``groupBy`` over every reading's key before windowing cost a hash map of one
   entry per reading: 30% more executor CPU, ``BENCHMARKS.md``);
3. partials per window *and sensor* (``sum(d*d)`` ...), then one row per window with a column
   per sensor and partial (``first(when(sensor_no == 1, p_s2))``): the same values as Flink's
   ``SUM(CASE WHEN sensor = 'x' THEN d*d END)``, with one aggregate per row and partial instead
   of one per sensor and partial;
4. formulas, then spectral features (``applyInPandas`` + numpy FFT, :mod:`feature_defs.spectral`,
   Spark only) and cross features.

Batch only: every reading in the input counts (no lateness cut-off; the backfill recomputes
history that has fully arrived). Requires ``spark.sql.session.timeZone = UTC`` for UTC windows
in output (window arithmetic itself is in epoch time).

Example::

    features = compute_view(spark.table("bronze.readings"), registry["machine_1m"])
    features.select("equipment_id", "window_start", "vibration__rms").show()
"""
from __future__ import annotations

from feature_defs.errors import UnsupportedFeature
from feature_defs.formulas import (AGGREGATIONS, CROSS_FUNCTIONS, PARTIALS, Ref, needed_partials,
                                   render_pyspark_text, render_spark)
from feature_defs.view import KEY_COLUMNS, FeatureView

ENGINE = "spark"
WINDOW_KEYS = ("window_start", "window_end", "site_id", "equipment_id")


def check_supported(view: FeatureView) -> None:
    """Raise UnsupportedFeature naming the first feature Spark cannot compute (none today)."""
    missing = view.unsupported(ENGINE)
    if missing:
        raise UnsupportedFeature(f"{view.name}: {missing[0]} is not computable by the spark engine")


def _window_spec(view: FeatureView) -> tuple[str, str | None]:
    size = f"{view.window.size_ms // 1000} seconds"
    slide = None if view.window.kind == "tumbling" else f"{view.window.slide_ms // 1000} seconds"
    return size, slide


def _sensor_no(view: FeatureView, sensor: str) -> int:
    """A sensor's 1-based position in the view's sensor list: the key the plan groups on instead of its name."""
    return view.sensors.index(sensor) + 1


def _centred(df_readings, view: FeatureView):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    cond = F.col("sensor").isin(list(view.sensors)) & F.col("value").isNotNull()
    if view.equipment_types:
        cond = cond & F.col("equipment_type").isin(list(view.equipment_types))
    sensor_no = F.array_position(F.array(*[F.lit(s) for s in view.sensors]), F.col("sensor")).cast("int")
    readings = (df_readings.where(cond)
                .select("site_id", "equipment_id", sensor_no.alias("sensor_no"),
                        F.timestamp_millis(F.unix_millis(F.col("event_time"))).alias("event_ts"),
                        F.col("value").cast("double").alias("v"))
                .repartition("site_id", "equipment_id"))
    size, slide = _window_spec(view)
    win = F.window("event_ts", size, slide) if slide else F.window("event_ts", size)
    in_windows = readings.select(win.start.alias("window_start"), win.end.alias("window_end"),
                                 "site_id", "equipment_id", "sensor_no", "event_ts", "v")
    by_time = Window.partitionBy(*WINDOW_KEYS, "sensor_no").orderBy("event_ts", F.col("v").desc())
    previous_ts = F.lag("event_ts").over(by_time)
    windowed = (in_windows.withColumn("previous_ts", previous_ts)
                .where(F.col("previous_ts").isNull() | (F.col("previous_ts") != F.col("event_ts")))
                .drop("previous_ts"))
    per_sensor = Window.partitionBy(*WINDOW_KEYS, "sensor_no")  # a prefix of by_time's order: no new sort
    centred = (windowed
               .withColumn("centre", F.avg("v").over(per_sensor))
               .withColumn("last_ts", F.max("event_ts").over(per_sensor))
               .select(*WINDOW_KEYS, "sensor_no", "event_ts", "v", "centre",
                       (F.col("v") - F.col("centre")).alias("d"),
                       ((F.unix_millis("event_ts") - F.unix_millis("window_start")).cast("double") / F.lit(1000.0)).alias("t"),
                       (F.col("event_ts") == F.col("last_ts")).alias("is_last")))
    return windowed, centred


def _partials(centred, view: FeatureView):
    """One row per window: ``<sensor>__p_<partial>`` columns, aggregated per sensor, then laid side by side."""
    from pyspark.sql import functions as F

    needed = {sensor: needed_partials(aggs) for sensor, aggs in view.aggregations.items()}
    names = [p for p in PARTIALS if any(p in ps for ps in needed.values())]
    if not names:
        return centred.select(*WINDOW_KEYS).distinct()
    aggregate = {"count": F.count, "sum": F.sum, "min": F.min, "max": F.max}
    per_sensor = centred.groupBy(*WINDOW_KEYS, "sensor_no").agg(
        *[aggregate[PARTIALS[p].agg](render_spark(PARTIALS[p].row_expr, F.col)).alias(f"p_{p}") for p in names])
    columns = []
    for sensor, partials in needed.items():
        for name in partials:
            column = F.first(F.when(F.col("sensor_no") == F.lit(_sensor_no(view, sensor)), F.col(f"p_{name}")),
                             ignorenulls=True)
            if PARTIALS[name].agg == "count":  # a sensor without readings in the window counts 0, as COUNT(CASE ...)
                column = F.coalesce(column, F.lit(0).cast("bigint"))
            columns.append(column.alias(f"{sensor}__p_{name}"))
    return per_sensor.groupBy(*WINDOW_KEYS).agg(*columns)


def _feature_column(sensor: str, agg_name: str):
    from pyspark.sql import functions as F

    agg = AGGREGATIONS[agg_name]

    def column(ref: str):
        col = F.col(f"`{sensor}__p_{ref}`")
        return col.cast("double") if PARTIALS[ref].dtype == "bigint" and agg.dtype != "bigint" else col

    return render_spark(agg.expr, column).alias(f"{sensor}__{agg_name}")


def _spectral_frame(windowed, view: FeatureView, spec):
    import pandas as pd
    from pyspark.sql import functions as F

    from feature_defs.spectral import spectral_features

    columns = [c for c, _ in spec.columns()]
    schema = "site_id string, equipment_id string, ws_ms long, " + ", ".join(f"`{c}` double" for c in columns)

    def per_window(pdf: "pd.DataFrame") -> "pd.DataFrame":
        values = spectral_features(pdf["event_ms"].to_numpy(), pdf["v"].to_numpy(), spec)
        row = {"site_id": pdf["site_id"].iloc[0], "equipment_id": pdf["equipment_id"].iloc[0],
               "ws_ms": int(pdf["ws_ms"].iloc[0]), **values}
        return pd.DataFrame([row], columns=["site_id", "equipment_id", "ws_ms", *columns])

    rows = (windowed.where(F.col("sensor_no") == F.lit(_sensor_no(view, spec.sensor)))
            .select("site_id", "equipment_id", F.unix_millis("window_start").alias("ws_ms"),
                    F.unix_millis("event_ts").alias("event_ms"), "v"))
    return rows.groupBy("site_id", "equipment_id", "ws_ms").applyInPandas(per_window, schema)


def compute_view(df_readings, view: FeatureView):
    """The features of ``view`` over narrow readings (site_id, equipment_id, sensor, event_time, value).

    Returns one row per equipment and window with ``view.output_columns``.

    Example::

        compute_view(readings_df, registry["machine_10m_sliding"]).orderBy("window_start").show()
    """
    from pyspark.sql import functions as F

    check_supported(view)
    windowed, centred = _centred(df_readings, view)
    meta = [F.lit(view.name).alias("feature_view"), F.lit(view.feature_set_version).alias("feature_set_version")]
    features = _partials(centred, view).select(*WINDOW_KEYS, *meta,
                               *[_feature_column(s, a) for s, aggs in view.aggregations.items() for a in aggs])
    for spec in view.spectral:
        spectral = _spectral_frame(windowed, view, spec).withColumnRenamed("ws_ms", "_ws_ms")
        features = (features.withColumn("_ws_ms", F.unix_millis("window_start"))
                    .join(spectral, ["site_id", "equipment_id", "_ws_ms"], "left").drop("_ws_ms"))
    for cross in view.cross_features:
        func, left, right = cross.parse()
        expr = CROSS_FUNCTIONS[func][0](Ref(left), Ref(right))
        features = features.withColumn(cross.name, render_spark(expr, lambda c: F.col(f"`{c}`")))
    return features.select(*[F.col(f"`{c}`") for c in view.output_columns])


def describe(view: FeatureView) -> str:
    """Printable text: the Spark stages and every column expression of ``view`` (needs no session).

    Example: ``print(describe(registry["machine_1m"]))``.
    """
    check_supported(view)
    size, slide = _window_spec(view)
    col = lambda name: f"F.col({name!r})"  # noqa: E731
    lines = [
        f"# feature view {view.name} v{view.version}: {view.window}; feature_set_version {view.feature_set_version}",
        "# generated by feature_defs.compile_spark.compute_view(df_readings, view)",
        "0. partition: readings.where(F.col('sensor').isin(%s) & F.col('value').isNotNull()%s)" % (
            list(view.sensors), f" & F.col('equipment_type').isin({list(view.equipment_types)})" if view.equipment_types else ""),
        "                .select(site_id, equipment_id, sensor_no=<1-based position of sensor in %s>,"
        " event_ts=F.timestamp_millis(F.unix_millis('event_time')), v=F.col('value'))" % (list(view.sensors),),
        "                .repartition('site_id', 'equipment_id')  # the one shuffle of raw readings",
        f"1. window:    F.window('event_ts', {size!r}{', ' + repr(slide) if slide else ''}) -> window_start, window_end",
        "2. dedup:     over Window.partitionBy(window_start, window_end, site_id, equipment_id, sensor_no)"
        ".orderBy('event_ts', F.col('v').desc()):",
        "                keep rows where F.lag('event_ts') is null or differs from event_ts (the largest v of a duplicate key)",
        "3. centre:    over Window.partitionBy(window_start, window_end, site_id, equipment_id, sensor_no):",
        "                centre = F.avg('v'); last_ts = F.max('event_ts')",
        "                d = v - centre; t = (F.unix_millis('event_ts') - F.unix_millis('window_start')) / 1000.0;"
        " is_last = event_ts == last_ts",
        "4. partials:  groupBy(window_start, window_end, site_id, equipment_id, sensor_no).agg(",
    ]
    needed = {sensor: needed_partials(aggs) for sensor, aggs in view.aggregations.items()}
    for name in [p for p in PARTIALS if any(p in ps for ps in needed.values())]:
        p = PARTIALS[name]
        lines.append(f"                p_{name} = F.{p.agg}({render_pyspark_text(p.row_expr, col)}),")
    lines.append("              ).groupBy(window_start, window_end, site_id, equipment_id).agg(")
    for sensor, partials in needed.items():
        for name in partials:
            text = f"F.first(F.when(F.col('sensor_no') == {_sensor_no(view, sensor)}, F.col('p_{name}')), ignorenulls=True)"
            if PARTIALS[name].agg == "count":
                text = f"F.coalesce({text}, F.lit(0))"
            lines.append(f"                {sensor}__p_{name} = {text},")
    lines.append("              )")
    lines.append("5. features:")
    for sensor, aggs in view.aggregations.items():
        for agg_name in aggs:
            agg = AGGREGATIONS[agg_name]
            text = render_pyspark_text(agg.expr, lambda r, s=sensor, a=agg: (
                f"F.col('{s}__p_{r}').cast('double')" if PARTIALS[r].dtype == "bigint" and a.dtype != "bigint"
                else f"F.col('{s}__p_{r}')"))
            lines.append(f"                {sensor}__{agg_name} = {text}")
    for spec in view.spectral:
        lines.append(f"6. spectral:  {spec.sensor} per window via applyInPandas(feature_defs.spectral.spectral_features)"
                     " [spark only], left-joined on (site_id, equipment_id, window_start):")
        lines += [f"                {c} ({kind})" for c, kind in spec.columns()]
    for cross in view.cross_features:
        func, left, right = cross.parse()
        text = render_pyspark_text(CROSS_FUNCTIONS[func][0](Ref(left), Ref(right)), col)
        lines.append(f"7. cross:     {cross.name} = {text}")
    lines.append(f"output columns: {', '.join(view.output_columns)}")
    return "\n".join(lines)


__all__ = ["compute_view", "describe", "check_supported", "KEY_COLUMNS"]
