"""A job run as a scheduler starts it, for the fault tests: a process group of its own, output to a file.

Every wait is bounded and fails the test with the job's last output lines; leaving the ``with``
block kills whatever is left of the group (its Spark JVM included).

Example::

    with JobProcess.start([sys.executable, "batch_jobs/backfill_features.py", ...], tmp_path / "job.log") as job:
        job.wait_for(lambda: staged_files(table), "the MERGE to write a data file", timeout=300)
        job.kill()                                 # SIGKILL to the whole group, as a crash would
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

import pytest

from sensorlake.services.process import group_alive, tail
from tests.conftest import REPO_ROOT


def job_environment(**extra: str) -> dict[str, str]:
    """This environment without sensorlake settings (the job gets its configuration from flags) or MLflow client
    settings (a test of the session may have set some), with quiet clients."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENSORLAKE", "MLFLOW_HTTP_REQUEST"))}
    env.update(GX_ANALYTICS_ENABLED="false", MLFLOW_DISABLE_TELEMETRY="true", PYTHONUNBUFFERED="1", **extra)
    return env


class JobProcess:
    """One job process (the leader of its process group) writing stdout and stderr to ``log``."""

    def __init__(self, proc: subprocess.Popen, log: Path):
        self.proc, self.log = proc, log

    @classmethod
    def start(cls, argv: Sequence, log: Path, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT) -> "JobProcess":
        with open(log, "wb") as out:
            proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    env=env or job_environment(), cwd=cwd, start_new_session=True)
        return cls(proc, log)

    def __enter__(self) -> "JobProcess":
        return self

    def __exit__(self, *exc) -> None:
        if group_alive(self.proc.pid):
            self.kill()

    def output(self, lines: int | None = None) -> str:
        return tail(self.log, lines) if lines else self.log.read_text(errors="replace")

    def wait_for(self, check: Callable[[], object], what: str, timeout: float, interval: float = 0.05):
        """Poll ``check()`` until it returns something true (returned); fail if the job exits or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            if self.proc.poll() is not None:
                pytest.fail(f"the job exited ({self.proc.returncode}) before {what}:\n{self.output(40)}")
            time.sleep(interval)
        pytest.fail(f"no sign of {what} within {timeout:.0f} s:\n{self.output(40)}")

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole group (SIGSTOP / SIGCONT freeze and thaw the job and its JVM)."""
        os.killpg(self.proc.pid, sig)

    def kill(self, timeout: float = 30.0) -> None:
        """SIGKILL the whole group at once and wait until no process of it is left."""
        try:
            self.signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while group_alive(self.proc.pid):
            if time.monotonic() > deadline:
                pytest.fail(f"process group {self.proc.pid} survived SIGKILL for {timeout:.0f} s")
            time.sleep(0.1)

    def wait(self, timeout: float, what: str = "the job") -> int:
        """The exit code; kill the group and fail if it runs longer than ``timeout`` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{what} did not exit within {timeout:.0f} s:\n{self.output(40)}")
