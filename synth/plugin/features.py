"""The encoder's input, computed without torch: a note's log-mel spectrogram.

The palette model's encoder (``training/models/encoder.py``) reads this and nothing else, and the
plugin carries only the network after it (contract v2: ``encoder`` and ``encoder_features``), so
the runtime computes the features here, exactly as training does: a periodic Hann window, no
padding, power spectrum, triangular mel filters, ``log(mel + floor)``.
"""

from __future__ import annotations

import numpy as np

FEATURE_KEYS = ("n_fft", "hop", "num_mels", "fmin", "floor")


def mel_filterbank(num_mels: int, n_fft: int, sample_rate: int, fmin: float = 30.0) -> np.ndarray:
    """Triangular mel filters ``[num_mels, n_fft // 2 + 1]`` (Slaney-style spacing, unit peak)."""
    def hz_to_mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def mel_to_hz(mel):
        return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(sample_rate / 2), num_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    bank = np.zeros((num_mels, len(freqs)), np.float32)
    for m in range(num_mels):
        low, centre, high = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - low) / max(centre - low, 1e-6)
        fall = (high - freqs) / max(high - centre, 1e-6)
        bank[m] = np.clip(np.minimum(rise, fall), 0.0, None)
    return bank


def log_mel(audio: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256, num_mels: int = 64,
            fmin: float = 30.0, floor: float = 1e-5) -> np.ndarray:
    """``[B, N]`` audio -> ``[B, num_mels, frames]`` float32, frames = ``(N - n_fft) // hop + 1``."""
    audio = np.asarray(audio, np.float64)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft, axis=1)[:, ::hop]  # [B, F, n_fft]
    power = np.abs(np.fft.rfft(frames * window, axis=2)) ** 2  # [B, F, bins]
    mel = mel_filterbank(num_mels, n_fft, sample_rate, fmin).astype(np.float64)
    return np.log(np.einsum("mk,bfk->bmf", mel, power) + floor).astype(np.float32)
