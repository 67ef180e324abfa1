"""One sounding note: reads its prepared samples at a (bendable) rate through an envelope.

Rendering is vectorised per block; a voice never allocates more than a few
block-sized temporaries and never calls the model.
"""

from __future__ import annotations

import numpy as np

from ..notes.prepare import PreparedNote
from .envelope import SUSTAIN, EnvelopeState

SILENCE_GAIN = 1e-4  # -80 dB: a decayed sustain loop ends here


class Voice:
    __slots__ = ("note", "channel", "data", "pos", "travel", "env", "gain", "held", "sustained",
                 "order", "stolen", "cursor")

    def __init__(self, note: int, channel: int, data: PreparedNote, env: EnvelopeState, gain: float,
                 order: int) -> None:
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

    @property
    def done(self) -> bool:
        return self.env.done

    def release(self, fast_len: int | None = None) -> None:
        self.held = False
        self.sustained = False
        self.env.release(fast_len)

    def render(self, n: int, bend: float, ramp: np.ndarray, env_buf: np.ndarray, out: np.ndarray) -> None:
        """Write ``n`` samples into ``out[:n]``. ``ramp`` is ``arange(max_block)`` as float64."""
        data, env = self.data, self.env
        step = bend
        whole = step == 1.0 and self.pos.is_integer()  # no bend: whole samples, no interpolation
        pos = int(self.pos)
        decays = data.decay_per_sample > 0 and self.travel + (n - 1) * step > data.decay_start
        if whole and pos + n < data.loop_end and not decays:
            source = data.samples[pos:pos + n]  # most voice blocks: read in place, scaled once below
        else:
            if whole:
                self._copy(n, out)
            else:
                self._interpolate(n, step, ramp, out)
            source = out[:n]
            if decays:
                played = self.travel + ramp[:n] * step
                decay = np.exp(-data.decay_per_sample * np.maximum(played - data.decay_start, 0.0))
                source *= decay
                if decay[-1] < SILENCE_GAIN:
                    env.release(fast_len=n)  # decayed away while held: end it quietly
        if env.stage == SUSTAIN:
            env.level = env.sustain
            np.multiply(source, self.gain * env.sustain, out=out[:n])  # a steady envelope is one scalar
        else:
            env.render(n, env_buf)
            np.multiply(source, env_buf[:n], out=out[:n])
            out[:n] *= self.gain
        loop_start, loop_end = data.loop_start, data.loop_end
        advanced = self.pos + n * step
        if advanced >= loop_end:
            advanced = loop_start + (advanced - loop_start) % (loop_end - loop_start)
        self.pos = advanced
        self.travel += n * step

    def _copy(self, n: int, out: np.ndarray) -> None:
        data = self.data
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

    def _interpolate(self, n: int, step: float, ramp: np.ndarray, out: np.ndarray) -> None:
        data = self.data
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
