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

import numpy as np

WINDOW = 2048  # 64 ms at 32 kHz: resolves the harmonics of the lowest key (MIDI 36, 65 Hz, 4 bins apart)
PEAK_BINS = 2  # a Hann window's main lobe: the peak bin and two either side hold a partial
NOISE_SCALE = 0.05  # HarmonicGenerator.get_signal adds 0.05 * the noise
FLOOR = 1e-4  # amplitudes below -80 dBFS count as silence in the log-domain loss


def noise_band_edges(num_bands: int, sample_rate: int) -> np.ndarray:
    """The noise bank's band edges (Hz), as :func:`~training.models.harmonic.noise_filterbank` cuts them."""
    return np.geomspace(40.0, sample_rate / 2, num_bands + 1)


def analyse_notes(audio: np.ndarray, pitch: np.ndarray, sample_rate: int, num_frames: int,
                  num_harmonics: int, num_noise_bands: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets for ``audio`` ``[N, S]`` at MIDI ``pitch`` ``[N]``: harmonic amplitudes ``[N, K, T]``,
    noise-band gains ``[N, B, T]`` and the noise weight ``[N, B, 1]`` (1 where the band has bins
    between partials to measure it from, else 0). Frame ``t`` is centred on sample ``t * hop``,
    where the generator's control frame ``t`` applies."""
    count, samples = audio.shape
    hop = samples // num_frames
    window = np.hanning(WINDOW + 1)[:-1].astype(np.float32)
    power_norm = WINDOW * float(np.sum(window**2))  # sum over bins of |X|^2 = this * mean(x^2) (Parseval)
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / sample_rate)
    edges = noise_band_edges(num_noise_bands, sample_rate)
    band_of_bin = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, num_noise_bands - 1)
    band_width = np.diff(edges)
    harmonics = np.zeros((count, num_harmonics, num_frames), np.float32)
    noise = np.zeros((count, num_noise_bands, num_frames), np.float32)
    weight = np.zeros((count, num_noise_bands, 1), np.float32)
    starts = np.arange(num_frames) * hop  # frame t spans [t * hop - W/2, t * hop + W/2) of the note
    for n in range(count):
        padded = np.pad(np.asarray(audio[n], np.float32), (WINDOW // 2, WINDOW // 2))
        frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[starts]
        power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # [T, bins]
        f0 = 440.0 * 2.0 ** ((int(pitch[n]) - 69) / 12.0)
        in_peak = np.zeros(len(freqs), bool)
        for k in range(1, num_harmonics + 1):
            if k * f0 >= 0.48 * sample_rate:
                break
            band = np.flatnonzero(np.abs(freqs - k * f0) < f0 / 2)
            if not len(band):
                continue
            # The partial's peak in each frame (where a stretched partial sits), and its main lobe.
            peak = band[np.argmax(power[:, band].mean(axis=0))]
            lobe = slice(max(0, peak - PEAK_BINS), peak + PEAK_BINS + 1)
            in_peak[lobe] = True
            energy = power[:, lobe].sum(axis=1)
            harmonics[n, k - 1] = 2.0 * np.sqrt(energy / power_norm)
        # Between the peaks: the noise's power per Hz, band by band, as the gain of a band-wide noise.
        residual = ~in_peak & (freqs >= edges[0])
        for b in range(num_noise_bands):
            bins = residual & (band_of_bin == b)
            if bins.sum() < 2:
                continue
            density = 2.0 * power[:, bins].mean(axis=1) * WINDOW / (power_norm * sample_rate)  # per Hz
            noise[n, b] = np.sqrt(density * band_width[b]) / NOISE_SCALE
            weight[n, b] = 1.0
    return harmonics, noise, weight


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
