"""Ship the project to a Spark cluster: its code archive and the ``spark-submit`` command line of a job.

The archive is a plain zip of the project's packages (``dist/sensorlake.zip``), passed with
``--py-files``: Spark puts a zip on the ``sys.path`` of the driver and of every executor's Python
worker (a wheel it would only copy: ``--py-files`` adds .zip, .egg and .py files to the path,
and a .whl is none of them). The zip holds the package data too (YAML defaults, feature views,
log4j settings); the code reads those through :func:`sensorlake.package_data.packaged_path`,
which extracts them from the zip when it runs from one. Third-party packages (pyspark, delta,
GX, MLflow, LightGBM, ...) are not shipped: driver and executors run the venv's Python
(``spark.pyspark.python``), which has the pinned ones, on every machine of the cluster.

The command passes the Delta jars with ``--jars`` (the driver's JVM starts before the job's
session: ``spark.jars`` set there would come too late for it), the venv's Python, driver and
executor memory from the configuration (``spark.driver_memory``, ``spark.executor_memory``), and the
metastore's Derby home and the log4j settings as driver Java options. Everything after the job
file goes to the job.

Example::

    archive = build_code_archive(Path("dist/sensorlake.zip"))
    argv = spark_submit_command(cfg, "batch_jobs/backfill_features.py",
                                ["--view", "machine_1m", "--since-last"], archive=archive,
                                master="spark://127.0.0.1:7077")
    subprocess.run(argv, env=submit_environment(), check=True)

From a shell (``--dry-run`` prints the command instead of running it)::

    .venv/bin/python -m sensorlake.lake.submit package                       # -> dist/sensorlake.zip
    .venv/bin/python -m sensorlake.lake.submit run --master spark://127.0.0.1:7077 \\
        batch_jobs/backfill_features.py --view machine_1m --since-last
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

from sensorlake.config import Config, load_config
from sensorlake.lake.spark import LOG4J_CONFIG, delta_jars

# The project's own packages, shipped in the archive (streaming_jobs runs on Flink, not here).
CODE_PACKAGES = ("sensorlake", "feature_defs", "training", "expectations", "batch_jobs")
DEFAULT_ARCHIVE = Path("dist") / "sensorlake.zip"
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)        # fixed entry times: the same code gives the same archive bytes


def source_root() -> Path:
    """The folder holding the project's packages (the repository, or site-packages of an install)."""
    import sensorlake

    return Path(sensorlake.__file__).resolve().parents[1]


def build_code_archive(dest: Path = DEFAULT_ARCHIVE, root: Path | None = None,
                       packages: tuple[str, ...] = CODE_PACKAGES) -> Path:
    """Zip ``packages`` (code and data files, no caches) from ``root`` into ``dest``; return ``dest``.

    Entries are sorted with fixed times, so unchanged code gives a byte-identical archive.
    Example: ``build_code_archive(Path("dist/sensorlake.zip"))``.
    """
    root = Path(root) if root else source_root()
    dest = Path(dest)
    files = []
    for package in packages:
        folder = root / package
        if not (folder / "__init__.py").is_file():
            raise FileNotFoundError(f"package {package} not found under {root} (no {folder / '__init__.py'})")
        files += [p for p in folder.rglob("*") if p.is_file() and not _SKIPPED_DIRS.intersection(p.relative_to(root).parts)
                  and p.suffix not in (".pyc", ".pyo")]
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    os.replace(partial, dest)
    return dest


def venv_python() -> str:
    """This environment's Python, not resolved: a venv's ``bin/python`` symlink is what selects the venv."""
    return str(Path(sys.executable).absolute())


def spark_submit_binary() -> str:
    """``spark-submit`` beside this Python (the venv's), else the one in the installed pyspark."""
    beside = Path(sys.executable).absolute().parent / "spark-submit"
    if beside.is_file():
        return str(beside)
    import pyspark

    return str(Path(pyspark.__file__).resolve().parent / "bin" / "spark-submit")


def spark_submit_command(cfg: Config, job: str | Path, job_args: list[str] | tuple[str, ...] = (), *,
                         archive: Path, master: str | None = None, name: str | None = None) -> list[str]:
    """The ``spark-submit`` argv that runs ``job`` (a batch job file) with ``job_args`` on ``master``.

    ``master``: default the configuration's ``spark.master``. ``name``: the application's name
    (default: the job's own, set by the job). Paths are made absolute, so the command runs from any folder.
    """
    metastore = cfg.path("lake.metastore_dir")
    python = venv_python()
    argv = [spark_submit_binary(), "--master", master or cfg.get("spark.master")]
    if name:
        argv += ["--name", name]
    argv += [
        "--py-files", str(Path(archive).absolute()),
        "--jars", ",".join(str(j) for j in delta_jars(cfg)),
        "--driver-memory", str(cfg.get("spark.driver_memory")),
        "--executor-memory", str(cfg.get("spark.executor_memory")),
        "--driver-java-options", f"-Dderby.system.home={metastore} -Dlog4j.configurationFile={LOG4J_CONFIG}",
        "--conf", f"spark.pyspark.python={python}",
        "--conf", f"spark.pyspark.driver.python={python}",
        str(Path(job).absolute()), *job_args,
    ]
    return argv


def submit_environment(base: dict | None = None) -> dict[str, str]:
    """The environment for ``spark-submit``: ``base`` (default ``os.environ``) with the venv's Python and 127.0.0.1."""
    env = dict(os.environ if base is None else base)
    env.update(PYSPARK_PYTHON=venv_python(), PYSPARK_DRIVER_PYTHON=venv_python(), SPARK_LOCAL_IP="127.0.0.1")
    return env


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sensorlake.lake.submit",
                                     description="Build the project's code archive; run a batch job with spark-submit.")
    parser.add_argument("--config", help="YAML file overriding the defaults (also SENSORLAKE_CONFIG)")
    parser.add_argument("--profile", help="configuration profile: local or cluster")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    sub = parser.add_subparsers(dest="command", required=True)
    package = sub.add_parser("package", help="zip the project's packages for --py-files")
    package.add_argument("--output", type=Path, default=DEFAULT_ARCHIVE, help=f"archive to write (default {DEFAULT_ARCHIVE})")
    run = sub.add_parser("run", help="package, then spark-submit a batch job; arguments after the job file go to the job")
    run.add_argument("--master", help="Spark master URL (default: the configuration's spark.master)")
    run.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, help=f"code archive (default {DEFAULT_ARCHIVE})")
    run.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    run.add_argument("job", help="the job file, e.g. batch_jobs/backfill_features.py")
    run.add_argument("job_args", nargs=argparse.REMAINDER, help="the job's own arguments")
    args = parser.parse_args(argv)

    if args.command == "package":
        print(build_code_archive(args.output))
        return 0
    cfg = load_config(args.config, args.profile, args.overrides)
    archive = build_code_archive(args.archive)
    forwarded = ([f"--config={args.config}"] if args.config else []) + ([f"--profile={args.profile}"] if args.profile else [])
    forwarded += [f"--set={o}" for o in args.overrides]      # the job resolves the same configuration
    command = spark_submit_command(cfg, args.job, [*args.job_args, *forwarded], archive=archive, master=args.master)
    print(shlex.join(command), file=sys.stderr)
    if args.dry_run:
        return 0
    return subprocess.run(command, env=submit_environment()).returncode


if __name__ == "__main__":
    sys.exit(main())
