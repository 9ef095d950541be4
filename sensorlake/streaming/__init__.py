"""The streaming job's library: Kafka source and record checks in Flink SQL, idempotent Delta writers."""
