"""The note cache of one model at one output rate, and the background worker that fills it.

Thread-safe: a worker (a thread that talks to the note worker process, see
:mod:`synth.notes.worker`) may store notes while the engine thread reads the cache; the lock
guards only dictionary operations, never inference.
"""

from __future__ import annotations

import atexit
import collections
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from ..ostune import lower_own_priority
from ..plugin.model import GeneratorModel
from .prepare import NoteKey, NoteRequest, PreparedNote, generate_notes
from .worker import NoteProcess, WorkerGone

WORKER_BATCH = 2  # small batches: a note a sounding voice waits for never waits long behind others
MAX_PENDING = 256


@dataclass(frozen=True)
class WorkerStatus:
    """Where new notes are generated in live use, for a host to show and tune."""

    kind: str  # "process", "thread" or "none"
    error: str | None  # why the worker process was given up, if it was
    native_id: int | None  # the OS id of the thread that receives (or generates) notes


class NoteBank:
    """Generates, resamples and caches notes for one model at one output rate (LRU, bounded in bytes)."""

    def __init__(self, model: GeneratorModel, output_rate: int, cache_bytes: int = 256 << 20) -> None:
        self.model = model
        self.output_rate = output_rate
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[NoteKey, PreparedNote] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # Newest first, and only the newest few: while a knob sweeps, older latents are stale.
        self._pending: collections.deque = collections.deque(maxlen=MAX_PENDING)
        # Requests with a slot (a channel's note at a velocity): a newer one replaces the older, so a
        # sweep of 100 controller messages a second asks for each note once, in its latest timbre.
        self._latest: OrderedDict[object, NoteRequest] = OrderedDict()
        # Slots whose note a sounding voice waits for: generated first, in batches of their own.
        self._urgent: set[object] = set()
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

    def ensure(self, requests: list[NoteRequest], model: GeneratorModel | None = None) -> None:
        """Generate every request not yet cached, in batches; with ``model`` (a sibling session of
        this bank's model, :meth:`GeneratorModel.cpu_sibling`) rather than the bank's own."""
        missing = self.missing(requests)
        for key, note in generate_notes(model or self.model, self.output_rate, missing):
            self._store(key, note)
        with self._lock:  # several threads may generate at once (the renderer's ahead workers)
            self.generated += len(missing)

    def missing(self, requests: list[NoteRequest]) -> list[NoteRequest]:
        """The requests not cached yet, without repeats."""
        missing: dict[NoteKey, NoteRequest] = {}
        with self._lock:
            for request in requests:
                if request.key not in self._cache and request.key not in missing:
                    missing[request.key] = request
        return list(missing.values())

    # -- background generation (live use) ----------------------------------------------------
    def start_worker(self, process: bool = True) -> None:
        """Start a daemon thread that generates what :meth:`request` queues, through a worker
        process (see :mod:`synth.notes.worker`) or, with ``process=False`` or if the process
        cannot run, in the thread itself."""
        if self._worker is None:
            self._stopping = False
            self._process = None
            if process:
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

    @property
    def worker_status(self) -> WorkerStatus:
        return WorkerStatus(self.worker_kind, self.worker_error, self.worker_native_id)

    def request(self, request: NoteRequest, slot: object = None, urgent: bool = False) -> None:
        """Queue a note for the worker; never blocks (the oldest requests drop when too many wait).
        A request with a ``slot`` replaces the one waiting in the same slot, and goes to the front;
        an ``urgent`` one (a voice is sounding while it waits) goes out in a batch of its own."""
        if slot is None:
            self._pending.append(request)
        else:
            with self._lock:
                self._latest.pop(slot, None)
                self._latest[slot] = request
                if urgent:
                    self._urgent.add(slot)
                else:
                    self._urgent.discard(slot)
                while len(self._latest) > MAX_PENDING:
                    self._urgent.discard(self._latest.popitem(last=False)[0])
        self._wake.set()

    def idle(self) -> bool:
        return not self._pending and not self._latest and not self._wake.is_set() and not self._busy

    def stop_worker(self, timeout: float = 5.0) -> None:
        """Drop queued requests and stop the worker after its batch; wait up to ``timeout`` seconds
        (0: do not wait; it stops on its own). A thread killed inside onnxruntime at interpreter
        exit aborts the process, hence the wait at exit."""
        if self._worker is None:
            return
        self._pending.clear()
        with self._lock:
            self._latest.clear()
            self._urgent.clear()
        self._stopping = True
        self._wake.set()
        if timeout > 0:
            self._worker.join(timeout)

    def _work(self) -> None:
        self.worker_native_id = threading.get_native_id()
        if self._process is None:
            lower_own_priority()  # generating here: only on spare CPU time
            if self.model.provider == "CUDAExecutionProvider":
                self.model.start_keep_alive()  # (the worker process starts its own)
        try:
            while not self._stopping:
                self._wake.wait()
                self._wake.clear()
                while (self._pending or self._latest) and not self._stopping:
                    self._busy = True
                    self._generate_batch(self._next_batch())
                    self._busy = False
        except Exception as exc:  # noqa: BLE001  said once by the host; the engine plays on with stand-ins
            self.worker_error = f"the note worker stopped ({type(exc).__name__}: {exc})"
        finally:
            self._busy = False
            self.model.stop_keep_alive()
            if self._process is not None:
                self._process.close()

    def _next_batch(self) -> list[NoteRequest]:
        batch = []
        with self._lock:
            # Notes that sounding voices wait for go alone: a batch of four takes four times as long.
            urgent = [slot for slot in self._latest if slot in self._urgent][-WORKER_BATCH:]
            for slot in reversed(urgent):  # newest first
                batch.append(self._latest.pop(slot))
                self._urgent.discard(slot)
            while not urgent and self._latest and len(batch) < WORKER_BATCH:
                batch.append(self._latest.popitem(last=True)[1])  # newest first
        while not urgent and self._pending and len(batch) < WORKER_BATCH:
            try:
                batch.append(self._pending.pop())  # newest first
            except IndexError:
                break
        return self.missing(batch)

    def _generate_batch(self, batch: list[NoteRequest]) -> None:
        if not batch:
            return
        if self._process is not None:
            try:
                notes = self._process.generate(batch)
            except WorkerGone as gone:
                # Keep playing: generate in this thread from now on (the GIL is shared again).
                self.worker_error = str(gone)
                self._process.close(0)
                self._process = None
                lower_own_priority()
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
