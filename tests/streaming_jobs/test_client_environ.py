"""A child that submits a Flink job starts its own PyFlink gateway, whatever a local job left in this process."""
from __future__ import annotations

import subprocess
import sys

from sensorlake.services import flink_cluster


def test_a_child_starts_its_gateway_after_a_loopback_worker_wrote_its_variables_here(monkeypatch):
    # what a loopback worker's os.environ.update leaves behind, and an empty JAVA_HOME seen in a CI run
    monkeypatch.setenv("PYFLINK_GATEWAY_DISABLED", "true")
    monkeypatch.setenv("PYTHON_LOOPBACK_SERVER_ADDRESS", "localhost:1")
    monkeypatch.setenv("JAVA_HOME", "")
    child = subprocess.run([sys.executable, "-c", "from pyflink.common import Configuration; Configuration()"],
                           env=flink_cluster.client_environ(), capture_output=True, text=True, timeout=180)
    assert child.returncode == 0, child.stderr[-2000:]
