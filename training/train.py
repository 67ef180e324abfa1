"""The training loop: adversarial training of a conditional generator, with checkpoints.

G maps (z, pitch, velocity) to audio; D judges (audio, pitch). Each step trains D
on real versus generated notes (plus WGAN-GP or R1 when configured), then G
against D (plus feature matching and a multi-resolution STFT term towards a real
note of the same pitch and velocity). Checkpoints are written atomically;
``resume`` continues from the same step with the same optimiser and random state
(every process's, in a multi-process run); Ctrl-C saves and exits. Runs on CPU or
CUDA (bf16 autocast there), in one process or many under ``torchrun``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import pickle
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from synth.errors import ConfigError, DataError
from synth.files import atomic_file
from training.config import complete, config_hash
from training.control_stage import ControlStage
from training.data import NoteDataset
from training.distributed import Group
from training.losses import discriminator_loss, feature_matching, generator_loss, gradient_penalty, r1_penalty
from training.models import build_discriminator, build_generator
from training.models.discriminators import ControlDiscriminator, multi_resolution_stft_loss
from training.models.encoder import TimbreEncoder, kl_to_normal
from training.monitor import Monitor

CHECKPOINT_NAME = "checkpoint.pt"


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` next to ``path`` and rename it into place, so a crash never leaves half a file."""
    with atomic_file(path, failures=(OSError, RuntimeError), label="checkpoint ",
                     kept="the previous checkpoint is kept",
                     hint="free some disk space, then continue with --resume") as tmp:
        torch.save(state, tmp)
        with open(tmp, "rb") as handle:  # on disk before the rename, or a power cut can leave an empty file
            os.fsync(handle.fileno())


def choose_device(wanted: str, local_rank: int = 0) -> torch.device:
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device is 'cuda' but torch sees no CUDA device",
                          hint="set train.device to 'auto' or 'cpu', or install a CUDA build of torch")
    if wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


class Trainer:
    """Owns the models, optimisers, data and random state of one run folder."""

    def __init__(self, config: dict[str, Any], run_dir: Path, *, group: Group | None = None) -> None:
        self.config, self.run_dir = config, Path(run_dir)
        train = config["train"]
        if train["threads"]:
            torch.set_num_threads(train["threads"])
        probe_cuda = train["device"] != "cpu" and torch.cuda.is_available()
        self.group = group or Group.from_environment(cuda=probe_cuda)
        self.device = choose_device(train["device"], self.group.local_rank)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        torch.manual_seed(config["seed"])  # the same initial weights in every process
        self.data = NoteDataset.load(Path(config["data"]["folder"]), "train")
        if self.data.sample_rate != config["model"]["sample_rate"]:
            raise ConfigError(f"data set {config['data']['folder']} is at {self.data.sample_rate} Hz, "
                              f"model.sample_rate is {config['model']['sample_rate']} Hz",
                              hint="set model.sample_rate to the data set's rate, or rebuild it with --sample-rate")
        self.generator = build_generator(config).to(self.device)
        self.ema = copy.deepcopy(self.generator).eval()
        self.discriminator = build_discriminator(config).to(self.device)
        self.encoder = build_encoder(config)
        if self.encoder is not None:
            self.encoder.to(self.device)
        trained = [self.generator, self.ema, self.discriminator] + ([self.encoder] if self.encoder is not None else [])
        self.group.broadcast_parameters(*trained)
        # From here on each process draws its own batches and latents.
        rank_seed = config["seed"] + 1000 * self.group.rank
        torch.manual_seed(rank_seed)
        self.rng = np.random.default_rng(rank_seed)
        betas = tuple(train["betas"])
        g_params = list(self.generator.parameters())
        if self.encoder is not None:  # the encoder learns with the generator, as one autoencoder
            g_params += list(self.encoder.parameters())
        self.opt_g = torch.optim.Adam(g_params, lr=train["lr_g"], betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=train["lr_d"], betas=betas)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.monitor: Monitor | None = None
        self.control: ControlStage | None = None  # made when the control stage first runs
        # The control stage's adversary (train.control_gan_weight > 0): judges control curves.
        self.control_discriminator = self.opt_cd = None
        if train["control_steps"] and train["control_gan_weight"] > 0:
            model = config["model"]
            curves = model["num_harmonics"] + model["num_noise_bands"] + (model["vibrato_cents"] > 0)
            self.control_discriminator = ControlDiscriminator(curves).to(self.device)
            self.group.broadcast_parameters(self.control_discriminator)
            self.opt_cd = torch.optim.Adam(self.control_discriminator.parameters(), lr=train["lr_d"], betas=betas)

    # -- state -------------------------------------------------------------------------------
    def _rng_state(self) -> dict[str, Any]:
        state = {"torch": torch.get_rng_state(), "numpy": self.rng.bit_generator.state}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly; collective in a multi-process run (every rank calls it)."""
        rngs = self.group.gather(self._rng_state())
        # Replicas must stay identical (gradients are averaged); a checksum per process shows they do.
        checksums = self.group.gather(float(sum(p.detach().double().sum() for p in self.generator.parameters())))
        return {"config": self.config, "config_hash": config_hash(self.config), "step": self.step,
                "generator": self.generator.state_dict(), "ema": self.ema.state_dict(),
                "discriminator": self.discriminator.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "torch_rng": rngs[0]["torch"], "numpy_rng": rngs[0]["numpy"],
                "rank_rngs": rngs, "replica_checksums": checksums, "history": self.history,
                "data": self.data.description,
                **({"encoder": self.encoder.state_dict()} if self.encoder is not None else {}),
                **({"control_discriminator": self.control_discriminator.state_dict(),
                    "opt_cd": self.opt_cd.state_dict()} if self.control_discriminator is not None else {})}

    def load_state(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.ema.load_state_dict(state["ema"])
        self.discriminator.load_state_dict(state["discriminator"])
        if self.encoder is not None:
            self.encoder.load_state_dict(state["encoder"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.control_discriminator is not None and "control_discriminator" in state:
            self.control_discriminator.load_state_dict(state["control_discriminator"])
            self.opt_cd.load_state_dict(state["opt_cd"])
        rngs = state.get("rank_rngs") or [{"torch": state["torch_rng"], "numpy": state["numpy_rng"]}]
        if len(rngs) == self.group.world:
            mine = rngs[self.group.rank]
            torch.set_rng_state(mine["torch"])
            self.rng.bit_generator.state = mine["numpy"]
            if "cuda" in mine and self.device.type == "cuda":
                torch.cuda.set_rng_state(mine["cuda"], self.device)
        elif self.group.leader:  # another process count: the run continues, not bit for bit
            print(f"checkpoint was written by {len(rngs)} processes, this run has {self.group.world}: "
                  "random streams start afresh", file=sys.stderr)
        self.step, self.history = state["step"], state["history"]

    def save(self) -> Path:
        path = self.run_dir / CHECKPOINT_NAME
        state = self.state()
        if self.group.leader:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_atomically(state, path)
            (self.run_dir / "config.json").write_text(json.dumps(self.config, indent=2))
        self.group.barrier()
        return path

    # -- one step ----------------------------------------------------------------------------
    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = np.sort(self.rng.integers(0, len(self.data), self.config["train"]["batch_size"]))
        audio = torch.from_numpy(np.asarray(self.data.audio[idx], dtype=np.float32))
        tensors = (audio, torch.from_numpy(self.data.pitch[idx]), torch.from_numpy(self.data.velocity[idx]))
        return tuple(t.to(self.device, non_blocking=True) for t in tensors)

    def _autocast(self):
        if self.device.type == "cuda" and self.config["train"]["mixed_precision"]:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step(self) -> dict[str, float]:
        train = self.config["train"]
        if self.step < train["control_steps"]:  # the palette's first stage (training/control_stage.py)
            if self.control is None:
                self.control = ControlStage(self)
            losses = self.control.step()
            self._finish_step(train["ema_decay"])
            return losses
        kind = train["gan_loss"]
        real, pitch, velocity = self.batch()
        latent_dim = self.config["model"]["latent_dim"]
        kl = prior = None
        if self.encoder is not None:  # reconstruct each real note from its own latent
            mean, log_variance = self.encoder(real, pitch, velocity)
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)
            kl = kl_to_normal(mean, log_variance, self.config["encoder"]["free_bits"])
        else:
            z = torch.randn(len(real), latent_dim, device=self.device)
        with self._autocast():
            fake = self.generator(z, pitch, velocity).float()
        if self.encoder is not None and self.config["encoder"]["prior_share"] > 0:
            # Latents from the prior must sound like instruments too: D judges them, nothing else can.
            count = max(1, int(round(len(real) * self.config["encoder"]["prior_share"])))
            with self._autocast():
                prior = self.generator(torch.randn(count, latent_dim, device=self.device), pitch[:count],
                                       velocity[:count]).float()

        # D sees the same random window of every real and generated note (cheaper than whole notes).
        crop = min(train["crop_samples"], real.shape[1])
        start = int(self.rng.integers(0, real.shape[1] - crop + 1))
        real_crop, fake_crop = real[:, start:start + crop], fake[:, start:start + crop]
        judged, judged_pitch = fake_crop, pitch
        if prior is not None:
            prior_crop = prior[:, start:start + crop]
            judged = torch.cat([fake_crop, prior_crop])
            judged_pitch = torch.cat([pitch, pitch[:len(prior)]])
        with self._autocast():
            real_out = self.discriminator(real_crop, pitch)
            fake_out_d = self.discriminator(judged.detach(), judged_pitch)
            d_loss = sum(discriminator_loss(kind, r.float(), f.float())
                         for (r, _), (f, _) in zip(real_out, fake_out_d))
        losses: dict[str, float] = {}
        if kind == "wgan-gp":
            penalty = gradient_penalty(self.discriminator, real_crop, fake_crop, pitch)
            d_loss = d_loss + train["gp_weight"] * penalty
            losses["gp"] = penalty.item()
        if train["r1_weight"] > 0:
            penalty = r1_penalty(self.discriminator, real_crop, pitch)
            d_loss = d_loss + 0.5 * train["r1_weight"] * penalty
            losses["r1"] = penalty.item()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.group.average_gradients(self.discriminator)
        self.opt_d.step()

        with self._autocast():
            fake_out = self.discriminator(fake_crop, pitch)
            adversarial = sum(generator_loss(kind, f.float()) for f, _ in fake_out)
            if prior is not None:
                adversarial = adversarial + sum(generator_loss(kind, f.float())
                                                for f, _ in self.discriminator(prior_crop, pitch[:len(prior)]))
            matching = sum(feature_matching([t.float() for t in rf], [t.float() for t in ff])
                           for (_, rf), (_, ff) in zip(real_out, fake_out))
        recon = multi_resolution_stft_loss(fake, real) if train["recon_weight"] > 0 else fake.new_zeros(())
        g_loss = (train["gan_weight"] * (adversarial + train["feature_matching_weight"] * matching)
                  + train["recon_weight"] * recon)
        if kl is not None:
            warm = min(1.0, (self.step + 1) / max(1, self.config["encoder"]["kl_warmup_steps"]))
            g_loss = g_loss + self.config["encoder"]["kl_weight"] * warm * kl
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.group.average_gradients(self.generator)
        if self.encoder is not None:
            self.group.average_gradients(self.encoder)
        self.opt_g.step()
        self._finish_step(train["ema_decay"])
        losses.update({"d": d_loss.item(), "g_adv": adversarial.item(), "fm": matching.item(), "stft": recon.item()})
        if kl is not None:
            losses["kl"] = kl.item()
        return losses

    def _finish_step(self, ema_decay: float) -> None:
        self._update_ema(ema_decay)
        self.step += 1

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
        leader = self.group.leader
        if leader and train["tensorboard"] and self.monitor is None:
            self.monitor = Monitor.open(self.run_dir / "tensorboard", self.data)
        bar = tqdm(total=total, initial=self.step, desc="training", disable=not (progress and leader),
                   file=sys.stderr)
        started = time.time()
        try:
            while self.step < total:
                losses = self.train_step()
                bar.update(1)
                if self.step % train["log_every"] == 0:
                    losses["step"], losses["elapsed_s"] = self.step, time.time() - started
                    self.history.append(losses)
                    shown = ("d", "g_adv", "stft", "kl", "harm", "noise", "vib", "vspec", "cd", "c_adv")
                    bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items() if k in shown})
                    if self.monitor:
                        self.monitor.scalars(self.step, losses)
                if self.monitor and self.step % train["sample_every"] == 0:
                    self.monitor.samples(self.step, self.ema, self.device)
                if self.step % train["checkpoint_every"] == 0:
                    self.save()
        except KeyboardInterrupt:
            bar.close()
            print(f"interrupted at step {self.step}; saving {self.save()}", file=sys.stderr)
            raise
        finally:
            if self.monitor:
                self.monitor.flush()
        bar.close()
        self.save()


def build_encoder(config: dict[str, Any]) -> TimbreEncoder | None:
    """The palette model's encoder when ``encoder.enabled``; ``None`` for a plain GAN."""
    options = config["encoder"]
    if not options["enabled"]:
        return None
    model = config["model"]
    return TimbreEncoder(model["latent_dim"], model["sample_rate"], options["channels"], options["num_mels"])


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :class:`Trainer` (weights only, no code is unpickled). Anything
    else (a WAV, an ONNX file, half a checkpoint) is one :class:`DataError` naming the file."""
    path = Path(path)
    not_ours = DataError(f"{path} is not a checkpoint written by `synth train`",
                         hint="give a run folder's checkpoint.pt")
    if path.is_dir():
        raise DataError(f"{path} is a folder", hint=f"give the checkpoint in it: {path / CHECKPOINT_NAME}")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; reading anything else can crash
        raise not_ours
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile):
        raise not_ours from None
    if not isinstance(state, dict) or not {"config", "generator", "step"} <= set(state):
        raise not_ours
    state["config"] = complete(state["config"])
    return state
