"""Quality metrics for generated notes, numpy only (no torch, no model code).

* :func:`pitch_accuracy`: share of notes whose f0 (YIN, :mod:`synth.pitch`) lies
  within ±50 cents of the pitch asked for.
* :func:`frechet_distance` between Gaussians fitted to per-note features
  (:func:`note_features`: log-mel band means and spreads over time).
* :func:`vibrato_cents`: how far a note's f0 wanders around its median while it sounds (the
  depth of its vibrato), by the same estimator.
* :func:`ndb`: Number of statistically Different Bins (Richardson & Weiss 2018):
  k-means bins fitted on training notes; a bin counts when the share of generated
  notes falling in it differs from the training share (two-proportion z-test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synth.pitch import estimate_f0, midi_to_hz, pitch_error_cents
from training.spectrogram import stft_magnitude

MEL_BANDS = 32
N_FFT = 1024
HOP = 512
IN_TUNE_CENTS = 50.0


def pitch_accuracy(notes: np.ndarray, pitches: np.ndarray, sample_rate: int,
                   window_s: tuple[float, float] = (0.1, 0.6)) -> tuple[float, list[float | None]]:
    """Share of ``notes`` ``[N, samples]`` within ±50 cents of ``pitches`` ``[N]``, and each note's error.

    The f0 is read from ``window_s`` (after the attack, while the note is steady);
    a note with no detectable f0 counts as out of tune.
    """
    start, stop = (int(t * sample_rate) for t in window_s)
    errors = [pitch_error_cents(note[start:stop], sample_rate, float(p)) for note, p in zip(notes, pitches)]
    good = sum(1 for e in errors if e is not None and abs(e) <= IN_TUNE_CENTS)
    return good / max(len(errors), 1), errors


VIBRATO_WINDOW_S = (0.3, 1.5)  # after the attack, while the note still sounds
VIBRATO_HOP_S = 0.04  # f0 every 40 ms: a 5-7 Hz vibrato is sampled 4-6 times a cycle
VIBRATO_FRAME = 2048  # samples per f0 estimate


def vibrato_cents(note: np.ndarray, sample_rate: int, pitch: float) -> float | None:
    """Standard deviation (cents) of the f0 over ``VIBRATO_WINDOW_S``, frames more than 100 cents
    from the median dropped (an octave the estimator slipped), or None when fewer than ten frames
    have a pitch. Each frame averages 64 ms (at 32 kHz), so a 5.5 Hz vibrato reads at about 0.8 of
    its spread: compare notes with notes, not with a nominal depth."""
    hz = midi_to_hz(pitch)
    cents = []
    for t in np.arange(*VIBRATO_WINDOW_S, VIBRATO_HOP_S):
        start = int(t * sample_rate)
        f0 = estimate_f0(note[start:start + VIBRATO_FRAME], sample_rate, fmin_hz=hz * 0.7, fmax_hz=hz * 1.4)
        if f0:
            cents.append(1200.0 * np.log2(f0 / hz))
    cents = np.asarray(cents)
    cents = cents[np.abs(cents - np.median(cents)) <= 100.0] if len(cents) else cents
    return float(np.std(cents)) if len(cents) >= 10 else None


def _mel_filterbank(sample_rate: int, n_fft: int, bands: int) -> np.ndarray:
    """Triangular filters ``[bands, n_fft // 2 + 1]`` evenly spaced on the mel scale, 30 Hz to Nyquist."""
    def mel(hz):
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(30.0), mel(sample_rate / 2), bands + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    bank = np.zeros((bands, len(freqs)))
    for i in range(bands):
        low, centre, high = edges[i:i + 3]
        rising = (freqs - low) / (centre - low)
        falling = (high - freqs) / (high - centre)
        bank[i] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank


def note_features(notes: np.ndarray, sample_rate: int) -> np.ndarray:
    """``[N, samples]`` -> ``[N, 2 * MEL_BANDS]``: each log-mel band's mean and standard deviation over time."""
    bank = _mel_filterbank(sample_rate, N_FFT, MEL_BANDS)
    out = np.empty((len(notes), 2 * MEL_BANDS))
    for i, note in enumerate(notes):
        power = stft_magnitude(note, N_FFT, HOP) ** 2
        log_mel = np.log(power @ bank.T + 1e-8)  # [frames, bands]
        out[i] = np.concatenate([log_mel.mean(axis=0), log_mel.std(axis=0)])
    return out


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``a`` ``[N, D]`` and ``b`` ``[M, D]``.

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``, with the
    matrix square roots taken by symmetric eigendecomposition (no scipy needed).
    """
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    middle = np.linalg.eigvalsh((root_a @ cov_b @ root_a + (root_a @ cov_b @ root_a).T) / 2)
    trace_root = np.sqrt(np.clip(middle, 0.0, None)).sum()
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root)


def kmeans(points: np.ndarray, k: int, seed: int = 0, iterations: int = 100) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding; returns the ``[k, D]`` centres."""
    rng = np.random.default_rng(seed)
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        d2 = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(points[rng.choice(len(points), p=d2 / d2.sum()) if d2.sum() > 0 else rng.integers(len(points))])
    centres = np.array(centres)
    for _ in range(iterations):
        labels = nearest(points, centres)
        moved = np.array([points[labels == j].mean(axis=0) if np.any(labels == j) else centres[j] for j in range(k)])
        if np.allclose(moved, centres):
            break
        centres = moved
    return centres


def nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)


@dataclass
class NDBResult:
    different: int
    bins: int

    @property
    def share(self) -> float:
        return self.different / self.bins


def ndb(train: np.ndarray, test: np.ndarray, bins: int, seed: int = 0, alpha: float = 0.05) -> NDBResult:
    """Bins (k-means on standardised ``train`` features) where ``test``'s share differs from ``train``'s.

    A bin differs when a two-sided two-proportion z-test rejects equal shares at ``alpha``.
    """
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-9
    train_z, test_z = (train - mean) / std, (test - mean) / std
    centres = kmeans(train_z, bins, seed)
    p_train = np.bincount(nearest(train_z, centres), minlength=bins) / len(train_z)
    p_test = np.bincount(nearest(test_z, centres), minlength=bins) / len(test_z)
    pooled = (p_train * len(train_z) + p_test * len(test_z)) / (len(train_z) + len(test_z))
    se = np.sqrt(pooled * (1 - pooled) * (1 / len(train_z) + 1 / len(test_z)))
    z = np.abs(p_train - p_test) / np.maximum(se, 1e-12)
    critical = _normal_quantile(1 - alpha / 2)
    return NDBResult(int(np.sum((z > critical) & (se > 0))), bins)


def _normal_quantile(p: float) -> float:
    """Inverse of the standard normal CDF by bisection on ``math.erf`` (no scipy)."""
    low, high = -10.0, 10.0
    for _ in range(100):
        mid = (low + high) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2
