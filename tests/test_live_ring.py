"""The live host's ring: spares rendered ahead of the MIDI, rewritten in place when it changes the sound.

The host runs its real engine step (``LiveHost.fill_ring``) against the real ring of the
sounddevice backend (:class:`FrameRingOutput`); the test plays the device, taking one block per cycle,
and the MIDI source, handing the host each cycle's events. What the device played must be exactly
what a synth that never looked ahead plays with each cycle's events in the block the latency
target promises, through a stall of the engine too.
"""

from __future__ import annotations

import numpy as np

from synth.engine.synth import Synth
from synth.host.live import LiveHost, LiveOptions
from synth.host.outputs import FrameRingOutput
from synth.midi import events as ev

BLOCK, RATE = 256, 48000


class CycleDevice(FrameRingOutput):
    """The audio device: the engine's side of the sounddevice backend's ring, drained one block
    per :meth:`cycle`, as a JACK period would."""

    active = True

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.played: list[np.ndarray] = []

    def cycle(self) -> None:
        out = np.zeros((BLOCK, 2), np.float32)
        self.ring.read_into(out)
        self.played.append(out)


class CycleMidi:
    """The MIDI source: the events the test hands it, read by the engine's next step."""

    def __init__(self) -> None:
        self.waiting: list = []
        self.received = 0

    def __bool__(self) -> bool:
        return True

    def poll(self, out: list) -> None:
        out.extend(self.waiting)
        self.received += len(self.waiting)
        self.waiting = []


def _host(default_model, spare_ms: float) -> tuple[LiveHost, CycleDevice, CycleMidi]:
    synth = Synth(default_model)
    synth.prepare(RATE, BLOCK)
    host = LiveHost(synth, LiveOptions(blocksize=BLOCK, ring_blocks=2, spare_ms=spare_ms))
    host.size_ring(RATE)
    host.out = device = CycleDevice(BLOCK * 16)
    host.midi = midi = CycleMidi()
    return host, device, midi


def test_spares_rewritten_in_place_play_each_cycles_midi_one_block_after_the_next(default_model):
    host, device, midi = _host(default_model, spare_ms=16.0)
    assert host.spares == 3 and host.goal == 5 * BLOCK
    knob_cc = host.synth.settings["midi.knob_ccs"][0]
    # After the device took block c, the cycle's events: they must sound in block c + 2 (the ring's
    # target is two blocks; the device may be copying block c + 1 already).
    score = {
        0: [(0, ev.note_on(60, 100)), (40, ev.note_on(64, 90))],
        3: [(0, ev.control(knob_cc, 120))],  # shapes the notes to come: no rewrite
        4: [(100, ev.note_on(67, 80))],
        9: [(0, ev.note_off(64)), (30, ev.MidiEvent(ev.PITCH_BEND, 0, 0, 4096))],
        12: [(10, ev.note_on(72, 100))],  # arrives while the engine is stalled (cycles 11-13)
        15: [(0, ev.note_on(65, 90))],
    }
    actions = {6: lambda host: host.synth.handle(ev.note_off(60))}  # an OSC action, say
    stalled = {11, 12, 13}
    host.fill_ring()  # pre-roll: the goal, blocks 0-4
    assert device.fill == host.goal
    cycles = 20
    for c in range(cycles):
        device.cycle()
        midi.waiting += score.get(c, [])  # unread while the engine stalls: they wait
        if c in actions:
            host.submit(actions[c])
        if c not in stalled:
            host.fill_ring()
        if c == 15:  # more MIDI before the device's next cycle: the block with the first stays
            midi.waiting = [(0, ev.note_on(69, 100))]
            host.fill_ring()
    assert device.underflows == 0  # three spares covered three cycles without the engine

    # Where each cycle's events land: two blocks after the device's read, or, after the stall,
    # two blocks after the read when the engine came back (cycle 14).
    landing = {c + 2: events for c, events in score.items() if c not in stalled}
    landing[14 + 2] = score[12]
    landing[15 + 2] = [(0, ev.note_on(65, 90))]
    landing[15 + 3] = [(0, ev.note_on(69, 100))]
    acts = {c + 2: action for c, action in actions.items()}
    played = Synth(default_model)
    played.prepare(RATE, BLOCK)
    for block in range(cycles):
        if block in acts:
            acts[block](type("Host", (), {"synth": played})())
        expected = played.process(landing.get(block, []), BLOCK)
        assert np.array_equal(device.played[block], expected), f"block {block}"
    assert np.abs(np.concatenate(device.played)).max() > 0.01  # the notes sounded
    # Five batches of notes and the action rewrote spares; not the knob; after the stall the ring
    # held no spares any more, and the notes went into a new block.
    assert host._tail.rewrites == 6
    assert host._tail.late == 0


def test_a_long_stretch_without_midi_keeps_marks_of_the_ring_alone(default_model):
    """Each block rendered notes the voices' state before it; with nothing to rewind for minutes
    (a held chord), only the blocks the ring can hold may keep theirs."""
    host, device, midi = _host(default_model, spare_ms=16.0)
    midi.waiting = [(0, ev.note_on(60, 100)), (0, ev.control(ev.CC_SUSTAIN, 127))]
    host.fill_ring()
    for _ in range(200):
        device.cycle()
        host.fill_ring()
    assert len(host._tail._marks) <= host.goal // BLOCK + 2
    midi.waiting = [(0, ev.note_on(64, 100))]  # and a rewind still finds the block it needs
    host.fill_ring()
    assert host._tail.rewrites == 1


def test_no_spares_still_lands_the_midi_in_time(default_model):
    """With ``spare_ms`` 0 the ring holds its target alone; the block written before a cycle's MIDI
    came is rewritten, so the events sound where the target promises, as with spares."""
    host, device, midi = _host(default_model, spare_ms=0.0)
    assert host.spares == 0 and host.goal == 2 * BLOCK
    host.fill_ring()
    for c in range(6):
        device.cycle()
        midi.waiting = [(20, ev.note_on(62, 100))] if c == 1 else []
        host.fill_ring()
    played = Synth(default_model)
    played.prepare(RATE, BLOCK)
    for block in range(6):
        expected = played.process([(20, ev.note_on(62, 100))] if block == 3 else [], BLOCK)
        assert np.array_equal(device.played[block], expected), f"block {block}"
    assert device.underflows == 0
