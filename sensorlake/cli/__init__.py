"""The ``sensorlake`` command: one entry point, a subcommand per job.

Each subcommand lives in its own module here and exposes ``register(subparsers)``, which adds
its parser and sets ``func(args, cfg)``. ``main`` resolves the configuration once (global
``--config``, ``--profile`` and ``--set``) and turns a SensorlakeError into a message and an
exit code instead of a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from sensorlake.config import load_config
from sensorlake.errors import SensorlakeError

SUBCOMMANDS = ("services", "simulate", "ingest", "stream", "backfill", "demo", "validate", "features", "train", "score", "upkeep", "sql")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sensorlake",
        description="Predictive-maintenance lakehouse: Kafka, PyFlink, Spark, Delta Lake, GX, LightGBM, MLflow.",
    )
    parser.add_argument("--config", help="YAML file overriding the defaults (also SENSORLAKE_CONFIG)")
    parser.add_argument("--profile", help="configuration profile: local (embedded) or cluster (also SENSORLAKE_PROFILE)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one configuration value; repeatable")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"sensorlake.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:  # GX logs its whole configuration at INFO on every validation
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        cfg = load_config(args.config, args.profile, args.overrides)
        return int(args.func(args, cfg) or 0)
    except SensorlakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
