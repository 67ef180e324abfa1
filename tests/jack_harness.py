"""A JACK client of the test's own: plays timed MIDI into the synth and records what it outputs.

Real parts only: the synth runs as a subprocess against a real JACK server (dummy backend),
this client is a real JACK client with a real MIDI port and audio inputs.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# What the tests started and have not stopped yet. A test that fails half way leaves its synth
# playing into PortAudio:out_*; the next synth's client is then renamed PortAudio-01, and the next
# tests recorded the old, silent one (CI: four failures from one). ``cleanup`` runs after every test.
_running_synths: list[subprocess.Popen] = []
_open_players: list[JackPlayer] = []


def jack_running() -> bool:
    try:
        import jack

        jack.Client("gansynth-probe", no_start_server=True).close()
        return True
    except Exception:
        return False


class JackPlayer:
    """Schedules MIDI at absolute JACK frames and records two audio inputs with their frame times."""

    def __init__(self, name: str = "gansynth-test", seconds: float = 20.0, midi_outs: int = 1) -> None:
        import jack

        self.client = jack.Client(name, no_start_server=True)
        self.rate = self.client.samplerate
        self.midi_outs = [self.client.midi_outports.register(f"midi_out_{i}") for i in range(midi_outs)]
        self.midi_out = self.midi_outs[0]
        self.inputs = [self.client.inports.register(f"in_{i}") for i in range(2)]
        # NaN marks frames this client never saw (a cycle it missed): not the synth's silence.
        self.recording = np.full((int(seconds * self.rate), 2), np.nan, np.float32)
        self.xruns = 0
        self.xrun_at: list[float] = []  # CLOCK_MONOTONIC seconds of the first 1000 xruns
        self.start_frame: int | None = None  # absolute frame of recording[0]
        self.queue: collections.deque = collections.deque()
        self.lock = threading.Lock()
        self.closing = False
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.closed = False
        _open_players.append(self)

    def _xrun(self, _delay_usecs: float) -> None:
        if not self.closing:
            self.xruns += 1
            if len(self.xrun_at) < 1000:
                self.xrun_at.append(time.monotonic())

    def _process(self, frames: int) -> None:
        if self.closing:
            return
        now = self.client.last_frame_time
        for port in self.midi_outs:
            port.clear_buffer()
        while self.queue and self.queue[0][0] < now + frames:
            frame, data, port = self.queue.popleft()
            self.midi_outs[port].write_midi_event(max(0, frame - now), data)
        if self.start_frame is None:
            self.start_frame = now
        offset = now - self.start_frame
        if offset + frames <= len(self.recording):
            for channel, port in enumerate(self.inputs):
                self.recording[offset:offset + frames, channel] = port.get_array()

    def start(self, synth_midi_port: str | None, synth_audio_ports: list[str]) -> None:
        self.client.activate()
        deadline = time.time() + 5
        while self.start_frame is None and time.time() < deadline:  # recording starts with the first cycle
            time.sleep(0.005)
        if synth_midi_port:
            self.client.connect(self.midi_out, synth_midi_port)
        for source, sink in zip(synth_audio_ports, self.inputs):
            self.client.connect(source, sink)

    def frame_now(self) -> int:
        # jack_frame_time is an estimate from the clock; just after activation it can fall a few
        # frames before the first cycle's frame, where the recording begins (seen on CI: 6 frames).
        return max(self.client.frame_time, self.start_frame or 0)

    def schedule(self, events: list[tuple], lead_s: float = 0.3) -> int:
        """Queue ``(seconds_from_now, midi_bytes[, port_index])``; returns the absolute frame of time zero."""
        zero = self.frame_now() + int(lead_s * self.rate)
        for event in sorted(events, key=lambda e: e[0]):
            port = event[2] if len(event) > 2 else 0
            self.queue.append((zero + int(event[0] * self.rate), bytes(event[1]), port))
        return zero

    def recorded(self, from_frame: int, seconds: float) -> np.ndarray:
        start = from_frame - self.start_frame
        if start < 0:
            raise ValueError(f"frame {from_frame} is before the recording began ({self.start_frame})")
        return self.recording[start:start + int(seconds * self.rate)]

    def close(self) -> None:
        # libjack stops a client's process thread with pthread_cancel. Cancelled inside this
        # Python callback, the thread would die holding the GIL and hang the test process;
        # so first make the callback return at once and let a few cycles pass.
        if self.closed:
            return
        self.closed = True
        if self in _open_players:
            _open_players.remove(self)
        self.closing = True
        time.sleep(8 * self.client.blocksize / self.rate + 0.05)
        self.client.deactivate()
        self.client.close()


_probes: list = []


def _probe():
    """One JACK client on the default server for looking at ports, opened once and never closed by
    the tests: under load a probe's close (jack_client_close) once waited on the server for good
    while a synth opened its ports, and hung the suite. It closes when the process exits."""
    import jack

    if not _probes:
        _probes.append(jack.Client("gansynth-look", no_start_server=True))
    return _probes[0]


def release_probe() -> None:
    """Close the default server's probe before talking to another server: a process's libjack talks
    to one server at a time (a client meant for another server otherwise lands on this one)."""
    if _probes:
        _probes.pop().close()


def midi_port(name: str) -> str:
    """The full name of the JACK MIDI input port whose name contains ``name``."""
    return _probe().get_ports(name, is_midi=True, is_input=True)[0].name


def start_synth(port_name: str | None, *extra: str, server: str | None = None,
                command: list[str] | None = None) -> subprocess.Popen:
    """``synth play --headless`` on JACK (with a virtual MIDI port unless ``port_name`` is None),
    or ``command`` in its place; returns once its ports exist."""
    import jack

    if server is None:
        _wait_for_no_synth_ports()
    midi_args = ["--virtual-midi", port_name] if port_name else []
    cmd = command or [sys.executable, "-m", "synth", "play", "--headless", "--midi-api", "jack", *midi_args,
                      "--audio-device", "jack", *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if server:
        env["JACK_DEFAULT_SERVER"] = server
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _running_synths.append(proc)
    # Another server goes away during its test: its probe is closed while it still answers.
    if server is not None:
        release_probe()
    probe = _probe() if server is None else jack.Client("gansynth-wait", no_start_server=True, servername=server)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"synth play exited early: {proc.stderr.read()}")
            midi = [p.name for p in probe.get_ports(port_name, is_midi=True, is_input=True)] if port_name else [1]
            audio = [p.name for p in probe.get_ports("PortAudio", is_audio=True, is_output=True)]
            if midi and len(audio) >= 2:
                if server is None and audio[:2] != ["PortAudio:out_0", "PortAudio:out_1"]:
                    raise RuntimeError(f"the synth's output ports are {audio}, not PortAudio:out_0/1")
                return proc
            time.sleep(0.1)
        raise RuntimeError("synth play did not open its ports within 60 s")
    finally:
        if server is not None:
            probe.close()


def _synth_ports() -> list[str]:
    return [p.name for p in _probe().get_ports("PortAudio", is_audio=True, is_output=True)]


def _wait_for_no_synth_ports(timeout: float = 5.0) -> None:
    """Every test's synth must be the only PortAudio client: the tests record PortAudio:out_*."""
    deadline = time.time() + timeout
    while (ports := _synth_ports()) and time.time() < deadline:
        time.sleep(0.1)
    if ports:
        raise RuntimeError(f"a synth from an earlier test still plays into {ports}; the tests record "
                           "PortAudio:out_0/1, so stop it first")


def cleanup() -> None:
    """Stop what a test left running (it failed before its own stop): its players, then its synths."""
    for player in list(_open_players):
        player.close()
    for proc in list(_running_synths):
        if proc.poll() is None:
            stop_synth(proc, timeout=5.0)
        elif proc in _running_synths:
            _running_synths.remove(proc)


def stop_synth(proc: subprocess.Popen, timeout: float = 10.0) -> tuple[int, str]:
    if proc in _running_synths:
        _running_synths.remove(proc)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return -9, err
    return proc.returncode, err
