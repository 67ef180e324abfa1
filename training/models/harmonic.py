"""Harmonic-plus-noise generator: (z, pitch, velocity) -> controls -> audio.

Controls first, then signal (as in DDSP): a small network maps the latent and the
conditioning to frame-rate controls (``amplitude``, ``harmonic_distribution``,
``noise_band_gains``); a fixed, differentiable synthesiser turns them into a
waveform whose partials sit at exact multiples of the note's f0, so every note
is in tune by construction. Everything here exports to ONNX (opset 17).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from synth.errors import ConfigError


def scaled_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """DDSP's positive activation: smooth, bounded, with a useful log-range."""
    return 2.0 * torch.sigmoid(x) ** math.log(10.0) + 1e-7


def noise_filterbank(num_bands: int, length: int, sample_rate: int, seed: int = 1234) -> np.ndarray:
    """Fixed band-limited noise, ``[num_bands, length]``, log-spaced bands from 40 Hz to Nyquist.

    Made once with a fixed seed and stored in the graph, so a latent always gives
    the same note (no random op in the plugin). Each band has unit RMS.
    """
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1.0 / sample_rate)
    edges = np.geomspace(40.0, sample_rate / 2, num_bands + 1)
    bands = []
    for low, high in zip(edges[:-1], edges[1:]):
        band = np.fft.irfft(spectrum * ((freqs >= low) & (freqs < high)), n=length)
        bands.append(band / (np.sqrt(np.mean(band**2)) + 1e-12))
    return np.stack(bands).astype(np.float32)


class UpBlock(nn.Module):
    """Doubles the frame rate: nearest upsampling, then a 1-D convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size=5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.repeat_interleave(2, dim=2)
        return F.leaky_relu(self.conv(x), 0.2) + x


class HarmonicGenerator(nn.Module):
    """z ``[B, latent_dim]``, pitch ``[B]`` int64, velocity ``[B]`` -> audio ``[B, num_samples]``."""

    def __init__(self, latent_dim: int = 32, sample_rate: int = 32000, num_samples: int = 64000,
                 num_frames: int = 128, num_harmonics: int = 60, num_noise_bands: int = 16,
                 noise_length: int = 8000, hidden: int = 256, channels: int = 128,
                 pitch_min: int = 36, pitch_max: int = 84, vibrato_cents: float = 0.0) -> None:
        super().__init__()
        if num_samples % num_frames or num_samples % noise_length:
            raise ConfigError(f"model.num_samples ({num_samples}) must be a multiple of model.num_frames "
                              f"({num_frames}) and of model.noise_length ({noise_length})",
                              hint="change one of them in the config")
        start_frames = 8
        stages = int(round(math.log2(num_frames / start_frames)))
        if start_frames * 2**stages != num_frames:
            raise ConfigError(f"model.num_frames ({num_frames}) must be 8 times a power of two",
                              hint="use 64, 128 or 256")
        self.latent_dim, self.sample_rate, self.num_samples = latent_dim, sample_rate, num_samples
        self.num_frames, self.num_harmonics = num_frames, num_harmonics
        self.pitch_min, self.pitch_max = pitch_min, pitch_max
        self.channels, self.start_frames = channels, start_frames
        # vibrato_cents > 0: one more control, the pitch's deviation from the key frame by frame
        # (vibrato, a bend into the note), within +-vibrato_cents; 0 keeps the pitch fixed (and
        # the layout of earlier checkpoints).
        self.vibrato_cents = float(vibrato_cents)
        self.pitch_embedding = nn.Embedding(128, 32)
        self.trunk = nn.Sequential(
            nn.Linear(latent_dim + 32 + 2, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, channels * start_frames),
        )
        self.ups = nn.Sequential(*[UpBlock(channels) for _ in range(stages)])
        self.head = nn.Conv1d(channels, 1 + num_harmonics + num_noise_bands + (self.vibrato_cents > 0), kernel_size=1)
        self.register_buffer("harmonic_numbers", torch.arange(1, num_harmonics + 1, dtype=torch.float32))
        self.register_buffer("sample_index", torch.arange(num_samples, dtype=torch.float64))
        self.table_size = 2048
        hop = num_samples // num_frames
        self.register_buffer("frame_index", torch.arange(num_samples) // hop)
        self.register_buffer("frame_fraction", (torch.arange(num_samples) % hop).to(torch.float32) / hop)
        self.register_buffer("hop_index", torch.arange(hop, dtype=torch.float32), persistent=False)
        table_phase = torch.arange(self.table_size, dtype=torch.float64) / self.table_size
        basis = torch.sin(2 * math.pi * torch.arange(1, num_harmonics + 1, dtype=torch.float64)[:, None]
                          * table_phase[None, :])
        self.register_buffer("sine_basis", basis.to(torch.float32))  # [K, L]: one period per partial
        self.noise_bands_count = num_noise_bands
        self.register_buffer("noise_bank", torch.from_numpy(
            noise_filterbank(num_noise_bands, noise_length, sample_rate)))
        self._plan_noise(hop, noise_length)
        with torch.no_grad():  # start quiet on noise, so early training hears the harmonics
            self.head.bias[1 + num_harmonics:1 + num_harmonics + num_noise_bands] = -4.0

    def _plan_noise(self, hop: int, noise_length: int) -> None:
        """Constants for :meth:`_noise`: the noise bank cut into control-frame segments.

        Linear interpolation of the band gains (``F.interpolate``, ``align_corners=False``) puts
        sample ``i`` between frames ``k - 1`` and ``k`` for ``i`` in ``[hop * k - hop / 2, hop * k + hop / 2)``,
        at fraction ``(j + 0.5) / hop`` (``j``: the place in that segment). So each segment's noise
        is two small matrix products, gains of frame ``k - 1`` and of ``k`` times the segment of the
        bank, cross-faded, instead of interpolating every band to every sample and summing.
        The bank repeats every ``noise_length`` samples, so ``noise_length / hop`` distinct
        segments are stored (0.5 MB) and a batched product reuses them.
        """
        self.noise_hop = hop
        if hop % 2 or noise_length % hop:
            self.noise_period = None  # the general path below handles any shape
            return
        bands = self.noise_bank.shape[0]
        period = noise_length // hop  # distinct segments
        segments = self.num_frames + 1  # from -hop/2 to num_samples + hop/2
        groups = -(-segments // period)
        index = torch.arange(groups * period)
        # Derived from the bank, so not saved: checkpoints from before this path load unchanged.
        self.register_buffer("noise_left", (index - 1).clamp(0, self.num_frames - 1), persistent=False)
        self.register_buffer("noise_right", index.clamp(0, self.num_frames - 1), persistent=False)
        self.register_buffer("noise_fraction", (torch.arange(hop, dtype=torch.float32) + 0.5) / hop, persistent=False)
        where = (hop * torch.arange(period)[:, None] - hop // 2 + torch.arange(hop)[None, :]) % noise_length
        segments_of_bank = self.noise_bank[:, where].permute(1, 0, 2).contiguous()  # [P, bands, hop]
        self.register_buffer("noise_segments", segments_of_bank, persistent=False)
        self.noise_period, self.noise_groups, self.noise_bands = period, groups, bands

    def _noise(self, gains: torch.Tensor) -> torch.Tensor:
        """Sum over bands of (band gain, linearly interpolated to audio rate) x (band noise): ``[B, N]``."""
        if self.noise_period is None:
            gains = F.interpolate(gains, size=self.num_samples, mode="linear", align_corners=False)
            repeats = self.num_samples // self.noise_bank.shape[1]
            return (gains * self.noise_bank.repeat(1, repeats)[None]).sum(dim=1)
        batch = gains.shape[0]
        shape = (batch, self.noise_groups, self.noise_period, 1, self.noise_bands)
        left = torch.matmul(gains[:, :, self.noise_left].transpose(1, 2).reshape(shape), self.noise_segments)
        right = torch.matmul(gains[:, :, self.noise_right].transpose(1, 2).reshape(shape), self.noise_segments)
        mixed = left + (right - left) * self.noise_fraction  # [B, groups, P, 1, hop]
        start = self.noise_hop // 2
        return mixed.reshape(batch, -1)[:, start:start + self.num_samples]

    def get_controls(self, z: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> dict[str, torch.Tensor]:
        """Network outputs as named controls at frame rate (``[B, ..., num_frames]``)."""
        pitch_index = pitch.clamp(0, 127)
        pitch_scalar = (pitch.to(torch.float32) - 60.0) / 24.0
        cond = torch.cat([z, self.pitch_embedding(pitch_index), pitch_scalar[:, None], velocity[:, None]], dim=1)
        half = self.head.weight.dtype == torch.float16  # the --fp16 export (no casts in a float32 graph)
        x = self.trunk(cond.half() if half else cond).reshape(-1, self.channels, self.start_frames)
        out = self.head(self.ups(x))
        out = out.float() if half else out
        f0_hz = 440.0 * torch.pow(2.0, (pitch.to(torch.float32) - 69.0) / 12.0)
        top = 2.0 ** (self.vibrato_cents / 1200.0)  # the highest the pitch can go
        harmonic_hz = f0_hz[:, None] * self.harmonic_numbers[None, :] * top
        audible = (harmonic_hz < 0.48 * self.sample_rate).to(torch.float32)  # no aliasing
        logits = out[:, 1:1 + self.num_harmonics]
        distribution = torch.softmax(logits, dim=1) * audible[:, :, None]
        distribution = distribution / (distribution.sum(dim=1, keepdim=True) + 1e-7)
        bands = slice(1 + self.num_harmonics, 1 + self.num_harmonics + self.noise_bands_count)
        controls = {
            "f0_hz": f0_hz,
            "amplitude": scaled_sigmoid(out[:, :1]),
            "harmonic_distribution": distribution,
            "noise_band_gains": scaled_sigmoid(out[:, bands]),
        }
        if self.vibrato_cents > 0:
            controls["f0_cents"] = self.vibrato_cents * torch.tanh(out[:, -1])
        return controls

    def _gliding_phase(self, f0_hz: torch.Tensor, cents: torch.Tensor) -> torch.Tensor:
        """Phase in cycles ``[B, N]`` of a pitch ``f0_hz * 2^(cents / 1200)``, the ratio linear within each
        control frame: per frame, where it starts (a running sum over the frames, wrapped, in
        float64) plus a closed-form quadratic over the frame's samples (float32, a few dozen
        cycles at most). The same phase as a running sum over every sample, without one: a
        per-sample float64 cumsum and two per-sample gathers of the ratio took a third of the
        palette model's time in onnxruntime."""
        batch = cents.shape[0]
        hop = self.hop_index.shape[0]
        ratio = torch.pow(2.0, cents / 1200.0)
        following = torch.cat([ratio[:, 1:], ratio[:, -1:]], dim=1)  # hold the last frame
        rate = (f0_hz[:, None] / self.sample_rate) * ratio  # cycles per sample where each frame starts
        slope = (f0_hz[:, None] / self.sample_rate) * (following - ratio) / hop
        # After j samples of a frame: rate * j + slope * j (j - 1) / 2.
        whole = (rate * hop + slope * (hop * (hop - 1) / 2)).to(torch.float64)
        starts = torch.cumsum(whole, dim=1) - whole  # phase 0 at the first sample
        starts = (starts - torch.floor(starts)).to(torch.float32)
        j = self.hop_index  # 0, 1, ..., hop - 1
        within = rate[:, :, None] * j + slope[:, :, None] * (j * (j - 1) / 2)
        return (starts[:, :, None] + within).reshape(batch, -1)

    def get_signal(self, controls: dict[str, torch.Tensor]) -> torch.Tensor:
        """Pure synthesis from controls: a wavetable oscillator plus filtered noise, ``[B, num_samples]``.

        Each control frame becomes one period of a waveform (the harmonic sum, by a
        matrix product), read at the note's phase and cross-faded between frames.
        That equals an oscillator bank with linearly interpolated amplitudes, at the
        cost of a few gathers per sample instead of one sine per partial per sample.
        """
        f0_hz = controls["f0_hz"]
        batch = f0_hz.shape[0]
        amps = controls["amplitude"] * controls["harmonic_distribution"]  # [B, K, T]
        # One more column, the first again: the sample right of the last reads it without a modulo.
        basis = torch.cat([self.sine_basis, self.sine_basis[:, :1]], dim=1)  # [K, L + 1], a constant
        width = self.table_size + 1
        amps = torch.cat([amps, amps[:, :, -1:]], dim=2)  # hold the last frame (before the product: smaller)
        tables = torch.matmul(amps.transpose(1, 2), basis).reshape(batch, -1)  # [B, (T + 1) (L + 1)]
        if "f0_cents" in controls:  # the pitch moves: the phase is the running sum of the frequency
            cycles = self._gliding_phase(f0_hz, controls["f0_cents"])
        else:  # phase in cycles, wrapped in float64: float32 would smear the partials late in the note
            cycles = f0_hz.to(torch.float64)[:, None] / self.sample_rate * self.sample_index[None, :]
            cycles = (cycles - torch.floor(cycles)).to(torch.float32)
        position = (cycles - torch.floor(cycles)) * self.table_size  # [B, N]
        left = torch.floor(position)
        frac = position - left
        left = left.to(torch.int64)
        right = left + 1
        base = self.frame_index[None, :] * width  # [1, N] start of each sample's frame
        nxt = base + width

        def read(offset: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            return torch.gather(tables, 1, (offset + index))

        here = read(base, left) * (1.0 - frac) + read(base, right) * frac
        there = read(nxt, left) * (1.0 - frac) + read(nxt, right) * frac
        harmonic = here + (there - here) * self.frame_fraction[None, :]
        return harmonic + 0.05 * self._noise(controls["noise_band_gains"])

    def forward(self, z: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        return self.get_signal(self.get_controls(z, pitch, velocity))

    def half_precision_modules(self) -> list[nn.Module]:
        """What the fp16 export computes in half: the control network. The synthesiser stays in
        float32 (fp16 would detune: a wavetable position up to 2048 keeps only 11 bits)."""
        return [self.trunk, self.ups, self.head]
