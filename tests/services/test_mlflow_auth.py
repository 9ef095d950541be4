"""Security of the services: MLflow with authentication (the cluster profile), loopback binding.

The integration test starts a real tracking server with MLflow's basic-auth app and shows that a
request without credentials is refused (401) while the admin's credentials, taken from the
environment, are accepted. The binding test starts every service of the registry with process
launching stubbed out and reads the addresses each one would listen on.
"""
from __future__ import annotations

import base64
import json
import secrets
import urllib.error
import urllib.request

import pytest
import yaml

from sensorlake.config import load_config
from sensorlake.errors import ConfigError
from sensorlake.services import SERVICES, mlflow_server
from tests.conftest import REPO_ROOT
from tests.services.conftest import with_values

SEARCH = "/api/2.0/mlflow/experiments/search?max_results=5"


def _get(url: str, user: str | None = None, password: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture
def auth_cfg(private_cfg):
    """A configuration of its own (free port, temporary runtime folder) with authentication on."""
    return with_values(private_cfg, mlflow__auth=True, mlflow__workers=1)


@pytest.mark.integration
def test_mlflow_with_auth_refuses_requests_without_credentials_and_accepts_the_admin(auth_cfg, monkeypatch):
    password = secrets.token_urlsafe(18)
    environ = {mlflow_server.ADMIN_PASSWORD_ENV: password}
    try:
        mlflow_server.start(auth_cfg, environ=environ)
        url = mlflow_server.address(auth_cfg)

        assert _get(f"{url}/health")[0] == 200, "health stays open for probes"
        status, _ = _get(f"{url}{SEARCH}")
        assert status == 401, "a request without credentials is refused"
        assert _get(f"{url}{SEARCH}", "admin", password + "x")[0] == 401, "a wrong password is refused"
        status, body = _get(f"{url}{SEARCH}", "admin", password)
        assert status == 200 and "experiments" in json.loads(body)

        # Clients authenticate through MLflow's own environment variables.
        from mlflow.tracking import MlflowClient

        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        assert MlflowClient(tracking_uri=url).create_experiment("auth-test")
        assert password not in mlflow_server.auth_config_file(auth_cfg).read_text()
    finally:
        mlflow_server.stop(auth_cfg)
    assert not mlflow_server.healthy(auth_cfg)


def test_the_cluster_profile_turns_mlflow_authentication_on(tmp_path):
    cfg = load_config(profile="cluster", environ={}, base_dir=tmp_path)
    assert mlflow_server.auth_enabled(cfg)
    argv = mlflow_server.command(cfg)
    assert argv[argv.index("--app-name") + 1] == "basic-auth"
    assert not mlflow_server.auth_enabled(load_config(profile="local", environ={}, base_dir=tmp_path))


def test_mlflow_with_auth_but_no_admin_password_in_the_environment_fails_clearly_before_starting(auth_cfg):
    with pytest.raises(ConfigError, match=mlflow_server.ADMIN_PASSWORD_ENV):
        mlflow_server.start(auth_cfg, environ={})
    assert not (auth_cfg.runtime_dir / "run" / "mlflow.pid").exists(), "nothing was started"


def test_a_short_admin_password_is_refused_before_starting(auth_cfg):
    with pytest.raises(ConfigError, match="12 characters"):
        mlflow_server.start(auth_cfg, environ={mlflow_server.ADMIN_PASSWORD_ENV: "short"})


def test_the_auth_config_file_holds_no_password(auth_cfg):
    password = secrets.token_urlsafe(18)
    env = mlflow_server.auth_environment(auth_cfg, {mlflow_server.ADMIN_PASSWORD_ENV: password})
    path = mlflow_server.write_auth_config(auth_cfg)
    assert env["MLFLOW_AUTH_CONFIG_PATH"] == str(path)
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] == password
    assert password not in path.read_text()
    assert path.stat().st_mode & 0o077 == 0, "readable by its owner only"


def test_the_default_configuration_sets_no_secret(tmp_path):
    for profile in ("local", "cluster"):
        cfg = load_config(profile=profile, environ={}, base_dir=tmp_path)
        flat = json.dumps(cfg.data).lower()
        assert "password" not in flat and "secret" not in flat, f"profile {profile} carries a secret-looking key"


# ---- every server binds 127.0.0.1 by default ---------------------------------------------------

@pytest.fixture
def launches(monkeypatch):
    """Record every process the services would start, and start none."""
    from sensorlake.services import kafka, process

    started: list[tuple[str, list[str], dict]] = []
    monkeypatch.setattr(process, "start_process",
                        lambda cfg, name, argv, env=None, cwd=None: started.append((name, [str(a) for a in argv],
                                                                                     dict(env or {}))) or 1)
    monkeypatch.setattr(process, "wait_healthy", lambda *args, **kwargs: 0.0)
    monkeypatch.setattr(process, "ensure_port_free", lambda *args, **kwargs: None)
    monkeypatch.setattr(kafka, "format_storage", lambda cfg, props: None)
    return started


def _arg(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def _kafka_binds(cfg, started) -> list[str]:
    props = dict(line.split("=", 1) for line in
                 (cfg.runtime_dir / "kafka" / "server.properties").read_text().splitlines() if "=" in line)
    listeners = props["listeners"].split(",") + props["advertised.listeners"].split(",")
    return [listener.split("://", 1)[1].rsplit(":", 1)[0] for listener in listeners]


def _mlflow_binds(cfg, started) -> list[str]:
    return [_arg(argv, "--host") for name, argv, _ in started if name == "mlflow"]


def _flink_binds(cfg, started) -> list[str]:
    conf = yaml.safe_load((cfg.runtime_dir / "flink" / "conf" / "config.yaml").read_text())
    return [conf[k] for k in ("jobmanager.bind-host", "taskmanager.bind-host", "rest.bind-address",
                              "rest.address", "jobmanager.rpc.address", "taskmanager.host")]


def _spark_binds(cfg, started) -> list[str]:
    spark = [(argv, env) for name, argv, env in started if name.startswith("spark-")]
    assert len(spark) == 2, "master and worker"
    # --host binds the RPC endpoint; the web UIs bind SPARK_LOCAL_IP.
    return [_arg(argv, "--host") for argv, _ in spark] + [env["SPARK_LOCAL_IP"] for _, env in spark]


def _thrift_binds(cfg, started) -> list[str]:
    [(argv, env)] = [(argv, env) for name, argv, env in started if name == "thrift"]
    conf = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--conf")
    return [conf[k] for k in ("spark.hadoop.hive.server2.thrift.bind.host", "spark.driver.host",
                              "spark.driver.bindAddress")] + [env["HIVE_SERVER2_THRIFT_BIND_HOST"], env["SPARK_LOCAL_IP"]]


BINDS = {"kafka": _kafka_binds, "mlflow": _mlflow_binds, "flink": _flink_binds, "spark": _spark_binds,
         "thrift": _thrift_binds}


@pytest.mark.parametrize("profile", ["local", "cluster"])
def test_every_service_binds_127_0_0_1_by_default(profile, launches, tmp_path, monkeypatch):
    assert set(BINDS) == set(SERVICES), "a new service needs its binding checked here"
    monkeypatch.setenv(mlflow_server.ADMIN_PASSWORD_ENV, secrets.token_urlsafe(18))
    cfg = load_config(profile=profile, environ={}, base_dir=tmp_path,
                      overrides=[f"runtime.dir={tmp_path / 'runtime'}", f"runtime.jars_dir={REPO_ROOT / 'jars'}"])
    for name, module in SERVICES.items():
        module.start(cfg)
        hosts = BINDS[name](cfg, launches)
        assert hosts and set(hosts) == {"127.0.0.1"}, f"{name} binds {hosts}"
