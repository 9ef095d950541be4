"""Fixtures of the feature-definition tests: the shipped views and one small deterministic input."""
from __future__ import annotations

import pytest

from tests.feature_defs.readings_data import generate_readings, write_csv


@pytest.fixture(scope="session")
def equipment_types():
    from sensorlake.config import EQUIPMENT_TYPES_FILE
    from sensorlake.equipment import load_equipment_types

    return load_equipment_types(EQUIPMENT_TYPES_FILE)


@pytest.fixture(scope="session")
def shipped_views(equipment_types):
    """The registry of the views shipped in feature_defs/views/."""
    from feature_defs import load_views

    return load_views(equipment_types=equipment_types)


@pytest.fixture(scope="session")
def readings():
    """~4,500 narrow readings (tuples) in arrival order: out of order, duplicated, with edge cases."""
    return generate_readings()


@pytest.fixture(scope="session")
def readings_csv(readings, tmp_path_factory):
    path = tmp_path_factory.mktemp("feature_defs") / "readings.csv"
    write_csv(readings, path)
    return path
