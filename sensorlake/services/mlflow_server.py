"""An MLflow tracking server on 127.0.0.1: SQLite backend and local artifacts by default.

Runs ``python -m mlflow server`` from this environment. ``mlflow.backend_store_uri`` (e.g. a
``postgresql://user:pass@host/db`` URI) is passed through unchanged; when unset the store is
``sqlite:///<runtime>/mlflow/mlflow.db``. Artifacts are served by the server itself
(``--artifacts-destination``), so clients need only the tracking URI. Health is ``GET /health``.
The server forks uvicorn workers: stop() ends the whole process group.

It binds ``mlflow.host`` (127.0.0.1 unless told otherwise). With ``mlflow.auth: true`` (the
``cluster`` profile) it runs MLflow's basic-auth app (``--app-name basic-auth``): every request
but ``/health`` needs HTTP basic credentials. Secrets never come from the configuration, only
from the environment: the admin's password from ``SENSORLAKE_MLFLOW_ADMIN_PASSWORD`` (at least
12 characters; the admin user is created with it on the first start against an empty user
store) and, optionally, the CSRF secret of the sign-up form from ``SENSORLAKE_MLFLOW_SECRET_KEY``
(a random one per start otherwise). The generated ``<runtime>/mlflow/basic_auth.ini`` holds no
password. Clients authenticate with ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``.

Example::

    from sensorlake.services import mlflow_server
    mlflow_server.start(cfg)
    import mlflow; mlflow.set_tracking_uri(mlflow_server.address(cfg))
    mlflow_server.stop(cfg)
"""
from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Mapping

from sensorlake.errors import ConfigError, ServiceError
from sensorlake.services import process

log = logging.getLogger(__name__)

NAME = "mlflow"
PROCESSES = (NAME,)
START_TIMEOUT_S = 120
ADMIN_PASSWORD_ENV = "SENSORLAKE_MLFLOW_ADMIN_PASSWORD"
SECRET_KEY_ENV = "SENSORLAKE_MLFLOW_SECRET_KEY"
LOOPBACK = "127.0.0.1"


def host(cfg) -> str:
    """The interface the server binds: ``mlflow.host``, 127.0.0.1 unless told otherwise."""
    return str(cfg.get("mlflow.host") or LOOPBACK)


def address(cfg) -> str:
    """URL of the server started here, e.g. ``http://127.0.0.1:5000``."""
    bound = host(cfg)
    reach = LOOPBACK if bound in ("0.0.0.0", "::") else bound
    return f"http://{reach}:{cfg.get('mlflow.port')}"


def auth_enabled(cfg) -> bool:
    """True if the server runs MLflow's basic-auth app (``mlflow.auth``; on in the cluster profile)."""
    return bool(cfg.get("mlflow.auth"))


def auth_database_uri(cfg) -> str:
    """Where the basic-auth app keeps users and permissions: ``mlflow.auth_database_uri`` or
    ``sqlite:///<runtime>/mlflow/basic_auth.db``."""
    uri = cfg.get("mlflow.auth_database_uri")
    if uri:
        return str(uri)
    return f"sqlite:///{cfg.runtime_dir / 'mlflow' / 'basic_auth.db'}"


def auth_config_file(cfg) -> Path:
    """The basic-auth app's configuration (``MLFLOW_AUTH_CONFIG_PATH``), written by ``start``."""
    return cfg.runtime_dir / "mlflow" / "basic_auth.ini"


def write_auth_config(cfg) -> Path:
    """Write the basic-auth ini (no password in it; readable by its owner only); return its path."""
    path = auth_config_file(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ("[mlflow]\n"
            f"default_permission = {cfg.get('mlflow.auth_default_permission') or 'READ'}\n"
            f"database_uri = {auth_database_uri(cfg)}\n"
            f"admin_username = {admin_username(cfg)}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return path


def admin_username(cfg) -> str:
    """The admin user the basic-auth app creates on its first start (``mlflow.admin_username``)."""
    return str(cfg.get("mlflow.admin_username") or "admin")


def auth_environment(cfg, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for the basic-auth server, from ``SENSORLAKE_MLFLOW_ADMIN_PASSWORD`` (required)
    and ``SENSORLAKE_MLFLOW_SECRET_KEY`` (optional); raises ConfigError naming what is missing.

    Example: ``auth_environment(cfg, {"SENSORLAKE_MLFLOW_ADMIN_PASSWORD": "a long passphrase"})``.
    """
    environ = os.environ if environ is None else environ
    password = environ.get(ADMIN_PASSWORD_ENV) or ""
    where = f"profile {cfg.get('profile')!r}" if cfg.get("profile") else "this configuration"
    if not password:
        raise ConfigError(
            f"MLflow authentication is on (mlflow.auth in {where}) but {ADMIN_PASSWORD_ENV} is not set",
            hint=f"export {ADMIN_PASSWORD_ENV}=<a password of 12+ characters> (never in a file in the repo), "
                 "or turn authentication off with --set mlflow.auth=false on a machine of your own")
    if len(password) < 12:
        raise ConfigError(f"{ADMIN_PASSWORD_ENV} is shorter than 12 characters, which MLflow refuses",
                          hint=f"export {ADMIN_PASSWORD_ENV}=<a password of 12+ characters>")
    if importlib.util.find_spec("flask_wtf") is None:
        raise ConfigError("MLflow authentication needs the `auth` extra of mlflow (Flask-WTF), which is not installed",
                          hint='pip install "mlflow[auth]" at the pinned mlflow version')
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(auth_config_file(cfg)),
        "MLFLOW_AUTH_ADMIN_USERNAME": admin_username(cfg),
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": environ.get(SECRET_KEY_ENV) or secrets.token_urlsafe(32),
    }


def backend_store_uri(cfg) -> str:
    """The configured store URI, or ``sqlite:///<runtime>/mlflow/mlflow.db``."""
    uri = cfg.get("mlflow.backend_store_uri")
    if uri:
        return str(uri)
    return f"sqlite:///{cfg.runtime_dir / 'mlflow' / 'mlflow.db'}"


def artifacts_dir(cfg) -> Path:
    """Folder where the server stores artifacts."""
    if cfg.get("mlflow.artifacts_dir"):
        return cfg.path("mlflow.artifacts_dir")
    return cfg.runtime_dir / "mlflow" / "artifacts"


def command(cfg) -> list[str]:
    """The ``mlflow server`` command line for this configuration."""
    argv = [sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", backend_store_uri(cfg),
            "--artifacts-destination", artifacts_dir(cfg).as_uri(),
            "--serve-artifacts",
            "--host", host(cfg), "--port", str(cfg.get("mlflow.port")),
            "--workers", str(cfg.get("mlflow.workers") or 2)]
    if auth_enabled(cfg):
        argv += ["--app-name", "basic-auth"]
    return argv


def healthy(cfg) -> bool:
    """True if ``GET /health`` answers 200."""
    try:
        with urllib.request.urlopen(f"{address(cfg)}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def not_answering(cfg, timeout_s: float = 10.0) -> str | None:
    """Why the tracking server (an http(s) ``cfg.mlflow_tracking_uri``) does not answer ``GET /health``;
    None when it answers (any HTTP status, e.g. 401 with authentication on) or the URI is not http(s)."""
    import urllib.error

    uri = cfg.mlflow_tracking_uri
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except OSError as exc:
        return str(getattr(exc, "reason", exc))


def require_reachable(cfg, timeout_s: float = 10.0) -> None:
    """Raise ServiceError at once when the tracking server (an http(s) ``cfg.mlflow_tracking_uri``) does
    not answer: MLflow's own client retries for about four minutes before it gives up."""
    reason = not_answering(cfg, timeout_s)
    if reason is not None:
        raise ServiceError(f"the MLflow tracking server at {cfg.mlflow_tracking_uri} does not answer ({reason})",
                           "start it with: sensorlake services up mlflow (or set mlflow.tracking_uri)")


@contextmanager
def clear_error_if_lost(cfg, doing: str):
    """Within the block, an error raised while the tracking server no longer answers becomes a ServiceError
    naming the server, ``doing`` and the notes the block appended to the yielded list (what the server
    already holds); any other error passes unchanged. MLflow's client reports a lost server as a long
    urllib3 retry error, after minutes of retries unless they are bounded
    (:func:`sensorlake.realtime.quick_failing_mlflow_requests`).

    Example::

        with clear_error_if_lost(cfg, "training task failure") as notes:
            with mlflow.start_run() as run:
                notes.append(f"run {run.info.run_id} stays RUNNING")
                ...
    """
    notes: list[str] = []
    try:
        yield notes
    except Exception:
        reason = not_answering(cfg, timeout_s=5.0)
        if reason is None:
            raise
        raise ServiceError(f"the MLflow tracking server at {cfg.mlflow_tracking_uri} stopped answering while {doing} "
                           f"({reason})" + "".join(f"; {note}" for note in notes),
                           "start it again (sensorlake services up mlflow), then rerun") from None


def start(cfg, environ: Mapping[str, str] | None = None) -> float:
    """Start the tracking server and wait for /health; return the seconds it took to start.

    With ``mlflow.auth`` on, the admin password comes from ``environ`` (default: this process's
    environment); a missing one is a ConfigError before anything starts.
    """
    auth_env = auth_environment(cfg, environ) if auth_enabled(cfg) else {}
    process.ensure_port_free(cfg, cfg.get("mlflow.port"), "mlflow", "mlflow.port", host=host(cfg))
    if host(cfg) != LOOPBACK and not auth_enabled(cfg):
        log.warning("mlflow binds %s without authentication: anyone who reaches it can read and change "
                    "runs and models (set mlflow.auth=true)", host(cfg))
    (cfg.runtime_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    artifacts_dir(cfg).mkdir(parents=True, exist_ok=True)
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONUNBUFFERED": "1", **auth_env}
    if auth_env:
        write_auth_config(cfg)
    process.start_process(cfg, NAME, command(cfg), env=env, cwd=cfg.runtime_dir / "mlflow")
    try:
        return process.wait_healthy(cfg, NAME, lambda: healthy(cfg), START_TIMEOUT_S,
                                    what=f"GET {address(cfg)}/health")
    except ServiceError:
        process.stop_process(cfg, NAME)
        raise


def stop(cfg) -> bool:
    """Stop the server and its workers (whole process group); True if it was running."""
    return process.stop_process(cfg, NAME, timeout=20)
