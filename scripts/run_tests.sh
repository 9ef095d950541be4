#!/usr/bin/env bash
# The whole test suite, every marker included (unit, parity, integration, fault, cluster).
# Services (Kafka, MLflow, Flink, Spark) are started by the test session's own fixtures on free
# ports and stopped at its end. pytest's exit code 5 (no tests collected) counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export GX_ANALYTICS_ENABLED=false MLFLOW_DISABLE_TELEMETRY=true PYSPARK_PYTHON="$PWD/.venv/bin/python"

# The Data Docs test opens the HTML in headless Chromium: install Debian's package when it is
# missing and we may (root, or passwordless sudo). Idempotent: nothing happens once it is there.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    SUDO="none"
  fi
  if [ "$SUDO" != "none" ] && command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  else
    echo "run_tests.sh: /usr/bin/chromium is missing and cannot be installed here (not root, no sudo);" \
         "the Data Docs browser test will be skipped" >&2
  fi
fi

exec .venv/bin/pytest -q -p no:cacheprovider --durations=30 "$@"
