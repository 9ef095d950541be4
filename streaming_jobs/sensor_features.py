"""Real-time sensor features: Kafka -> checks -> bronze.readings / quarantine.readings, views -> silver.

    FLINK_CONF_DIR=.sensorlake/flink/conf flink run -d -py streaming_jobs/sensor_features.py -- --profile cluster
    sensorlake stream [--views machine_1m]          # PyFlink's local mini cluster

(README, "Run the streaming job on a Flink cluster": where the ``flink`` CLI is, and why no -pyfs.)

Runs until cancelled; a restart resumes from the consumer group's committed offsets (or a
checkpoint / savepoint), and the writers' Delta transaction ids make the replay add nothing.
"""
from __future__ import annotations

import argparse
import sys

from sensorlake.entrypoint import run_job



def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--views", help="comma-separated feature views (default streaming.views)")
    parser.add_argument("--run-id", help="lineage run id (default: a new one)")
    parser.add_argument("--parallelism", type=int, help="job parallelism (default flink.parallelism)")
    return parser


def run(args, cfg) -> int:
    from feature_defs.registry import load_registry
    from sensorlake.streaming.job import build_streaming_job, create_environments

    registry = load_registry(cfg)
    names = args.views.split(",") if args.views else list(cfg.get("streaming.views") or [v.name for v in registry.views_for("flink")])
    views = [registry[n] for n in names]   # an unknown name is refused with the known ones
    env, t_env = create_environments(cfg, args.parallelism)
    run_id = build_streaming_job(env, t_env, cfg, views, args.run_id)
    print(f"streaming job {run_id}: views {', '.join(names)}; Kafka {cfg.kafka_bootstrap} topic {cfg.get('kafka.topic')}",
          flush=True)
    env.execute(f"sensorlake-stream {run_id}")
    return 0


def main(argv=None) -> int:
    return run_job(__doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
