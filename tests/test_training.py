"""Training: a few real steps on real FluidSynth notes, checkpoints and exact resume."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from training.config import load_config
from training.train import Trainer, load_checkpoint

from .conftest import ROOT, TINY_CONFIG_OVERRIDES


def _config(dataset: Path, steps: int) -> dict:
    return load_config([ROOT / "training/configs/default.toml"],
                       TINY_CONFIG_OVERRIDES + [f"data.folder={str(dataset)!r}", f"train.steps={steps}"])


def test_resume_continues_exactly(tiny_dataset, tmp_path):
    straight = Trainer(_config(tiny_dataset, 4), tmp_path / "a")
    straight.fit(progress=False)
    first = Trainer(_config(tiny_dataset, 2), tmp_path / "b")
    first.fit(progress=False)
    resumed = Trainer(_config(tiny_dataset, 4), tmp_path / "b")
    resumed.load_state(load_checkpoint(tmp_path / "b" / "checkpoint.pt"))
    assert resumed.step == 2
    resumed.fit(progress=False)
    for name, value in straight.generator.state_dict().items():
        assert torch.equal(value, resumed.generator.state_dict()[name]), name
    assert not list((tmp_path / "b").glob("*.partial"))


def test_train_cli_refuses_unknown_keys_and_missing_data(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[train]\nstepz = 3\n")
    result = subprocess.run([sys.executable, "-m", "synth", "train", str(config)], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown config key 'train.stepz'" in result.stderr
    result = subprocess.run([sys.executable, "-m", "synth", "train", str(ROOT / "training/configs/default.toml"),
                             "--set", f"data.folder='{tmp_path / 'none'}'"], capture_output=True, text=True)
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr
