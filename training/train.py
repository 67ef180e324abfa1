"""The training loop: adversarial training of a conditional generator, with checkpoints.

G maps (z, pitch, velocity) to audio; D judges (audio, pitch). Each step trains D
on real versus generated notes, then G against D (plus feature matching and a
multi-resolution STFT term towards a real note of the same pitch and velocity).
Checkpoints are written atomically; ``resume`` continues from the same step with
the same optimiser and random state; Ctrl-C saves and exits.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from .config import config_hash
from .data import NoteDataset
from .losses import discriminator_loss, feature_matching, generator_loss
from .models import build_generator
from .models.discriminators import MultiResolutionDiscriminator, multi_resolution_stft_loss

CHECKPOINT_NAME = "checkpoint.pt"


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` next to ``path`` and rename it into place, so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".partial")
    torch.save(state, tmp)
    os.replace(tmp, path)


class Trainer:
    """Owns the models, optimisers, data and random state of one run folder."""

    def __init__(self, config: dict[str, Any], run_dir: Path) -> None:
        self.config, self.run_dir = config, Path(run_dir)
        train = config["train"]
        if train["threads"]:
            torch.set_num_threads(train["threads"])
        torch.manual_seed(config["seed"])
        self.rng = np.random.default_rng(config["seed"])
        self.data = NoteDataset.load(Path(config["data"]["folder"]), "train")
        if self.data.sample_rate != config["model"]["sample_rate"]:
            raise ValueError(f"data set is at {self.data.sample_rate} Hz, model at {config['model']['sample_rate']} Hz")
        self.generator = build_generator(config)
        self.ema = copy.deepcopy(self.generator).eval()
        self.discriminator = MultiResolutionDiscriminator()
        betas = tuple(train["betas"])
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=train["lr_g"], betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=train["lr_d"], betas=betas)
        self.step = 0
        self.history: list[dict[str, float]] = []

    # -- state -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"config": self.config, "config_hash": config_hash(self.config), "step": self.step,
                "generator": self.generator.state_dict(), "ema": self.ema.state_dict(),
                "discriminator": self.discriminator.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "torch_rng": torch.get_rng_state(),
                "numpy_rng": self.rng.bit_generator.state, "history": self.history,
                "data": self.data.description}

    def load_state(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.ema.load_state_dict(state["ema"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]
        self.step, self.history = state["step"], state["history"]

    def save(self) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / CHECKPOINT_NAME
        save_atomically(self.state(), path)
        (self.run_dir / "config.json").write_text(json.dumps(self.config, indent=2))
        return path

    # -- one step ----------------------------------------------------------------------------
    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = np.sort(self.rng.integers(0, len(self.data), self.config["train"]["batch_size"]))
        audio = torch.from_numpy(np.asarray(self.data.audio[idx], dtype=np.float32))
        return audio, torch.from_numpy(self.data.pitch[idx]), torch.from_numpy(self.data.velocity[idx])

    def train_step(self) -> dict[str, float]:
        train = self.config["train"]
        real, pitch, velocity = self.batch()
        z = torch.randn(len(real), self.config["model"]["latent_dim"])
        fake = self.generator(z, pitch, velocity)

        # D sees the same random window of every real and generated note (cheaper than whole notes).
        crop = min(train["crop_samples"], real.shape[1])
        start = int(self.rng.integers(0, real.shape[1] - crop + 1))
        real_crop, fake_crop = real[:, start:start + crop], fake[:, start:start + crop]
        real_out = self.discriminator(real_crop, pitch)
        d_loss = sum(discriminator_loss(train["gan_loss"], r, f)
                     for (r, _), (f, _) in zip(real_out, self.discriminator(fake_crop.detach(), pitch)))
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        fake_out = self.discriminator(fake_crop, pitch)
        adversarial = sum(generator_loss(train["gan_loss"], f) for f, _ in fake_out)
        matching = sum(feature_matching(rf, ff) for (_, rf), (_, ff) in zip(real_out, fake_out))
        recon = multi_resolution_stft_loss(fake, real)
        g_loss = (train["gan_weight"] * (adversarial + train["feature_matching_weight"] * matching)
                  + train["recon_weight"] * recon)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self._update_ema(train["ema_decay"])
        self.step += 1
        return {"d": d_loss.item(), "g_adv": adversarial.item(), "fm": matching.item(), "stft": recon.item()}

    @torch.no_grad()
    def _update_ema(self, decay: float) -> None:
        # Warm-up: early on the average follows the live weights closely, so a short run exports
        # what it learned rather than a blend with its random initial weights.
        decay = min(decay, (1.0 + self.step) / (10.0 + self.step))
        for avg, live in zip(self.ema.parameters(), self.generator.parameters()):
            avg.lerp_(live, 1.0 - decay)

    # -- the loop ----------------------------------------------------------------------------
    def fit(self, steps: int | None = None, progress: bool = True) -> None:
        train = self.config["train"]
        total = train["steps"] if steps is None else steps
        bar = tqdm(total=total, initial=self.step, desc="training", disable=not progress, file=sys.stderr)
        started = time.time()
        try:
            while self.step < total:
                losses = self.train_step()
                bar.update(1)
                if self.step % train["log_every"] == 0:
                    losses["step"], losses["elapsed_s"] = self.step, time.time() - started
                    self.history.append(losses)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items() if k in ("d", "g_adv", "stft")})
                if self.step % train["checkpoint_every"] == 0:
                    self.save()
        except KeyboardInterrupt:
            bar.close()
            print(f"interrupted at step {self.step}; saving {self.save()}", file=sys.stderr)
            raise
        bar.close()
        self.save()


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :class:`Trainer` (weights only, no code is unpickled)."""
    return torch.load(path, map_location="cpu", weights_only=True)
