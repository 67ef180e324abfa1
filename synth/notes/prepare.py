"""Generated notes, ready to play: what a note-on asks for, batched inference, resampling,
sustain loops.

A :class:`NoteRequest` names a note (its cache key) and what the model needs to make it. A
:class:`PreparedNote` is one generated note at the output sample rate with a loop region at its
end, so a key held past the generated length keeps sounding: the loop region is flattened to a
steady level and cross-faded at its seam, and the voice continues the note's own measured decay
over it. :mod:`synth.notes.bank` caches them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import soxr

from ..plugin.model import GeneratorModel
from .colour import Colour

LOOP_START_SHARE = 0.6  # the loop spans the last 40% of the note
LOOP_CROSSFADE_S = 0.08
ENVELOPE_WINDOW_S = 0.02
MAX_BATCH = 16


@dataclass(frozen=True)
class NoteKey:
    """What identifies a generated note: the model's pitch, a velocity bucket and a latent digest."""

    pitch: int
    velocity_bucket: int
    latent_digest: bytes
    shift_semitones: int = 0  # played this far from the generated pitch (baked in, band-limited)


@dataclass(frozen=True, eq=False)
class NoteRequest:
    """What to generate: the note's cache key, the latent and the velocity (0..1) the model gets, and
    the colour of a preset made from a sample (its digest is in the key's)."""

    key: NoteKey
    latent: np.ndarray
    velocity: float
    colour: Colour | None = None


@dataclass
class PreparedNote:
    """``samples`` is float32 ``[loop_end + 1]`` at the output rate; ``samples[loop_end] == samples[loop_start]``."""

    samples: np.ndarray
    loop_start: int
    loop_end: int
    decay_per_sample: float  # natural-log amplitude decay the voice applies past ``decay_start``
    decay_start: int  # where the flattened region begins (the note's own decay stops there)
    pitch: int

    @property
    def nbytes(self) -> int:
        return self.samples.nbytes


def latent_digest(z: np.ndarray, colour: Colour | None = None) -> bytes:
    """What tells one timbre from another: the latent and, when there is one, the colour."""
    extra = b"" if colour is None else colour.digest
    return hashlib.blake2b(np.ascontiguousarray(z, np.float32).tobytes() + extra, digest_size=12).digest()


def _frame_rms(x: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """RMS per window (at least one frame) and the window length used: frame ``i`` is centred on
    ``(i + 0.5) * window``."""
    frames = max(1, len(x) // window)
    window = len(x) // frames
    rms = np.sqrt(np.mean(np.square(x[: frames * window], dtype=np.float32).reshape(frames, window), axis=1)) + 1e-9
    return rms.astype(np.float64), window


def ramps_between_frames(values: np.ndarray, window: int, length: int) -> np.ndarray:
    """``values`` at frame centres ``(i + 0.5) * window`` joined by straight lines, flat before the
    first and after the last, at samples ``0..length-1`` (float32): what ``np.interp`` gives, but by
    broadcasting one ramp per frame: ``np.interp`` searched per sample, 0.9 of the 1.1 ms that
    :func:`make_loopable` took per note."""
    out = np.empty(length, np.float32)
    first = -(-window // 2)  # the first sample at or after the first centre
    out[:first] = values[0]
    if len(values) > 1:
        steps = (np.arange(window) + (first - 0.5 * window)) / window
        ramps = (values[:-1, None] + (values[1:] - values[:-1])[:, None] * steps).ravel()
        end = min(length, first + len(ramps))
        out[first:end] = ramps[:end - first]
        out[end:] = values[-1]
    else:
        out[first:] = values[0]
    return out


def make_loopable(audio: np.ndarray, sample_rate: int) -> PreparedNote:
    """Prepare one note ``[num_samples]`` for playback with a seamless sustain loop.

    Kept cheap (well under a millisecond): it runs on the note worker thread beside
    the live engine, and everything it does holds Python's GIL.
    """
    n = len(audio)
    loop_start = int(n * LOOP_START_SHARE)
    loop_end = n - 1
    crossfade = min(int(LOOP_CROSSFADE_S * sample_rate), loop_start, (loop_end - loop_start) // 2)
    flatten_start = loop_start - crossfade
    region = audio[flatten_start:loop_end + 1]
    rms, window = _frame_rms(region, max(1, int(ENVELOPE_WINDOW_S * sample_rate)))
    # Measure the natural decay over the loop (a log-linear fit over frames), then flatten the region
    # to a steady level (gain 1 where flattening starts, so there is no step); the voice re-applies
    # the decay as it plays the loop.
    log_rms = np.log(rms)
    if len(rms) > 2:
        centres = (np.arange(len(rms)) + 0.5) * window
        dt = centres - centres.mean()
        slope = float(np.dot(dt, log_rms - log_rms.mean()) / np.dot(dt, dt))
    else:
        slope = 0.0
    decay = float(np.clip(-slope, 0.0, 60.0 / 8.686 / sample_rate))  # at most 60 dB per second
    gain_frames = np.clip(rms[0] / rms, 0.1, 10.0)
    gain = ramps_between_frames(gain_frames, window, len(region))
    gain /= gain[0]
    samples = np.empty(loop_end + 1, np.float32)
    samples[:flatten_start] = audio[:flatten_start]
    np.multiply(region, gain, out=samples[flatten_start:])
    if crossfade:
        # Blend the loop's end into the audio just before its start, so the jump back is seamless.
        w = np.linspace(0.0, 1.0, crossfade, endpoint=False, dtype=np.float32)
        tail = slice(loop_end - crossfade, loop_end)
        before = samples[flatten_start:loop_start].copy()
        samples[tail] = samples[tail] * (1.0 - w) + before * w
    samples[loop_end] = samples[loop_start]
    return PreparedNote(samples, loop_start, loop_end, decay, flatten_start, -1)


def prepare_note(audio: np.ndarray, model_rate: int, output_rate: int, pitch: int,
                 shift_semitones: int = 0) -> PreparedNote:
    """Resample one generated note to the output rate, shifted by ``shift_semitones`` (soxr
    low-passes as it goes, so a note shifted up never aliases), and add the sustain loop."""
    target = output_rate / 2.0 ** (shift_semitones / 12.0)
    if model_rate != target:
        audio = soxr.resample(audio, model_rate, target, quality="HQ").astype(np.float32, copy=False)
    note = make_loopable(audio, output_rate)
    note.pitch = pitch
    return note


def generate_notes(model: GeneratorModel, output_rate: int,
                   requests: list[NoteRequest]) -> list[tuple[NoteKey, PreparedNote]]:
    """Generate and prepare requests in batches of at most ``MAX_BATCH``."""
    done = []
    for start in range(0, len(requests), MAX_BATCH):
        chunk = requests[start:start + MAX_BATCH]
        z = np.stack([request.latent for request in chunk]).astype(np.float32)
        pitch = np.array([request.key.pitch for request in chunk], np.int64)
        velocity = np.array([request.velocity for request in chunk], np.float32)
        audio = model.generate(z, pitch, velocity)
        for request, row in zip(chunk, audio):
            key = request.key
            if request.colour is not None:
                row = request.colour.apply(row, model.manifest.sample_rate)
            done.append((key, prepare_note(row, model.manifest.sample_rate, output_rate, key.pitch,
                                           key.shift_semitones)))
    return done
