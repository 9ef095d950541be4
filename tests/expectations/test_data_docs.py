"""Data Docs: static HTML that a browser opens, listing every suite by name."""
from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, timedelta

import pytest

from expectations import validate_table
from tests.expectations.conftest import T0, equipment, event, reading, write_rows
from tests.expectations.test_silver_gold_gates import FEATURES_DDL, PREDICTIONS_DDL, prediction, window

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SUITES = ("bronze.equipment", "bronze.readings", "bronze.events", "quarantine.readings",
          "silver.features_docs_1m", "gold.predictions")


def dump_dom(index, user_data_dir) -> str:
    """The page as headless Chromium renders it (scripts run)."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={user_data_dir}", "--dump-dom", index.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(user_data_dir)})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def index(spark, qcfg):
    write_rows(spark, qcfg, "bronze.equipment", [equipment("eq-pump-1", "pump", date(2025, 1, 1))])
    write_rows(spark, qcfg, "bronze.readings", [reading(at=T0 + timedelta(seconds=i)) for i in range(3)])
    write_rows(spark, qcfg, "bronze.events", [event("eq-pump-1", T0, "failure", "seal_leak")])
    write_rows(spark, qcfg, "quarantine.readings", [{
        "ingest_id": "q1", "raw_payload": "{}", "reason": "nan_value", "stage": "ingest", "source": "test",
        "rejected_at": T0, "rejected_date": T0.date()}])
    write_rows(spark, qcfg, "silver.features_docs_1m", [window(0)], FEATURES_DDL)
    write_rows(spark, qcfg, "gold.predictions", [prediction()], PREDICTIONS_DDL)
    reports = [validate_table(spark, qcfg, table, data_docs=table == SUITES[-1]) for table in SUITES]
    assert all(r.passed for r in reports)
    return reports[-1].data_docs


def test_data_docs_index_is_written_under_the_runtime_folder(qcfg, index):
    assert index == qcfg.runtime_dir / "data_docs" / "index.html" and index.is_file()


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed (scripts/run_tests.sh installs it)")
def test_headless_chromium_finds_every_suite_name_on_the_data_docs_page(index, tmp_path):
    page = dump_dom(index, tmp_path / "chromium")
    missing = [name for name in SUITES if name not in page]
    assert not missing, f"suites missing from {index}: {missing}"
