"""The live host: MIDI in, the engine on a worker thread, a ring buffer, an audio device.

Threads::

    ALSA MIDI (rtmidi's C queue, polled) -------+
    JACK MIDI (JACK-Client: a bounded deque) ---+
    OSC / UI / model watcher --(deque of actions)-+--> engine thread --(FrameRing)--> audio callback
    MIDI port watcher (says when a source goes or comes back, reconnects it)

ALSA MIDI is queued in C by rtmidi and polled by the engine; JACK MIDI is copied into a
bounded deque by a few lines of Python on JACK's thread (see :mod:`synth.midi_jack` for why
not rtmidi there). Control threads only queue actions; the engine thread applies them
between blocks and renders ahead into the ring (inference happens on the note worker
process, or in a thread if that dies, never in the callback); the audio callback only copies
from the ring (see :mod:`synth.audio_out`: by default rtmixer's C callback, which never waits
for Python). Latency from a key press to sound is the ring's fill target plus one block.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import events as ev
from .audio_out import open_output
from .engine import Synth
from .errors import AudioDeviceError, SynthError
from .latent import write_text_atomically
from .midi_in import MidiInputs, open_midi_inputs
from .model import GeneratorModel

SWAP_FADE_BLOCKS = 8  # the old model's voices fade out over this many blocks after a hot-swap
ENGINE_RT_PRIORITY = 60  # below JACK's own real-time threads (70+), above everything else
RECEIVER_RT_PRIORITY = 50  # the note receiver: below the engine
WARM_SLICE = 128  # hot-swap warm-up requests queued at once (the worker's queue keeps 256)
WARM_TIMEOUT_S = 60.0
STALL_TIMEOUT_S = 0.75  # a device that takes no audio for this long is gone
MIDI_WATCH_S = 0.5  # how often MIDI sources are checked for being unplugged or back


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


@dataclass
class LiveOptions:
    audio_device: str | None = None
    samplerate: int | None = None
    blocksize: int = 128
    ring_blocks: int = 2
    channels: int = 2
    midi_ports: list[str] = field(default_factory=list)
    virtual_midi: str | None = None
    midi_api: str = "auto"
    headless: bool = True
    audio_backend: str = "rtmixer"
    engine_priority: str = "auto"
    stats: Path | None = None
    duration_s: float | None = None
    osc_port: int | None = None
    watch: Path | None = None
    config_path: Path | None = None
    preset_dir: Path = Path("presets")


@dataclass
class LiveStats:
    notes_played: int = 0
    notes_skipped: int = 0
    underflows: int = 0
    audio_backend: str = ""
    engine_priority: str = ""
    blocks_rendered: int = 0
    peak_render_ms: float = 0.0
    peak_callback_ms: float = 0.0
    latency_frames: int = 0  # the most a key press can wait: ring target plus one block (measured p50 is lower)
    midi_events: int = 0
    osc_messages: int = 0
    model_swaps: int = 0
    seconds: float = 0.0
    allocator: str = ""
    underflow_at_s: list[float] = field(default_factory=list)  # when the first 100 happened
    # Blocks that took longer to render than they last (first 100): (at s, wall ms, engine CPU ms, events)
    slow_blocks: list[tuple[float, float, float, int]] = field(default_factory=list)
    engine_stalls: list[tuple[float, float]] = field(default_factory=list)  # (at s, ms) loop gaps over 2 blocks
    gc_pauses: list[tuple[float, int, float]] = field(default_factory=list)  # (at s, generation, ms) over 1 ms
    clock_origin: float = 0.0  # CLOCK_MONOTONIC seconds of "at s" = 0, to line the times up with other tools
    # Blocks rendered ahead of their MIDI (as soon as the ring was full): played as rendered (the
    # MIDI brought nothing that changes the sound), or rendered again with the MIDI's events.
    blocks_ahead_played: int = 0
    blocks_ahead_redone: int = 0


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


class LiveHost:
    """Runs a :class:`Synth` against an audio device until stopped."""

    def __init__(self, synth: Synth, options: LiveOptions, log: Callable[[str], None] | None = None) -> None:
        self.synth, self.options = synth, options
        self.stats = LiveStats()
        self.actions: collections.deque = collections.deque(maxlen=4096)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.messages: collections.deque = collections.deque(maxlen=8)  # recent status lines for the UI
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.midi: MidiInputs | None = None
        self.level = np.zeros(2, np.float32)  # peak of the last rendered block, per channel
        self.load = 0.0  # render time / block duration, smoothed
        self._fading: list[tuple[Synth, int]] = []  # old synths after a hot-swap, blocks left
        self._retired: list[Synth] = []
        self._watcher: threading.Thread | None = None
        self._midi_watcher: threading.Thread | None = None
        self._worker_reported: str | None = None
        self._started = time.perf_counter()
        self._block_ms = 1e9
        self._gc_started = 0.0
        self._gate = MidiCycleGate(self.options.blocksize)
        self._ahead: list | None = None  # Synth.mark() from before the block rendered ahead
        self._ahead_block: np.ndarray | None = None

    # -- control from other threads ---------------------------------------------------------------
    def submit(self, action: Callable[[LiveHost], None]) -> None:
        """Queue ``action(host)`` for the engine thread, which runs it between blocks (never blocks)."""
        self.actions.append(action)

    def say(self, text: str) -> None:
        self.messages.append(text)
        if self.options.headless:
            self.log(text)

    # -- running -----------------------------------------------------------------------------------
    def run(self) -> LiveStats:
        import sounddevice as sd

        opts = self.options
        device = find_output_device(opts.audio_device)
        info = sd.query_devices(device)
        self.device_name = info["name"]
        rate = int(opts.samplerate or info["default_samplerate"])
        block = opts.blocksize
        self.target = block * opts.ring_blocks
        self._block_ms = 1000.0 * block / rate
        self._gate.period_s = block / rate
        self.stats.latency_frames = self.target + block
        self.rate = rate
        self.stats.allocator = _steady_allocator()
        self._warm(self.synth, rate, block)
        self.midi = open_midi_inputs(opts.midi_api, opts.midi_ports, opts.virtual_midi)
        try:
            self.out = open_output(opts.audio_backend, device, rate, block, opts.channels,
                                   block * max(opts.ring_blocks + 2, 4))
        except AudioDeviceError:
            self.midi.close()
            raise
        osc = self._start_osc()
        self._watcher = self._start_watcher()
        self._midi_watcher = threading.Thread(target=self._watch_midi, name="midi-watcher", daemon=True)
        self._midi_watcher.start()
        self._install_signals()
        started = self._started = self.stats.clock_origin = time.perf_counter()
        host_api = sd.query_hostapis(info["hostapi"])["name"]
        self.stats.engine_priority = _raise_priority(choose_priority(opts.engine_priority, host_api))
        self.say(f"playing {self.synth.manifest.name} on {self.synth.model.device_description}: audio {info['name']!r} "
                 f"{rate} Hz, block {block}, latency at most {self.stats.latency_frames} frames "
                 f"({1000 * self.stats.latency_frames / rate:.1f} ms) via {self.out.name}, engine "
                 f"{self.stats.engine_priority}, new notes in a worker {self.synth.bank.worker_kind}; "
                 f"MIDI {', '.join(self.midi.names)!r}" + (f"; OSC on port {osc.port}" if osc else "")
                 + ". Ctrl-C stops.")
        self._raise_receiver(self.synth)
        sys.setswitchinterval(0.001)  # hand the GIL over quickly (the sounddevice callback needs it)
        self._fill()  # pre-roll before the stream starts
        gc.collect()
        gc.freeze()  # nothing allocated so far is ever scanned again: shorter GC pauses
        gc.callbacks.append(self._time_gc)
        ui = self._start_ui()
        try:
            self.out.start()
            self._engine_loop(started)
            # Counted now: once the engine stops, the callbacks until the stream closes underflow.
            self.stats.underflows = self.out.underflows
        finally:
            self.stop.set()
            if self.error is None:
                self.out.close()  # a dead JACK connection can hang PortAudio's close: leave it
            if ui:
                ui.close()
            self._midi_watcher.join(timeout=5)  # it uses the MIDI client: stop it before closing
            self.midi.close()
            if osc:
                osc.close()
            if self._watcher is not None:
                self._watcher.join(timeout=10)
            for synth in [self.synth, *self._retired]:
                synth.bank.stop_worker()
            if self._time_gc in gc.callbacks:
                gc.callbacks.remove(self._time_gc)
        self.stats.peak_callback_ms = self.out.peak_callback_ms
        self.stats.audio_backend = self.out.name
        played = [self.synth, *self._retired]  # a hot-swap retires the synth that played so far
        self.stats.notes_played = sum(synth.notes_played for synth in played)
        self.stats.notes_skipped = sum(synth.notes_skipped for synth in played)
        self.stats.midi_events = self.midi.received
        self.stats.osc_messages = osc.received if osc else 0
        self.stats.seconds = time.perf_counter() - started
        if opts.stats:
            write_text_atomically(opts.stats, json.dumps(asdict(self.stats), indent=2) + "\n")
        if self.error:
            raise self.error
        return self.stats

    def _warm(self, synth: Synth, rate: int, block: int, playing: bool = False) -> None:
        """Generate every key at every velocity bucket before the sound starts (a few seconds), so
        the first notes played need no inference; one velocity per key stays pinned as stand-ins.
        (Generating them in the background while playing made the first seconds drop out.)
        ``playing``: a hot-swap while the old model plays; the new model's worker process does
        the work, so this process's GIL stays free for the engine."""
        synth.realtime = True
        synth.prepare(rate, block)
        m = synth.manifest
        keys = range(max(0, m.pitch_min - 12), min(127, m.pitch_max + 12) + 1)
        buckets = synth.settings["engine.velocity_buckets"]
        velocities = [min(127, int((b + 0.5) * 128 / buckets)) for b in range(buckets)]
        stand_ins = [(0, key, 100) for key in keys]
        rest = [(0, key, v) for v in velocities for key in range(m.pitch_min, m.pitch_max + 1)]
        if playing and synth.bank.worker_kind == "process":
            self._generate_elsewhere(synth, stand_ins, pin=True)
            self._generate_elsewhere(synth, rest)
            return
        synth.prefetch_notes(stand_ins, pin=True)
        synth.prefetch_notes(rest)

    def _generate_elsewhere(self, synth: Synth, notes: list[tuple[int, int, int]], pin: bool = False) -> None:
        """Queue ``notes`` for the worker process in slices its queue holds and wait for each."""
        for start in range(0, len(notes), WARM_SLICE):
            requests = [synth._note_request(c, n, v)[:3] for c, n, v in notes[start:start + WARM_SLICE]]
            for request in requests:
                synth.bank.request(*request)
            deadline = time.perf_counter() + WARM_TIMEOUT_S
            while not all(synth.bank.get(key) is not None for key, _, _ in requests):
                if self.stop.is_set() or time.perf_counter() > deadline or synth.bank.worker_kind != "process":
                    synth.bank.ensure(requests)  # the worker is gone or slow: finish here
                    break
                time.sleep(0.05)
            if pin:
                synth.bank.pin([key for key, _, _ in requests])

    def _engine_loop(self, started: float) -> None:
        period = self.options.blocksize / self.synth.sample_rate
        consumed, last_progress = -1, time.perf_counter()
        previous = last_progress
        while not self.stop.is_set():
            now = time.perf_counter()
            if now - previous > 2 * period and len(self.stats.engine_stalls) < 100:
                # The loop itself did not come round for two blocks (sleeping longer than asked,
                # waiting for the GIL, switched out): what an underflow with no slow block means.
                self.stats.engine_stalls.append((round(previous - self._started, 3), round((now - previous) * 1e3, 2)))
            previous = now
            if self.options.duration_s and now - started > self.options.duration_s:
                break
            # A device that stops pulling audio (JACK server killed, USB card unplugged) may never
            # say so: watch the frames it consumes.
            frames_out = self.stats.blocks_rendered * self.options.blocksize - self.out.fill
            if frames_out != consumed:
                consumed, last_progress = frames_out, now
            if not self.out.active or now - last_progress > STALL_TIMEOUT_S:
                self.error = AudioDeviceError(f"the audio device {self.device_name!r} stopped taking audio "
                                              "(unplugged, or the JACK server went away)",
                                              hint="check it with `synth devices` and start again")
                break
            wake = getattr(self.midi, "wake", None)
            if wake is not None:
                wake.clear()  # before looking: a cycle from now on wakes the wait below at once
            if not self._fill():
                self._report_worker()
                if wake is not None:
                    wake.wait(period / 8)  # JACK MIDI: woken by the cycle's MIDI read
                else:
                    time.sleep(period / 8)

    def _time_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        ms = (time.perf_counter() - self._gc_started) * 1000.0
        if ms > 1.0 and len(self.stats.gc_pauses) < 100:
            self.stats.gc_pauses.append((round(self._gc_started - self._started, 3), info["generation"], round(ms, 2)))

    def _raise_receiver(self, synth: Synth, wait: bool = True) -> None:
        """With a real-time engine, make the thread that receives notes from the worker process
        real-time too, just below the engine. It holds the GIL for a moment per note; at normal
        priority any busy process could switch it out mid-moment, and the engine would wait
        (measured: 10 ms blocks with 1 ms of engine CPU in them)."""
        bank = synth.bank
        if not self.stats.engine_priority.startswith("SCHED_FIFO") or bank.worker_kind != "process":
            return
        for _ in range(100 if wait else 0):  # the thread records its id as it starts
            if bank.worker_native_id is not None:
                break
            time.sleep(0.01)
        try:
            os.sched_setscheduler(bank.worker_native_id, os.SCHED_FIFO, os.sched_param(RECEIVER_RT_PRIORITY))
        except (OSError, TypeError, AttributeError):
            pass

    def _report_worker(self) -> None:
        error = self.synth.bank.worker_error
        if error is not None and error != self._worker_reported:
            self._worker_reported = error
            self.say(f"{error}; generating new notes in a thread from now on (dropouts are likelier)")

    def _awaiting_midi_cycle(self) -> bool:
        return self._gate.waiting(self.midi, self.out.fill)

    def _fill(self) -> bool:
        """Render blocks until the ring holds its target; return whether anything was rendered."""
        rendered = False
        block = self.options.blocksize
        while self.out.fill < self.target and self.out.space() >= block:
            if self._awaiting_midi_cycle():
                break
            t0, cpu0 = time.perf_counter(), time.thread_time()
            if self.actions:
                self._drop_ahead()  # actions may change the synth (or swap it): render after them
            self._apply_actions()
            events: list = []
            if self.midi:
                self.midi.poll(events)
            out = self._next_block(events, block)
            if self._fading:
                out = self._mix_fading(out)
            self.out.write(out)
            self.level = np.abs(out).max(axis=0)
            ms = (time.perf_counter() - t0) * 1000.0
            self.load = 0.95 * self.load + 0.05 * (ms / (1000.0 * block / self.synth.sample_rate))
            self.stats.peak_render_ms = max(self.stats.peak_render_ms, ms)
            if ms > self._block_ms and len(self.stats.slow_blocks) < 100:
                # Wall time far above the thread's CPU time: it waited (GIL, preempted), not worked.
                self.stats.slow_blocks.append((round(t0 - self._started, 3), round(ms, 2),
                                               round((time.thread_time() - cpu0) * 1000.0, 2), len(events)))
            self.stats.blocks_rendered += 1
            rendered = True
        self._render_ahead(block)  # the ring is full (or awaits the MIDI): get the next block ready
        before = self.out.underflows
        self.out.poll()
        if self.out.underflows != before and len(self.stats.underflow_at_s) < 100:
            self.stats.underflow_at_s.append(round(time.perf_counter() - self._started, 3))
        return rendered

    def _render_ahead(self, block: int) -> None:
        """Render the next block now, as if the MIDI until then brings nothing. When it brings
        nothing that changes the sound, the block goes out the moment there is room (with JACK,
        the moment the cycle's MIDI is read): the ring is then short of a block for microseconds
        instead of for a whole render, and that short moment is when a machine pause (after which
        JACK runs two cycles back to back) turns into a dropout."""
        if self._ahead is not None or self._fading or self.actions:
            return
        if self._ahead_block is None or len(self._ahead_block) != block:
            self._ahead_block = np.zeros((block, 2), np.float32)
        self._ahead = self.synth.mark()
        np.copyto(self._ahead_block, self.synth.process((), block))

    def _next_block(self, events: list, block: int) -> np.ndarray:
        """The block for this cycle: the one rendered ahead if the events allow, else rendered now."""
        if self._ahead is not None:
            synth = self.synth
            if not any(synth.changes_sound(event) for _, event in events):
                for _, event in events:
                    synth.handle(event)  # knobs, morph, program: for the notes to come
                self._ahead = None
                self.stats.blocks_ahead_played += 1
                return self._ahead_block
            self._drop_ahead()
            self.stats.blocks_ahead_redone += 1
        return self.synth.process(events, block)

    def _drop_ahead(self) -> None:
        if self._ahead is not None:
            self.synth.rewind(self._ahead)
            self._ahead = None

    def _apply_actions(self) -> None:
        while self.actions:
            action = self.actions.popleft()
            try:
                action(self)
            except SynthError as error:
                self.say(str(error))

    # -- hot-swap --------------------------------------------------------------------------------
    def swap_synth(self, new: Synth) -> None:
        """Engine thread: play ``new`` from the next block; the old one's voices fade out."""
        old = self.synth
        for channel in range(16):
            old.handle(ev.MidiEvent(ev.CONTROL, channel, ev.CC_ALL_SOUND_OFF, 0))
        self._fading.append((old, SWAP_FADE_BLOCKS))
        self._retired.append(old)
        old.bank.stop_worker(timeout=0)  # it generates nothing more; joined at exit
        new.load_state({**old.state(), "model_sha256": new.model.sha256})
        self.synth = new
        self._raise_receiver(new, wait=False)  # the engine thread never waits
        self.stats.model_swaps += 1
        self.say(f"now playing {new.model.path.name} ({new.manifest.name})")

    def _mix_fading(self, out):
        mixed = out.copy()
        keep = []
        for synth, left in self._fading:
            mixed += synth.process((), len(out))
            if left > 1 and synth.active_voices:
                keep.append((synth, left - 1))
        self._fading = keep
        np.clip(mixed, -1.0, 1.0, out=mixed)
        return mixed

    def _start_watcher(self) -> threading.Thread | None:
        path = self.options.watch
        if path is None:
            return None
        thread = threading.Thread(target=self._watch, args=(Path(path),), name="model-watcher", daemon=True)
        thread.start()
        return thread

    def _watch(self, path: Path) -> None:
        """Poll the model file; load, validate and warm a changed one off the engine thread."""
        def stamp():
            try:
                st = path.stat()
                return (st.st_mtime_ns, st.st_size)
            except OSError:
                return None

        seen = stamp()
        while not self.stop.wait(0.5):
            now = stamp()
            if now is None or now == seen:
                continue
            seen = now
            time.sleep(0.2)  # let the writer finish (exports write atomically, copies may not)
            try:
                model = GeneratorModel.load(path, device="cpu", threads=1)
                new = Synth(model, self.synth.settings, [p for p in self.synth.presets])
                self._warm(new, self.rate, self.options.blocksize, playing=True)
            except SynthError as error:
                self.say(f"kept the current model: {error}")
                continue
            if self.stop.is_set():
                new.bank.stop_worker()
                return
            self.submit(lambda host, new=new: host.swap_synth(new))

    def _watch_midi(self) -> None:
        """Say when a MIDI source goes away (the engine plays on) and when it is reconnected."""
        while not self.stop.wait(MIDI_WATCH_S):
            try:
                news = self.midi.watch()
            except Exception as exc:  # noqa: BLE001  watching is a courtesy: it must never stop the music
                if not getattr(self.midi, "server_gone", False):  # a dead server is the audio side's to say
                    self.say(f"stopped watching MIDI ports ({exc})")
                return
            for line in news:
                self.say(line)

    # -- OSC and UI ------------------------------------------------------------------------------
    def _start_osc(self):
        if self.options.osc_port is None:
            return None
        from .osc import OscControl

        osc = OscControl(self.options.osc_port, lambda action: self.submit(lambda host: action(host.synth)))
        osc.start()
        return osc

    def _start_ui(self):
        if self.options.headless:
            return None
        from .live_ui import TerminalUI

        ui = TerminalUI(self)
        ui.start()
        return ui

    def _install_signals(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest: notes (about a megabyte) come from the heap
TRIM_THRESHOLD_BYTES = (1 << 31) - 1  # never give heap memory back: no syscall inside free()


def _steady_allocator() -> str:
    """Make ``free`` a bookkeeping step with no system call, so no thread ever waits on the kernel
    to release note memory.

    Measured through the stress benchmark: with glibc's defaults, once the note cache was full and
    evicting, one ``free`` trimmed tens of megabytes off the heap top inside the engine thread (a
    12 ms block, 32 s into every run). A fixed 256 KiB mmap threshold cured that but put every note
    in its own mapping, and each ``munmap`` needs the other CPU to flush its TLB: on a virtual
    machine that wait showed up as blocks of 6-12 ms wall time with under 1 ms of CPU. Notes now
    live on the heap and freed memory stays there for the next note (the cache bounds it).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and libc.mallopt(M_TRIM_THRESHOLD,
                                                                                  TRIM_THRESHOLD_BYTES)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to tune
        return "system default"
    return "glibc, heap kept, no trimming" if ok else "system default"


def jack_server_realtime() -> bool | None:
    """Whether the running JACK server schedules its clients in real time (None: no server)."""
    try:
        import jack

        client = jack.Client("gansynth-probe", no_start_server=True)
    except Exception:  # noqa: BLE001  no JACK-Client, no libjack or no server: cannot tell
        return None
    try:
        return bool(client.realtime)
    finally:
        client.close()


def choose_priority(wanted: str, host_api: str) -> str:
    """``auto``: ``fifo`` under a real-time JACK server (the engine thread then ranks just below
    JACK's own threads, like the audio callback it feeds), else ``nice``: in a server started with
    --no-realtime, a real-time engine thread would preempt the server's own threads."""
    if wanted != "auto":
        return wanted
    if "JACK" in host_api and jack_server_realtime():
        return "fifo"
    return "nice"


def _raise_priority(wanted: str) -> str:
    """Raise the engine thread's priority as far as ``wanted`` (normal, nice, fifo) and the system
    allow; returns what it got."""
    if wanted == "normal" or not hasattr(os, "setpriority"):
        return "normal"
    if wanted == "fifo" and hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(ENGINE_RT_PRIORITY))
            return f"SCHED_FIFO {ENGINE_RT_PRIORITY}"
        except (OSError, PermissionError):
            pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
        return "nice -10"
    except (OSError, PermissionError):
        return "normal"


def summary(stats: LiveStats) -> str:
    return (f"played {stats.notes_played} notes in {stats.seconds:.1f} s; underflows {stats.underflows}; "
            f"peak render {stats.peak_render_ms:.2f} ms, peak callback {stats.peak_callback_ms:.3f} ms; "
            f"MIDI events {stats.midi_events}")
