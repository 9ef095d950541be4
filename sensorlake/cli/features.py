"""``sensorlake features``: the feature views, how each engine computes them, and their fingerprints.

Examples::

    sensorlake features list
    sensorlake features show machine_1m --engine flink      # the Flink SQL the streaming job runs
    sensorlake features show machine_1m --engine spark      # the Spark stages and column expressions
    sensorlake features formulas                            # the formula table
    sensorlake features lock                                # record fingerprints after bumping versions
"""
from __future__ import annotations


def register(subparsers) -> None:
    """Add ``features list|show|formulas|lock`` to the ``sensorlake`` parser."""
    parser = subparsers.add_parser(
        "features", help="list feature views and show their Flink SQL or Spark plan",
        description="Feature views are declared once (features.definitions_dir; default: the shipped "
                    "feature_defs/views) and compiled to Flink SQL (stream) and Spark (backfill).")
    sub = parser.add_subparsers(dest="features_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="one line per view: version, window, engines, feature_set_version")
    listing.set_defaults(func=run_list)

    show = sub.add_parser("show", help="the definition and how an engine computes it")
    show.add_argument("view", help="view name, e.g. machine_1m")
    show.add_argument("--engine", choices=("flink", "spark"), default="flink", help="engine (default flink)")
    show.add_argument("--source", default="readings", help="Flink source table name in the SQL (default readings)")
    show.set_defaults(func=run_show)

    formulas = sub.add_parser("formulas", help="the aggregation formula table")
    formulas.set_defaults(func=run_formulas)

    lock = sub.add_parser("lock", help="record every view's fingerprint in <definitions_dir>/fingerprints.lock.json")
    lock.set_defaults(func=run_lock)


def run_list(args, cfg) -> int:
    from feature_defs import definitions_dir, load_registry

    from feature_defs.view import format_duration

    registry = load_registry(cfg)
    rows = [("VIEW", "VERSION", "WINDOW", "LATENESS", "FEATURES", "ENGINES", "FEATURE_SET_VERSION")]
    for view in registry.values():
        rows.append((view.name, str(view.version), str(view.window), format_duration(view.allowed_lateness_ms),
                     str(len(view.feature_columns)), ",".join(view.engines), view.feature_set_version))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"({len(registry)} views from {definitions_dir(cfg)})")
    return 0


def run_show(args, cfg) -> int:
    import yaml

    from feature_defs import compile_flink, describe, load_registry

    view = load_registry(cfg)[args.view]
    print(f"# {view.name} v{view.version} ({view.feature_set_version}), fingerprint {view.fingerprint}")
    for line in yaml.safe_dump(view.to_dict(), sort_keys=False, default_flow_style=None, width=110).splitlines():
        print(f"#   {line}")
    unsupported = {e: view.unsupported(e) for e in ("flink", "spark")}
    spark_only = [c for c in unsupported["flink"] if c not in unsupported["spark"]]
    if spark_only:
        print(f"# spark-only features (refused by flink): {', '.join(spark_only)}")
    print(compile_flink.describe(view, args.source) if args.engine == "flink" else describe(view, "spark"))
    return 0


def run_formulas(args, cfg) -> int:
    from feature_defs.formulas import formula_table

    width = max(len(name) for name, _ in formula_table())
    for name, doc in formula_table():
        print(f"{name.ljust(width)}  {doc}")
    return 0


def run_lock(args, cfg) -> int:
    from feature_defs import definitions_dir, load_views
    from feature_defs.registry import write_lock
    from sensorlake.equipment import load_equipment_types

    folder = definitions_dir(cfg)
    registry = load_views(folder, load_equipment_types(cfg.equipment_types_file), check_versions=False)
    path = write_lock(registry, folder)
    print(f"recorded {len(registry)} fingerprints in {path}")
    return 0
