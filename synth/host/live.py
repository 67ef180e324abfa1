"""The live host: MIDI in, the engine on a worker thread, a ring buffer, an audio device.

Threads::

    ALSA MIDI (rtmidi's C queue, polled) -------+
    JACK MIDI (JACK-Client: a bounded deque) ---+
    OSC / UI / model watcher --(deque of actions)-+--> engine thread --(FrameRing)--> audio callback
    MIDI port watcher (says when a source goes or comes back, reconnects it)

ALSA MIDI is queued in C by rtmidi and polled by the engine; JACK MIDI is copied into a
bounded deque by a few lines of Python on JACK's thread (see :mod:`synth.midi.jack` for why
not rtmidi there). Control threads only queue actions; the engine thread applies them
between blocks and renders ahead into the ring (inference happens on the note worker
process, or in a thread if that dies, never in the callback); the audio callback only copies
from the ring (see :mod:`synth.host.outputs`: by default rtmixer's C callback, which never waits
for Python). Latency from a key press to sound is the ring's fill target plus one block.
"""

from __future__ import annotations

import collections
import gc
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import ostune
from ..engine.synth import Synth
from ..errors import AudioDeviceError, MidiError, SynthError
from ..files import write_text_atomically
from ..midi import events as ev
from ..midi.inputs import open_midi_inputs
from ..midi.source import MidiSource, NoMidiInput
from ..settings import DEFAULTS, save_setting
from .ahead import RewritableTail, spare_blocks
from .hotswap import ModelWatcher, mix_fading, presets_after_swap, warm
from .outputs import find_output_device, open_output
from .ring import ScopeRing
from .stats import LiveStats

SCOPE_FRAMES = 4096  # the UI's spectrum looks at this much of the latest output
SWAP_FADE_BLOCKS = 8  # the old model's voices fade out over this many blocks after a hot-swap
STALL_TIMEOUT_S = 0.75  # a device that takes no audio for this long is gone
MIDI_WATCH_S = 0.5  # how often MIDI sources are checked for being unplugged or back


@dataclass
class LiveOptions:
    audio_device: str | None = None
    samplerate: int | None = None
    blocksize: int = DEFAULTS["live"]["block_size"]
    ring_blocks: int = DEFAULTS["live"]["ring_blocks"]
    spare_ms: float = DEFAULTS["live"]["spare_ms"]
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
    seed: int = 0  # --seed: varies the presets of every model it plays, a hot-swapped one too


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
        self.midi: MidiSource | None = None
        self.level = np.zeros(2, np.float32)  # peak of the last rendered block, per channel
        self.scope = ScopeRing(SCOPE_FRAMES)  # the latest output, for the UI's spectrum
        self.load = 0.0  # render time / block duration, smoothed
        self._fading: list[tuple[Synth, int]] = []  # old synths after a hot-swap, blocks left
        self._pending: list = []  # events that found the ring full and nothing in it to rewrite
        self._retired: list[Synth] = []
        self._watcher: ModelWatcher | None = None
        self._midi_watcher: threading.Thread | None = None
        self._worker_reported: str | None = None
        self._started = time.perf_counter()
        self._block_ms = 1e9
        self._gc_started = 0.0
        self._tail = RewritableTail(0)  # sized in run(), once the block is known
        self.goal = 0  # frames the engine keeps in the ring: the latency target plus the spares

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
        self.size_ring(rate)
        self.stats.allocator = ostune.steady_allocator()
        self.synth.on_bind = self._learned
        if opts.config_path is not None:
            # Imported now, not on the first MIDI learn: an import holds the GIL for as long as it
            # compiles (hundreds of ms without cached bytecode), and the engine and the JACK MIDI
            # reader would wait for it mid-play (measured: 63 underflows and a lost note-on).
            import tomlkit  # noqa: F401
        warm(self.synth, rate, block, self.stop)
        midi_note = ""
        try:
            self.midi = open_midi_inputs(opts.midi_api, opts.midi_ports, opts.virtual_midi)
        except MidiError as error:
            if opts.osc_port is None:
                raise
            self.midi, midi_note = NoMidiInput(), f"no MIDI input ({error.message}): playing from OSC alone. "
        try:
            self.out = open_output(opts.audio_backend, device, rate, block, opts.channels,
                                   block * max(opts.ring_blocks + self.spares + 2, 4))
        except AudioDeviceError:
            self.midi.close()
            raise
        osc = self._start_osc()
        if opts.watch is not None:
            self._watcher = ModelWatcher(
                opts.watch,
                lambda model: Synth(model, self.synth.settings, presets_after_swap(
                    self.synth.presets, model, opts.seed, self.synth.settings["presets.count"])),
                lambda new: warm(new, rate, block, self.stop, playing=True),
                lambda new: self.submit(lambda host: host.swap_synth(new)), self.say, self.stop)
            self._watcher.start()
        self._midi_watcher = threading.Thread(target=self._watch_midi, name="midi-watcher", daemon=True)
        self._midi_watcher.start()
        self._install_signals()
        started = self._started = self.stats.clock_origin = time.perf_counter()
        host_api = sd.query_hostapis(info["hostapi"])["name"]
        self.stats.engine_priority = ostune.raise_priority(ostune.choose_priority(opts.engine_priority, host_api))
        self.say(f"playing {self.synth.manifest.name} on {self.synth.model.device_description}: audio {info['name']!r} "
                 f"{rate} Hz, block {block}, latency at most {self.stats.latency_frames} frames "
                 f"({1000 * self.stats.latency_frames / rate:.1f} ms), {self.spares} spare blocks beyond it, "
                 f"via {self.out.name}, engine "
                 f"{self.stats.engine_priority}, new notes in a worker {self.synth.worker.kind}; "
                 f"MIDI {', '.join(self.midi.names) or 'none'!r}" + (f"; OSC on port {osc.port}" if osc else "")
                 + ". " + midi_note + "Ctrl-C stops.")
        self._raise_receiver(self.synth)
        sys.setswitchinterval(0.001)  # hand the GIL over quickly (the sounddevice callback needs it)
        self.fill_ring()  # pre-roll before the stream starts
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
                synth.stop_worker()
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
        self.stats.rewrites, self.stats.blocks_rewritten = self._tail.rewrites, self._tail.blocks_rewritten
        self.stats.late_rewrites = self._tail.late
        if opts.stats:
            write_text_atomically(opts.stats, json.dumps(asdict(self.stats), indent=2) + "\n")
        if self.error:
            raise self.error
        return self.stats

    def size_ring(self, rate: int) -> None:
        """How much audio the engine keeps in the ring at ``rate``: the latency target, and the
        spares beyond it."""
        opts, block = self.options, self.options.blocksize
        self.rate = rate
        self.target = block * opts.ring_blocks
        self._block_ms = 1000.0 * block / rate
        self.stats.latency_frames = self.target + block
        self.spares = spare_blocks(opts.spare_ms, block, rate)
        self.goal = self.target + self.spares * block
        # MIDI lands in the first block beyond the next ring_blocks - 1 the device takes: as late as
        # the ring's target, however many spares wait beyond it.
        self._tail = RewritableTail((opts.ring_blocks - 1) * block, opts.ring_blocks + self.spares + 2)

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
            frames_out = self.out.read_position
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
            if not self.fill_ring():
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
        if not self.stats.engine_priority.startswith("SCHED_FIFO") or synth.worker.kind != "process":
            return
        for _ in range(100 if wait else 0):  # the thread records its id as it starts
            if synth.worker.native_id is not None:
                break
            time.sleep(0.01)
        ostune.make_realtime(synth.worker.native_id)

    def _report_worker(self) -> None:
        notices = self.synth.notices
        while notices:  # a program this model lacks, drums skipped: each said once
            self.say(notices.popleft())
        error = self.synth.worker.error
        if error is not None and error != self._worker_reported:
            self._worker_reported = error
            self.say(f"{error}; generating new notes in a thread from now on (dropouts are likelier)")

    def fill_ring(self) -> bool:
        """Bring the cycle's MIDI and queued actions in, then render until the ring holds its goal;
        return whether a new block was rendered.

        MIDI that changes the sound (and every action) rewinds the voices to the first block the
        device will not reach within the ring's latency target and renders the blocks from there
        again, in place, the first with the events (:class:`~synth.host.ahead.RewritableTail`);
        other MIDI (knobs, programs) shapes the notes to come at once."""
        block = self.options.blocksize
        events: list = []
        if self.midi:
            self.midi.poll(events)
        if self.actions or any(self.synth.changes_sound(event) for _, event in events):
            position = self._tail.rewind(self.synth, self.out.read_position)
            self._apply_actions()  # after the rewind: they act from the block rendered next
            end = self.out.written
            # They act in the first block rendered now (a new one if nothing could be rewound): a
            # later rewind must not undo them.
            self._tail.keep((end if position is None else position) + block)
            while position is not None and position < end:
                self._render_block(position, events, block)
                events = []
                position += block
                self._tail.blocks_rewritten += 1
        else:
            for _, event in events:
                self.synth.handle(event)  # knobs, morph, program: for the notes to come
            events = []
        rendered = False
        goal = self.target if self._fading else self.goal  # a fading model is never rewound: no spares
        while (events or self.out.fill < goal) and self.out.space() >= block:
            self._render_block(self.out.written, events, block)
            events = []
            self.stats.blocks_rendered += 1
            rendered = True
        if events:  # the ring is full and nothing in it may change (a model fades out): play them next
            self._pending.extend(events)
        before = self.out.underflows
        self.out.poll()
        if self.out.underflows != before and len(self.stats.underflow_at_s) < 100:
            self.stats.underflow_at_s.append(round(time.perf_counter() - self._started, 3))
        return rendered

    def _render_block(self, position: int, events: list, block: int) -> None:
        """Render the block at ``position`` (frames since the start) with ``events``: a new block at
        the end of the ring, or one the device has not reached, rendered again in place."""
        t0, cpu0 = time.perf_counter(), time.thread_time()
        if self._pending:
            events, self._pending = self._pending + events, []
        if events:
            self._tail.keep(position + block)
        if self._fading:
            self._tail.forget()
        else:
            self._tail.before(position, self.synth)
        out = self.synth.process(events, block)
        if self._fading:
            out, self._fading = mix_fading(out, self._fading)
        if position < self.out.written:
            self.out.overwrite(position, out)
            if self.out.read_position > position:
                self._tail.late += 1  # the device began this block before it was whole again
        else:
            self.out.write(out)
        self.level = np.abs(out).max(axis=0)
        self.scope.keep(out)
        ms = (time.perf_counter() - t0) * 1000.0
        self.load = 0.95 * self.load + 0.05 * (ms / self._block_ms)
        self.stats.peak_render_ms = max(self.stats.peak_render_ms, ms)
        if ms > self._block_ms and len(self.stats.slow_blocks) < 100:
            # Wall time far above the thread's CPU time: it waited (GIL, preempted), not worked.
            self.stats.slow_blocks.append((round(t0 - self._started, 3), round(ms, 2),
                                           round((time.thread_time() - cpu0) * 1000.0, 2), len(events)))

    def _apply_actions(self) -> None:
        while self.actions:
            action = self.actions.popleft()
            try:
                action(self)
            except SynthError as error:
                self.say(str(error))

    def _learned(self, cc: int, knob: int, ccs: list[int]) -> None:
        """Engine thread, after MIDI learn bound ``cc`` to ``knob``: save the binding into the
        config file on a thread of its own (a file write must never hold up a block)."""
        path = self.options.config_path
        if path is None:
            self.say(f"knob {knob + 1} now follows CC {cc} (start with --config FILE to keep bindings)")
            return

        def save() -> None:
            try:
                save_setting(path, "midi.knob_ccs", ccs)
            except SynthError as error:
                self.say(f"knob {knob + 1} now follows CC {cc}, but the binding was not saved: {error}")
                return
            self.say(f"knob {knob + 1} now follows CC {cc}; saved in {path}")

        threading.Thread(target=save, name="save-binding", daemon=True).start()

    # -- hot-swap --------------------------------------------------------------------------------
    def swap_synth(self, new: Synth) -> None:
        """Engine thread: play ``new`` from the next block; the old one's voices fade out."""
        old = self.synth
        for channel in range(16):
            old.handle(ev.MidiEvent(ev.CONTROL, channel, ev.CC_ALL_SOUND_OFF, 0))
        self._fading.append((old, SWAP_FADE_BLOCKS))
        self._retired.append(old)
        old.stop_worker(timeout=0)  # it generates nothing more; joined at exit
        # The channels, knobs and bindings carry over; the presets are the new synth's own (the
        # user's that fit it, then its instruments: presets_after_swap), not the old model's.
        carried = {**old.state(), "model_sha256": new.model.sha256}
        carried.pop("presets", None)
        new.load_state(carried)
        new.on_bind = self._learned
        self.synth = new
        self._raise_receiver(new, wait=False)  # the engine thread never waits
        self.stats.model_swaps += 1
        self.say(f"now playing {new.model.path.name} ({new.manifest.name})")

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
        from ..midi.osc import OscControl

        osc = OscControl(self.options.osc_port, lambda action: self.submit(lambda host: action(host.synth)))
        osc.start()
        return osc

    def _start_ui(self):
        if self.options.headless:
            return None
        from .ui import TerminalUI

        ui = TerminalUI(self)
        ui.start()
        return ui

    def _install_signals(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())
