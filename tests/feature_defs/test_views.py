"""Feature views are validated when defined, fingerprinted, and loaded from the definitions folder."""
from __future__ import annotations

import json

import pytest

from feature_defs import (FeatureDefinitionError, FeatureRegistry, FeatureView, check_feature_set_version, hopping,
                          load_views, tumbling)
from feature_defs.registry import LOCK_FILE, SHIPPED_VIEWS_DIR, load_registry, read_lock


def view(**changes) -> FeatureView:
    args = dict(name="m1", version=1, sensors=["vibration", "current", "speed"], window=tumbling("1m"),
                allowed_lateness="30s", aggregations=["mean", "std"],
                cross_features={"current_per_speed": "ratio(current__mean, speed__mean)"})
    args.update(changes)
    return FeatureView(**args)


def test_a_view_lists_its_columns_in_a_stable_order():
    v = view(aggregations=["std", "mean"])
    assert v.feature_columns == ["vibration__mean", "vibration__std", "current__mean", "current__std",
                                 "speed__mean", "speed__std", "current_per_speed"]
    assert v.output_columns[:6] == ["equipment_id", "site_id", "window_start", "window_end", "feature_view", "feature_set_version"]


def test_shipped_views_load_and_cover_the_simulator_sensors(shipped_views):
    assert {"machine_1m", "machine_10m_sliding", "machine_vib_fft"} <= set(shipped_views)
    m1 = shipped_views["machine_1m"]
    assert m1.window == tumbling("1m") and set(m1.sensors) == {"vibration", "temperature", "current", "pressure", "speed"}
    assert all(len(aggs) == 12 for aggs in m1.aggregations.values())
    assert shipped_views["machine_10m_sliding"].window == hopping("10m", "1m")
    assert shipped_views["machine_vib_fft"].engines == ("spark",)


def test_shipped_views_match_their_recorded_fingerprints(shipped_views):
    lock = read_lock(SHIPPED_VIEWS_DIR)
    for v in shipped_views.values():
        assert lock[f"{v.name}:v{v.version}"] == v.fingerprint, f"{v.name} changed: bump its version and run features lock"


def test_registry_follows_the_configured_definitions_dir(tmp_path, cfg):
    (tmp_path / "mine.yaml").write_text("name: mine\nversion: 3\nsensors: [pressure]\nwindow: {type: tumbling, size: 5m}\n"
                                        "aggregations: [mean]\n")
    from sensorlake.config import load_config

    custom = load_config(environ={}, overrides=[f"features.definitions_dir={tmp_path}"])
    assert list(load_registry(custom)) == ["mine"]
    assert "machine_1m" in load_registry(cfg)          # null -> the shipped folder


# ---- bad definitions: refused with a message that names the bad item ------------------------
@pytest.mark.parametrize("changes, message", [
    (dict(aggregations=["mean", "median"]), r"unknown aggregation 'median'"),
    (dict(aggregations={"vibration": ["mean"], "noise": ["mean"]}), r"aggregations for sensors not in sensors: \['noise'\]"),
    (dict(window=hopping("1m", "5m")), r"window slide 5m is larger than its size 1m"),
    (dict(window=hopping("10m", "3m")), r"window size 10m is not a multiple of its slide 3m"),
    (dict(window={"type": "hopping", "size": "10m"}), r"a hopping window needs a slide"),
    (dict(window=tumbling("1500ms")), r"whole seconds"),
    (dict(allowed_lateness="soon"), r"allowed_lateness 'soon' is not a duration"),
    (dict(name="Machine-1"), r"feature view name 'Machine-1' is not lower_snake_case"),
    (dict(version=0), r"version 0 must be a positive integer"),
    (dict(sensors=[]), r"declares no sensors"),
    (dict(cross_features={"x": "ratio(current__mean, speed__rms)"}), r"'speed__rms' is not a feature of this view"),
    (dict(cross_features={"x": "power(current__mean, speed__mean)"}), r"unknown function 'power'"),
    (dict(cross_features={"vibration__mean": "ratio(current__mean, speed__mean)"}), r"cross feature name 'vibration__mean' is not lower_snake_case without '__'"),
    (dict(spectral={"vibration": {"features": ["band_energy"]}}), r"band_energy needs bands_hz"),
    (dict(spectral={"vibration": {"features": ["wavelet"]}}), r"unknown spectral feature 'wavelet'"),
])
def test_bad_definitions_are_refused_naming_the_item(changes, message):
    with pytest.raises(FeatureDefinitionError, match=message) as exc:
        view(**changes)
    assert isinstance(exc.value, ValueError) and exc.value.exit_code == 2
    assert "'m1'" in str(exc.value) or "Machine-1" in str(exc.value)


def test_an_unknown_sensor_is_refused_against_the_equipment_types(equipment_types):
    with pytest.raises(FeatureDefinitionError, match=r"(?s)feature view 'm1': unknown sensor 'torque'.*hint: .*vibration"):
        view(sensors=["vibration", "torque"], cross_features={}).validate_sensors(equipment_types)
    with pytest.raises(FeatureDefinitionError, match=r"unknown sensor 'speed' for equipment types \['pump'\]"):
        view(equipment_types=["pump"]).validate_sensors(equipment_types)
    with pytest.raises(FeatureDefinitionError, match=r"unknown equipment type 'boiler'"):
        view(equipment_types=["boiler"]).validate_sensors(equipment_types)


def test_a_band_above_the_nyquist_frequency_is_refused(equipment_types):
    v = view(spectral={"vibration": {"bands_hz": {"high": [0.5, 3.0]}}})
    with pytest.raises(FeatureDefinitionError, match=r"band 'high' reaches 3.0 Hz, above the Nyquist frequency 1.0 Hz"):
        v.validate_sensors(equipment_types)


def test_a_bad_file_is_refused_naming_the_file(tmp_path, equipment_types):
    (tmp_path / "bad.yaml").write_text("name: bad\nversion: 1\nsensors: [torque]\nwindow: {size: 1m}\naggregations: [mean]\n")
    with pytest.raises(FeatureDefinitionError, match=r"unknown sensor 'torque' \(.*bad.yaml\)"):
        load_views(tmp_path, equipment_types)
    (tmp_path / "bad.yaml").write_text("name: bad\nversion: 1\nsensors: [speed]\nwindow: {size: 1m}\naggregatons: [mean]\n")
    with pytest.raises(FeatureDefinitionError, match=r"unknown keys \['aggregatons'\]"):
        load_views(tmp_path, equipment_types)


def test_two_views_with_one_name_are_refused(tmp_path, equipment_types):
    body = "name: twin\nversion: 1\nsensors: [speed]\nwindow: {size: 1m}\naggregations: [mean]\n"
    (tmp_path / "a.yaml").write_text(body)
    (tmp_path / "b.yaml").write_text(body.replace("[mean]", "[max]"))
    with pytest.raises(FeatureDefinitionError, match=r"duplicate feature view name 'twin' in .*b.yaml \(already defined in .*a.yaml\)"):
        load_views(tmp_path, equipment_types)
    with pytest.raises(FeatureDefinitionError, match="duplicate"):
        FeatureRegistry([view(), view()])


def test_python_modules_define_views_too(tmp_path, equipment_types):
    (tmp_path / "more_views.py").write_text(
        "from feature_defs import FeatureView, hopping\n"
        "pump_5m = FeatureView('pump_5m', 1, ['pressure'], hopping('5m', '1m'), '30s', ['mean', 'slope'],"
        " equipment_types=['pump'])\n")
    (tmp_path / "_draft.yaml").write_text("not: a view\n")
    registry = load_views(tmp_path, equipment_types)
    assert list(registry) == ["pump_5m"] and registry["pump_5m"].equipment_types == ("pump",)


# ---- identity: fingerprint and feature_set_version ---------------------------------------------
def test_the_fingerprint_changes_with_the_definition():
    base = view()
    assert view().fingerprint == base.fingerprint
    for changed in (view(aggregations=["mean", "std", "rms"]), view(window=hopping("2m", "1m")),
                    view(allowed_lateness="60s"), view(sensors=["vibration", "current", "speed", "pressure"])):
        assert changed.fingerprint != base.fingerprint


def test_version_and_description_do_not_change_the_fingerprint_but_version_changes_feature_set_version():
    base = view()
    assert view(description="words").fingerprint == base.fingerprint
    bumped = view(version=2)
    assert bumped.fingerprint == base.fingerprint and bumped.feature_set_version != base.feature_set_version
    assert base.feature_set_version == f"m1:v1:{base.fingerprint[:12]}"


def test_a_view_round_trips_through_its_data_form():
    base = view(spectral={"vibration": {"bands_hz": {"low": [0, 0.25]}}})
    again = FeatureView.from_dict(json.loads(json.dumps(base.to_dict())))
    assert again == base and again.fingerprint == base.fingerprint


def test_a_changed_definition_that_keeps_its_version_is_refused(tmp_path, equipment_types):
    from feature_defs.registry import write_lock

    path = tmp_path / "v.yaml"
    path.write_text("name: v\nversion: 1\nsensors: [speed]\nwindow: {size: 1m}\naggregations: [mean]\n")
    write_lock(load_views(tmp_path, equipment_types), tmp_path)
    path.write_text("name: v\nversion: 1\nsensors: [speed]\nwindow: {size: 1m}\naggregations: [mean, max]\n")
    with pytest.raises(FeatureDefinitionError, match=r"(?s)'v' changed but is still version 1.*bump version to 2"):
        load_views(tmp_path, equipment_types)
    path.write_text("name: v\nversion: 2\nsensors: [speed]\nwindow: {size: 1m}\naggregations: [mean, max]\n")
    assert load_views(tmp_path, equipment_types)["v"].version == 2
    assert set(json.loads((tmp_path / LOCK_FILE).read_text())) == {"v:v1"}


def test_rows_of_another_feature_set_version_are_refused_for_an_existing_table():
    v = view()
    check_feature_set_version(v, None)
    check_feature_set_version(v, v.feature_set_version)
    with pytest.raises(FeatureDefinitionError, match=r"silver.features_m1 holds feature_set_version 'm1:v1:000000000000'"):
        check_feature_set_version(v, "m1:v1:000000000000")
