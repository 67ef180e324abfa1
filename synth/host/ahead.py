"""When the live engine renders: after the cycle's MIDI is read, and the next block ahead of it.

:class:`MidiCycleGate` holds a block back until the JACK cycle's MIDI has been read;
:class:`AheadBlocks` renders the next blocks as soon as the ring is full, as if no MIDI came,
and plays each as rendered unless the MIDI then changes the sound.
"""

from __future__ import annotations

import collections
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


def spare_blocks(spare_ms: float, block: int, rate: int) -> int:
    """How many spare blocks hold ``spare_ms`` of audio (whole blocks, at least one). In time, not
    blocks: the pauses to cover are milliseconds long, and each spare delays a held note's move to a
    knob's new timbre by a block (three of 256 frames pushed it past 50 ms)."""
    return max(1, int(spare_ms * rate / (1000.0 * block) + 1e-9))


class AheadBlocks:
    """The next blocks, rendered before their MIDI arrives.

    Gating on the MIDI read left the ring one block short for a whole render every cycle (from the
    audio callback taking a block until the engine had rendered the next), and a pause of the
    whole machine that landed in that stretch ran it dry: JACK's timed driver (the dummy backend)
    runs the late cycle and the next ones back to back. So the engine renders the next blocks as
    soon as the ring is full, one per pass of its loop, up to ``depth``, each after saving the
    voices' playing state (``Synth.mark``). When a cycle's MIDI is read, the first goes out at
    once unless the MIDI changes what the sounding voices play (``Synth.changes_sound``); then the
    voices are rewound to before it and the block is rendered with the events.

    One block ahead covered a pause of the ring plus one block; the stress's pauses reach 8-13 ms
    (3-5 periods of 128 frames). More blocks ahead cost no latency (the ring's fill target is
    unchanged: they wait outside it until it has room) and little CPU (a rewind throws away at
    most ``depth`` blocks, rendered again while the engine would otherwise wait). What they cost:
    a knob's move reaches the notes already sounding up to ``depth - 1`` blocks after their new
    notes arrive (the blocks already rendered keep the old timbre)."""

    def __init__(self, depth: int = 1) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.depth = depth
        # depth + 1 buffers used in turn: the block just taken stays whole while the next renders
        self._buffers: list[np.ndarray] = []
        self._turn = 0
        self._blocks: collections.deque[tuple[tuple, np.ndarray]] = collections.deque()  # (mark before, block)
        self.played = 0  # blocks played as rendered ahead
        self.redone = 0  # times a cycle's MIDI changed the sound: the blocks ahead dropped

    @property
    def ready(self) -> bool:
        """Whether a block rendered ahead waits."""
        return bool(self._blocks)

    @property
    def full(self) -> bool:
        return len(self._blocks) >= self.depth

    def render(self, synth: Synth, frames: int) -> None:
        """Render one more block now (unless ``depth`` wait), as if the MIDI until then brings nothing."""
        if not self._buffers or len(self._buffers[0]) != frames:
            self.drop(synth)
            self._buffers = [np.zeros((frames, 2), np.float32) for _ in range(self.depth + 1)]
        if self.full:
            return
        mark = synth.mark()
        buffer = self._buffers[self._turn]
        self._turn = (self._turn + 1) % len(self._buffers)
        np.copyto(buffer, synth.process((), frames))
        self._blocks.append((mark, buffer))

    def take(self, synth: Synth, events: list) -> np.ndarray | None:
        """The first block rendered ahead if ``events`` leave the sound as it was (they are applied
        to the notes to come), else ``None`` with the voices rewound: render the block with the
        events. The block returned stays whole until the next call of :meth:`render`."""
        if not self._blocks:
            return None
        if any(synth.changes_sound(event) for _, event in events):
            self.drop(synth)
            self.redone += 1
            return None
        for _, event in events:
            synth.handle(event)  # knobs, morph, program: for the notes to come
        self.played += 1
        return self._blocks.popleft()[1]

    def drop(self, synth: Synth) -> None:
        """Forget the blocks rendered ahead and rewind the voices to before the first."""
        if self._blocks:
            synth.rewind(self._blocks[0][0])
            self._blocks.clear()
