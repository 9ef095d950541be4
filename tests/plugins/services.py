"""Session-scoped fixtures for the real services (Kafka, MLflow, Flink and Spark clusters)."""
