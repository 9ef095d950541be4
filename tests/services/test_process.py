"""Process helpers, specified with tiny shell services (no real service needed)."""
from __future__ import annotations

import os
import socket
import time

import pytest

from sensorlake.config import load_config
from sensorlake.errors import ServiceError
from sensorlake.services import process
from tests.services.conftest import group_gone


@pytest.fixture
def pcfg(tmp_path):
    return load_config(profile="local", overrides=[f"runtime.dir={tmp_path / 'rt'}"], environ={}, base_dir=tmp_path)


def test_start_records_pid_and_logs_output(pcfg):
    pid = process.start_process(pcfg, "sleeper", ["sh", "-c", "echo hello-from-sleeper; exec sleep 600"])
    try:
        assert process.read_pid(pcfg, "sleeper") == pid
        assert process.is_running(pcfg, "sleeper")
        assert os.getpgid(pid) == pid, "a service leads its own process group"
        process.wait_healthy(pcfg, "sleeper", lambda: "hello-from-sleeper" in process.log_file(pcfg, "sleeper").read_text(), 10)
    finally:
        process.stop_process(pcfg, "sleeper")


def test_stop_ends_the_whole_process_group(pcfg):
    pid = process.start_process(pcfg, "forker", ["sh", "-c", "sleep 600 & sleep 600 & wait"])
    time.sleep(0.3)
    assert process.stop_process(pcfg, "forker") is True
    assert group_gone(pid)
    assert not process.pid_file(pcfg, "forker").exists()
    assert not process.is_running(pcfg, "forker")


def test_stop_kills_a_process_that_ignores_sigterm(pcfg):
    pid = process.start_process(pcfg, "stubborn", ["sh", "-c", "trap '' TERM; sleep 600 & wait; sleep 600"])
    time.sleep(0.3)
    started = time.monotonic()
    assert process.stop_process(pcfg, "stubborn", timeout=1.0)
    assert group_gone(pid)
    assert time.monotonic() - started < 10


def test_stop_of_a_service_that_never_ran_is_a_no_op(pcfg):
    assert process.stop_process(pcfg, "ghost") is False


def test_a_stale_pid_file_does_not_count_as_running(pcfg):
    pid = process.start_process(pcfg, "short", ["true"])
    deadline = time.monotonic() + 5
    while process.is_running(pcfg, "short") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process.is_running(pcfg, "short")
    assert process.stop_process(pcfg, "short") is False
    assert group_gone(pid)


def test_starting_a_running_service_again_is_refused(pcfg):
    process.start_process(pcfg, "once", ["sleep", "600"])
    try:
        with pytest.raises(ServiceError, match="once is already running"):
            process.start_process(pcfg, "once", ["sleep", "600"])
    finally:
        process.stop_process(pcfg, "once")


def test_health_wait_names_service_log_and_last_lines_when_it_exits(pcfg):
    process.start_process(pcfg, "crasher", ["sh", "-c", "echo boom-marker-42; exit 3"])
    with pytest.raises(ServiceError) as err:
        process.wait_healthy(pcfg, "crasher", lambda: False, timeout=10, interval=0.1)
    text = str(err.value)
    assert "crasher exited during start-up" in text
    assert str(process.log_file(pcfg, "crasher")) in text
    assert "boom-marker-42" in text


def test_health_wait_times_out_with_the_reason(pcfg):
    process.start_process(pcfg, "slowpoke", ["sleep", "600"])
    try:
        with pytest.raises(ServiceError, match=r"slowpoke did not become healthy within 1 s \(probe\)"):
            process.wait_healthy(pcfg, "slowpoke", lambda: False, timeout=1, interval=0.1, what="probe")
    finally:
        process.stop_process(pcfg, "slowpoke")


def test_a_port_in_use_gives_a_clear_error(pcfg):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ServiceError) as err:
            process.ensure_port_free(pcfg, port, "kafka", "kafka.port")
    assert err.value.message == f"port {port} for kafka is already in use"
    assert "--set kafka.port=" in err.value.hint


def test_a_free_port_passes_the_check(pcfg):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process.ensure_port_free(pcfg, port, "kafka", "kafka.port")
