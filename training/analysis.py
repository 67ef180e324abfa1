"""What the decoder's controls should be for a real note: harmonic amplitudes and noise-band gains
read off its spectrum, frame by frame, in the harmonic generator's own units.

Why: learning a timbre through the synthesiser and a spectral loss alone costs a full audio render
and a multi-resolution STFT per note per step (1.6 s a step on one core for the palette); the
controls themselves are 77 numbers per frame. So the palette's first stage regresses the controls
on these targets (milliseconds a step), and the audio-domain stage (STFT, adversarial) refines
from there what the analysis cannot say. The pitch is known (the key, its tuning checked by YIN
when the data set was built), so a partial is found in the band around ``k * f0``; its peak holds
the partial (a stretched piano partial too: its energy counts as harmonic ``k``), the bins between
peaks hold the noise.

Units (see :class:`~training.models.harmonic.HarmonicGenerator`): harmonic ``k`` sounds as
``a_k(t) * sin(2 pi k f0 t)`` with ``a_k = amplitude * harmonic_distribution_k``; noise band ``b``
is ``NOISE_SCALE * g_b(t)`` times unit-variance noise spread over the band's width.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

WINDOW = 2048  # 64 ms at 32 kHz: resolves the harmonics of the lowest key (MIDI 36, 65 Hz, 4 bins apart)
PEAK_BINS = 2  # a Hann window's main lobe: the peak bin and two either side hold a partial
NOISE_SCALE = 0.05  # HarmonicGenerator.get_signal adds 0.05 * the noise
FLOOR = 1e-4  # amplitudes below -80 dBFS count as silence in the log-domain loss
PITCH_HARMONICS = 8  # partials the frame's pitch is fitted to (low ones: a piano's upper partials run sharp)
MAX_CENTS = 100.0  # a deviation past a semitone is a mismeasurement (or another note), not vibrato


def noise_band_edges(num_bands: int, sample_rate: int) -> np.ndarray:
    """The noise bank's band edges (Hz), as :func:`~training.models.harmonic.noise_filterbank` cuts them."""
    return np.geomspace(40.0, sample_rate / 2, num_bands + 1)


class ControlTargets(NamedTuple):
    """What :func:`analyse_notes` reads off each note, frame by frame."""

    harmonics: np.ndarray  # [N, K, T] partial amplitudes
    noise: np.ndarray  # [N, B, T] noise-band gains
    noise_weight: np.ndarray  # [N, B, 1] 1 where a band has bins between partials to measure, else 0
    cents: np.ndarray  # [N, T] the pitch's deviation from the key (vibrato, bends), cents
    cents_weight: np.ndarray  # [N, T] 1 where the note sounds clearly enough to measure it, else 0


def analyse_notes(audio: np.ndarray, pitch: np.ndarray, sample_rate: int, num_frames: int,
                  num_harmonics: int, num_noise_bands: int) -> ControlTargets:
    """Targets for ``audio`` ``[N, S]`` at MIDI ``pitch`` ``[N]``. Frame ``t`` is centred on sample
    ``t * hop``, where the generator's control frame ``t`` applies. Each partial is found frame by
    frame (vibrato moves a high partial by many bins), its frequency refined by a parabola through
    the log power at its peak; the frame's pitch is the weighted least-squares fit of ``k * f0`` to
    the lowest ``PITCH_HARMONICS`` partials."""
    count, samples = audio.shape
    hop = samples // num_frames
    window = np.hanning(WINDOW + 1)[:-1].astype(np.float32)
    power_norm = WINDOW * float(np.sum(window**2))  # sum over bins of |X|^2 = this * mean(x^2) (Parseval)
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / sample_rate)
    bin_hz = sample_rate / WINDOW
    edges = noise_band_edges(num_noise_bands, sample_rate)
    band_of_bin = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, num_noise_bands - 1)
    band_width = np.diff(edges)
    harmonics = np.zeros((count, num_harmonics, num_frames), np.float32)
    noise = np.zeros((count, num_noise_bands, num_frames), np.float32)
    weight = np.zeros((count, num_noise_bands, 1), np.float32)
    cents = np.zeros((count, num_frames), np.float32)
    cents_weight = np.zeros((count, num_frames), np.float32)
    starts = np.arange(num_frames) * hop  # frame t spans [t * hop - W/2, t * hop + W/2) of the note
    frames_index = np.arange(num_frames)[:, None]
    lobe_offsets = np.arange(-PEAK_BINS, PEAK_BINS + 1)[None, :]
    for n in range(count):
        padded = np.pad(np.asarray(audio[n], np.float32), (WINDOW // 2, WINDOW // 2))
        frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[starts]
        power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2 + 1e-20  # [T, bins]
        f0 = 440.0 * 2.0 ** ((int(pitch[n]) - 69) / 12.0)
        in_peak = np.zeros(power.shape, bool)
        fit_num = np.zeros(num_frames)
        fit_den = np.zeros(num_frames)
        for k in range(1, num_harmonics + 1):
            if k * f0 >= 0.48 * sample_rate:
                break
            band = np.flatnonzero(np.abs(freqs - k * f0) < f0 / 2)
            if len(band) < 1:
                continue
            peak = band[np.argmax(power[:, band], axis=1)]  # [T]: where partial k is in each frame
            lobe = np.clip(peak[:, None] + lobe_offsets, 0, len(freqs) - 1)
            in_peak[frames_index, lobe] = True
            energy = power[frames_index, lobe].sum(axis=1)
            harmonics[n, k - 1] = 2.0 * np.sqrt(energy / power_norm)
            if k <= PITCH_HARMONICS and 1 <= peak.min() and peak.max() < len(freqs) - 1:
                left, mid, right = (np.log(power[np.arange(num_frames), peak + d]) for d in (-1, 0, 1))
                curve = left - 2.0 * mid + right
                shift = np.where(curve < 0, 0.5 * (left - right) / np.where(curve < 0, curve, -1.0), 0.0)
                f_peak = (peak + np.clip(shift, -0.5, 0.5)) * bin_hz
                fit_num += energy * k * f_peak  # least squares of f_peak = k * f0, weighted by energy
                fit_den += energy * k * k
        loudest = float(fit_den.max())
        if loudest > 0:
            measured = fit_num / np.maximum(fit_den, 1e-30)
            deviation = 1200.0 * np.log2(np.maximum(measured, 1e-6) / f0)
            clear = (fit_den > 1e-3 * loudest) & (np.abs(deviation) < MAX_CENTS)
            cents[n] = np.where(clear, deviation, 0.0)
            cents_weight[n] = clear
        # Between the peaks: the noise's power per Hz, band by band, as the gain of a band-wide noise.
        residual = ~in_peak & (freqs >= edges[0])[None, :]
        for b in range(num_noise_bands):
            bins = residual & (band_of_bin == b)[None, :]
            counted = bins.sum(axis=1)
            if counted.min() < 2:
                continue
            mean_power = (power * bins).sum(axis=1) / counted
            density = 2.0 * mean_power * WINDOW / (power_norm * sample_rate)  # per Hz
            noise[n, b] = np.sqrt(density * band_width[b]) / NOISE_SCALE
            weight[n, b] = 1.0
    return ControlTargets(harmonics, noise, weight, cents, cents_weight)


def control_loss(controls: dict, harmonics, noise, weight):
    """Log-spectral distance between the generator's controls and the analysed targets (torch
    tensors), over the audible harmonics and the measured noise bands."""
    import torch

    amps = controls["amplitude"] * controls["harmonic_distribution"]
    audible = (controls["harmonic_distribution"].sum(dim=2, keepdim=True) > 0).float()
    harmonic = (torch.abs(torch.log(amps + FLOOR) - torch.log(harmonics + FLOOR)) * audible).sum() \
        / audible.expand_as(amps).sum().clamp(min=1.0)
    gains = controls["noise_band_gains"]
    noisy = (torch.abs(torch.log(gains * NOISE_SCALE + FLOOR) - torch.log(noise * NOISE_SCALE + FLOOR))
             * weight).sum() / (weight.sum() * gains.shape[2]).clamp(min=1.0)
    return harmonic, noisy


def vibrato_spectrum_loss(controls: dict, cents, weight):
    """Distance (semitones, summed over frequencies) between the magnitude spectra, over the note's
    frames, of the generator's pitch deviation and the measured one, each about its own mean where
    measured. Phase-free: the frame-by-frame :func:`vibrato_loss` is met best, for a vibrato whose
    phase the latent does not hold, by its median: a flat line (the default palette's sax, flute and
    brass wavered at 60-80 % of their real depth)."""
    import torch

    count = weight.sum(dim=-1, keepdim=True).clamp(min=1.0)
    # A Hann window over the note: the measured stretch's edges would otherwise leak the vibrato
    # into every frequency differently at each phase.
    taper = weight * torch.hann_window(weight.shape[-1], periodic=False, device=weight.device, dtype=weight.dtype)

    def spectrum(curve):
        centred = (curve - (curve * weight).sum(dim=-1, keepdim=True) / count) * taper
        return torch.fft.rfft(centred, dim=-1).abs() / count

    return (spectrum(controls["f0_cents"]) - spectrum(cents)).abs().sum(dim=-1).mean() / 100.0


def vibrato_loss(controls: dict, cents, weight):
    """Mean distance (in semitones) between the generator's pitch deviation and the measured one,
    over the frames where the note is clear enough to measure."""
    return (abs(controls["f0_cents"] - cents) * weight).sum() / weight.sum().clamp(min=1.0) / 100.0
