-- Feature trends: hourly means of two wear indicators per machine, and their change hour on hour.
-- Answers: is a machine's vibration (vibration__rms, mm/s) or temperature (temperature__mean,
-- degC) drifting? From silver.features_machine_1m (1-minute windows); windows counts how many
-- windows each hour holds. Edit the view or the columns for other features.
-- Engines: Spark SQL (Thrift server, beeline) and DuckDB (sensorlake sql query).
WITH hourly AS (
  SELECT equipment_id,
         date_trunc('hour', window_start) AS hour,
         COUNT(*) AS windows,
         AVG(vibration__rms) AS vibration_rms,
         AVG(temperature__mean) AS temperature_mean
  FROM silver.features_machine_1m
  GROUP BY equipment_id, date_trunc('hour', window_start)
)
SELECT equipment_id,
       hour,
       windows,
       ROUND(vibration_rms, 3) AS vibration_rms,
       ROUND(vibration_rms - LAG(vibration_rms) OVER (PARTITION BY equipment_id ORDER BY hour), 3) AS vibration_rms_change,
       ROUND(temperature_mean, 2) AS temperature_mean,
       ROUND(temperature_mean - LAG(temperature_mean) OVER (PARTITION BY equipment_id ORDER BY hour), 2) AS temperature_mean_change
FROM hourly
ORDER BY equipment_id, hour;
