"""One sounding note: reads its prepared samples at a (bendable) rate through an envelope.

Rendering is vectorised per block; a voice never allocates more than a few
block-sized temporaries and never calls the model. When the knobs move while it
sounds, the engine hands it the same note with the new timbre and the voice
cross-fades to it at the same place in the note (the partials of both sit at the
same phase there, so nothing cancels and nothing clicks).
"""

from __future__ import annotations

import numpy as np

from ..notes.prepare import PreparedNote
from .envelope import SUSTAIN, EnvelopeState

SILENCE_GAIN = 1e-4  # -80 dB: a decayed sustain loop ends here


class Voice:
    __slots__ = ("note", "channel", "data", "pos", "travel", "env", "gain", "held", "sustained",
                 "order", "stolen", "cursor", "velocity", "key", "want", "incoming", "incoming_gain",
                 "fade_done", "fade_len")

    def __init__(self, note: int, channel: int, data: PreparedNote, env: EnvelopeState, gain: float,
                 order: int, velocity: int = 100, key: object = None) -> None:
        # The note is already at the output rate and pitch: it plays one source sample per output
        # sample, times the pitch bend.
        self.note, self.channel, self.data = note, channel, data
        self.pos = 0.0  # read position in ``data.samples`` (wrapped into the loop)
        self.travel = 0.0  # source samples played so far (unwrapped), for the sustain decay
        self.env, self.gain = env, gain
        self.held = True  # key still down
        self.sustained = False  # key up but the sustain pedal holds it
        self.order = order  # start order: lower is older, for voice stealing
        self.stolen = False
        self.cursor = 0  # frames of the current block already rendered (the engine renders lazily)
        self.velocity = velocity  # the MIDI velocity that struck it
        self.key = key  # the NoteKey of what it plays (None: a stand-in for another key)
        self.want = None  # the NoteKey it should play (the channel's timbre moved, or it is a stand-in)
        self.incoming: PreparedNote | None = None  # what it is cross-fading to
        self.incoming_gain = 1.0
        self.fade_done = 0
        self.fade_len = 0

    def cross_fade_to(self, data: PreparedNote, gain: float, key: object, frames: int) -> bool:
        """Start moving to ``data`` (the same note in another timbre) over ``frames`` samples at the
        current place in the note; refused (False) when the two notes are not laid out alike."""
        if (data.loop_start, data.loop_end) != (self.data.loop_start, self.data.loop_end):
            return False
        self.incoming, self.incoming_gain, self.key = data, gain, key
        self.fade_done, self.fade_len = 0, max(1, frames)
        return True

    def playing_state(self) -> tuple:
        """Everything rendering changes, for the engine's mark and rewind."""
        return (self.pos, self.travel, self.env.copy(), self.data, self.gain, self.key, self.want,
                self.incoming, self.incoming_gain, self.fade_done, self.fade_len)

    def restore(self, state: tuple) -> None:
        (self.pos, self.travel, self.env, self.data, self.gain, self.key, self.want, self.incoming,
         self.incoming_gain, self.fade_done, self.fade_len) = state

    @property
    def done(self) -> bool:
        return self.env.done

    def release(self, fast_len: int | None = None) -> None:
        self.held = False
        self.sustained = False
        self.env.release(fast_len)

    def render(self, n: int, bend: float, ramp: np.ndarray, env_buf: np.ndarray, out: np.ndarray,
               scratch: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Write ``n`` samples into ``out[:n]``. ``ramp`` is ``arange(max_block)`` as float64;
        ``scratch``: two block-sized buffers for a cross-fade."""
        data, env, gain = self.data, self.env, self.gain  # (a fade ending in this block changes self.gain)
        step = bend
        source, silent = self._source(data, n, step, ramp, out)
        if self.incoming is not None:
            source = self._cross_fade(source, n, step, ramp, scratch)
        if silent:
            env.release(fast_len=n)  # decayed away while held: end it quietly
        if env.stage == SUSTAIN:
            env.level = env.sustain
            np.multiply(source, gain * env.sustain, out=out[:n])  # a steady envelope is one scalar
        else:
            env.render(n, env_buf, gain)
            np.multiply(source, env_buf[:n], out=out[:n])
        loop_start, loop_end = data.loop_start, data.loop_end
        advanced = self.pos + n * step
        if advanced >= loop_end:
            advanced = loop_start + (advanced - loop_start) % (loop_end - loop_start)
        self.pos = advanced
        self.travel += n * step

    def _source(self, data: PreparedNote, n: int, step: float, ramp: np.ndarray,
                out: np.ndarray) -> tuple[np.ndarray, bool]:
        """``data``'s next ``n`` samples from the voice's place, with its sustain decay (a view into
        ``data`` or ``out[:n]``), and whether they have decayed to silence."""
        whole = step == 1.0 and self.pos.is_integer()  # no bend: whole samples, no interpolation
        pos = int(self.pos)
        decays = data.decay_per_sample > 0 and self.travel + (n - 1) * step > data.decay_start
        if whole and pos + n < data.loop_end and not decays:
            return data.samples[pos:pos + n], False  # most voice blocks: read in place, scaled once later
        if whole:
            self._copy(data, n, out)
        else:
            self._interpolate(data, n, step, ramp, out)
        source = out[:n]
        if not decays:
            return source, False
        played = self.travel + ramp[:n] * step
        decay = np.exp(-data.decay_per_sample * np.maximum(played - data.decay_start, 0.0))
        source *= decay
        return source, bool(decay[-1] < SILENCE_GAIN)

    def _cross_fade(self, source: np.ndarray, n: int, step: float, ramp: np.ndarray,
                    scratch: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """``source`` moved toward the incoming note by this block's share of the fade (linear)."""
        incoming, _ = self._source(self.incoming, n, step, ramp, scratch[0])
        mixed = scratch[1][:n]
        np.multiply(incoming, self.incoming_gain / self.gain, out=mixed)  # at its own loudness
        mixed -= source
        weight = np.minimum((ramp[:n] + (self.fade_done + 1)) / self.fade_len, 1.0)
        mixed *= weight
        mixed += source
        self.fade_done += n
        if self.fade_done >= self.fade_len:
            self.data, self.gain, self.incoming = self.incoming, self.incoming_gain, None
        return mixed

    def _copy(self, data: PreparedNote, n: int, out: np.ndarray) -> None:
        samples, loop_start, loop_end = data.samples, data.loop_start, data.loop_end
        pos, done = int(self.pos), 0
        while done < n:
            span = min(n - done, loop_end - pos)
            out[done:done + span] = samples[pos:pos + span]
            done += span
            pos += span
            if pos >= loop_end:
                pos = loop_start
        # (render() advances self.pos with the same wrap)

    def _interpolate(self, data: PreparedNote, n: int, step: float, ramp: np.ndarray, out: np.ndarray) -> None:
        pos = self.pos + ramp[:n] * step
        loop_start, loop_end = data.loop_start, data.loop_end
        if pos[-1] >= loop_end:
            over = pos >= loop_end
            pos[over] = loop_start + np.mod(pos[over] - loop_start, loop_end - loop_start)
        index = pos.astype(np.int64)
        frac = (pos - index).astype(np.float32)
        samples = data.samples
        left = samples[index]
        np.multiply(samples[index + 1] - left, frac, out=out[:n])
        out[:n] += left
