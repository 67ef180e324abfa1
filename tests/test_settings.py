"""Settings and presets: strict parsing, clear refusals, atomic saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from synth.engine.latent import Preset
from synth.errors import ConfigError
from synth.settings import Settings


def test_defaults_and_toml_override(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[engine]\npolyphony = 12\n[midi]\nknob_ccs = [20, 21]\n")
    settings = Settings.load(path)
    assert settings["engine.polyphony"] == 12 and settings["midi.knob_ccs"] == [20, 21]
    assert Settings()["engine.polyphony"] == 32


@pytest.mark.parametrize("text, needle", [
    ("[engine]\npolyphny = 3\n", "unknown setting 'engine.polyphny'"),
    ("[sound]\nx = 1\n", "unknown section [sound]"),
    ("[engine]\npolyphony = 0\n", "must lie in 1..256"),
    ("[engine]\npolyphony = 'many'\n", "must be a number"),
    ("[envelope]\nrelease_s = -1\n", "release_s must be 0..30"),
    ("[engine\n", "not valid TOML"),
])
def test_bad_config_is_refused(tmp_path, text, needle):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        Settings.load(path)
    assert needle in str(info.value)


def test_preset_round_trip_is_atomic(tmp_path):
    preset = Preset("warm", seed=7, knobs=[0.2, 0.9])
    path = tmp_path / "warm.json"
    preset.save(path)
    assert Preset.load(path) == preset
    assert not list(tmp_path.glob("*.partial"))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's owner-only 0600


@pytest.mark.parametrize("data, needle", [
    ({"name": "x", "color": "red"}, "unknown keys"),
    ({"name": "x", "knobs": [2.0]}, "knobs must be"),
    ({"name": "x", "seed": -1}, "seed must be"),
    ({"name": "x", "format": 9}, "preset format 9"),
])
def test_bad_preset_is_refused(tmp_path, data, needle):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as info:
        Preset.load(path)
    assert needle in str(info.value)


def test_cli_rejects_bad_config_and_foreign_preset(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[engine]\npolyphny = 3\n")
    result = subprocess.run([sys.executable, "-m", "synth", "render", "--one-shots", str(tmp_path / "o"),
                             "--config", str(config)], capture_output=True, text=True)
    assert result.returncode == 2 and "polyphny" in result.stderr and "Traceback" not in result.stderr
    preset = tmp_path / "p.json"
    Preset("other", model_sha256="0" * 64).save(preset)
    result = subprocess.run([sys.executable, "-m", "synth", "render", "--one-shots", str(tmp_path / "o"),
                             "--preset", str(preset)], capture_output=True, text=True)
    assert result.returncode == 2 and "made for another model" in result.stderr


def test_preset_cli_new_then_render_with_it(tmp_path, default_model):
    path = tmp_path / "warm.json"
    result = subprocess.run([sys.executable, "-m", "synth", "preset", "new", "-o", str(path), "--seed", "3",
                             "--knob", "0=0.8", "--release", "0.6"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    preset = Preset.load(path)
    assert preset.seed == 3 and preset.knobs[0] == 0.8 and preset.envelope.release_s == 0.6
    assert preset.model_sha256 == default_model.sha256
    from synth.engine.synth import Synth

    synth = Synth(default_model, presets=[preset])
    assert synth.channels[0].envelope.release_s == 0.6 and synth.channels[0].knobs[0] == pytest.approx(0.8, abs=0.004)
