"""When the live engine renders: after the cycle's MIDI is read, and the next block ahead of it.

:class:`MidiCycleGate` holds a block back until the JACK cycle's MIDI has been read;
:class:`AheadBlock` renders the next block as soon as the ring is full, as if no MIDI came,
and plays it as rendered unless the MIDI then changes the sound.
"""

from __future__ import annotations

import time

import numpy as np

from ..engine.synth import Synth


class MidiCycleGate:
    """With JACK MIDI, render the next block only once the MIDI port has been read in the
    current JACK cycle (or half a period after room appeared in the ring).

    The audio client takes its block early in a JACK cycle and the MIDI client reads its port
    later in the same cycle; rendering at once would miss that cycle's events by one block.
    Measured through JACK: latency was 155 or 325 frames from run to run, depending on which
    won; waiting for the MIDI read makes it the former. Shared with the floor client of the
    benchmarks, so both are timed alike."""

    def __init__(self, block: int, period_s: float = 1.0) -> None:
        self.block, self.period_s = block, period_s
        self._room_since: float | None = None
        self._cycles_rendered = -1

    def waiting(self, midi, fill: int) -> bool:
        cycles = getattr(midi, "cycles", None)
        if cycles is None or fill < self.block:  # ALSA MIDI has no cycle; nearly dry: never wait
            return False
        now = time.perf_counter()
        if self._room_since is None:
            self._room_since = now
        if cycles != self._cycles_rendered or now - self._room_since > self.period_s / 2:
            self._room_since = None
            self._cycles_rendered = cycles
            return False
        return True


class AheadBlock:
    """The next block, rendered before its MIDI arrives.

    Gating on the MIDI read left the ring one block short for a whole render every cycle (from the
    audio callback taking a block until the engine had rendered the next), and a pause of the
    whole machine that landed in that stretch ran it dry: JACK's timed driver (the dummy backend)
    runs the late cycle and the next one back to back. So the engine renders the next block as
    soon as the ring is full, after saving the voices' playing state (``Synth.mark``). When the
    cycle's MIDI is read, the block goes out at once unless the MIDI changes what the sounding
    voices play (``Synth.changes_sound``); then the voices are rewound and the block is rendered
    with the events. Latency does not change; the ring is short of a block for microseconds."""

    def __init__(self) -> None:
        self._mark: list | None = None  # Synth.mark() from before the block rendered ahead
        self._block: np.ndarray | None = None
        self.played = 0  # blocks played as rendered ahead
        self.redone = 0  # blocks rendered again with their MIDI

    @property
    def ready(self) -> bool:
        return self._mark is not None

    def render(self, synth: Synth, frames: int) -> None:
        """Render the next block now, as if the MIDI until then brings nothing."""
        if self._block is None or len(self._block) != frames:
            self._block = np.zeros((frames, 2), np.float32)
        self._mark = synth.mark()
        np.copyto(self._block, synth.process((), frames))

    def take(self, synth: Synth, events: list) -> np.ndarray | None:
        """The block rendered ahead if ``events`` leave the sound as it was (they are applied to the
        notes to come), else ``None`` with the voices rewound: render the block with the events."""
        if self._mark is None:
            return None
        if not any(synth.changes_sound(event) for _, event in events):
            for _, event in events:
                synth.handle(event)  # knobs, morph, program: for the notes to come
            self._mark = None
            self.played += 1
            return self._block
        self.drop(synth)
        self.redone += 1
        return None

    def drop(self, synth: Synth) -> None:
        """Forget the block rendered ahead and rewind the voices to before it."""
        if self._mark is not None:
            synth.rewind(self._mark)
            self._mark = None
