"""A sample's colour: what a preset from a sample keeps of the sample that its latent cannot.

The palette's decoder draws the instruments it was trained on; a latent encoded from an instrument
it never heard lands near one it knows, and the preset plays that one's spectrum and envelope
(`benchmarks/from_sample_family.py`: with the sixteen-instrument palette, 5.6 % of such presets'
notes were nearest the sample's own instrument; with the colour, 25.1 %). A :class:`Colour` is the
rest, measured: gains in dB over a grid of 24 mel bands by 16 ms segments, fitted so that the
model's note at the sample's key, with the sample's latent, gets the sample's spectral balance and
its evolution over time (the attack, the decay, which bands fade first, and the frame-to-frame
waver of a played note that the generator draws smoother than recordings are). The same gains
colour every note the preset plays, at every key: a body and an envelope that stay put while the
generator still makes each note's partials and pitch. Each coloured note keeps its energy, so the
colour never changes how loud a key plays.

The grid is fine and deep because that is what carries a sample across the keyboard
(`benchmarks/from_sample_family.py`, and GM 96-111 to choose on, which the benchmark never uses):
16 bands by 64 ms segments down to 60 dB under the loudest band kept the family for 70.3 % of the
notes; following the sample down to 75 dB brought 74.4 %, and 24 bands by 16 ms with it 74.9 %
(on GM 96-111, nearest the sample's own instrument: 42.9, 47.5 and 53.3 %). A finer grid without
the depth did nothing: the upper partials and breath of most instruments sit 60-75 dB down.

Colouring is one short-time Fourier transform there and back per generated note, on the note
worker (about a millisecond for a 2 s note at 32 kHz), never in the audio callback. Its gains are
held to +-40 dB, so a band the generator leaves empty is never pushed up from nothing; under 75 dB
below its loudest band a sample counts as that quiet, so the noise floor of a recording made near
full scale (16-bit dither sits some 96 dB under it) is not copied.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..plugin.features import mel_filterbank
from ..plugin.model import GeneratorModel

N_FFT = 1024
FIT_HOP = N_FFT // 4  # fitting reads the sample finely; colouring steps at N_FFT // 2
BANDS = 24
FMIN_HZ = 30.0
SEGMENT_S = 0.016
MAX_GAIN_DB = 40.0
MAX_SEGMENTS = 4096
FLOOR = 3e-8  # a band this far under the loudest (-75 dB) counts as that quiet, not as silent
HOLD_S = 0.128  # past the sample's end, its last this-long's gains (averaged in dB) hold


@dataclass(frozen=True, eq=False)
class Colour:
    """Gains ``gains_db`` ``[segments, bands]``: segment ``s`` holds the analysis frames starting in
    ``[s, s + 1) * segment_s`` seconds into the note, band ``b`` is centred on ``band_hz[b]``; between
    them the gains are interpolated (log frequency, time), beyond them held."""

    band_hz: tuple[float, ...]
    segment_s: float
    gains_db: np.ndarray
    digest: bytes = field(init=False)

    def __post_init__(self) -> None:
        gains = np.asarray(self.gains_db, np.float32)
        gains.setflags(write=False)
        object.__setattr__(self, "gains_db", gains)
        object.__setattr__(self, "digest", hashlib.blake2b(
            np.asarray(self.band_hz, np.float64).tobytes() + np.float64(self.segment_s).tobytes()
            + gains.tobytes(), digest_size=12).digest())

    def apply(self, note: np.ndarray, sample_rate: int) -> np.ndarray:
        """``note`` ``[samples]`` coloured (float32, the same length, the same energy: the colour
        shapes the spectrum and the envelope, the model and the velocity keep the level)."""
        hop = N_FFT // 2  # root-Hann in and out at half overlap: the windows' product sums to one
        n = len(note)
        padded = np.concatenate([np.zeros(N_FFT, np.float32), np.asarray(note, np.float32),
                                 np.zeros(N_FFT + hop, np.float32)])
        frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::hop]
        spectra = np.fft.rfft(frames * _ROOT_HANN, axis=1)
        starts_s = (np.arange(len(frames)) * hop - N_FFT) / sample_rate  # in the note, as fit_colour counts
        spectra *= self._bin_gains(starts_s + 0.5 * FIT_HOP / sample_rate, sample_rate)
        out = np.fft.irfft(spectra, N_FFT, axis=1).astype(np.float32) * _ROOT_HANN
        total = np.zeros(len(frames) * hop + N_FFT, np.float32)
        for half in range(2):  # overlap-add: two interleaved runs of whole frames
            run = out[half::2].reshape(-1)
            total[half * hop:half * hop + len(run)] += run
        coloured = total[N_FFT:N_FFT + n]
        before, after = float(np.dot(note, note)), float(np.dot(coloured, coloured))
        return coloured * np.float32(np.sqrt(before / after)) if after > 1e-20 else coloured

    def _bin_gains(self, times_s: np.ndarray, sample_rate: int) -> np.ndarray:
        """Linear gains ``[frames, bins]`` at ``times_s``: each segment's gains spread over the bins
        (log frequency), then joined linearly from one segment's centre to the next."""
        weights = _bin_weights(self.band_hz, sample_rate)  # [bands, bins]
        per_segment = (10.0 ** ((self.gains_db.astype(np.float64) @ weights) / 20.0)).astype(np.float32)
        position = np.clip(times_s / self.segment_s - 0.5, 0.0, len(per_segment) - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, len(per_segment) - 1)
        mix = (position - low).astype(np.float32)[:, None]
        return per_segment[low] * (1.0 - mix) + per_segment[high] * mix

    def blend(self, other: Colour | None, amount: float) -> Colour | None:
        """This colour ``amount`` (0..1) of the way to ``other`` (None: no colour, 0 dB)."""
        theirs = np.zeros_like(self.gains_db) if other is None else other._on_grid(self)
        gains = self.gains_db + (theirs - self.gains_db) * np.float32(amount)
        return Colour(self.band_hz, self.segment_s, gains)

    def _on_grid(self, grid: Colour) -> np.ndarray:
        """These gains read at ``grid``'s bands and segments."""
        times = (np.arange(len(grid.gains_db)) + 0.5) * grid.segment_s
        position = np.clip(times / self.segment_s - 0.5, 0, len(self.gains_db) - 1).round().astype(int)
        weights = _interpolation_matrix(np.log(np.asarray(grid.band_hz) + 1.0), np.log(np.asarray(self.band_hz) + 1.0))
        return (self.gains_db[position] @ weights).astype(np.float32)

    def to_dict(self) -> dict:
        return {"band_hz": [round(float(f), 2) for f in self.band_hz], "segment_s": self.segment_s,
                "gains_db": [[round(float(g), 2) for g in row] for row in self.gains_db]}

    @classmethod
    def from_dict(cls, data: object, source: str = "preset") -> Colour:
        """A colour read from a preset file; anything malformed is refused in one sentence."""
        if not isinstance(data, dict) or set(data) != {"band_hz", "segment_s", "gains_db"}:
            raise ConfigError(f"{source} colour must be an object with band_hz, segment_s and gains_db")
        bands, segment, gains = data["band_hz"], data["segment_s"], data["gains_db"]
        if (not isinstance(bands, list) or not bands or not all(_number(f) and 0 < f < 1e6 for f in bands)
                or any(b <= a for a, b in zip(bands, bands[1:]))):
            raise ConfigError(f"{source} colour band_hz must be rising frequencies in Hz")
        if not _number(segment) or not 0.001 <= segment <= 10.0:
            raise ConfigError(f"{source} colour segment_s must be 0.001..10 seconds")
        if (not isinstance(gains, list) or not 0 < len(gains) <= MAX_SEGMENTS
                or not all(isinstance(row, list) and len(row) == len(bands)
                           and all(_number(g) and abs(g) <= MAX_GAIN_DB for g in row) for row in gains)):
            raise ConfigError(f"{source} colour gains_db must be rows of {len(bands)} numbers within "
                              f"+-{MAX_GAIN_DB:g} dB, one row per segment")
        return cls(tuple(float(f) for f in bands), float(segment), np.asarray(gains, np.float32))


def fit_colour(sample: np.ndarray, generated: np.ndarray, sample_rate: int) -> Colour:
    """The colour that takes ``generated`` (the model's note at the sample's key, from its latent)
    to ``sample`` (the same rate, from its onset). Segments past the sample's end hold the gains of
    its last ``HOLD_S``: a one-shot shorter than the model's note is not read as falling silent."""
    hop = FIT_HOP
    bank = mel_filterbank(BANDS, N_FFT, sample_rate, FMIN_HZ).astype(np.float64)
    band_hz = tuple(float(f) for f in (bank @ np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)) / bank.sum(axis=1))
    per_segment = max(1, round(SEGMENT_S * sample_rate / hop))
    segments = max(1, ((len(generated) - N_FFT) // hop + 1) // per_segment)
    length = min(len(sample), len(generated))
    theirs = _segment_energy(np.asarray(sample[:length], np.float64), bank, per_segment)
    ours = _segment_energy(np.asarray(generated, np.float64), bank, per_segment)[:segments]
    if not len(theirs):
        raise ConfigError(f"the sample is shorter than one colour segment ({N_FFT / sample_rate * 1000:.0f} ms)")
    theirs = theirs[:segments] * (ours[:len(theirs)].sum() / max(theirs.sum(), 1e-30))  # the same energy
    floor = FLOOR * max(float(theirs.max()), float(ours.max()), 1e-30)
    gains = np.empty_like(ours)
    gains[:len(theirs)] = 10.0 * np.log10((theirs + floor) / (ours[:len(theirs)] + floor))
    # One 16 ms segment is a moment of the sample's waver; what holds past its end is the sound
    # of its last stretch, so a short one-shot's colour does not freeze on one flicker.
    held = max(1, round(HOLD_S * sample_rate / (per_segment * hop)))  # segments in HOLD_S
    gains[len(theirs):] = gains[max(0, len(theirs) - held):len(theirs)].mean(axis=0)
    for _ in range(3):  # clip, then restore the note's energy; twice more, so the clip holds
        gains = np.clip(gains, -MAX_GAIN_DB, MAX_GAIN_DB)
        gains -= 10.0 * np.log10(float((ours * 10.0 ** (gains / 10.0)).sum()) / max(float(ours.sum()), 1e-30))
    return Colour(band_hz, per_segment * hop / sample_rate, np.clip(gains, -MAX_GAIN_DB, MAX_GAIN_DB))


def sample_colour(model: GeneratorModel, sample: np.ndarray, latent: np.ndarray, pitch: int,
                  velocity: float) -> Colour:
    """The colour of ``sample`` (at the model's rate, from its onset) for a preset of ``latent``:
    fitted to the model's note at the sample's key (the nearest the model plays) and ``velocity``."""
    m = model.manifest
    key = min(max(int(pitch), m.pitch_min), m.pitch_max)
    note = model.generate(np.asarray(latent, np.float32)[None], np.array([key], np.int64),
                          np.array([velocity], np.float32))[0]
    return fit_colour(sample, note, m.sample_rate)


def _segment_energy(audio: np.ndarray, bank: np.ndarray, per_segment: int) -> np.ndarray:
    """Mean mel-band power ``[segments, bands]`` over whole segments of ``per_segment`` frames."""
    hop = FIT_HOP
    if len(audio) < N_FFT:
        return np.zeros((0, len(bank)))
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[::hop]
    power = np.abs(np.fft.rfft(frames * _ROOT_HANN ** 2, axis=1)) ** 2 @ bank.T
    whole = max(1, len(power) // per_segment) * per_segment
    if len(power) < whole:
        power = np.concatenate([power, np.repeat(power[-1:], whole - len(power), axis=0)])
    return power[:whole].reshape(-1, per_segment, len(bank)).mean(axis=1)


@functools.lru_cache(maxsize=16)
def _bin_weights(band_hz: tuple[float, ...], sample_rate: int) -> np.ndarray:
    """Each band's share of every FFT bin (log frequency): the same for every note of a colour, so
    the note worker works it out once."""
    freqs = np.log(np.fft.rfftfreq(N_FFT, 1.0 / sample_rate) + 1.0)
    weights = _interpolation_matrix(freqs, np.log(np.asarray(band_hz) + 1.0))
    weights.setflags(write=False)
    return weights


def _interpolation_matrix(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``[len(centres), len(points)]``: linear interpolation between centres, held beyond them."""
    weights = np.zeros((len(centres), len(points)))
    for b in range(len(centres)):
        unit = np.zeros(len(centres))
        unit[b] = 1.0
        weights[b] = np.interp(points, centres, unit)
    return weights


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


_ROOT_HANN = np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
