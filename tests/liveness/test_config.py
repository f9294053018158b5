"""[edge.liveness]: always on (no off switch), thresholds within bounds, models that must load."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.config import ConfigError, EdgeConfig, load_config
from edge_agent.liveness.config import LivenessConfig

TOP = 'gateway_id = "GW-T1"\nproject_code = "P-TEST"\n'


def write(tmp_path: Path, liveness: str) -> Path:
    p = tmp_path / "gw.toml"
    p.write_text(f"[edge]\n{TOP}\n[edge.liveness]\n{liveness}\n", encoding="utf-8")
    return p


def test_defaults_load_and_have_no_off_switch(tmp_path):
    cfg = load_config(write(tmp_path, ""))
    assert cfg.liveness == LivenessConfig()
    assert not hasattr(cfg.liveness, "enabled")


@pytest.mark.parametrize("line", ["enabled = false", "enable = false", "disabled = true", "off = true"])
def test_an_off_switch_is_an_unknown_key(tmp_path, line):
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, line))
    assert line.split(" ")[0] in str(exc.value)


@pytest.mark.parametrize("line, key", [
    ("minifasnet_threshold = 0.1", "minifasnet_threshold"),      # would pass nearly every attack
    ("minifasnet_threshold = 1.5", "minifasnet_threshold"),
    ("minifasnet_spoof_threshold = 0.0", "minifasnet_spoof_threshold"),   # would never veto
    ("passive_only_threshold = 0.2", "passive_only_threshold"),
    ("depth_live_ratio = 0.5", "depth_live_ratio"),
    ("depth_planar_ratio = 0.0", "depth_planar_ratio"),
    ("min_frames = 1", "min_frames"),
    ("blink_closed_ratio = 0.99", "blink_closed_ratio"),
    ("texture_glare_max = 1.0", "texture_glare_max"),
    ("texture_peak_max = 1e9", "texture_peak_max"),
    ("turn_min_yaw_deg = 0", "turn_min_yaw_deg"),
    ('minifasnet_threshold = "0.5"', "minifasnet_threshold"),
])
def test_out_of_bounds_thresholds_are_refused(tmp_path, line, key):
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, line))
    assert key in str(exc.value)


@pytest.mark.parametrize("line", [
    "passive_only_threshold = 0.8\nminifasnet_threshold = 0.85",   # live bar above the passive-only bar
    "minifasnet_spoof_threshold = 0.5\nminifasnet_threshold = 0.5\npassive_only_threshold = 0.7\n"
    "depth_live_ratio = 1.5\ndepth_planar_ratio = 1.6",            # plane above head
    "minifasnet_spoof_threshold = 0.45\nminifasnet_threshold = 0.4",
])
def test_inconsistent_thresholds_are_refused(tmp_path, line):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, line))


def test_in_bounds_values_are_taken_and_models_dir_resolves_against_the_file(tmp_path):
    cfg = load_config(write(tmp_path, 'minifasnet_threshold = 0.6\nmodels_dir = "lvm"'))
    assert cfg.liveness.minifasnet_threshold == 0.6
    assert cfg.liveness.models_dir == str((tmp_path / "lvm").resolve())


def test_a_judge_without_its_models_is_never_built(tmp_path):
    from edge_agent.liveness.judge import create_judge
    with pytest.raises(FileNotFoundError, match="MiniFASNetV2.onnx"):
        create_judge(LivenessConfig(models_dir=str(tmp_path)))


def test_a_corrupt_model_file_stops_the_judge(tmp_path):
    from edge_agent.liveness.judge import create_judge, models_dir
    shipped = models_dir(LivenessConfig())
    shutil.copy(shipped / "MiniFASNetV2.onnx", tmp_path)
    (tmp_path / "MiniFASNetV1SE.onnx").write_bytes((shipped / "MiniFASNetV1SE.onnx").read_bytes()[:5000])
    with pytest.raises(RuntimeError, match="MiniFASNetV1SE.onnx cannot be loaded"):
        create_judge(LivenessConfig(models_dir=str(tmp_path)))


# ---- property: a value outside its field's bounds never loads -------------------------------

BOUNDED = [f for f in dataclasses.fields(LivenessConfig) if f.metadata.get("min") is not None]


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(BOUNDED), value=st.floats(allow_nan=True, allow_infinity=True, width=64))
def test_no_threshold_loads_outside_its_bounds(field, value):
    from shared_schema.typed_config import decode_config
    lo, hi = field.metadata["min"], field.metadata["max"]
    v = int(value) if field.type in (int, "int") and value == value and abs(value) < 1e12 else value
    table = {"gateway_id": "GW-T1", "project_code": "P-TEST", "liveness": {field.name: v}}
    try:
        cfg = decode_config(EdgeConfig, table, "edge", "prop.toml")
    except ConfigError:
        return
    got = getattr(cfg.liveness, field.name)
    assert lo <= got <= hi
