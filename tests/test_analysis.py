"""The palette's control targets (training/analysis.py) read back what the harmonic generator plays:
a note rendered from known controls, analysed, gives those controls."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.analysis import analyse_notes, control_loss  # noqa: E402
from training.models.harmonic import HarmonicGenerator  # noqa: E402

RATE, SAMPLES, FRAMES, HARMONICS, BANDS = 32000, 32000, 64, 40, 16


def _generator() -> HarmonicGenerator:
    torch.manual_seed(3)
    return HarmonicGenerator(latent_dim=8, sample_rate=RATE, num_samples=SAMPLES, num_frames=FRAMES,
                             num_harmonics=HARMONICS, num_noise_bands=BANDS, noise_length=8000, hidden=32,
                             channels=16).eval()


@pytest.mark.parametrize("pitch", [36, 60, 79])
def test_harmonic_amplitudes_are_read_back_from_the_generators_own_note(pitch):
    generator = _generator()
    with torch.no_grad():
        z = torch.randn(1, 8)
        controls = generator.get_controls(z, torch.tensor([pitch]), torch.tensor([0.8]))
        controls["noise_band_gains"] = torch.zeros_like(controls["noise_band_gains"])  # partials alone
        audio = generator.get_signal(controls).numpy()
    harmonics, _, _, cents, weight = analyse_notes(audio, np.array([pitch]), RATE, FRAMES, HARMONICS, BANDS)
    truth = (controls["amplitude"] * controls["harmonic_distribution"])[0].numpy()
    body = slice(4, FRAMES - 4)  # away from the note's ends, where the window sees past them
    loud = truth[:, body] > 0.02 * truth[:, body].max()  # partials within 34 dB of the strongest
    assert loud.sum() >= 3
    error_db = 20 * np.abs(np.log10(harmonics[0][:, body][loud] / truth[:, body][loud]))
    assert np.median(error_db) < 0.5 and np.percentile(error_db, 90) < 2.0, (np.median(error_db), error_db.max())
    silent = truth[:, body] < 1e-6  # above the audible limit: nothing
    assert np.all(harmonics[0][:, body][silent] < 0.05 * truth.max())
    steady = weight[0, body] > 0  # a note at its key: no deviation measured
    assert steady.mean() > 0.9 and np.abs(cents[0, body][steady]).max() < 3.0


@pytest.mark.parametrize("pitch", [40, 62])
def test_vibrato_is_read_back_from_the_generators_own_note(pitch):
    torch.manual_seed(5)
    generator = HarmonicGenerator(latent_dim=8, sample_rate=RATE, num_samples=SAMPLES, num_frames=FRAMES,
                                  num_harmonics=HARMONICS, num_noise_bands=BANDS, noise_length=8000, hidden=32,
                                  channels=16, vibrato_cents=60.0).eval()
    with torch.no_grad():
        controls = generator.get_controls(torch.randn(1, 8), torch.tensor([pitch]), torch.tensor([0.8]))
        controls["noise_band_gains"] = torch.zeros_like(controls["noise_band_gains"])
        seconds = torch.arange(FRAMES) * (SAMPLES / FRAMES) / RATE
        controls["f0_cents"] = 40.0 * torch.sin(2 * np.pi * 5.5 * seconds)[None]  # 5.5 Hz, +-40 cents
        audio = generator.get_signal(controls).numpy()
    found = analyse_notes(audio, np.array([pitch]), RATE, FRAMES, HARMONICS, BANDS)
    body = slice(4, FRAMES - 4)
    error = np.abs(found.cents[0, body] - controls["f0_cents"][0, body].numpy())
    assert found.cents_weight[0, body].mean() > 0.9
    # A 64 ms window averages the pitch over a tenth of a second: within a few cents of the truth.
    assert np.median(error) < 4.0 and error.max() < 12.0, (np.median(error), error.max())


def test_noise_gain_is_read_back_between_the_partials():
    generator = _generator()
    with torch.no_grad():
        controls = generator.get_controls(torch.randn(1, 8), torch.tensor([48]), torch.tensor([0.8]))
        controls["amplitude"] = torch.zeros_like(controls["amplitude"])  # noise alone
        gains = torch.full_like(controls["noise_band_gains"], 1.0)
        gains[:, 10] = 4.0  # one band louder: the analysis must see which
        controls["noise_band_gains"] = gains
        audio = generator.get_signal(controls).numpy()
    _, noise, weight, _, _ = analyse_notes(audio, np.array([48]), RATE, FRAMES, HARMONICS, BANDS)
    measured = noise[0][weight[0, :, 0] > 0][:, 4:-4].mean(axis=1)
    bands = np.flatnonzero(weight[0, :, 0] > 0)
    assert 10 in bands
    ratio = measured / gains[0, bands, 0].numpy()
    # Band noise has soft edges and a measurement over a few bins: within 3 dB, the loud band loudest.
    assert np.all(np.abs(20 * np.log10(ratio[bands > 2])) < 3.0), ratio
    assert bands[np.argmax(measured)] == 10


def test_the_control_loss_is_zero_at_the_targets_and_grows_away_from_them():
    generator = _generator()
    with torch.no_grad():
        controls = generator.get_controls(torch.randn(2, 8), torch.tensor([48, 60]), torch.tensor([0.5, 0.9]))
    controls["noise_band_gains"] = torch.ones_like(controls["noise_band_gains"])  # well above the floor
    amps = controls["amplitude"] * controls["harmonic_distribution"]
    weight = torch.ones(2, BANDS, 1)
    at, noise_at = control_loss(controls, amps, controls["noise_band_gains"], weight)
    assert float(at) < 1e-6 and float(noise_at) < 1e-6
    away, noise_away = control_loss(controls, amps * 2.0, controls["noise_band_gains"] * 0.5, weight)
    # Twice every amplitude: log 2 where a partial is far above the -80 dB floor, less near it.
    assert 0.4 < float(away) <= np.log(2.0) + 1e-4 and float(noise_away) > 0.3


def test_the_vibrato_spectrum_loss_ignores_the_phase_and_punishes_a_flat_line():
    from training.analysis import vibrato_loss, vibrato_spectrum_loss

    frames = torch.arange(128, dtype=torch.float32)
    real = 20.0 * torch.sin(2 * torch.pi * frames * 6.0 / 64.0)[None]  # 6 Hz at 64 frames a second
    shifted = 20.0 * torch.sin(2 * torch.pi * frames * 6.0 / 64.0 + 2.0)[None]
    flat = torch.zeros_like(real)
    weight = torch.ones_like(real)
    weight[:, :10] = 0.0  # the attack, not measured

    def spectral(curve):
        return float(vibrato_spectrum_loss({"f0_cents": curve}, real, weight))

    def framewise(curve):
        return float(vibrato_loss({"f0_cents": curve}, real, weight))

    assert spectral(shifted) < 0.05 * spectral(flat)  # the same vibrato at another phase: (almost) no loss
    assert framewise(shifted) > framewise(flat)  # where the frame-by-frame loss prefers no vibrato at all
    assert spectral(real + 15.0) < 1e-6  # a bend of the whole note is the frame-by-frame loss's business
