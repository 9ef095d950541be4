-- Top-risk equipment, with the reasons the model gives.
-- Answers: which machines should maintenance look at first? The latest failure score of each
-- machine (gold.predictions), the model version that gave it, the features that pushed it
-- (top_features: "feature:+shap;..." largest first; main_reason is the first of them), and
-- when the machine was last maintained (bronze.events). The ten riskiest.
-- Engines: Spark SQL (Thrift server, beeline) and DuckDB (sensorlake sql query).
WITH latest_score AS (
  SELECT equipment_id, window_end, model_name, model_version, failure_probability, top_features,
         ROW_NUMBER() OVER (PARTITION BY equipment_id ORDER BY window_end DESC, model_version DESC) AS recency
  FROM gold.predictions
  WHERE failure_probability IS NOT NULL
),
last_maintenance AS (
  SELECT equipment_id, MAX(event_time) AS last_maintenance_at
  FROM bronze.events
  WHERE event_type = 'maintenance'
  GROUP BY equipment_id
)
SELECT s.equipment_id,
       e.site_id,
       e.equipment_type,
       e.criticality,
       ROUND(s.failure_probability, 3) AS failure_probability,
       split_part(s.top_features, ';', 1) AS main_reason,
       s.top_features AS reasons,
       s.window_end AS scored_window_end,
       s.model_name,
       s.model_version,
       m.last_maintenance_at
FROM latest_score s
LEFT JOIN bronze.equipment e ON e.equipment_id = s.equipment_id
LEFT JOIN last_maintenance m ON m.equipment_id = s.equipment_id
WHERE s.recency = 1
ORDER BY failure_probability DESC, s.equipment_id
LIMIT 10;
