"""Flink's health check, against a stand-in ``/overview`` (the real cluster is in test_clusters.py)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from sensorlake.config import load_config
from sensorlake.services import flink_cluster


@pytest.fixture
def overview_server(tmp_path):
    """A local HTTP server whose ``/overview`` answers with ``state['body']``; yields (cfg, state)."""
    state = {"body": {}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            payload = json.dumps(state["body"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = load_config(profile="local", overrides=[f"flink.rest_port={server.server_port}"],
                      environ={}, base_dir=tmp_path)
    try:
        yield cfg, state
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("taskmanagers, slots, expected", [
    (0, 0, False),
    (1, 0, False),  # registered, slot report not in yet: a job submitted now would wait for slots
    (1, 2, True),
])
def test_healthy_needs_a_taskmanager_that_offered_its_slots(overview_server, taskmanagers, slots, expected):
    cfg, state = overview_server
    state["body"] = {"taskmanagers": taskmanagers, "slots-total": slots}
    assert flink_cluster.healthy(cfg) is expected


def test_healthy_is_false_when_nothing_answers(tmp_path):
    cfg = load_config(profile="local", overrides=["flink.rest_port=1"], environ={}, base_dir=tmp_path)
    assert flink_cluster.healthy(cfg) is False
