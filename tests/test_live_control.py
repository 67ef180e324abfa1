"""Live control through real parts: OSC, model hot-swap, several keyboards, a JACK server going away."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from synth.pitch import pitch_error_cents
from tests.jack_harness import ROOT, JackPlayer, jack_running, midi_port, release_probe, start_synth, stop_synth

if not jack_running():
    if os.environ.get("GANSYNTH_REQUIRE_JACK"):
        raise RuntimeError("no JACK server is running; `make test` starts one (jackd -d dummy)")
    pytest.skip("no JACK server running (make test starts one)", allow_module_level=True)

AUDIO = ["PortAudio:out_0", "PortAudio:out_1"]


def _note_sounds(audio: np.ndarray, rate: int, note: int) -> bool:
    segment = np.nan_to_num(audio[int(0.15 * rate):int(0.45 * rate)])
    cents = pitch_error_cents(segment, rate, note)
    return cents is not None and abs(cents) < 50


def test_osc_plays_notes_and_moves_knobs(tmp_path):
    from pythonosc.udp_client import SimpleUDPClient

    stats = tmp_path / "stats.json"
    proc, lines = _start_with_osc(9471, "--stats", str(stats), "--virtual-midi", "gansynth-osc")
    player = JackPlayer("gansynth-osc-test")
    player.start(None, AUDIO)
    client = SimpleUDPClient("127.0.0.1", 9471)
    zero = player.frame_now()
    client.send_message("/synth/knob", [0, 0.9])
    client.send_message("/synth/note", [64, 100])
    time.sleep(0.6)
    client.send_message("/synth/note", [64, 0])
    client.send_message("/synth/bogus", [1])
    client.send_message("/synth/knob", ["not a number", 2])
    time.sleep(0.4)
    audio = player.recorded(zero, 0.9).mean(axis=1)
    code, err = _stop(proc, lines)
    player.close()
    assert code == 0, err
    assert _note_sounds(audio, player.rate, 64)
    data = json.loads(stats.read_text())
    assert data["osc_messages"] == 3 and data["notes_played"] == 1


def test_hot_swap_keeps_playing_and_refuses_a_broken_file(tmp_path, tiny_model_path):
    from synth.plugin.model import DEFAULT_MODEL

    watched = tmp_path / "live.onnx"
    shutil.copy(DEFAULT_MODEL, watched)
    stats = tmp_path / "stats.json"
    proc = start_synth("gansynth-swap", "--watch", str(watched), "--stats", str(stats))
    time.sleep(0.5)
    staged = tmp_path / "staged.onnx"
    shutil.copy(tiny_model_path, staged)
    os.replace(staged, watched)  # an atomic replace, as `synth export` writes
    time.sleep(2.5)
    watched.write_bytes(b"half a model")
    time.sleep(1.5)
    code, err = stop_synth(proc)
    assert code == 0, err
    data = json.loads(stats.read_text())
    assert data["model_swaps"] == 1
    assert data["underflows"] == 0, {k: data[k] for k in ("underflow_at_s", "slow_blocks", "engine_stalls",
                                                          "gc_pauses")} | {"stderr": err}
    assert "now playing live.onnx (tiny)" in err
    assert "kept the current model" in err and "not a readable ONNX model" in err


def test_two_keyboards_play_at_once(tmp_path):
    player = JackPlayer("gansynth-keys", midi_outs=2)
    player.start(None, [])
    stats = tmp_path / "stats.json"
    proc = start_synth(None, "--midi-port", "gansynth-keys", "--stats", str(stats))
    for sink, source in zip(("in_0", "in_1"), AUDIO):
        player.client.connect(source, f"gansynth-keys:{sink}")
    zero = player.schedule([(0.0, bytes([0x90, 60, 100]), 0), (0.5, bytes([0x80, 60, 0]), 0),
                            (1.0, bytes([0x90, 67, 100]), 1), (1.5, bytes([0x80, 67, 0]), 1)])
    time.sleep(2.3)
    audio = player.recorded(zero, 2.0).mean(axis=1)
    code, err = stop_synth(proc)
    player.close()
    assert code == 0, err
    assert "gansynth-keys:midi_out_0" in err and "gansynth-keys:midi_out_1" in err
    rate = player.rate
    assert _note_sounds(audio, rate, 60) and _note_sounds(audio[rate:], rate, 67)


def _wait_for_server(name: str, server: subprocess.Popen, timeout: float = 15.0) -> None:
    """Until a client can join the JACK server ``name`` (a fixed sleep was too short on a busy machine)."""
    import jack

    release_probe()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"jackd -n {name} exited with code {server.returncode}")
        try:
            jack.Client("gansynth-ready", no_start_server=True, servername=name).close()
            return
        except jack.JackError:
            time.sleep(0.1)
    raise RuntimeError(f"jackd -n {name} did not accept clients within {timeout} s")


def test_jack_server_going_away_is_one_sentence_and_an_exit(tmp_path):
    # A fixed name: JACK keeps at most 8 servers in its registry and frees a dead server's entry only
    # when a server of the same name starts again; a name per run filled it up after a few runs.
    name = "gansynth-gone"
    server = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "128"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_server(name, server)
        proc = start_synth("gansynth-gone", server=name)
        time.sleep(1.0)
        server.terminate()
        server.wait(timeout=10)
        started = time.time()
        _, err = proc.communicate(timeout=15)
        assert time.time() - started < 5
    finally:
        if server.poll() is None:
            server.kill()
    assert proc.returncode == 2
    lines = [line for line in err.strip().splitlines() if not line.startswith("playing")]
    assert len(lines) == 1 and "JACK server went away" in lines[0] and "Traceback" not in err


def test_midi_flood_keeps_playing_and_stays_bounded(tmp_path):
    """10,000 messages per second for 3 s through a JACK MIDI port (clock, active sensing, SysEx,
    aftertouch, bends, knob CCs) while a note is held: the note keeps sounding, the synth exits
    cleanly, and only channel messages reach the engine."""
    stats = tmp_path / "stats.json"
    proc = start_synth("gansynth-flood", "--stats", str(stats))
    player = JackPlayer("gansynth-flooder", seconds=8)
    player.start(midi_port("gansynth-flood"), AUDIO)
    junk = [bytes([0xF8]), bytes([0xFE]), bytes([0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7]), bytes([0xA0, 60, 10]),
            bytes([0xE0, 0, 64]), bytes([0xB0, 74, 64])]
    flood = [(k / 10000.0, junk[k % len(junk)]) for k in range(30000)]
    events = [(0.0, bytes([0x90, 57, 100])), *flood, (3.2, bytes([0x80, 57, 0]))]
    zero = player.schedule(sorted(events, key=lambda e: e[0]))
    time.sleep(0.3 + 3.6)
    audio = player.recorded(zero, 3.2).mean(axis=1)
    code, err = stop_synth(proc)
    player.close()
    assert code == 0, err
    summary = json.loads(stats.read_text())
    channel_messages = sum(1 for _, data in events if data[0] < 0xF0)
    assert 0 < summary["midi_events"] <= channel_messages  # clock, sensing and SysEx never reach the engine
    rate = player.rate
    held = np.nan_to_num(audio[int(0.2 * rate):int(3.0 * rate)])
    blocks = np.abs(held[: len(held) // 128 * 128]).reshape(-1, 128).max(axis=1)
    assert (blocks > 1e-4).mean() > 0.98, "the held note dropped out under the flood"
    assert _note_sounds(audio, rate, 57)
    print(f"\nMIDI flood: {summary['midi_events']} events reached the engine, underflows {summary['underflows']}")


class _StderrLines:
    """Reads a running synth's stderr on a thread, so a test can wait for a line with a timeout."""

    def __init__(self, proc) -> None:
        import threading

        self.lines: list[str] = []
        self.thread = threading.Thread(target=lambda: self.lines.extend(proc.stderr), daemon=True)
        self.thread.start()

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [line for line in list(self.lines) if text in line]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no line with {text!r} within {timeout} s: {self.lines}")


def _start_with_osc(port: int, *extra: str) -> tuple[subprocess.Popen, _StderrLines]:
    """``synth play`` with OSC on ``port``, once it listens there. Its JACK ports open before its
    OSC socket, and UDP sent to a port nobody has bound is lost: on a busy machine the first
    message went nowhere."""
    proc = start_synth(None, "--osc-port", str(port), *extra)
    lines = _StderrLines(proc)
    lines.wait_for(f"OSC on port {port}", timeout=30)
    return proc, lines


def _stop(proc: subprocess.Popen, lines: _StderrLines) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=10)
    lines.thread.join(timeout=5)
    return code, "".join(lines.lines)


def test_keyboard_unplugged_and_replugged_keeps_playing(tmp_path):
    """The keyboard's MIDI port vanishes mid-play (its client closes, as a USB keyboard's does):
    the synth says so within a second, plays on without an underflow, reconnects when a port
    of that name comes back, and the note played on it sounds."""
    stats = tmp_path / "stats.json"
    keyboard = JackPlayer("gansynth-kbd", seconds=2)
    keyboard.start(None, [])
    recorder = JackPlayer("gansynth-kbd-rec")
    proc = start_synth(None, "--midi-port", "gansynth-kbd:", "--stats", str(stats))
    err = _StderrLines(proc)
    try:
        recorder.start(None, AUDIO)
        keyboard.schedule([(0.0, bytes([0x90, 60, 100])), (0.4, bytes([0x80, 60, 0]))])
        time.sleep(0.8)
        keyboard.close()
        unplugged = time.time()
        line = err.wait_for("went away", timeout=3)
        assert time.time() - unplugged < 1.5 and "gansynth-kbd:midi_out_0" in line
        assert proc.poll() is None, "the synth stopped when its keyboard went away"

        keyboard = JackPlayer("gansynth-kbd", seconds=2)
        keyboard.start(None, [])
        err.wait_for("is back", timeout=3)
        zero = keyboard.schedule([(0.0, bytes([0x90, 67, 100])), (0.5, bytes([0x80, 67, 0]))])
        time.sleep(1.2)
        audio = recorder.recorded(zero, 0.6).mean(axis=1)  # one JACK clock for every client
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        err.thread.join(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
        keyboard.close()
        recorder.close()
    assert code == 0, "".join(err.lines)
    summary = json.loads(stats.read_text())
    assert _note_sounds(audio, recorder.rate, 67)
    assert summary["notes_played"] == 2 and summary["underflows"] == 0


def test_osc_plays_with_no_midi_input_anywhere(tmp_path):
    """--osc-port with no MIDI port to open (here: a JACK port name nobody has) still plays."""
    from pythonosc.udp_client import SimpleUDPClient

    stats = tmp_path / "stats.json"
    proc, lines = _start_with_osc(9472, "--stats", str(stats), "--midi-port", "no-such-keyboard")
    player = JackPlayer("gansynth-osc-only")
    player.start(None, AUDIO)
    zero = player.frame_now()
    client = SimpleUDPClient("127.0.0.1", 9472)
    client.send_message("/synth/note", [67, 100])
    time.sleep(0.6)
    client.send_message("/synth/note", [67, 0])
    time.sleep(0.2)
    audio = player.recorded(zero, 0.7).mean(axis=1)
    code, err = _stop(proc, lines)
    player.close()
    assert code == 0, err
    assert "playing from OSC alone" in err and "no-such-keyboard" in err
    assert _note_sounds(audio, player.rate, 67)
    assert json.loads(stats.read_text())["notes_played"] == 1


def test_jack_without_a_midi_port_suggests_a_virtual_port():
    """JACK runs but offers no MIDI source: the one sentence says how to get one."""
    result = subprocess.run([sys.executable, "-m", "synth", "play", "--headless", "--audio-device", "jack",
                             "--duration", "1"], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 2
    assert "--virtual-midi" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
