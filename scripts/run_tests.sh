#!/usr/bin/env bash
# The whole test suite, every marker included (unit, parity, integration, fault, cluster).
# Services (Kafka, MLflow, Flink, Spark) are started by the test session's own fixtures on free
# ports and stopped at its end. pytest's exit code 5 (no tests collected) counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export GX_ANALYTICS_ENABLED=false MLFLOW_DISABLE_TELEMETRY=true PYSPARK_PYTHON="$PWD/.venv/bin/python"
exec .venv/bin/pytest -q -p no:cacheprovider --durations=15 "$@"
