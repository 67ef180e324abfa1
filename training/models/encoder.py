"""Timbre encoder: a real note -> a distribution over the generator's latent (VAE-style).

The palette model (RAVE's recipe on a DDSP decoder): the encoder reads a note's log-mel
spectrogram and gives the mean and log-variance of a latent; the harmonic generator decodes
(latent, pitch, velocity) back to the note. A KL term pulls the posteriors toward the normal
prior the knobs and random latents sample from, so the space between instruments is sound too.

The spectrogram is a fixed DFT run as a strided convolution; the plugin carries the network
after it (:meth:`TimbreEncoder.encode_features`) and the runtime computes the same log-mel with
numpy (``synth/plugin/features.py``), so it encodes a user's sample without torch
(``synth preset from-sample``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from synth.plugin.features import mel_filterbank


class LogMel(nn.Module):
    """``[B, N]`` audio -> ``[B, num_mels, frames]`` log-mel magnitudes, as exportable convolutions."""

    def __init__(self, sample_rate: int, n_fft: int = 1024, hop: int = 256, num_mels: int = 64) -> None:
        super().__init__()
        self.hop = hop
        # The recipe, for the plugin's manifest: the runtime computes the same with numpy
        # (synth/plugin/features.py) and runs only the network after it.
        self.recipe = {"n_fft": n_fft, "hop": hop, "num_mels": num_mels, "fmin": 30.0, "floor": 1e-5}
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
        phase = 2 * math.pi * bins * torch.arange(n_fft, dtype=torch.float64)[None, :] / n_fft
        kernels = torch.cat([torch.cos(phase) * window, -torch.sin(phase) * window])[:, None, :]
        self.register_buffer("dft", kernels.to(torch.float32))
        self.register_buffer("mel", torch.from_numpy(mel_filterbank(num_mels, n_fft, sample_rate)))
        self.bins = n_fft // 2 + 1

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = F.conv1d(audio[:, None, :], self.dft, stride=self.hop)  # [B, 2 * bins, frames]
        power = spec[:, :self.bins] ** 2 + spec[:, self.bins:] ** 2
        return torch.log(torch.matmul(self.mel, power) + 1e-5)


class TimbreEncoder(nn.Module):
    """audio ``[B, N]``, pitch ``[B]`` int64, velocity ``[B]`` -> (mean, log-variance) ``[B, latent_dim]``.

    Strided 1-D convolutions over the log-mel frames, then the mean and the maximum over time
    (a note's attack and its body both count). Pitch and velocity go in too, so the latent need
    not spend itself on what the decoder is told anyway.
    """

    def __init__(self, latent_dim: int = 32, sample_rate: int = 32000, channels: int = 128,
                 num_mels: int = 64, max_samples: int = 32000) -> None:
        super().__init__()
        self.latent_dim, self.max_samples = latent_dim, max_samples
        self.features = LogMel(sample_rate, num_mels=num_mels)
        layers, width = [], num_mels
        for _ in range(4):
            layers += [nn.Conv1d(width, channels, 5, stride=2, padding=2), nn.LeakyReLU(0.2)]
            width = channels
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(2 * channels + 2, channels), nn.LeakyReLU(0.2),
                                  nn.Linear(channels, 2 * latent_dim))

    def forward(self, audio: torch.Tensor, pitch: torch.Tensor,
                velocity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # the first second holds attack and body
        return self.encode_features(self.features(audio[:, :self.max_samples]), pitch, velocity)

    def encode_features(self, mel: torch.Tensor, pitch: torch.Tensor,
                        velocity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same from the log-mel of the note's first ``max_samples`` (the features are fixed:
        training computes them once per note)."""
        x = self.body(mel)
        pooled = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
        pitch_scalar = (pitch.to(torch.float32) - 60.0) / 24.0
        out = self.head(torch.cat([pooled, pitch_scalar[:, None], velocity[:, None]], dim=1))
        mean, log_variance = out[:, :self.latent_dim], out[:, self.latent_dim:]
        return mean, log_variance.clamp(-10.0, 4.0)


def kl_to_normal(mean: torch.Tensor, log_variance: torch.Tensor, free_bits: float = 0.0) -> torch.Tensor:
    """KL(N(mean, exp(log_variance)) || N(0, 1)), summed over the latent, averaged over the batch.

    ``free_bits`` (nats per dimension, over the batch; Kingma et al. 2016): a dimension's KL below
    it costs nothing. Without it the palette's encoder collapsed onto three active dimensions
    (KL per dimension 2.3, 1.4, 1.2, then < 0.05), so knobs past the third moved nothing."""
    per_dim = 0.5 * (mean.pow(2) + log_variance.exp() - 1.0 - log_variance).mean(dim=0)
    if free_bits > 0:
        per_dim = per_dim.clamp(min=free_bits)
    return per_dim.sum()
