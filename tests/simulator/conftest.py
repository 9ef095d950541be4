"""Fixtures of the simulator tests: the declared equipment types and small fleets."""
from __future__ import annotations

import pytest

from sensorlake.config import EQUIPMENT_TYPES_FILE
from sensorlake.equipment import load_equipment_types
from sensorlake.simulator.fleet import Fleet, FleetSettings


@pytest.fixture(scope="session")
def types():
    return load_equipment_types(EQUIPMENT_TYPES_FILE)


@pytest.fixture
def small_fleet(types):
    """One equipment per type, six simulated hours at a quarter of the sampling rate."""
    return Fleet(types, FleetSettings(seed=11, equipment_per_type=1, days=0.25, rate_scale=0.25))


@pytest.fixture(scope="session")
def two_day_fleet(types):
    """Three equipment per type over two days (default degradation): enough failures of every mode."""
    return Fleet(types, FleetSettings(seed=5, equipment_per_type=3, days=2.0, rate_scale=0.25))
