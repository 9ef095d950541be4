"""Run one service as a detached process group: start, health-wait, status and clean stop.

Every service process is the leader of its own process group (``start_new_session``), writes
stdout and stderr to ``<cfg.log_dir>/<name>.log`` and records its pid in
``<cfg.runtime_dir>/run/<name>.pid``. Stopping signals the whole group, so the workers a
service forks (MLflow's uvicorn workers, a shell script's ``java``) stop with it.

Example::

    from sensorlake.services import process
    process.ensure_port_free(cfg, 19092, "kafka", "kafka.port")
    process.start_process(cfg, "sleeper", ["sleep", "600"])
    process.wait_healthy(cfg, "sleeper", lambda: True, timeout=5)
    process.stop_process(cfg, "sleeper")      # SIGTERM to the group, then SIGKILL
"""
from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Callable, Mapping, Sequence

from sensorlake.errors import ServiceError

log = logging.getLogger(__name__)

# Children started by this Python process, kept so they can be reaped (no zombies, no
# ResourceWarning) when they stop; a CLI that exits simply leaves them to init.
_CHILDREN: dict[int, subprocess.Popen] = {}


def log_file(cfg, name: str) -> Path:
    """Where the process ``name`` writes stdout and stderr, e.g. ``.sensorlake/logs/kafka.log``."""
    return cfg.log_dir / f"{name}.log"


def pid_file(cfg, name: str) -> Path:
    """Where the pid of process ``name`` is recorded, e.g. ``.sensorlake/run/kafka.pid``."""
    return cfg.runtime_dir / "run" / f"{name}.pid"


def _start_ticks(pid: int) -> str | None:
    """Kernel start time of ``pid`` (guards against a recycled pid), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] == "Z" else fields[19]


def read_pid(cfg, name: str) -> int | None:
    """The recorded pid (= process group id) of ``name``, or None if none is recorded."""
    try:
        text = pid_file(cfg, name).read_text().split()
        return int(text[0])
    except (OSError, ValueError, IndexError):
        return None


def _reap(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:
        _CHILDREN.pop(pid, None)


def group_alive(pgid: int) -> bool:
    """True while any process of group ``pgid`` exists (zombie children of ours are reaped first)."""
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_running(cfg, name: str) -> bool:
    """True if the process recorded for ``name`` (or any process of its group) still runs.

    Example: ``is_running(cfg, "kafka")``.
    """
    pid = read_pid(cfg, name)
    if pid is None:
        return False
    recorded = pid_file(cfg, name).read_text().split()
    _reap(pid)
    ticks = _start_ticks(pid)
    if ticks is not None and len(recorded) > 1 and recorded[1] != ticks:
        return False  # the pid now belongs to another process
    return group_alive(pid)


def ensure_port_free(cfg, port: int, service: str, key: str, host: str = "127.0.0.1") -> None:
    """Raise ServiceError if ``host:port`` is taken, naming the port, the service and the key to change.

    Example: ``ensure_port_free(cfg, 5000, "mlflow", "mlflow.port")``.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise ServiceError(f"cannot bind {host}:{port} for {service}: {exc}") from None
            raise ServiceError(
                f"port {port} for {service} is already in use",
                hint=f"stop what uses it (see `ss -ltnp | grep :{port}`) or set {key}=<free port> "
                     f"(--set {key}=... or SENSORLAKE__{key.upper().replace('.', '__')}=...)",
            ) from None


def start_process(cfg, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
                  cwd: str | os.PathLike | None = None) -> int:
    """Start ``argv`` detached, in its own process group, logging to ``log_file(cfg, name)``.

    ``env`` entries are added to the current environment. Returns the pid (= group id).
    Example: ``start_process(cfg, "mlflow", [sys.executable, "-m", "mlflow", "server", ...])``.
    """
    if is_running(cfg, name):
        raise ServiceError(f"{name} is already running (pid {read_pid(cfg, name)})",
                           hint="run `sensorlake services down` first")
    logf = log_file(cfg, name)
    logf.parent.mkdir(parents=True, exist_ok=True)
    pid_file(cfg, name).parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with open(logf, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: {' '.join(map(str, argv))}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                                    start_new_session=True, close_fds=True)
        except OSError as exc:
            raise ServiceError(f"cannot start {name}: {exc}", hint=f"check that {argv[0]} exists and runs") from None
    _CHILDREN[proc.pid] = proc
    pid_file(cfg, name).write_text(f"{proc.pid} {_start_ticks(proc.pid) or ''}\n")
    log.info("started %s (pid %d), log %s", name, proc.pid, logf)
    return proc.pid


def stop_process(cfg, name: str, timeout: float = 20.0) -> bool:
    """Stop the whole process group of ``name``: SIGTERM, wait up to ``timeout`` s, then SIGKILL.

    Returns True if something was running. Example: ``stop_process(cfg, "kafka")``.
    """
    pid = read_pid(cfg, name)
    if pid is None:
        return False
    was_running = is_running(cfg, name)
    if was_running:
        _signal_group(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            log.warning("%s (group %d) did not stop in %.0f s; killing it", name, pid, timeout)
            _signal_group(pid, signal.SIGKILL)
            if not _wait_gone(pid, 10.0):
                raise ServiceError(f"{name} (process group {pid}) survived SIGKILL",
                                   hint=f"inspect it with `ps -g {pid}`")
        log.info("stopped %s (group %d)", name, pid)
    pid_file(cfg, name).unlink(missing_ok=True)
    return was_running


def kill_process(cfg, name: str, timeout: float = 10.0) -> int:
    """SIGKILL the whole process group of ``name`` at once, as a crash would (no clean shutdown).

    Returns the pid (= group id) killed; raises ServiceError if ``name`` is not running.
    Example: ``kill_process(cfg, "flink-taskmanager")`` (fault tests).
    """
    pid = read_pid(cfg, name)
    if pid is None or not is_running(cfg, name):
        raise ServiceError(f"{name} is not running: nothing to kill", hint="start it first")
    _signal_group(pid, signal.SIGKILL)
    if not _wait_gone(pid, timeout):
        raise ServiceError(f"{name} (process group {pid}) survived SIGKILL", hint=f"inspect it with `ps -g {pid}`")
    pid_file(cfg, name).unlink(missing_ok=True)
    log.info("killed %s (group %d)", name, pid)
    return pid


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        time.sleep(0.1)
    return not group_alive(pgid)


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(deque(f, maxlen=lines))
    except OSError:
        return ""


def wait_healthy(cfg, name: str, check: Callable[[], bool], timeout: float, interval: float = 0.5,
                 what: str | None = None) -> float:
    """Poll ``check()`` until it returns True; return the seconds waited.

    Raises ServiceError naming the service, its log file and the log's last lines if the
    process exits or ``timeout`` passes first. Exceptions from ``check`` count as "not yet",
    except ServiceError, which ``check`` raises to give up at once.
    Example: ``wait_healthy(cfg, "mlflow", lambda: http_ok(url), timeout=60)``.
    """
    started = time.monotonic()
    deadline = started + timeout
    last_error = ""
    while True:
        try:
            if check():
                return time.monotonic() - started
        except ServiceError:
            raise  # the check found a fatal condition
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy yet"
            last_error = f"{type(exc).__name__}: {exc}"
        if not is_running(cfg, name):
            reason = f"{name} exited during start-up"
            break
        if time.monotonic() >= deadline:
            reason = f"{name} did not become healthy within {timeout:.0f} s" + (f" ({what})" if what else "")
            break
        time.sleep(interval)
    logf = log_file(cfg, name)
    detail = f"; last check error: {last_error}" if last_error else ""
    raise ServiceError(f"{reason}{detail}\n  log: {logf}\n  last lines:\n{_indent(tail(logf))}",
                       hint=f"read {logf}")


def _indent(text: str) -> str:
    return "".join(f"    {line}" for line in text.splitlines(keepends=True)) or "    (empty)\n"
