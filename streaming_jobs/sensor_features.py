"""Real-time sensor features: Kafka -> checks -> bronze.readings / quarantine.readings, views -> silver.

    flink run -m 127.0.0.1:8081 -py streaming_jobs/sensor_features.py -pyfs . -- --profile cluster
    sensorlake stream [--views machine_1m] [--bounded]          # PyFlink's local mini cluster

Runs until cancelled (or, with --bounded, until the records present at start are processed).
"""
from __future__ import annotations

import argparse
import sys

from sensorlake.config import load_config
from sensorlake.errors import SensorlakeError


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--views", help="comma-separated feature views (default streaming.views)")
    parser.add_argument("--bounded", action="store_true", help="stop at the Kafka offsets that are latest at start")
    parser.add_argument("--run-id", help="lineage run id (default: a new one)")
    parser.add_argument("--parallelism", type=int, help="job parallelism (default flink.parallelism)")
    return parser


def run(args, cfg) -> int:
    from feature_defs.registry import load_registry
    from sensorlake.streaming.job import build_streaming_job, create_environments

    registry = load_registry(cfg)
    names = args.views.split(",") if args.views else list(cfg.get("streaming.views") or registry)
    missing = [n for n in names if n not in registry]
    if missing:
        from sensorlake.errors import ConfigError
        raise ConfigError(f"unknown feature view(s): {', '.join(missing)}", f"known views: {', '.join(registry)}")
    env, t_env = create_environments(cfg, args.parallelism)
    run_id = build_streaming_job(env, t_env, cfg, [registry[n] for n in names], args.run_id, bounded=args.bounded)
    print(f"streaming job {run_id}: views {', '.join(names)}; Kafka {cfg.kafka_bootstrap} topic {cfg.get('kafka.topic')}",
          flush=True)
    env.execute(f"sensorlake-stream {run_id}")
    return 0


def main(argv=None) -> int:
    parser = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--config")
    parser.add_argument("--profile")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        return run(args, load_config(args.config, args.profile, args.overrides))
    except SensorlakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
