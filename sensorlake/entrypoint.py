"""The ``main`` every job file shares, so each runs alone under ``spark-submit`` or ``flink run -py``.

Example (the end of a job file)::

    def main(argv=None) -> int:
        return run_job(__doc__, add_arguments, run, argv)
"""
from __future__ import annotations

import argparse
import sys

from sensorlake.config import load_config
from sensorlake.errors import SensorlakeError


def run_job(doc: str, add_arguments, run, argv=None) -> int:
    """Parse the job's arguments plus --config/--profile/--set, resolve the configuration, run.

    A SensorlakeError becomes its message on stderr and its exit code, not a traceback.
    """
    parser = add_arguments(argparse.ArgumentParser(description=doc.strip().splitlines()[0]))
    parser.add_argument("--config", help="YAML file overriding the defaults (also SENSORLAKE_CONFIG)")
    parser.add_argument("--profile", help="configuration profile: local or cluster (also SENSORLAKE_PROFILE)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one configuration value; repeatable")
    args = parser.parse_args(argv)
    try:
        return int(run(args, load_config(args.config, args.profile, args.overrides)) or 0)
    except SensorlakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
