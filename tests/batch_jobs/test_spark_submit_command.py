"""The code archive for --py-files and the spark-submit command line (sensorlake.lake.submit); no cluster needed."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from sensorlake.lake.submit import CODE_PACKAGES, build_code_archive, spark_submit_command


def test_the_archive_holds_every_project_package_with_its_data_files_and_no_caches(tmp_path):
    archive = build_code_archive(tmp_path / "sensorlake.zip")
    names = set(zipfile.ZipFile(archive).namelist())
    assert {f"{p}/__init__.py" for p in CODE_PACKAGES} <= names
    assert {"sensorlake/config/defaults.yaml", "sensorlake/config/equipment_types.yaml",
            "sensorlake/lake/log4j2.properties", "feature_defs/views/machine_1m.yaml"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith(("tests/", "streaming_jobs/")) for n in names)


def test_the_same_code_gives_a_byte_identical_archive(tmp_path):
    first = build_code_archive(tmp_path / "a.zip").read_bytes()
    assert build_code_archive(tmp_path / "b.zip").read_bytes() == first


def test_code_imported_from_the_archive_reads_its_configuration_and_views_from_it(cfg, tmp_path):
    archive = build_code_archive(tmp_path / "sensorlake.zip")
    probe = ("import sys; sys.path.insert(0, sys.argv[1])\n"
             "import sensorlake.config as c, feature_defs.registry as r\n"
             "assert c.__file__.startswith(sys.argv[1]), c.__file__\n"
             "cfg = c.load_config(environ={})\n"
             "print(cfg.get('spark.master'), sorted(r.load_views(r.SHIPPED_VIEWS_DIR)))\n")
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", probe, str(archive)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("local[2] [") and "machine_1m" in result.stdout
    assert list(tmp_path.glob("sensorlake-code-*/sensorlake/config/defaults.yaml"))


def test_the_command_names_the_master_the_archive_the_delta_jars_and_the_venv_python(cfg, tmp_path):
    archive = tmp_path / "sensorlake.zip"
    argv = spark_submit_command(cfg, "batch_jobs/score.py", ["--task", "failure", "--latest"], archive=archive,
                                master="spark://127.0.0.1:7077")
    assert argv[0].endswith("spark-submit") and argv[argv.index("--master") + 1] == "spark://127.0.0.1:7077"
    assert argv[argv.index("--py-files") + 1] == str(archive)
    assert "delta-spark_" in argv[argv.index("--jars") + 1]
    assert argv[argv.index("--driver-memory") + 1] == str(cfg.get("spark.driver_memory"))
    assert argv[argv.index("--executor-memory") + 1] == str(cfg.get("spark.executor_memory"))
    assert f"spark.pyspark.python={sys.executable}" in argv
    assert argv[-4:] == [str(Path("batch_jobs/score.py").absolute()), "--task", "failure", "--latest"]


def test_without_a_master_the_command_uses_the_configured_one(cfg, tmp_path):
    argv = spark_submit_command(cfg, "batch_jobs/score.py", [], archive=tmp_path / "a.zip")
    assert argv[argv.index("--master") + 1] == cfg.get("spark.master")
