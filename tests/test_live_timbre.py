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
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from tests.jack_harness import JackPlayer, jack_running, start_synth, stop_synth

if not jack_running():
    if os.environ.get("GANSYNTH_REQUIRE_JACK"):
        raise RuntimeError("no JACK server is running; `make test` starts one (jackd -d dummy)")
    pytest.skip("no JACK server running (make test starts one)", allow_module_level=True)

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
    stats_path = tmp_path_factory.mktemp("timbre") / "stats.json"
    proc = start_synth("gansynth-timbre", "--stats", str(stats_path))
    player = JackPlayer("gansynth-timbre-test", seconds=LENGTH_S + 3)
    player.start(_midi_port("gansynth-timbre"), ["PortAudio:out_0", "PortAudio:out_1"])
    zero = player.schedule(SCORE)
    time.sleep(0.3 + LENGTH_S + 0.3)
    audio = player.recorded(zero, LENGTH_S).mean(axis=1)
    code, err = stop_synth(proc)
    player.close()
    # Frames the test's own client missed (a cycle it was late for) stay NaN: unknown, not silence.
    return {"audio": audio, "missed": int(np.isnan(audio).sum()), "rate": player.rate,
            "xruns": player.xruns,
            "code": code, "stderr": err, "stats": json.loads(stats_path.read_text())}


def _midi_port(name: str) -> str:
    import jack

    client = jack.Client("gansynth-find", no_start_server=True)
    try:
        return client.get_ports(name, is_midi=True, is_input=True)[0].name
    finally:
        client.close()


def _struck(take, at: float, seconds: float) -> np.ndarray:
    """The note struck at ``at`` (s), from its attack (the first sample above -34 dBFS: the
    previous note's release tail is far below that by then), ``seconds`` long."""
    audio, rate = take["audio"], take["rate"]
    start = int(at * rate)
    loud = np.nonzero(np.abs(audio[start:start + int(0.3 * rate)]) > 0.02)[0]
    assert len(loud), f"no note sounded at {at} s"
    onset = start + int(loud[0])
    return audio[onset:onset + int(seconds * rate)]


FRAME = 2048


def _bands(x: np.ndarray, rate: int) -> np.ndarray:
    """Energy in 40 log-spaced bands from 50 Hz to 8 kHz, in dB, relative to their mean: the
    timbre's shape, not its level (bands more than 80 dB down count as 80 dB down). Averaged over
    frames, leaving out the frames with a cycle the test's client missed."""
    x = np.asarray(x, np.float64)
    frames = [x[i:i + FRAME] for i in range(0, len(x) - FRAME + 1, FRAME // 2)]
    frames = [f for f in frames if not np.isnan(f).any()]
    assert frames, "the test's JACK client missed every frame of this window"
    power = np.mean([np.abs(np.fft.rfft(f * np.hanning(FRAME))) ** 2 for f in frames], axis=0)
    freqs = np.fft.rfftfreq(FRAME, 1.0 / rate)
    edges = np.geomspace(50.0, 8000.0, 41)
    energy = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    db = 10.0 * np.log10(energy + 1e-20)
    db = np.maximum(db, db.max() - 80.0)
    return db - db.mean()


def _distance(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    """Mean absolute difference of the band spectra, dB."""
    return float(np.mean(np.abs(_bands(a, rate) - _bands(b, rate))))


def _window(note: np.ndarray, rate: int, start_s: float, end_s: float) -> np.ndarray:
    return note[int(start_s * rate):int(end_s * rate)]


def test_the_next_note_after_a_knob_sweep_has_the_new_timbre(take):
    rate = take["rate"]
    before, after, later = (_window(_struck(take, at, SHORT_S), rate, 0.05, SHORT_S)
                            for at in (BEFORE, AFTER_SWEEP, LATER))
    moved, settled = _distance(after, before, rate), _distance(after, later, rate)
    print(f"\nnote 20 ms after the sweep, 50-200 ms into it: spectral distance to the later note "
          f"{settled:.2f} dB, to the note before {moved:.2f} dB")
    assert settled < 0.4 * moved


def test_the_next_note_after_a_program_change_has_the_new_preset(take):
    rate = take["rate"]
    before, after, later = (_window(_struck(take, at, SHORT_S), rate, 0.05, SHORT_S)
                            for at in (PROGRAM_BEFORE, AFTER_PROGRAM, PROGRAM_LATER))
    moved, settled = _distance(after, before, rate), _distance(after, later, rate)
    print(f"\nnote 20 ms after a program change, 50-200 ms into it: distance to the later note "
          f"{settled:.2f} dB, to the note before {moved:.2f} dB")
    assert settled < 0.4 * moved


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
    own = max(np.nanmax(np.abs(np.diff(x))) for x in (fresh, untouched, held[:int((4.0 - HELD) * rate)]))
    sweep = held[int((4.0 - HELD) * rate):int((4.3 + 0.2 - HELD) * rate)]
    assert np.nanmax(np.abs(np.diff(sweep))) <= 1.05 * own


def test_no_underflow_and_a_clean_exit(take):
    assert take["code"] == 0, take["stderr"]
    assert "Traceback" not in take["stderr"]
    print(f"\nJACK xruns seen by the test client: {take['xruns']}")
    assert take["stats"]["underflows"] == 0, take["stats"]["underflow_at_s"]
    assert take["missed"] < 0.05 * len(take["audio"]), "the test's JACK client missed too many cycles to judge"
