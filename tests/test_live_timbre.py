"""Timbre you hear at once, through real parts (issue 14): `synth play` on a real JACK server
(dummy backend), real JACK MIDI in, its output recorded on the test client's JACK inputs.

One score, four parts, each on a MIDI channel of its own:
- channel 1: a note, a sweep of all nine knobs (100 messages a second), a note 20 ms after the
  sweep, and the same note 0.5 s later: the note after the sweep sounds like the later one and
  not like the one before;
- channel 2: a program change, a note 20 ms after it and one 0.5 s later: the same;
- channel 3: a note held through a sweep: 1 s after the sweep it sounds like a fresh note struck
  with the new setting, and the move has no step larger than the sound's own largest;
- channel 4: the same note with the knobs untouched, for the difference.

A note struck right after a change plays the timbre it finds cached and cross-fades to the new one
when the worker (idle priority: the audio comes first) has made it, usually within 20-40 ms; it
is judged from 100 ms into the note. The held note is judged 1 s after the sweep.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from synth.ostune import jack_server_realtime
from tests.jack_harness import JackPlayer, jack_running, midi_port, start_synth, stop_synth
from tests.spectra import band_spectrum

if not jack_running():
    if os.environ.get("GANSYNTH_REQUIRE_JACK"):
        raise RuntimeError("no JACK server is running; `make test` starts one (jackd -d dummy)")
    pytest.skip("no JACK server running (make test starts one)", allow_module_level=True)
if not jack_server_realtime():
    # Timing judged to the block needs the server a musician runs. With --no-realtime on a 2-core
    # VM the clients saw ~50 xruns per take beside one busy process (real-time: 0-1), and a burst
    # covers whole notes.
    pytest.skip("the live-timbre test needs a real-time JACK server, and this machine refused one "
                "(`chrt -f 1 true` failed; tests/run.sh then starts jackd --no-realtime)", allow_module_level=True)

NOTE, VELOCITY = 60, 100
KNOB_CCS = [1, 70, 71, 72, 73, 74, 75, 76, 77]
SHORT_S = 0.2  # short notes: with the 0.25 s release, silent again 0.45 s after the strike
HELD_S = 2.4


def _sweep(channel: int, start: float, end_value: int, seconds: float = 0.3) -> list[tuple]:
    """All nine knobs from the middle to ``end_value``, one message every 10 ms (100 a second)."""
    count = int(seconds * 100)
    events = []
    for i in range(count):
        value = round(64 + (end_value - 64) * (i + 1) / count)
        for j, cc in enumerate(KNOB_CCS):  # each knob gets the value in turn within the 10 ms
            if (i + j) % 3 == 0 or i == count - 1:
                events.append((start + i * 0.01 + j * 0.001, bytes([0xB0 | channel, cc, value])))
    return events


def _note(channel: int, at: float, hold: float) -> list[tuple]:
    return [(at, bytes([0x90 | channel, NOTE, VELOCITY])), (at + hold, bytes([0x80 | channel, NOTE, 0]))]


# When each note is struck (s from the score's start).
BEFORE, AFTER_SWEEP, LATER = 0.0, 0.918, 1.418  # channel 1: the sweep runs 0.6..0.898
PROGRAM_BEFORE, AFTER_PROGRAM, PROGRAM_LATER = 2.0, 2.52, 3.02  # channel 2: program change at 2.5
HELD, FRESH, UNTOUCHED = 3.6, 6.6, 9.4  # channel 3 held, swept 4.0..4.3; fresh note; channel 4
LENGTH_S = UNTOUCHED + HELD_S + 0.5

SCORE = (_note(0, BEFORE, SHORT_S) + _sweep(0, 0.6, 127) + _note(0, AFTER_SWEEP, SHORT_S) + _note(0, LATER, SHORT_S)
         + _note(1, PROGRAM_BEFORE, SHORT_S) + [(2.5, bytes([0xC1, 3]))] + _note(1, AFTER_PROGRAM, SHORT_S)
         + _note(1, PROGRAM_LATER, SHORT_S)
         + _note(2, HELD, HELD_S) + _sweep(2, 4.0, 0) + _note(2, FRESH, HELD_S) + _note(3, UNTOUCHED, HELD_S))


@pytest.fixture(scope="module")
def take(tmp_path_factory):
    """The score played once; again (at most twice more) when the machine was seen to stall: JACK
    xruns that left a note to be judged unreadable (a burst on this 2-core virtual machine can cover
    a whole attack), or underflows in a take whose independent test client saw xruns too (in such
    bursts the benchmarks' sine floor client underflows as well, docs/performance.md), or more
    xruns than a quiet machine makes (then the idle-priority note worker is starved too, and a
    held note follows later). The take judged is the last one: it must have no underflow."""
    for attempt in range(3):
        result = _play(tmp_path_factory.mktemp(f"timbre{attempt}"))
        stalled = (result["stats"]["underflows"] and result["xruns"]) or result["xruns"] > NOISY_XRUNS
        if not stalled and all(_readable(result, at) for at in STRUCK):
            break
    result["attempts"] = attempt + 1
    return result


NOISY_XRUNS = 25  # a quiet run of this score sees 0-20 xruns in the test client

STRUCK = (BEFORE, AFTER_SWEEP, LATER, PROGRAM_BEFORE, AFTER_PROGRAM, PROGRAM_LATER, HELD, FRESH, UNTOUCHED)


def _readable(take, at: float) -> bool:
    """Whether the note struck at ``at`` has an attack to find and at most a fifth of its first
    0.3 s unknown."""
    rate = take["rate"]
    window = take["audio"][int(at * rate):int((at + 0.3) * rate)]
    return bool(np.any(np.abs(np.nan_to_num(window)) > 0.02)) and np.isnan(window).mean() < 0.2


def _play(folder):
    stats_path = folder / "stats.json"
    proc = start_synth("gansynth-timbre", "--stats", str(stats_path))
    player = JackPlayer("gansynth-timbre-test", seconds=LENGTH_S + 3)
    player.start(midi_port("gansynth-timbre"), ["PortAudio:out_0", "PortAudio:out_1"])
    zero = player.schedule(SCORE)
    clock = [(time.monotonic(), player.frame_now())]  # to place the client's xruns in the recording
    time.sleep(0.3 + LENGTH_S + 0.3)
    clock.append((time.monotonic(), player.frame_now()))
    audio = player.recorded(zero, LENGTH_S).mean(axis=1)
    code, err = stop_synth(proc)
    player.close()
    # Frames the test's own client missed (a cycle it was late for) stay NaN: unknown, not silence.
    # So do the 10 ms around each JACK xrun it saw: an xrun glitches the recording whoever was late
    # (the test's client shares two cores with the server and the synth), not the synth's sound.
    missed = int(np.isnan(audio).sum())
    xruns = _xrun_frames(player.xrun_at, clock, zero)
    for frame in xruns:
        audio[max(0, frame - 480):max(0, frame + 480)] = np.nan
    return {"audio": audio, "missed": missed, "rate": player.rate, "xruns": player.xruns, "xrun_frames": xruns,
            "code": code, "stderr": err, "stats": json.loads(stats_path.read_text())}


def _xrun_frames(times: list[float], clock: list[tuple[float, int]], zero: int) -> list[int]:
    """The recording frames (from the score's start) at which the test client saw a JACK xrun."""
    (t0, f0), (t1, f1) = clock
    rate = (f1 - f0) / (t1 - t0)
    return [int(f0 + (t - t0) * rate) - zero for t in times]


def _steps(take, start: int, frames: int) -> tuple[np.ndarray, int]:
    """Sample-to-sample steps of the recording from ``start``, with the 10 ms around each JACK xrun
    the test client saw left out (NaN): an xrun glitches the recording whoever was late (the
    test's client shares two cores with the server and the synth), so those steps are the
    server's, not the sound's. Also returns how many xruns were left out."""
    steps = np.abs(np.diff(take["audio"][start:start + frames]))
    near = [x - start for x in take["xrun_frames"] if -480 <= x - start <= frames + 480]
    for x in near:
        steps[max(0, x - 480):max(0, x + 480)] = np.nan
    return steps, len(near)


def _struck_at(take, at: float) -> int:
    """The frame of the attack of the note struck at ``at`` s (see :func:`_struck`)."""
    audio, rate = take["audio"], take["rate"]
    start = int(at * rate)
    loud = np.nonzero(np.abs(audio[start:start + int(0.3 * rate)]) > 0.02)[0]
    assert len(loud), f"no note sounded at {at} s"
    return start + int(loud[0])


def _struck(take, at: float, seconds: float) -> np.ndarray:
    """The note struck at ``at`` (s), from its attack (the first sample above -34 dBFS: the
    previous note's release tail is far below that by then), ``seconds`` long."""
    onset = _struck_at(take, at)
    return take["audio"][onset:onset + int(seconds * take["rate"])]


def _distance(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    """Mean absolute difference of the band spectra, dB."""
    return float(np.mean(np.abs(band_spectrum(a, rate) - band_spectrum(b, rate))))


def _window(note: np.ndarray, rate: int, start_s: float, end_s: float) -> np.ndarray:
    return note[int(start_s * rate):int(end_s * rate)]


def _next_note_is_new(take, strikes: tuple[float, float, float], what: str) -> None:
    """The note struck 20 ms after ``what`` sounds like the one struck 0.5 s later, not like the
    one before (100-200 ms into each note)."""
    rate = take["rate"]
    before, after, later = (_window(_struck(take, at, SHORT_S), rate, 0.1, SHORT_S) for at in strikes)
    moved, settled = _distance(after, before, rate), _distance(after, later, rate)
    print(f"\nnote 20 ms after {what}, 100-200 ms into it: spectral distance to the later note "
          f"{settled:.2f} dB, to the note before {moved:.2f} dB")
    assert settled < 0.4 * moved


def test_the_next_note_after_a_knob_sweep_has_the_new_timbre(take):
    _next_note_is_new(take, (BEFORE, AFTER_SWEEP, LATER), "the sweep")


def test_the_next_note_after_a_program_change_has_the_new_preset(take):
    _next_note_is_new(take, (PROGRAM_BEFORE, AFTER_PROGRAM, PROGRAM_LATER), "a program change")


def test_a_held_note_moves_with_the_knobs_without_a_click(take):
    rate = take["rate"]
    held, fresh, untouched = (_struck(take, at, HELD_S) for at in (HELD, FRESH, UNTOUCHED))
    # 1 s after the sweep ended (4.3 s), 1.7 s into the held note: compare at the same place in each note.
    a, b = 4.3 + 1.0 - HELD, 4.3 + 1.3 - HELD
    moved, settled = (_distance(_window(held, rate, a, b), _window(other, rate, a, b), rate)
                      for other in (untouched, fresh))
    print(f"\nheld note 1 s after the sweep: distance to a fresh note with the new setting {settled:.2f} dB, "
          f"to the untouched note {moved:.2f} dB")
    assert settled < 0.4 * moved
    before = _struck_at(take, HELD)
    sweep_start = before + int((4.0 - HELD) * rate)
    own = max(np.nanmax(_steps(take, start, n)[0]) for start, n in (
        (before, sweep_start - before), (_struck_at(take, FRESH), int(HELD_S * rate)),
        (_struck_at(take, UNTOUCHED), int(HELD_S * rate))))
    steps, left_out = _steps(take, sweep_start, int(0.5 * rate))
    print(f"\nlargest step during the sweep {np.nanmax(steps):.4f}, the sound's own {own:.4f} "
          f"({left_out} JACK xruns near them left out)")
    assert np.nanmax(steps) <= 1.05 * own


def test_no_underflow_and_a_clean_exit(take):
    assert take["code"] == 0, take["stderr"]
    assert "Traceback" not in take["stderr"]
    print(f"\nJACK xruns seen by the test client: {take['xruns']} (takes played: {take['attempts']})")
    assert take["stats"]["underflows"] == 0, take["stats"]["underflow_at_s"]
    assert take["missed"] < 0.05 * len(take["audio"]), "the test's JACK client missed too many cycles to judge"
