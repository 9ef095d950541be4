-- Quarantine reasons: rejected inputs per day, stage and reason (quarantine.readings).
-- Answers: what is going wrong at the door (out-of-range values, malformed JSON, late
-- readings, ...), where it was caught, since when, and one raw payload as an example.
-- Most frequent first. For the expectation outcomes, see data_quality_history.sql.
-- Engines: Spark SQL (Thrift server, beeline) and DuckDB (sensorlake sql query).
SELECT rejected_date,
       stage,
       reason,
       COUNT(*) AS rejected,
       MIN(rejected_at) AS first_rejected_at,
       MAX(rejected_at) AS last_rejected_at,
       MIN(raw_payload) AS example_payload
FROM quarantine.readings
GROUP BY rejected_date, stage, reason
ORDER BY rejected_date DESC, rejected DESC, reason;
