"""Timbre you hear at once (issue 14), in the engine: after a knob, morph or program change the
next note has the new timbre, and notes already sounding cross-fade to it without a click,
offline exactly and live (realtime, the worker process) within a few blocks."""

from __future__ import annotations

import time

import numpy as np
import pytest

from synth.engine.follow import FOLLOW_EVERY_S, RETIMBRE_FADE_S
from synth.engine.synth import Synth
from synth.midi import events as ev

from .test_engine import RATE, max_step, play

NOTE = 60
SWEEP_AT = RATE // 2  # the knobs move half a second into the note


def _knobs_to(synth: Synth, value: int) -> list[ev.MidiEvent]:
    return [ev.control(cc, value) for cc in synth.settings["midi.knob_ccs"][:4]]


def _spectrum(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.log(np.abs(np.fft.rfft(x * np.hanning(len(x)))) + 1e-6)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(_spectrum(a) - _spectrum(b))))


def test_a_held_note_follows_a_knob_offline_exactly_and_without_a_click(default_model):
    moved = Synth(default_model)
    swept = {0: [ev.note_on(NOTE, 100)], SWEEP_AT: _knobs_to(moved, 127)}
    out = play(moved, swept, 2 * RATE)[:, 0]
    there_already = Synth(default_model)
    fresh = play(there_already, {0: _knobs_to(there_already, 127) + [ev.note_on(NOTE, 100)]}, 2 * RATE)[:, 0]
    unmoved = play(Synth(default_model), {0: [ev.note_on(NOTE, 100)]}, 2 * RATE)[:, 0]
    after = SWEEP_AT + int((FOLLOW_EVERY_S + RETIMBRE_FADE_S) * RATE)  # the next grid point, then the fade
    # Once the cross-fade is over, the held note is the note struck with the knobs already there...
    np.testing.assert_allclose(out[after:], fresh[after:], atol=1e-6)
    # ... which is another sound than before the sweep (else this test would prove nothing).
    assert _distance(out[after:after + RATE // 2], unmoved[after:after + RATE // 2]) > 0.05
    # And the move has no click: no step larger than the two sounds' own largest.
    own = max(max_step(unmoved[:, None]), max_step(fresh[:, None]))
    assert max_step(out[SWEEP_AT - 64:after + 64, None]) <= 1.05 * own


def test_a_sweep_over_held_notes_renders_the_same_at_every_block_size(default_model):
    """Held notes follow on a grid of absolute frames, so the block size changes nothing."""
    cc = Synth(default_model).settings["midi.knob_ccs"][1]
    timeline = {0: [ev.note_on(NOTE, 100), ev.note_on(NOTE + 7, 70, channel=1)]}
    for step in range(24):  # 100 messages a second on channel 0, with a note-off in the middle
        timeline.setdefault(4000 + step * 480, []).append(ev.control(cc, 64 + step * 2))
    timeline.setdefault(9000, []).append(ev.note_off(NOTE + 7, channel=1))
    timeline.setdefault(12000, []).append(ev.MidiEvent(ev.PROGRAM, 1, 2, 0))
    reference = play(Synth(default_model), timeline, 24000, block=37)
    for block in (500, 4096):
        out = play(Synth(default_model), timeline, 24000, block=block)
        np.testing.assert_allclose(out, reference, atol=1e-6, err_msg=str(block))
    unmoved = play(Synth(default_model), {0: timeline[0]}, 24000, block=500)
    assert np.abs(reference[15000:] - unmoved[15000:]).max() > 1e-3  # the sweep was heard


def test_the_next_note_after_a_program_change_offline_is_the_new_preset(default_model):
    synth = Synth(default_model)
    out = play(synth, {0: [ev.MidiEvent(ev.PROGRAM, 0, 3, 0)], 10: [ev.note_on(NOTE, 100)]}, RATE)[:, 0]
    other = Synth(default_model)
    other.select_program(3, 0)
    direct = play(other, {10: [ev.note_on(NOTE, 100)]}, RATE)[:, 0]
    np.testing.assert_array_equal(out, direct)


def _live(default_model) -> Synth:
    """A realtime synth whose worker process has started (as in a live host after its warm-up)."""
    synth = Synth(default_model, realtime=True)
    synth.prepare(RATE, 128)
    synth.prefetch_notes([(0, NOTE, 100)], pin=True)
    warm = synth.note_requests([(0, NOTE + 12, 100)])
    synth.queue(warm)
    deadline = time.time() + 60
    while not synth.cached(warm[0]) and time.time() < deadline:
        time.sleep(0.01)
    return synth


def _run_until(synth: Synth, done, seconds: float = 20.0) -> float:
    """Render 128-frame blocks in real time until ``done()``; returns the seconds it took."""
    started = time.perf_counter()
    while not done() and time.perf_counter() < started + seconds:
        synth.process((), 128)
        time.sleep(128 / RATE)
    assert done(), "the worker never delivered the new timbre"
    return time.perf_counter() - started


@pytest.mark.slow
def test_live_a_held_note_cross_fades_once_the_worker_delivers(default_model):
    synth = _live(default_model)
    synth.process([(0, ev.note_on(NOTE, 100))], 128)
    voice = synth.voices[0]
    first = voice.data
    synth.process([(5, event) for event in _knobs_to(synth, 127)], 128)
    assert voice.want is not None and voice.data is first  # asked for, still the old sound
    final = synth.note_request(0, NOTE, 100).key
    seconds = _run_until(synth, lambda: voice.key == final and voice.incoming is None)
    assert voice.data is not first and voice.data is synth.bank.get(final)
    print(f"\nheld note moved (fade included) {1000 * seconds:.0f} ms after the knobs")
    synth.stop_worker()


@pytest.mark.slow
def test_live_the_recent_keys_are_regenerated_when_a_knob_moves(default_model):
    synth = _live(default_model)
    for note in (NOTE, NOTE + 4):
        synth.process([(0, ev.note_on(note, 100))], 128)
        synth.process([(0, ev.note_off(note))], 128)
    synth.process([(0, event) for event in _knobs_to(synth, 127)], 128)
    wanted = synth.note_requests([(0, NOTE, 100), (0, NOTE + 4, 100), (0, NOTE + 2, 100)])
    _run_until(synth, lambda: all(synth.cached(request) for request in wanted))
    synth.process([(0, ev.note_on(NOTE, 100))], 128)
    assert synth.voices[-1].key == wanted[0].key and synth.voices[-1].want is None  # the new timbre at once
    synth.stop_worker()


def test_a_newer_request_for_the_same_note_replaces_the_older(default_model):
    from synth.notes.bank import NoteBank

    synth = Synth(default_model)
    synth.prepare(RATE, 128)
    bank = NoteBank(default_model, RATE)
    old, = synth.note_requests([(0, NOTE, 100)])
    synth.set_knob(0, 1.0, 0)
    new, = synth.note_requests([(0, NOTE, 100)])
    bank.request(old, slot=(0, NOTE))
    bank.request(new, slot=(0, NOTE))
    assert [r.key for r in bank._next_batch()] == [new.key]
