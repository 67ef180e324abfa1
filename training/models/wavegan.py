"""WaveGAN-style generator and discriminator on raw waveforms (Donahue et al., 2019), conditioned.

The seed's design done for audio: the generator is a stack of 1-D transposed
convolutions (kernel 25, stride 4) that grows a 16-frame seed into a waveform;
the discriminator mirrors it with strided 1-D convolutions and *phase shuffle*
(each layer's features shifted by a random -n..n samples during training), so it
cannot reject generated audio for the periodic artefacts that transposed
convolutions leave. Pitch and velocity condition both networks: concatenated to
the latent in G, a projection term in D.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

KERNEL = 25
STRIDE = 4
START_FRAMES = 16
PITCH_EMBEDDING = 32


def _conditioning(embedding: nn.Embedding, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
    """``[B, PITCH_EMBEDDING + 2]``: a learned pitch vector, pitch as a scalar, and velocity."""
    pitch_scalar = (pitch.to(torch.float32) - 60.0) / 24.0
    return torch.cat([embedding(pitch.clamp(0, 127)), pitch_scalar[:, None], velocity[:, None]], dim=1)


class WaveGANGenerator(nn.Module):
    """z ``[B, latent_dim]``, pitch ``[B]`` int64, velocity ``[B]`` -> audio ``[B, num_samples]`` in [-1, 1].

    ``width`` sets the channel count (the last hidden layer has ``width`` channels,
    each earlier one twice the next, capped at ``32 * width``). Enough stride-4
    stages are stacked to reach ``num_samples``; the surplus at the end is cut off.
    """

    def __init__(self, latent_dim: int = 32, sample_rate: int = 32000, num_samples: int = 64000,
                 width: int = 16, pitch_min: int = 36, pitch_max: int = 84) -> None:
        super().__init__()
        self.latent_dim, self.sample_rate, self.num_samples = latent_dim, sample_rate, num_samples
        self.pitch_min, self.pitch_max = pitch_min, pitch_max
        self.stages = max(1, math.ceil(math.log(num_samples / START_FRAMES, STRIDE)))
        widths = [min(width * 2 ** (self.stages - 1 - i), 32 * width) for i in range(self.stages)] + [1]
        self.pitch_embedding = nn.Embedding(128, PITCH_EMBEDDING)
        self.project = nn.Linear(latent_dim + PITCH_EMBEDDING + 2, widths[0] * START_FRAMES)
        self.first_width = widths[0]
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(widths[i], widths[i + 1], KERNEL, stride=STRIDE, padding=KERNEL // 2 - 1,
                               output_padding=1)
            for i in range(self.stages))

    def forward(self, z: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([z, _conditioning(self.pitch_embedding, pitch, velocity)], dim=1)
        half = self.project.weight.dtype == torch.float16  # the --fp16 export (no casts in a float32 graph)
        x = F.relu(self.project(cond.half() if half else cond)).reshape(-1, self.first_width, START_FRAMES)
        for i, up in enumerate(self.ups):
            x = up(x)
            x = torch.tanh(x) if i == self.stages - 1 else F.relu(x)
        audio = x[:, 0, : self.num_samples]
        return audio.float() if half else audio

    def half_precision_modules(self) -> list[nn.Module]:
        """What the fp16 export computes in half: all of it (the output is the last layer's)."""
        return [self.project, self.ups]


def phase_shuffle(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Shift each example's ``[C, L]`` features by its own random offset in ``-radius..radius``,
    filling the edge by reflection (WaveGAN's phase shuffle)."""
    if radius <= 0:
        return x
    batch, channels, length = x.shape
    shift = torch.randint(-radius, radius + 1, (batch,), device=x.device)
    padded = F.pad(x, (radius, radius), mode="reflect")
    index = torch.arange(length, device=x.device)[None, :] + (radius - shift)[:, None]
    return torch.gather(padded, 2, index[:, None, :].expand(batch, channels, length))


class WaveformDiscriminator(nn.Module):
    """Strided 1-D convolutions over the waveform, phase shuffle between layers, pitch projection.

    Returns ``[(logits [B], features)]`` (one entry, the same shape of answer as the
    multi-resolution spectrogram discriminator) so the losses treat both alike.
    """

    def __init__(self, width: int = 16, layers: int = 5, phase_shuffle: int = 2, spectral_norm: bool = True) -> None:
        super().__init__()
        norm = nn.utils.spectral_norm if spectral_norm else (lambda module: module)
        widths = [1] + [min(width * 2**i, 32 * width) for i in range(layers)]
        self.convs = nn.ModuleList(norm(nn.Conv1d(widths[i], widths[i + 1], KERNEL, stride=STRIDE,
                                                  padding=KERNEL // 2))
                                   for i in range(layers))
        self.radius = phase_shuffle
        self.out = norm(nn.Linear(widths[-1], 1))
        self.pitch_embedding = norm(nn.Embedding(128, widths[-1]))

    def forward(self, audio: torch.Tensor, pitch: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        x, features = audio[:, None, :], []
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), 0.2)
            features.append(x)
            if self.training and i < len(self.convs) - 1:
                x = phase_shuffle(x, self.radius)
        pooled = x.mean(dim=2)
        logit = self.out(pooled)[:, 0] + (self.pitch_embedding(pitch.clamp(0, 127)) * pooled).sum(dim=1)
        return [(logit, features)]
