"""Generated notes, ready to play: batched inference, resampling, sustain loops, a cache.

A :class:`PreparedNote` is one generated note at the output sample rate with a
loop region at its end, so a key held past the generated length keeps sounding:
the loop region is flattened to a steady level and cross-faded at its seam, and
the voice continues the note's own measured decay over it. Notes are cached by
(pitch, velocity bucket, latent), so a repeated note costs no inference.
"""

from __future__ import annotations

import atexit
import collections
import hashlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import soxr

from .model import GeneratorModel

LOOP_START_SHARE = 0.6  # the loop spans the last 40% of the note
LOOP_CROSSFADE_S = 0.08
ENVELOPE_WINDOW_S = 0.02
MAX_BATCH = 16
WORKER_BATCH = 4  # small batches keep the worker's GIL-holding stretches short
MAX_PENDING = 256


@dataclass(frozen=True)
class NoteKey:
    """What identifies a generated note: the model's pitch, a velocity bucket and a latent digest."""

    pitch: int
    velocity_bucket: int
    latent_digest: bytes
    shift_semitones: int = 0  # played this far from the generated pitch (baked in, band-limited)


NoteRequest = tuple[NoteKey, np.ndarray, float]  # what to generate: key, latent, model velocity 0..1


@dataclass
class PreparedNote:
    """``samples`` is float32 ``[loop_end + 1]`` at the output rate; ``samples[loop_end] == samples[loop_start]``."""

    samples: np.ndarray
    loop_start: int
    loop_end: int
    decay_per_sample: float  # natural-log amplitude decay the voice applies past ``decay_start``
    decay_start: int  # where the flattened region begins (the note's own decay stops there)
    pitch: int

    @property
    def nbytes(self) -> int:
        return self.samples.nbytes


def latent_digest(z: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(z, np.float32).tobytes(), digest_size=12).digest()


def _frame_rms(x: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """RMS per window (at least one frame) and the window length used: frame ``i`` is centred on
    ``(i + 0.5) * window``."""
    frames = max(1, len(x) // window)
    window = len(x) // frames
    rms = np.sqrt(np.mean(np.square(x[: frames * window], dtype=np.float32).reshape(frames, window), axis=1)) + 1e-9
    return rms.astype(np.float64), window


def ramps_between_frames(values: np.ndarray, window: int, length: int) -> np.ndarray:
    """``values`` at frame centres ``(i + 0.5) * window`` joined by straight lines, flat before the
    first and after the last, at samples ``0..length-1`` (float32): what ``np.interp`` gives, but by
    broadcasting one ramp per frame: ``np.interp`` searched per sample, 0.9 of the 1.1 ms that
    :func:`make_loopable` took per note."""
    out = np.empty(length, np.float32)
    first = -(-window // 2)  # the first sample at or after the first centre
    out[:first] = values[0]
    if len(values) > 1:
        steps = (np.arange(window) + (first - 0.5 * window)) / window
        ramps = (values[:-1, None] + (values[1:] - values[:-1])[:, None] * steps).ravel()
        end = min(length, first + len(ramps))
        out[first:end] = ramps[:end - first]
        out[end:] = values[-1]
    else:
        out[first:] = values[0]
    return out


def make_loopable(audio: np.ndarray, sample_rate: int) -> PreparedNote:
    """Prepare one note ``[num_samples]`` for playback with a seamless sustain loop.

    Kept cheap (well under a millisecond): it runs on the note worker thread beside
    the live engine, and everything it does holds Python's GIL.
    """
    n = len(audio)
    loop_start = int(n * LOOP_START_SHARE)
    loop_end = n - 1
    crossfade = min(int(LOOP_CROSSFADE_S * sample_rate), loop_start, (loop_end - loop_start) // 2)
    flatten_start = loop_start - crossfade
    region = audio[flatten_start:loop_end + 1]
    rms, window = _frame_rms(region, max(1, int(ENVELOPE_WINDOW_S * sample_rate)))
    # Measure the natural decay over the loop (a log-linear fit over frames), then flatten the region
    # to a steady level (gain 1 where flattening starts, so there is no step); the voice re-applies
    # the decay as it plays the loop.
    log_rms = np.log(rms)
    if len(rms) > 2:
        centres = (np.arange(len(rms)) + 0.5) * window
        dt = centres - centres.mean()
        slope = float(np.dot(dt, log_rms - log_rms.mean()) / np.dot(dt, dt))
    else:
        slope = 0.0
    decay = float(np.clip(-slope, 0.0, 60.0 / 8.686 / sample_rate))  # at most 60 dB per second
    gain_frames = np.clip(rms[0] / rms, 0.1, 10.0)
    gain = ramps_between_frames(gain_frames, window, len(region))
    gain /= gain[0]
    samples = np.empty(loop_end + 1, np.float32)
    samples[:flatten_start] = audio[:flatten_start]
    np.multiply(region, gain, out=samples[flatten_start:])
    if crossfade:
        # Blend the loop's end into the audio just before its start, so the jump back is seamless.
        w = np.linspace(0.0, 1.0, crossfade, endpoint=False, dtype=np.float32)
        tail = slice(loop_end - crossfade, loop_end)
        before = samples[flatten_start:loop_start].copy()
        samples[tail] = samples[tail] * (1.0 - w) + before * w
    samples[loop_end] = samples[loop_start]
    return PreparedNote(samples, loop_start, loop_end, decay, flatten_start, -1)


def prepare_note(audio: np.ndarray, model_rate: int, output_rate: int, pitch: int,
                 shift_semitones: int = 0) -> PreparedNote:
    """Resample one generated note to the output rate, shifted by ``shift_semitones`` (soxr
    low-passes as it goes, so a note shifted up never aliases), and add the sustain loop."""
    target = output_rate / 2.0 ** (shift_semitones / 12.0)
    if model_rate != target:
        audio = soxr.resample(audio, model_rate, target, quality="HQ").astype(np.float32, copy=False)
    note = make_loopable(audio, output_rate)
    note.pitch = pitch
    return note


def generate_notes(model: GeneratorModel, output_rate: int,
                   requests: list[NoteRequest]) -> list[tuple[NoteKey, PreparedNote]]:
    """Generate and prepare ``(key, z, velocity)`` requests in batches of at most ``MAX_BATCH``."""
    done = []
    for start in range(0, len(requests), MAX_BATCH):
        chunk = requests[start:start + MAX_BATCH]
        z = np.stack([z for _, z, _ in chunk]).astype(np.float32)
        pitch = np.array([key.pitch for key, _, _ in chunk], np.int64)
        velocity = np.array([v for _, _, v in chunk], np.float32)
        audio = model.generate(z, pitch, velocity)
        for (key, _, _), row in zip(chunk, audio):
            done.append((key, prepare_note(row, model.manifest.sample_rate, output_rate, key.pitch,
                                           key.shift_semitones)))
    return done


class NoteBank:
    """Generates, resamples and caches notes for one model at one output rate (LRU, bounded in bytes).

    Thread-safe: a background worker (``start_worker``) may generate notes while the engine
    thread reads the cache; the lock guards only dictionary operations, never inference.
    """

    def __init__(self, model: GeneratorModel, output_rate: int, cache_bytes: int = 256 << 20) -> None:
        self.model = model
        self.output_rate = output_rate
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[NoteKey, PreparedNote] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # Newest first, and only the newest few: while a knob sweeps, older latents are stale.
        self._pending: collections.deque = collections.deque(maxlen=MAX_PENDING)
        self._by_pitch: dict[tuple[int, int], dict[NoteKey, None]] = {}  # for nearest()
        self._pinned: set[NoteKey] = set()  # never evicted: the stand-ins of last resort
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None
        self._process = None  # a NoteProcess while the worker generates out of process
        self._stopping = False
        self._busy = False
        self.worker_error: str | None = None  # why the worker process was given up, if it was
        self.worker_native_id: int | None = None  # the worker thread's OS id (the live host may raise it)
        self.generated = 0  # notes inferred so far (cache misses)
        self.hits = 0

    def get(self, key: NoteKey) -> PreparedNote | None:
        with self._lock:
            note = self._cache.get(key)
            if note is not None:
                self._cache.move_to_end(key)
                self.hits += 1
            return note

    def pin(self, keys: list[NoteKey]) -> None:
        """Keep these cached notes for good (the live host pins one note per key at start)."""
        with self._lock:
            self._pinned.update(k for k in keys if k in self._cache)

    def nearest(self, key: NoteKey) -> tuple[PreparedNote, int] | None:
        """A cached stand-in for ``key``: same pitch, shift and latent at the closest velocity bucket,
        else the same pitch and shift with any latent. Returns the note and its velocity bucket."""
        best, best_rank = None, None
        with self._lock:
            for other in self._by_pitch.get((key.pitch, key.shift_semitones), ()):
                note = self._cache[other]
                rank = (other.latent_digest != key.latent_digest, abs(other.velocity_bucket - key.velocity_bucket))
                if best_rank is None or rank < best_rank:
                    best, best_rank = (note, other.velocity_bucket), rank
        return best

    def ensure(self, requests: list[NoteRequest]) -> None:
        """Generate every requested ``(key, z, velocity)`` not yet cached, in batches."""
        missing = self.missing(requests)
        for key, note in generate_notes(self.model, self.output_rate, missing):
            self._store(key, note)
        self.generated += len(missing)

    def missing(self, requests: list[NoteRequest]) -> list[NoteRequest]:
        """The requests not cached yet, without repeats."""
        missing: dict[NoteKey, NoteRequest] = {}
        with self._lock:
            for key, z, velocity in requests:
                if key not in self._cache and key not in missing:
                    missing[key] = (key, z, velocity)
        return list(missing.values())

    # -- background generation (live use) ----------------------------------------------------
    def start_worker(self, process: bool = True) -> None:
        """Start a daemon thread that generates what :meth:`request` queues, through a worker
        process (see :mod:`synth.note_process`) or, with ``process=False`` or if the process
        cannot run, in the thread itself."""
        if self._worker is None:
            self._stopping = False
            self._process = None
            if process:
                from .note_process import NoteProcess

                self._process = NoteProcess(self.model, self.output_rate)
            self._worker = threading.Thread(target=self._work, name="note-generator", daemon=True)
            self._worker.start()
            atexit.register(self.stop_worker)  # a thread killed inside onnxruntime aborts the process

    @property
    def worker_kind(self) -> str:
        """Where background notes are generated: ``process``, ``thread`` or ``none``."""
        if self._worker is None:
            return "none"
        return "process" if self._process is not None else "thread"

    def request(self, key: NoteKey, z: np.ndarray, velocity: float) -> None:
        """Queue a note for the worker; never blocks (the oldest requests drop when too many wait)."""
        self._pending.append((key, z, velocity))
        self._wake.set()

    def idle(self) -> bool:
        return not self._pending and not self._wake.is_set() and not self._busy

    def stop_worker(self, timeout: float = 5.0) -> None:
        """Drop queued requests and stop the worker after its batch; wait up to ``timeout`` seconds
        (0: do not wait; it stops on its own). A thread killed inside onnxruntime at interpreter
        exit aborts the process, hence the wait at exit."""
        if self._worker is None:
            return
        self._pending.clear()
        self._stopping = True
        self._wake.set()
        if timeout > 0:
            self._worker.join(timeout)

    def _work(self) -> None:
        self.worker_native_id = threading.get_native_id()
        if self._process is None:
            _lower_own_priority()  # generating here: only on spare CPU time
            if self.model.provider == "CUDAExecutionProvider":
                self.model.start_keep_alive()  # (the worker process starts its own)
        try:
            while not self._stopping:
                self._wake.wait()
                self._wake.clear()
                while self._pending and not self._stopping:
                    self._busy = True
                    self._generate_batch(self._next_batch())
                    self._busy = False
        finally:
            self._busy = False
            self.model.stop_keep_alive()
            if self._process is not None:
                self._process.close()

    def _next_batch(self) -> list[NoteRequest]:
        batch = []
        while self._pending and len(batch) < WORKER_BATCH:
            try:
                batch.append(self._pending.pop())  # newest first
            except IndexError:
                break
        return self.missing(batch)

    def _generate_batch(self, batch: list[NoteRequest]) -> None:
        if not batch:
            return
        if self._process is not None:
            from .note_process import WorkerGone

            try:
                notes = self._process.generate(batch)
            except WorkerGone as gone:
                # Keep playing: generate in this thread from now on (the GIL is shared again).
                self.worker_error = str(gone)
                self._process.close(0)
                self._process = None
                _lower_own_priority()
                notes = generate_notes(self.model, self.output_rate, batch)
            for key, note in notes:
                self._store(key, note)
            self.generated += len(batch)
            return
        started = time.perf_counter()
        self.ensure(batch)
        # Half duty at most: the engine thread and the audio server share the machine.
        time.sleep(min(time.perf_counter() - started, 0.05))

    def _store(self, key: NoteKey, note: PreparedNote) -> None:
        with self._lock:
            if key in self._cache:
                return
            self._cache[key] = note
            self._by_pitch.setdefault((key.pitch, key.shift_semitones), {})[key] = None
            self._bytes += note.nbytes
            for _ in range(len(self._cache)):
                if self._bytes <= self.cache_bytes or len(self._cache) <= len(self._pinned) + 1:
                    break
                old_key, old = self._cache.popitem(last=False)
                if old_key in self._pinned:
                    self._cache[old_key] = old  # back to the young end; try the next oldest
                    continue
                del self._by_pitch[(old_key.pitch, old_key.shift_semitones)][old_key]
                self._bytes -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._by_pitch.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._cache)


def _lower_own_priority() -> None:
    """Run the calling thread only on CPU time nothing else wants (Linux SCHED_IDLE), else at nice 19.

    Generating notes while playing competes with the audio server and its clients for the same
    cores; measured through JACK on 2 cores, a worker at nice 10 during knob sweeps caused most
    of the dropouts. Inference releases the GIL, so an idle-class worker does not hold up the
    engine thread while it waits for a core.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:  # Linux: a thread is a task
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
