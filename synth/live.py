"""The live host: MIDI in, the engine on a worker thread, a ring buffer, a sounddevice stream.

Threads::

    rtmidi thread --(deque of events)--> engine thread --(FrameRing)--> audio callback

The rtmidi callback only parses and queues; the engine thread renders blocks
ahead into the ring (inference happens here, never in the callback); the audio
callback only copies from the ring and counts underflows. Latency from a key
press to sound is the ring's fill target plus one block.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import json
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .engine import Synth
from .errors import AudioDeviceError, MidiError
from .events import from_bytes
from .latent import write_text_atomically
from .ring import FrameRing

MIDI_APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK"}
MAX_QUEUED_EVENTS = 4096


@dataclass
class LiveOptions:
    audio_device: str | None = None
    samplerate: int | None = None
    blocksize: int = 128
    ring_blocks: int = 2
    channels: int = 2
    midi_port: str | None = None
    virtual_midi: str | None = None
    midi_api: str = "auto"
    headless: bool = True
    stats: Path | None = None
    duration_s: float | None = None


@dataclass
class LiveStats:
    notes_played: int = 0
    underflows: int = 0
    blocks_rendered: int = 0
    peak_render_ms: float = 0.0
    peak_callback_ms: float = 0.0
    latency_frames: int = 0
    midi_events: int = 0
    midi_dropped: int = 0
    seconds: float = 0.0


@contextlib.contextmanager
def quiet_c_stderr():
    """Silence what C libraries print on stderr (ALSA's 'cannot open /dev/snd/seq' on a machine
    without sound hardware): the user gets our one sentence instead."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def find_output_device(spec: str | None) -> int:
    """``spec``: a device index, or a substring of a device or host-API name; ``None``: the default."""
    import sounddevice as sd

    devices = sd.query_devices()
    apis = sd.query_hostapis()
    outputs = [i for i, d in enumerate(devices) if d["max_output_channels"] > 0]
    if not outputs:
        raise AudioDeviceError("no audio output device found",
                               hint="list devices with `synth devices`; with no sound card, start a JACK server "
                                    "(jackd -d dummy)")
    if spec is None:
        default = sd.default.device[1]
        return default if default is not None and default >= 0 and default in outputs else outputs[0]
    if spec.isdigit():
        if int(spec) in outputs:
            return int(spec)
        raise AudioDeviceError(f"audio device {spec} is not an output device",
                               hint="list devices with `synth devices`")
    needle = spec.lower()
    for i in outputs:
        if needle in devices[i]["name"].lower() or needle in apis[devices[i]["hostapi"]]["name"].lower():
            return i
    raise AudioDeviceError(f"no audio output device matches {spec!r}", hint="list devices with `synth devices`")


def open_midi_input(options: LiveOptions, queue: collections.deque, stats: LiveStats):
    """Open the MIDI input the options name; its callback only parses and queues (frame-stamped later)."""
    import rtmidi

    wanted = [options.midi_api] if options.midi_api != "auto" else ["alsa", "jack"]
    midi_in, failures = None, []
    for name in wanted:
        api = getattr(rtmidi, f"API_{MIDI_APIS[name]}")
        if api not in rtmidi.get_compiled_api():
            failures.append(f"{name}: not built into python-rtmidi")
            continue
        try:
            with quiet_c_stderr():
                midi_in = rtmidi.MidiIn(api, name="gansynth")
            break
        except rtmidi.SystemError as exc:
            failures.append(f"{name}: {exc}")
    if midi_in is None:
        hint = {"alsa": "this machine has no ALSA sequencer (/dev/snd/seq); try --midi-api jack",
                "jack": "is the JACK server running? try --midi-api alsa"}.get(
            options.midi_api, "start a JACK server or load the ALSA sequencer (snd-seq)")
        raise MidiError(f"cannot open a MIDI input ({'; '.join(failures)})", hint=hint)
    midi_in.ignore_types(sysex=True, timing=True, active_sense=True)
    if options.virtual_midi:
        midi_in.open_virtual_port(options.virtual_midi)
        port_name = options.virtual_midi
    else:
        ports = midi_in.get_ports()
        if not ports:
            raise MidiError("no MIDI input port found",
                            hint="plug in a keyboard, list ports with `synth devices`, or use --virtual-midi NAME")
        index = 0
        if options.midi_port is not None:
            matches = [i for i, p in enumerate(ports)
                       if (options.midi_port.isdigit() and i == int(options.midi_port))
                       or options.midi_port.lower() in p.lower()]
            if not matches:
                raise MidiError(f"no MIDI input port matches {options.midi_port!r}",
                                hint="list ports with `synth devices`")
            index = matches[0]
        midi_in.open_port(index)
        port_name = ports[index]

    def on_message(message, _data=None):
        event = from_bytes(message[0])
        if event is None:
            return
        if len(queue) >= MAX_QUEUED_EVENTS:
            stats.midi_dropped += 1  # a flood: keep the queue bounded, drop the newest
            return
        queue.append(event)
        stats.midi_events += 1

    midi_in.set_callback(on_message)
    return midi_in, port_name


class LiveHost:
    """Runs a :class:`Synth` against an audio device until stopped."""

    def __init__(self, synth: Synth, options: LiveOptions) -> None:
        self.synth, self.options = synth, options
        self.stats = LiveStats()
        self.events: collections.deque = collections.deque()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> LiveStats:
        import sounddevice as sd

        opts = self.options
        device = find_output_device(opts.audio_device)
        info = sd.query_devices(device)
        rate = int(opts.samplerate or info["default_samplerate"])
        block = opts.blocksize
        self.ring = FrameRing(block * max(opts.ring_blocks + 2, 4), opts.channels)
        self.target = block * opts.ring_blocks
        self.stats.latency_frames = self.target + block
        # Every key at one velocity now (so any note has a stand-in), the other velocities meanwhile.
        self.synth.realtime = True
        self.synth.prepare(rate, block)
        m = self.synth.manifest
        self.synth.prefetch_notes([(0, key, 100) for key in range(max(0, m.pitch_min - 12),
                                                                  min(127, m.pitch_max + 12) + 1)])
        buckets = self.synth.settings["engine.velocity_buckets"]
        velocities = [min(127, int((b + 0.5) * 128 / buckets)) for b in range(buckets)]
        self.synth.prefetch_notes([(0, key, v) for v in velocities for key in range(m.pitch_min, m.pitch_max + 1)],
                                  wait=False)
        midi_in, port = open_midi_input(opts, self.events, self.stats)
        self._install_signals()
        started = time.perf_counter()
        callback_ms = [0.0]
        ring = self.ring

        def callback(outdata, frames, _time, status):
            t0 = time.perf_counter()
            ring.read_into(outdata)
            elapsed = (time.perf_counter() - t0) * 1000.0
            if elapsed > callback_ms[0]:
                callback_ms[0] = elapsed

        try:
            stream = sd.OutputStream(samplerate=rate, blocksize=block, device=device, channels=opts.channels,
                                     dtype="float32", callback=callback, latency="low",
                                     finished_callback=self.stop.set)
        except sd.PortAudioError as exc:
            midi_in.close_port()
            raise AudioDeviceError(f"cannot open audio device {info['name']!r} at {rate} Hz ({exc})",
                                   hint="try another --samplerate or --audio-device; `synth devices` lists them"
                                   ) from None
        print(f"playing {self.synth.manifest.name} on {self.synth.model.provider}: audio {info['name']!r} "
              f"{rate} Hz, block {block}, latency {self.stats.latency_frames} frames "
              f"({1000 * self.stats.latency_frames / rate:.1f} ms); MIDI {port!r}. Ctrl-C stops.",
              file=sys.stderr, flush=True)
        sys.setswitchinterval(0.001)  # hand the GIL to the audio callback quickly
        self._fill()  # pre-roll before the stream starts
        gc.collect()
        gc.freeze()
        with stream:
            self._engine_loop(stream, started)
        midi_in.close_port()
        self.stats.underflows = ring.underflows
        self.stats.peak_callback_ms = callback_ms[0]
        self.stats.notes_played = self.synth.notes_played
        self.stats.seconds = time.perf_counter() - started
        if opts.stats:
            write_text_atomically(opts.stats, json.dumps(asdict(self.stats), indent=2) + "\n")
        if self.error:
            raise self.error
        return self.stats

    def _engine_loop(self, stream, started: float) -> None:
        period = self.options.blocksize / self.synth.sample_rate
        while not self.stop.is_set():
            if self.options.duration_s and time.perf_counter() - started > self.options.duration_s:
                break
            if not stream.active:
                self.error = AudioDeviceError("the audio stream stopped (device or JACK server gone?)")
                break
            if not self._fill():
                time.sleep(period / 4)

    def _fill(self) -> bool:
        """Render blocks until the ring holds its target; return whether anything was rendered."""
        rendered = False
        block = self.options.blocksize
        while self.ring.fill < self.target and self.ring.space() >= block:
            events = []
            while self.events:
                events.append((0, self.events.popleft()))
            t0 = time.perf_counter()
            self.ring.write(self.synth.process(events, block))
            ms = (time.perf_counter() - t0) * 1000.0
            self.stats.peak_render_ms = max(self.stats.peak_render_ms, ms)
            self.stats.blocks_rendered += 1
            rendered = True
        return rendered

    def _install_signals(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())


def summary(stats: LiveStats) -> str:
    return (f"played {stats.notes_played} notes in {stats.seconds:.1f} s; underflows {stats.underflows}; "
            f"peak render {stats.peak_render_ms:.2f} ms, peak callback {stats.peak_callback_ms:.3f} ms; "
            f"MIDI events {stats.midi_events} (dropped {stats.midi_dropped})")


