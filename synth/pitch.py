"""Fundamental-frequency estimation (YIN), numpy only.

Used to check that notes sound at the pitch they were asked for: by the tests,
by ``synth eval``, and by anyone who wants to measure a render. It is no part
of any model, so it judges models independently.
"""

from __future__ import annotations

import math

import numpy as np


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def hz_to_midi(hz: float) -> float:
    return 69.0 + 12.0 * math.log2(hz / 440.0)


def cents_between(hz: float, reference_hz: float) -> float:
    return 1200.0 * math.log2(hz / reference_hz)


def _lowpass_upsample(x: np.ndarray, sample_rate: int, cutoff_hz: float, factor: int) -> np.ndarray:
    """Brick-wall low-pass at ``cutoff_hz`` and band-limited upsampling by ``factor`` (one FFT)."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    spectrum[freqs > cutoff_hz] = 0.0
    return np.fft.irfft(spectrum, len(x) * factor) * factor


def estimate_f0(audio: np.ndarray, sample_rate: int, fmin_hz: float = 30.0, fmax_hz: float = 2000.0,
                threshold: float = 0.15, lowpass_hz: float | None = None) -> float | None:
    """YIN estimate of f0 in Hz over a mono clip ``[num_samples]``; ``None`` when unvoiced or silent.

    The clip should hold a steady part of one note (0.1 to 0.5 s is plenty). High
    notes are upsampled first: YIN compares the signal with itself at whole-sample
    lags, and a period of a few samples would make bright notes look an octave low.
    ``lowpass_hz`` drops partials above it first (YIN's own advice for bright sounds).
    """
    x = np.asarray(audio, dtype=np.float64)
    if len(x) < 64:
        return None
    x = x - x.mean()
    factor = max(1, int(np.ceil(64.0 / (sample_rate / fmax_hz))))
    if factor > 1 or lowpass_hz is not None:
        cutoff = min(lowpass_hz or sample_rate / 2, sample_rate / 2)
        x = _lowpass_upsample(x, sample_rate, cutoff, factor)
        sample_rate *= factor
    if len(x) < 64 or np.sqrt(np.mean(x**2)) < 1e-5:
        return None
    max_lag = min(int(sample_rate / fmin_hz), len(x) // 2)
    min_lag = max(2, int(sample_rate / fmax_hz))
    window = len(x) - max_lag
    if window < max_lag // 2 or max_lag <= min_lag + 2:
        return None
    # Difference function d(tau) = sum (x[t] - x[t + tau])^2 via FFT autocorrelation.
    frame = x[: window + max_lag]
    energy = np.concatenate([[0.0], np.cumsum(frame**2)])
    size = 1 << int(np.ceil(np.log2(2 * len(frame))))
    spectrum = np.fft.rfft(frame, size)
    head = np.fft.rfft(frame[:window], size)
    corr = np.fft.irfft(np.conj(head) * spectrum, size)[: max_lag + 1]
    lags = np.arange(max_lag + 1)
    diff = energy[window] + (energy[lags + window] - energy[lags]) - 2.0 * corr
    cumulative = np.cumsum(diff[1:])
    cmnd = np.ones_like(diff)
    cmnd[1:] = diff[1:] * lags[1:] / np.maximum(cumulative, 1e-12)
    candidates = np.nonzero(cmnd[min_lag:] < threshold)[0]
    if len(candidates):
        tau = min_lag + int(candidates[0])
        while tau + 1 <= max_lag and cmnd[tau + 1] < cmnd[tau]:
            tau += 1  # walk down to the local minimum
    else:
        tau = min_lag + int(np.argmin(cmnd[min_lag:]))
        if cmnd[tau] > 0.4:
            return None
    if 1 <= tau < max_lag:  # parabolic interpolation for sub-sample lag
        a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if abs(denom) > 1e-12 else 0.0
    else:
        shift = 0.0
    return sample_rate / (tau + shift)


def pitch_error_cents(audio: np.ndarray, sample_rate: int, pitch: float) -> float | None:
    """Cents between the clip's estimated f0 and MIDI ``pitch``; ``None`` when no f0 is found."""
    expected = midi_to_hz(pitch)
    f0 = estimate_f0(audio, sample_rate, fmin_hz=max(20.0, expected / 2.5),
                     fmax_hz=min(expected * 2.5, sample_rate / 4), lowpass_hz=max(8.0 * expected, 2000.0))
    return None if f0 is None else cents_between(f0, expected)
