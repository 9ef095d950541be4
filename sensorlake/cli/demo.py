"""``sensorlake demo``: the pipeline end to end on embedded defaults (what ``make demo`` runs)."""
from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the pipeline end to end on embedded defaults",
                                   description="Start Kafka and MLflow, simulate a fleet, ingest it (and the public "
                                               "datasets) into Delta, backfill features, train and register models, "
                                               "score in batch, stream live readings through Kafka and PyFlink "
                                               "(features, real-time scores, alerts), and print the top-risk "
                                               "equipment and where to look.")
    parser.add_argument("--days", type=float, default=1.0, help="simulated days of history (default 1)")
    parser.add_argument("--equipment-per-type", type=int, help="equipment of each type (default simulator.equipment_per_type)")
    parser.add_argument("--live-seconds", type=float, default=15.0, help="seconds of live production to Kafka (default 15)")
    parser.add_argument("--live-rate", type=float, default=2000.0, help="live readings per second (default 2000)")
    parser.set_defaults(func=_run)


def _run(args, cfg) -> int:
    from sensorlake.demo import run_demo

    run_demo(cfg, days=args.days, equipment_per_type=args.equipment_per_type,
             live_seconds=args.live_seconds, live_rate=args.live_rate)
    return 0
