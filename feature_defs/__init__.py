"""Feature views declared once, compiled for Flink (streaming) and Spark (backfill).

Example::

    from feature_defs import load_registry, describe
    from feature_defs.compile_flink import compile_view          # Flink SQL text
    from feature_defs.compile_spark import compute_view          # DataFrame -> DataFrame

    registry = load_registry(cfg)
    view = registry["machine_1m"]
    sql = compile_view(view, source="readings")
    print(describe(view, "spark"))
"""
from __future__ import annotations

from feature_defs.errors import FeatureDefinitionError, UnsupportedFeature
from feature_defs.formulas import AGGREGATIONS, FORMULA_REVISION, SPECTRAL_FEATURES
from feature_defs.registry import FeatureRegistry, definitions_dir, load_registry, load_views
from feature_defs.view import (CrossFeature, FeatureView, SpectralSpec, Window, check_feature_set_version,
                               hopping, tumbling)

ENGINES = ("flink", "spark")


def describe(view: FeatureView, engine: str) -> str:
    """Printable text of how ``engine`` computes ``view``: Flink SQL, or the Spark stages and columns.

    Raises UnsupportedFeature when the engine cannot compute the view.

    Example: ``print(describe(registry["machine_1m"], "flink"))``.
    """
    if engine == "flink":
        from feature_defs import compile_flink

        return compile_flink.describe(view)
    if engine == "spark":
        from feature_defs import compile_spark

        return compile_spark.describe(view)
    raise FeatureDefinitionError(f"unknown engine {engine!r}", f"use one of {', '.join(ENGINES)}")


__all__ = [
    "AGGREGATIONS", "CrossFeature", "ENGINES", "FORMULA_REVISION", "FeatureDefinitionError", "FeatureRegistry",
    "FeatureView", "SPECTRAL_FEATURES", "SpectralSpec", "UnsupportedFeature", "Window", "check_feature_set_version",
    "definitions_dir", "describe", "hopping", "load_registry", "load_views", "tumbling",
]
