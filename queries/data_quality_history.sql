-- Data-quality history: one row per validation run of each table (quality.results).
-- Answers: when was each table validated, at which Delta version, how many expectations
-- failed (critical ones stop the pipeline, warnings do not) and how many rows they flagged.
-- Latest runs first. For the rows the stream rejected, see quarantine_reasons.sql.
-- Engines: Spark SQL (Thrift server, beeline) and DuckDB (sensorlake sql query).
SELECT table_name,
       run_id,
       MIN(validated_at) AS validated_at,
       MAX(table_version) AS table_version,
       COUNT(*) AS expectations,
       SUM(CASE WHEN NOT success AND severity = 'critical' THEN 1 ELSE 0 END) AS critical_failures,
       SUM(CASE WHEN NOT success AND severity <> 'critical' THEN 1 ELSE 0 END) AS warnings,
       SUM(CASE WHEN NOT success THEN COALESCE(failing_count, 0) ELSE 0 END) AS failing_rows,
       CASE WHEN SUM(CASE WHEN NOT success AND severity = 'critical' THEN 1 ELSE 0 END) > 0
            THEN 'failed' ELSE 'passed' END AS outcome
FROM quality.results
GROUP BY table_name, run_id
ORDER BY validated_at DESC, table_name;
