"""Errors of feature definitions: each names the view and the item at fault, and how to fix it.

Both are ``ConfigError`` (the CLI prints them and exits with code 2) and ``ValueError`` (what a
Python caller constructing a definition expects).

Example::

    try:
        FeatureView(name="m", version=1, sensors=["vibration"], window=tumbling("1m"),
                    aggregations=["median"])
    except FeatureDefinitionError as exc:
        print(exc)   # feature view 'm': unknown aggregation 'median' ... hint: use one of count, mean, ...
"""
from __future__ import annotations

from sensorlake.errors import ConfigError


class FeatureDefinitionError(ConfigError, ValueError):
    """A feature view definition is invalid (unknown sensor or aggregation, bad window, duplicate name...)."""


class UnsupportedFeature(FeatureDefinitionError):
    """A view asks an engine for a feature that engine cannot compute (e.g. FFT features in Flink SQL).

    Example::

        compile_flink.compile_view(registry["machine_vib_fft"])
        # UnsupportedFeature: machine_vib_fft: vibration__dominant_frequency is not computable by the flink engine
    """
