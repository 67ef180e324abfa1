"""Discriminators: judge real versus generated notes, given the pitch they should have."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F


def log_magnitude(audio: torch.Tensor, n_fft: int) -> torch.Tensor:
    """``[B, N]`` -> ``[B, 1, n_fft // 2 + 1, frames]`` log-magnitude spectrogram."""
    window = torch.hann_window(n_fft, device=audio.device)
    spec = torch.stft(audio, n_fft, hop_length=n_fft // 4, window=window, return_complex=True)
    return torch.log(spec.abs() + 1e-5)[:, None]


def conv_stack(make_conv: Callable[[int, int], nn.Module], in_width: int, channels: int,
               strides: tuple[int, ...]) -> nn.Sequential:
    """Spectral-normalised convolutions ``make_conv(width, stride)``, each followed by the leaky ReLU
    whose output :func:`judge` keeps for feature matching."""
    layers, width = [], in_width
    for stride in strides:
        layers += [nn.utils.spectral_norm(make_conv(width, stride)), nn.LeakyReLU(0.2)]
        width = channels
    return nn.Sequential(*layers)


def projection_heads(channels: int) -> tuple[nn.Module, nn.Module]:
    """The logit over the pooled features, and the pitch embedding of the projection term."""
    return nn.utils.spectral_norm(nn.Linear(channels, 1)), nn.utils.spectral_norm(nn.Embedding(128, channels))


class SpectrogramDiscriminator(nn.Module):
    """A 2-D CNN over one STFT resolution, with a projection term for the pitch."""

    def __init__(self, n_fft: int, channels: int = 32) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.body = conv_stack(lambda width, stride: nn.Conv2d(width, channels, 3, stride=stride, padding=1),
                               1, channels, (2, 2, 2, 2))
        self.out, self.pitch_embedding = projection_heads(channels)

    def forward(self, audio: torch.Tensor, pitch: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return judge(self, log_magnitude(audio, self.n_fft), pitch, (2, 3))


def judge(disc: nn.Module, x: torch.Tensor, pitch: torch.Tensor,
          pooled_dims: tuple[int, ...]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A discriminator's ``body`` over ``x`` (each activation kept for feature matching), pooled
    over ``pooled_dims``, then its ``out`` logit plus the projection term for the pitch."""
    features = []
    for layer in disc.body:
        x = layer(x)
        if isinstance(layer, nn.LeakyReLU):
            features.append(x)
    pooled = x.mean(dim=pooled_dims)
    logit = disc.out(pooled)[:, 0] + (disc.pitch_embedding(pitch.clamp(0, 127)) * pooled).sum(dim=1)
    return logit, features


class MultiResolutionDiscriminator(nn.Module):
    """Several spectrogram discriminators at different FFT sizes; returns their logits and features."""

    def __init__(self, fft_sizes: tuple[int, ...] = (1024, 256), channels: int = 32) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(SpectrogramDiscriminator(n, channels) for n in fft_sizes)

    def forward(self, audio: torch.Tensor, pitch: torch.Tensor):
        return [d(audio, pitch) for d in self.discriminators]


def multi_resolution_stft_loss(fake: torch.Tensor, real: torch.Tensor,
                               fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128)) -> torch.Tensor:
    """Spectral convergence plus log-magnitude L1, averaged over resolutions."""
    total = fake.new_zeros(())
    for n_fft in fft_sizes:
        window = torch.hann_window(n_fft, device=fake.device)
        f = torch.stft(fake, n_fft, n_fft // 4, window=window, return_complex=True).abs()
        r = torch.stft(real, n_fft, n_fft // 4, window=window, return_complex=True).abs()
        convergence = torch.linalg.norm(r - f, dim=(1, 2)) / (torch.linalg.norm(r, dim=(1, 2)) + 1e-7)
        total = total + convergence.mean() + F.l1_loss(torch.log(f + 1e-5), torch.log(r + 1e-5))
    return total / len(fft_sizes)


class ControlDiscriminator(nn.Module):
    """Judges a note's control curves (log partial amplitudes, log noise gains, the pitch's
    deviation: ``[B, C, frames]``) given its pitch: the palette's control stage trains against it
    so the decoder keeps the frame-to-frame life of real notes that a regression averages away.
    Strided 1-D convolutions over time, a projection term for the pitch."""

    def __init__(self, in_channels: int, channels: int = 128) -> None:
        super().__init__()
        self.body = conv_stack(lambda width, stride: nn.Conv1d(width, channels, 5, stride=stride, padding=2),
                               in_channels, channels, (1, 2, 2, 2))
        self.out, self.pitch_embedding = projection_heads(channels)

    def forward(self, controls: torch.Tensor, pitch: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return judge(self, controls, pitch, (2,))
