"""Rendering ahead of the MIDI.

:class:`RewritableTail`: the live engine keeps milliseconds of audio rendered ahead in the ring, as
if no MIDI came, and renders it again in place when MIDI changes the sound. :class:`MidiCycleGate`
(the benchmarks' floor client) instead holds each block back until the JACK cycle's MIDI is read.
"""

from __future__ import annotations

import collections
import time

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
    """How many spare blocks hold ``spare_ms`` of audio (whole blocks). In time, not blocks: the
    pauses to cover are milliseconds long, and each spare delays a held note's move to a knob's new
    timbre by a block (three of 256 frames pushed it past 50 ms)."""
    return max(0, int(spare_ms * rate / (1000.0 * block) + 1e-9))


class RewritableTail:
    """Where the engine can still change what the device will play: the blocks in the ring beyond
    the next ``margin`` frames the device takes, each with the voices' state from before it.

    The engine keeps the ring filled milliseconds beyond its latency target with blocks rendered as
    if no MIDI came (spares), so that the device plays on through a pause of the engine thread: a
    stalled Python thread cannot write, but the device's C callback reads what is already in the
    ring. When MIDI then changes what the sounding voices play (:meth:`Synth.changes_sound`), the
    voices rewind to the state before the first block the device will not reach within ``margin``
    frames (:meth:`rewind`) and the blocks from there are rendered again, in place, the first with
    the events. So a note lands as early as the ring's latency target allows, however much audio
    waits beyond it. What a spare costs: a render thrown away when MIDI changes the sound (the
    blocks up to the end of the ring are rendered again at once), and a knob's move reaches the
    notes already sounding only from the end of the ring on (their new timbre starts in the next
    new block)."""

    def __init__(self, margin: int, blocks: int = 64) -> None:
        self.margin = margin  # frames from the device's read position that are no longer changed
        # (position, mark before) of the newest ``blocks`` blocks: as many as the ring can hold, so
        # a long stretch without MIDI keeps no marks of blocks long played.
        self._marks: collections.deque[tuple[int, tuple]] = collections.deque(maxlen=blocks)
        self.rewrites = 0  # times MIDI or an action rewrote the tail
        self.blocks_rewritten = 0
        self.late = 0  # rewritten blocks the device had begun to read before the rewrite ended
        self._floor = 0  # the end of the last block that played events: never rewound past

    def before(self, position: int, synth: Synth) -> None:
        """Note the voices' state before the block about to be rendered at ``position``."""
        self._marks.append((position, synth.mark()))

    def keep(self, end: int) -> None:
        """The blocks up to ``end`` played events or actions: a later rewind must not undo them."""
        self._floor = max(self._floor, end)

    def forget(self) -> None:
        """Nothing written so far may be rewritten (a hot-swapped model fades out in it)."""
        self._marks.clear()

    def rewind(self, synth: Synth, read_position: int) -> int | None:
        """Rewind ``synth`` to before the first block the device will not reach within ``margin``
        frames of ``read_position``; return that block's position, or ``None`` when no such block
        is written (then the events go into the next new block)."""
        marks = self._marks
        while marks and marks[0][0] < max(read_position + self.margin, self._floor):
            marks.popleft()
        if not marks:
            return None
        position, mark = marks[0]
        synth.rewind(mark)
        marks.clear()  # the blocks from here are rendered again and noted again
        self.rewrites += 1
        return position
