"""Start ``mlflow server`` with the basic-auth app, its stores named by environment variables.

The container's entry point (docker/mlflow/Dockerfile). Reads, and never writes to a log:

  POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB   backend store
  MLFLOW_AUTH_DB                 database of users and permissions (same server; default mlflow_auth)
  MLFLOW_AUTH_ADMIN_USERNAME     the admin user created on the first start (default admin)
  MLFLOW_AUTH_ADMIN_PASSWORD     its password, 12+ characters (required)
  MLFLOW_FLASK_SERVER_SECRET_KEY CSRF secret of the sign-up form (required; keep it stable)
  MLFLOW_AUTH_DEFAULT_PERMISSION READ (default), EDIT, MANAGE or NO_PERMISSIONS
  MLFLOW_WORKERS                 uvicorn workers (default 2)

The auth ini is written at start to a file only this user can read (it names the auth database,
whose URI carries the PostgreSQL password); the admin password stays in the environment.
Inside the container the server binds 0.0.0.0; compose publishes it on 127.0.0.1 only.
"""
from __future__ import annotations

import os
import sys
from urllib.parse import quote

REQUIRED = ("POSTGRES_PASSWORD", "MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY")


def postgres_uri(database: str) -> str:
    user = quote(os.environ.get("POSTGRES_USER", "mlflow"), safe="")
    password = quote(os.environ["POSTGRES_PASSWORD"], safe="")
    host = os.environ.get("POSTGRES_HOST", "postgres")
    port = os.environ.get("POSTGRES_PORT", "5432")
    return f"postgresql://{user}:{password}@{host}:{port}/{quote(database, safe='')}"


def main() -> None:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        sys.exit(f"error: set {', '.join(missing)} (see docker/.env.example); no default is shipped")
    if len(os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"]) < 12:
        sys.exit("error: MLFLOW_AUTH_ADMIN_PASSWORD must have at least 12 characters")
    ini = "/var/lib/mlflow/run/basic_auth.ini"
    fd = os.open(ini, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("[mlflow]\n"
                  f"default_permission = {os.environ.get('MLFLOW_AUTH_DEFAULT_PERMISSION', 'READ')}\n"
                  f"database_uri = {postgres_uri(os.environ.get('MLFLOW_AUTH_DB', 'mlflow_auth'))}\n"
                  f"admin_username = {os.environ.get('MLFLOW_AUTH_ADMIN_USERNAME', 'admin')}\n"
                  "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = ini
    # Through the environment, not argv, so the password is not on the process list.
    os.environ["MLFLOW_BACKEND_STORE_URI"] = postgres_uri(os.environ.get("POSTGRES_DB", "mlflow"))
    argv = [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
            "--artifacts-destination", "/var/lib/mlflow/artifacts", "--serve-artifacts",
            "--host", "0.0.0.0", "--port", "5000",
            "--workers", os.environ.get("MLFLOW_WORKERS", "2")]
    os.execv(sys.executable, argv)


if __name__ == "__main__":
    main()
