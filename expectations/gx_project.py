"""The Great Expectations project of sensorlake: a file context under the runtime folder and its Data Docs.

GX Core 1.x: ``gx.get_context(mode="file")`` keeps suites, validation definitions and results
under ``<runtime.dir>/gx``; Data Docs are static HTML in ``quality.data_docs_dir`` (default
``<runtime.dir>/data_docs``). Each run validates a one-row pandas frame of per-check figures
(the Spark pass already reduced the table to them), so GX itself costs milliseconds.

Example::

    ctx = gx_context(cfg)
    result = run_suite(ctx, gx_suite, figures={"key_unique": 0, ...}, run_name="bronze.readings v12")
    index = build_data_docs(ctx, cfg)      # Path to index.html
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sensorlake.config import Config

SITE = "sensorlake"
DATASOURCE = "sensorlake_checks"
BATCH = "checked_rows"


def data_docs_dir(cfg: Config) -> Path:
    return cfg.path("quality.data_docs_dir") if cfg.get("quality.data_docs_dir") else cfg.runtime_dir / "data_docs"


def gx_context(cfg: Config):
    """The file data context at ``<runtime.dir>/gx`` with the sensorlake Data Docs site, progress bars off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    cfg.runtime_dir.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(cfg.runtime_dir))
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs_dir(cfg))},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    sites = ctx.list_data_docs_sites()
    if SITE not in sites:
        ctx.add_data_docs_site(SITE, site)
    elif sites[SITE] != site:
        ctx.update_data_docs_site(SITE, site)
    bars = ctx.variables.progress_bars
    if (bars.get("globally") if isinstance(bars, dict) else getattr(bars, "globally", None)) is not False:
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        ctx.variables.save()
    return ctx


def _batch_definition(ctx, asset_name: str):
    try:
        source = ctx.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        source = ctx.data_sources.add_pandas(DATASOURCE)
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(asset_name)
    try:
        return asset.get_batch_definition(BATCH)
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe(BATCH)


def run_suite(ctx, gx_suite, figures: dict, run_name: str, run_time: datetime):
    """Validate the one-row frame of ``figures`` (check name -> number) against ``gx_suite``; store the result."""
    import great_expectations as gx
    import pandas as pd
    from great_expectations.core.run_identifier import RunIdentifier

    suite = ctx.suites.add_or_update(gx_suite)
    definition = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=gx_suite.name, data=_batch_definition(ctx, gx_suite.name), suite=suite))
    frame = pd.DataFrame([{k: (None if v is None else float(v)) for k, v in figures.items()}])
    return definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY",
                          run_id=RunIdentifier(run_name=run_name, run_time=run_time))


def prune_results(ctx, keep: int) -> None:
    """Keep the ``keep`` newest stored validation results of each suite (Data Docs stay quick to build)."""
    store = ctx.validation_results_store
    by_suite: dict = {}
    for key in store.list_keys():
        by_suite.setdefault(key.expectation_suite_identifier.name, []).append(key)
    for keys in by_suite.values():
        keys.sort(key=lambda k: str(k.run_id.run_time))
        for key in keys[:-keep] if keep > 0 else []:
            store.remove_key(key)


def build_data_docs(ctx, cfg: Config) -> Path:
    """Rebuild the static Data Docs site; return the path of its index.html."""
    prune_results(ctx, int(cfg.get("quality.data_docs_keep", 30)))
    ctx.build_data_docs(site_names=[SITE])
    return data_docs_dir(cfg) / "index.html"
