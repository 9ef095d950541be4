"""``sensorlake simulate``: the fleet simulator, as history files or a live Kafka stream.

Examples::

    sensorlake simulate history --out data/history --days 2 --format parquet
    sensorlake simulate history --out data/bad --format jsonl --bad-rate 0.01
    sensorlake simulate live --rate 5000 --duration 60 --bad-rate 0.01 --manifest live-manifest.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sensorlake.errors import ConfigError


def _fleet_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("fleet (defaults from simulator.* in the configuration)")
    g.add_argument("--seed", type=int, help="random seed; the same seed gives the same data")
    g.add_argument("--equipment-per-type", type=int, help="equipment of each type in the fleet")
    g.add_argument("--rate-scale", type=float, help="multiplies every sensor's sampling rate")
    g.add_argument("--start", help="simulated start, ISO-8601 UTC (history default simulator.start; live: early enough "
                        "that the run ends about now; it never runs ahead of the wall clock)")
    g.add_argument("--degradation-hours", type=float,
                   help="Weibull scale of the time from a repair to failure (default 10; smaller: more failures)")
    g.add_argument("--pm-interval-hours", type=float, help="preventive maintenance period (default 24; 0: none)")
    b = parser.add_argument_group("bad records")
    b.add_argument("--bad-rate", type=float, help="fraction of readings turned into bad records (default simulator.bad_rate)")
    b.add_argument("--bad-kinds", help="comma-separated kinds to inject (default: all): malformed_json, missing_key, "
                   "nan_value, out_of_range, unknown_sensor, duplicate, late, out_of_order")
    b.add_argument("--allowed-lateness", type=float, default=60.0, metavar="SECONDS",
                   help="the stream's allowed lateness: out_of_order records stay within half of it (default 60)")
    b.add_argument("--late-by", type=float, default=600.0, metavar="SECONDS",
                   help="how much older than the stream a late record is (default 600)")


def register(subparsers) -> None:
    """Add ``simulate history`` and ``simulate live`` to the ``sensorlake`` parser."""
    parser = subparsers.add_parser(
        "simulate", help="simulate a fleet: history files or a live Kafka stream",
        description="Physics-informed fleet simulator (conveyor motors, pumps, fans) with degradation, "
                    "failures, maintenance, and optional bad records counted in a manifest.")
    sub = parser.add_subparsers(dest="simulate_command", metavar="MODE", required=True)

    history = sub.add_parser("history", help="write readings, events, equipment and a manifest to a folder",
                             description="Write <out>/readings/part-*.parquet|jsonl, events.parquet, "
                                         "equipment.parquet and manifest.json.")
    history.add_argument("--out", required=True, type=Path, help="output folder")
    history.add_argument("--days", type=float, help="simulated days (default simulator.days)")
    history.add_argument("--format", choices=("parquet", "jsonl"), default="parquet",
                         help="readings format (Parquet carries only nan_value and out_of_range bad records)")
    _fleet_arguments(history)
    history.set_defaults(func=run_history)

    live = sub.add_parser("live", help="produce readings to Kafka at a target rate",
                          description="Produce JSON readings keyed by equipment id to the Kafka topic, paced to "
                                      "--rate, until --duration or --count; write a manifest of every record by kind.")
    live.add_argument("--rate", type=float, default=1000.0, help="target records per second (0: as fast as possible)")
    stop = live.add_mutually_exclusive_group()
    stop.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    stop.add_argument("--count", type=int, help="stop after this many records")
    live.add_argument("--topic", help="Kafka topic (default kafka.topic)")
    live.add_argument("--bootstrap", help="Kafka bootstrap servers (default from the kafka section)")
    live.add_argument("--manifest", type=Path, help="write the manifest JSON here")
    live.add_argument("--history-out", type=Path, help="also write events.parquet and equipment.parquet of the run here")
    _fleet_arguments(live)
    live.set_defaults(func=run_live)


def _settings(args, cfg, **extra):
    from sensorlake.equipment import load_equipment_types
    from sensorlake.simulator.bad_records import BAD_KINDS, InjectionSettings
    from sensorlake.simulator.fleet import Fleet, FleetSettings

    settings = FleetSettings.from_config(
        cfg, seed=args.seed, equipment_per_type=args.equipment_per_type, rate_scale=args.rate_scale,
        start=args.start, degradation_hours=args.degradation_hours, pm_interval_hours=args.pm_interval_hours, **extra)
    kinds = tuple(k.strip() for k in args.bad_kinds.split(",")) if args.bad_kinds else BAD_KINDS
    bad_rate = args.bad_rate if args.bad_rate is not None else float(cfg.get("simulator.bad_rate", 0.0) or 0.0)
    try:
        injection = InjectionSettings(bad_rate, settings.seed, kinds, args.allowed_lateness, args.late_by)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Fleet(load_equipment_types(cfg.equipment_types_file), settings), injection


def _summary(manifest: dict) -> str:
    c = manifest["counts"]
    injected = ", ".join(f"{k}={v}" for k, v in c["injected"].items() if v)
    fleet = manifest["fleet"]
    return (f"{c['total_records_emitted']:,} records ({c['valid_unique_readings']:,} valid unique"
            f"{'; injected ' + injected if injected else ''}); {fleet['equipment']} equipment, "
            f"{fleet['failures']} failures {json.dumps(fleet['failures_per_mode'])}, {fleet['maintenance']} maintenance")


def run_history(args, cfg) -> int:
    from sensorlake.progress import Progress
    from sensorlake.simulator.history import write_history

    fleet, injection = _settings(args, cfg, days=args.days)
    progress = Progress("simulate history", unit="readings")  # the total depends on downtime
    manifest = write_history(fleet, args.out, args.format, injection, progress)
    seconds = progress.finish()
    n = manifest["counts"]["total_records_emitted"]
    print(f"wrote {args.out}: {_summary(manifest)} in {seconds:.1f} s ({n / max(seconds, 1e-9):,.0f} readings/s)")
    return 0


def run_live(args, cfg) -> int:
    from sensorlake.simulator.live import backdated_start, produce_live

    if args.start is None:       # the run's simulated span ends about now
        fleet, _ = _settings(args, cfg)
        args.start = backdated_start(fleet.readings_per_second, args.rate, args.duration, args.count).isoformat()
    fleet, injection = _settings(args, cfg)
    manifest = produce_live(cfg, fleet, injection, topic=args.topic, rate=args.rate, duration_s=args.duration,
                            count=args.count, manifest_path=args.manifest, history_out=args.history_out,
                            bootstrap=args.bootstrap)
    p = manifest["parameters"]
    print(f"produced to {p['topic']} at {p['bootstrap']}: {_summary(manifest)} "
          f"in {p['wall_seconds']:.1f} s ({p['records_per_second']:,.0f} records/s)", file=sys.stdout)
    return 0
