"""Shared fixtures: the embedded default model, and a tiny model trained and exported for real."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from synth.plugin.model import DEFAULT_MODEL, GeneratorModel

ROOT = Path(__file__).resolve().parents[1]

TINY_CONFIG_OVERRIDES = [
    "model.latent_dim=8", "model.sample_rate=16000", "model.num_samples=16000", "model.num_frames=32",
    "model.num_harmonics=16", "model.num_noise_bands=4", "model.noise_length=4000", "model.hidden=32",
    "model.channels=16", "model.pitch_min=57", "model.pitch_max=69",
    "train.steps=3", "train.batch_size=4", "train.crop_samples=8000", "train.checkpoint_every=1",
    "train.log_every=1", "train.threads=1",  # tiny models: a second thread only contends
]


@pytest.fixture(autouse=True)
def _stop_what_a_live_test_left():
    """A live test that fails half way leaves its synth and JACK client running; stop them, so one
    failure does not make the next live tests record a stale client (see tests/jack_harness.py)."""
    yield
    harness = sys.modules.get("tests.jack_harness")
    if harness is not None:
        harness.cleanup()


@pytest.fixture(scope="session")
def default_model() -> GeneratorModel:
    return GeneratorModel.load(DEFAULT_MODEL, device="cpu")


def _tiny_soundfont_set(tmp_path_factory, name: str, programs: list[int], pitches: list[int], **options) -> Path:
    """Real FluidSynth notes of ``programs`` at 16 kHz, 1 s each, velocities 60 and 110."""
    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth is not installed (make test installs it)")
    from training.data import build_soundfont_dataset

    folder = tmp_path_factory.mktemp("data") / name
    return build_soundfont_dataset(folder, programs, pitches, [60, 110], sample_rate=16000, num_samples=16000,
                                   progress=False, **options)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A few real FluidSynth notes (Electric Piano 1)."""
    return _tiny_soundfont_set(tmp_path_factory, "tiny", [4], list(range(57, 70, 2)))


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory) -> Path:
    """A tiny generator trained for 3 real steps; returns its run folder."""
    from training.config import load_config
    from training.train import Trainer

    config = load_config([ROOT / "training/configs/default.toml"],
                         TINY_CONFIG_OVERRIDES + [f"data.folder={str(tiny_dataset)!r}"])
    run_dir = tmp_path_factory.mktemp("run")
    Trainer(config, run_dir).fit(progress=False)
    return run_dir


@pytest.fixture(scope="session")
def tiny_model_path(tiny_run, tmp_path_factory) -> Path:
    from export.onnx_export import export_checkpoint

    out = tmp_path_factory.mktemp("models") / "tiny.onnx"
    export_checkpoint(tiny_run / "checkpoint.pt", out, name="tiny")
    return out


@pytest.fixture(scope="session")
def tiny_palette_dataset(tmp_path_factory) -> Path:
    """Two real FluidSynth instruments (Electric Piano 1 and Violin), a few notes each, velocities
    80 and 100 held out."""
    return _tiny_soundfont_set(tmp_path_factory, "tiny-palette", [4, 40], list(range(57, 70, 4)),
                               held_out_velocities=[80, 100])


@pytest.fixture(scope="session")
def tiny_palette_run(tiny_palette_dataset, tmp_path_factory) -> Path:
    """A tiny palette model (encoder, both training stages for a few real steps): its run folder."""
    from training.config import load_config
    from training.train import Trainer

    config = load_config([ROOT / "training/configs/default.toml"],
                         TINY_CONFIG_OVERRIDES + [f"data.folder={str(tiny_palette_dataset)!r}", "encoder.enabled=true",
                                                  "encoder.channels=16", "encoder.num_mels=16",
                                                  "model.vibrato_cents=60", "train.control_steps=2",
                                                  "train.control_batch_size=4",
                                                  "train.steps=4"])
    run_dir = tmp_path_factory.mktemp("palette-run")
    Trainer(config, run_dir).fit(progress=False)
    return run_dir


@pytest.fixture(scope="session")
def tiny_palette_path(tiny_palette_run, tmp_path_factory) -> Path:
    """The tiny palette model exported to a contract-v2 plugin with its instruments and encoder."""
    from export.onnx_export import export_checkpoint

    out = tmp_path_factory.mktemp("models") / "tiny-palette.onnx"
    export_checkpoint(tiny_palette_run / "checkpoint.pt", out, name="tiny palette")
    return out
