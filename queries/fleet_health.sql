-- Fleet health: one row per machine of bronze.equipment.
-- Answers: which machines report (readings, last reading), which have failed or been
-- maintained (bronze.events), and how likely each is to fail now (its latest failure score in
-- gold.predictions). Riskiest first; machines never scored last.
-- Engines: Spark SQL (Thrift server, beeline) and DuckDB (sensorlake sql query).
WITH readings AS (
  SELECT equipment_id, COUNT(*) AS readings, MAX(event_time) AS last_reading_at
  FROM bronze.readings
  GROUP BY equipment_id
),
events AS (
  SELECT equipment_id,
         SUM(CASE WHEN event_type = 'failure' THEN 1 ELSE 0 END) AS failures,
         SUM(CASE WHEN event_type = 'maintenance' THEN 1 ELSE 0 END) AS maintenances
  FROM bronze.events
  GROUP BY equipment_id
),
latest_score AS (
  SELECT equipment_id, failure_probability, window_end,
         ROW_NUMBER() OVER (PARTITION BY equipment_id ORDER BY window_end DESC, model_version DESC) AS recency
  FROM gold.predictions
  WHERE failure_probability IS NOT NULL
)
SELECT e.equipment_id,
       e.site_id,
       e.equipment_type,
       e.criticality,
       COALESCE(r.readings, 0) AS readings,
       r.last_reading_at,
       COALESCE(ev.failures, 0) AS failures,
       COALESCE(ev.maintenances, 0) AS maintenances,
       ROUND(s.failure_probability, 3) AS latest_failure_probability,
       s.window_end AS scored_window_end
FROM bronze.equipment e
LEFT JOIN readings r ON r.equipment_id = e.equipment_id
LEFT JOIN events ev ON ev.equipment_id = e.equipment_id
LEFT JOIN latest_score s ON s.equipment_id = e.equipment_id AND s.recency = 1
ORDER BY latest_failure_probability DESC NULLS LAST, e.equipment_id;
