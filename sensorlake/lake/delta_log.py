"""Read a Delta table's transaction log directly: its version and the files each commit added.

Used to find what a table gained since a version (validation of increments, the backfill's
``--since-last``) without Change Data Feed, which stays off so delta-rs can write every table.
The lake must be on a filesystem this process can read.

Example::

    version = table_version(cfg, "bronze.readings")
    for add in files_added_since(cfg, "bronze.readings", since=12, until=version):
        print(add["path"], add.get("stats"))
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

from sensorlake.config import Config
from sensorlake.errors import ConfigError

_COMMIT = re.compile(r"^(\d{20})\.json$")


def delta_log_dir(cfg: Config, table: str) -> Path:
    return cfg.table_path(table) / "_delta_log"


def table_version(cfg: Config, table: str) -> int | None:
    """The current version of a Delta table (from its log), or None when the table does not exist."""
    log = delta_log_dir(cfg, table)
    if not log.is_dir():
        return None
    versions = [int(m.group(1)) for m in map(_COMMIT.match, os.listdir(log)) if m]
    return max(versions) if versions else None


def commit_actions(log: Path, version: int, table: str) -> list[dict]:
    path = log / f"{version:020d}.json"
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise ConfigError(f"commit {version} of {table} is no longer in its Delta log (log retention)",
                          "validate by time (--since TIME) or the whole table") from None
    return [json.loads(line) for line in lines if line.strip()]


def files_added_since(cfg: Config, table: str, since: int, until: int) -> list[dict]:
    """Add actions of commits ``since+1 .. until`` whose files hold rows added after ``since`` and are live at ``until``."""
    log = delta_log_dir(cfg, table)
    live_new: dict[str, dict] = {}
    for version in range(since + 1, until + 1):
        actions = commit_actions(log, version, table)
        removed = {unquote(a["remove"]["path"]) for a in actions if "remove" in a}
        folded_new = any(p in live_new for p in removed)
        for p in removed:
            live_new.pop(p, None)
        for action in actions:
            add = action.get("add")
            if add and (add.get("dataChange", True) or folded_new):
                live_new[unquote(add["path"])] = add
    return list(live_new.values())


