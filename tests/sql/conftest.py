"""A small lake of known rows in every layer, private to the SQL tests (see analyst_lake.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.services.conftest import with_values
from tests.sql.analyst_lake import write_analyst_lake

QUERIES_DIR = Path(__file__).resolve().parents[2] / "queries"


def lake_cfg(cfg, root: Path):
    """``cfg`` with its lake (and metastores) under ``root``; other tests' lake stays untouched."""
    return with_values(cfg, lake__root=str(root / "lake"), lake__metastore_dir=str(root / "metastore"))


@pytest.fixture(scope="session")
def analyst_lake(cfg, tmp_path_factory):
    """(cfg, rows per table) of the small lake, written once with delta-rs."""
    lake = lake_cfg(cfg, tmp_path_factory.mktemp("analyst_lake"))
    return lake, write_analyst_lake(lake)
