"""The palette's first stage: the encoder and the decoder's control network learn from the analysis
of every real note (``training/analysis.py``), no audio rendered, milliseconds a step.

Each step encodes a batch of notes (their log-mel, computed once), decodes the latents to the
harmonic generator's controls and pulls them toward the analysed harmonic amplitudes and noise
gains in the log domain, with the VAE's KL term. The audio-domain stage that follows (STFT and
adversarial losses, ``Trainer.train_step``) starts from a decoder that already plays each
instrument's spectrum and envelope.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import numpy as np
import torch

from synth.errors import ConfigError
from training.analysis import FLOOR, NOISE_SCALE, analyse_notes, control_loss, vibrato_loss, vibrato_spectrum_loss
from training.losses import discriminator_loss, feature_matching, generator_loss
from training.models.encoder import kl_to_normal

if TYPE_CHECKING:
    from training.train import Trainer

CHUNK = 64  # notes analysed and encoded at a time when the stage starts


class ControlStage:
    """Targets for every training note, and the step that fits the controls to them."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        model, data = trainer.config["model"], trainer.data
        started = time.time()
        mels, harmonics, noises, weights, cents, cents_weights = [], [], [], [], [], []
        encoder = trainer.encoder
        for start in range(0, len(data), CHUNK):
            rows = np.arange(start, min(len(data), start + CHUNK))
            audio = np.asarray(data.audio[rows], dtype=np.float32)
            with torch.no_grad():
                mels.append(encoder.features(torch.from_numpy(audio[:, :encoder.max_samples])))
            found = analyse_notes(audio, data.pitch[rows], data.sample_rate, model["num_frames"],
                                  model["num_harmonics"], model["num_noise_bands"])
            harmonics.append(found.harmonics)
            noises.append(found.noise)
            weights.append(found.noise_weight)
            cents.append(found.cents)
            cents_weights.append(found.cents_weight)
        device = trainer.device
        self.mel = torch.cat(mels).to(device)
        self.harmonics = torch.from_numpy(np.concatenate(harmonics)).to(device)
        self.noise = torch.from_numpy(np.concatenate(noises)).to(device)
        self.weight = torch.from_numpy(np.concatenate(weights)).to(device)
        self.cents = torch.from_numpy(np.concatenate(cents)).to(device)
        self.cents_weight = torch.from_numpy(np.concatenate(cents_weights)).to(device)
        self.pitch = torch.from_numpy(data.pitch).to(device)
        self.velocity = torch.from_numpy(data.velocity).to(device)
        self.focus = self._focus_rows(trainer.config["data"]["focus_programs"], data.program)
        if trainer.group.leader:
            print(f"control stage: {len(data)} notes analysed in {time.time() - started:.0f} s", file=sys.stderr)

    def step(self) -> dict[str, float]:
        trainer = self.trainer
        config = trainer.config
        idx = torch.from_numpy(self.batch_rows()).to(trainer.device)
        pitch, velocity = self.pitch[idx], self.velocity[idx]
        mean, log_variance = trainer.encoder.encode_features(self.mel[idx], pitch, velocity)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)
        kl = kl_to_normal(mean, log_variance, config["encoder"]["free_bits"])
        controls = trainer.generator.get_controls(z, pitch, velocity)
        harmonic, noise = control_loss(controls, self.harmonics[idx], self.noise[idx], self.weight[idx])
        warm = min(1.0, (trainer.step + 1) / max(1, config["encoder"]["kl_warmup_steps"]))
        loss = harmonic + 0.5 * noise + config["encoder"]["kl_weight"] * warm * kl
        losses = {"harm": harmonic.item(), "noise": noise.item(), "kl": kl.item()}
        if "f0_cents" in controls:  # a generator whose pitch moves: vibrato and bends measured too
            vibrato = vibrato_loss(controls, self.cents[idx], self.cents_weight[idx])
            loss = loss + vibrato
            losses["vib"] = vibrato.item()
            if config["train"]["vibrato_spectrum_weight"] > 0:
                spectral = vibrato_spectrum_loss(controls, self.cents[idx], self.cents_weight[idx])
                loss = loss + config["train"]["vibrato_spectrum_weight"] * spectral
                losses["vspec"] = spectral.item()
        if trainer.control_discriminator is not None:
            adversarial = self._adversarial(controls, idx, pitch, velocity, losses)
            loss = loss + config["train"]["control_gan_weight"] * adversarial
        trainer.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        trainer.group.average_gradients(trainer.generator)
        trainer.group.average_gradients(trainer.encoder)
        trainer.opt_g.step()
        return losses

    def batch_rows(self) -> np.ndarray:
        """The notes of the next batch (sorted rows): ``data.focus_share`` of them from the focus
        programs when there are any, the rest from every note alike."""
        config, rng = self.trainer.config, self.trainer.rng
        size = config["train"]["control_batch_size"]
        rows = rng.integers(0, len(self.pitch), size)
        if len(self.focus):
            focused = int(round(size * config["data"]["focus_share"]))
            rows[:focused] = rng.choice(self.focus, focused)
        return np.sort(rows)

    @staticmethod
    def _focus_rows(programs: list[int], data_programs: np.ndarray) -> np.ndarray:
        """The training rows of ``data.focus_programs``; a program the data set lacks is refused."""
        missing = sorted(set(programs) - set(int(p) for p in np.unique(data_programs)))
        if missing:
            raise ConfigError(f"data.focus_programs names GM programs {missing} that the data set has no "
                              "training notes of",
                              hint="name programs of the data set, or set data.focus_programs = []")
        return np.flatnonzero(np.isin(data_programs, programs))

    def _curves(self, amps: torch.Tensor, gains: torch.Tensor, cents: torch.Tensor | None,
                idx: torch.Tensor) -> torch.Tensor:
        """Control curves as the control discriminator reads them, ``[B, C, T]`` about -2..2: log
        amplitudes, log noise gains (bands the analysis could not measure zeroed on both sides),
        and the pitch deviation in semitones where it was measured."""
        parts = [torch.log10(amps + FLOOR) + 2.0,
                 (torch.log10(gains * NOISE_SCALE + FLOOR) + 2.0) * self.weight[idx]]
        if cents is not None:
            parts.append((cents / 100.0 * self.cents_weight[idx])[:, None])
        return torch.cat(parts, dim=1)

    def _adversarial(self, controls: dict, idx: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor,
                     losses: dict[str, float]) -> torch.Tensor:
        """One step of the control discriminator (real notes' analysed curves against the decoded
        ones, and against curves decoded from prior latents), then the generator's adversarial and
        feature-matching terms (the fakes are reconstructions of the same notes: matching D's
        features is a paired loss)."""
        trainer = self.trainer
        config = trainer.config
        kind = config["train"]["gan_loss"]
        disc = trainer.control_discriminator
        vibrato = "f0_cents" in controls
        real = self._curves(self.harmonics[idx], self.noise[idx], self.cents[idx] if vibrato else None, idx)
        fake = self._curves(controls["amplitude"] * controls["harmonic_distribution"], controls["noise_band_gains"],
                            controls.get("f0_cents"), idx)
        judged, judged_pitch = fake, pitch
        count = int(round(len(idx) * config["encoder"]["prior_share"]))
        if count:  # latents from the prior must decode to curves like an instrument's too
            prior = trainer.generator.get_controls(
                torch.randn(count, trainer.encoder.latent_dim, device=idx.device), pitch[:count], velocity[:count])
            prior_curves = self._curves(prior["amplitude"] * prior["harmonic_distribution"],
                                        prior["noise_band_gains"], prior.get("f0_cents"), idx[:count])
            judged, judged_pitch = torch.cat([fake, prior_curves]), torch.cat([pitch, pitch[:count]])
        real_logits, real_features = disc(real, pitch)
        fake_logits, _ = disc(judged.detach(), judged_pitch)
        d_loss = discriminator_loss(kind, real_logits, fake_logits)
        trainer.opt_cd.zero_grad(set_to_none=True)
        d_loss.backward()
        trainer.group.average_gradients(disc)
        trainer.opt_cd.step()
        fake_logits, fake_features = disc(judged, judged_pitch)
        adversarial = generator_loss(kind, fake_logits)
        matching = feature_matching(real_features, [f[:len(idx)] for f in fake_features])
        losses.update({"cd": d_loss.item(), "c_adv": adversarial.item(), "c_fm": matching.item()})
        return adversarial + matching
