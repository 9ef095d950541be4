-- Runs once, when the PostgreSQL volume is created (docker-entrypoint-initdb.d), as POSTGRES_USER
-- connected to POSTGRES_DB (the MLflow tracking store). MLflow's basic-auth app keeps its users and
-- permissions in a database of its own.
CREATE DATABASE mlflow_auth;
