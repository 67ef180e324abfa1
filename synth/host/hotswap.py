"""Before a synth plays: its notes warmed up. While one plays: a model file watched, and a changed
model loaded, validated and warmed off the engine thread (``--watch``).

The engine thread never waits for any of it: the watcher hands a ready synth to the host, which
swaps it in between blocks and lets the old one's voices fade.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..engine.latent import Preset, default_presets, instrument_presets
from ..engine.synth import Synth
from ..errors import SynthError
from ..plugin.model import GeneratorModel

WARM_SLICE = 128  # hot-swap warm-up requests queued at once (the worker's queue keeps 256)
WARM_TIMEOUT_S = 60.0
WATCH_EVERY_S = 0.5
SETTLE_S = 0.2  # after a change, let the writer finish (exports write atomically, copies may not)


def mix_fading(out: np.ndarray, fading: list[tuple[Synth, int]]) -> tuple[np.ndarray, list[tuple[Synth, int]]]:
    """``out`` with the next block of each swapped-out synth still fading (``(synth, blocks
    left)``) mixed in, and the ones that go on fading."""
    mixed = out.copy()
    keep = []
    for synth, left in fading:
        mixed += synth.process((), len(out))
        if left > 1 and synth.active_voices:
            keep.append((synth, left - 1))
    np.clip(mixed, -1.0, 1.0, out=mixed)
    return mixed, keep


def presets_after_swap(presets: list[Preset], model: GeneratorModel, seed: int = 0,
                       count: int = 8) -> list[Preset] | None:
    """The presets a swapped-in ``model`` plays: the user's that fit it (seeded ones, and latents of
    its width), then its own instruments, never the old model's (their latents are another
    model's), varied by the player's ``--seed`` as at start-up. ``None``: nothing carried over, no
    instruments and no seed, so the model's default presets."""
    width = model.manifest.latent_dim
    kept = [p for p in presets if p.program is None and (p.latent is None or len(p.latent) == width)]
    if model.manifest.instruments:
        return kept + instrument_presets(model.manifest, seed)
    if kept or not seed:
        return kept or None
    return [Preset(name=p.name, seed=p.seed + seed) for p in default_presets(count)]  # as build_synth seeds them


def warm(synth: Synth, rate: int, block: int, stop: threading.Event, playing: bool = False) -> None:
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
    if playing and synth.worker.kind == "process":
        _generate_elsewhere(synth, stand_ins, stop, pin=True)
        _generate_elsewhere(synth, rest, stop)
        return
    synth.prefetch_notes(stand_ins, pin=True)
    synth.prefetch_notes(rest)


def _generate_elsewhere(synth: Synth, notes: list[tuple[int, int, int]], stop: threading.Event,
                        pin: bool = False) -> None:
    """Queue ``notes`` for the worker process in slices its queue holds and wait for each."""
    for start in range(0, len(notes), WARM_SLICE):
        requests = synth.note_requests(notes[start:start + WARM_SLICE])
        synth.queue(requests)
        deadline = time.perf_counter() + WARM_TIMEOUT_S
        while not all(synth.cached(request) for request in requests):
            if stop.is_set() or time.perf_counter() > deadline or synth.worker.kind != "process":
                synth.generate(requests)  # the worker is gone or slow: finish here
                break
            time.sleep(0.05)
        if pin:
            synth.generate(requests, pin=True)  # all cached by now: this only pins them


class ModelWatcher:
    """A thread that polls ``path``; a changed model that loads, validates and warms up is handed
    to ``ready`` (from this thread: ``ready`` must only queue it). A broken one is refused with its
    reason through ``say``, and the old model plays on."""

    def __init__(self, path: Path, make_synth: Callable[[GeneratorModel], Synth],
                 prepare: Callable[[Synth], None], ready: Callable[[Synth], None],
                 say: Callable[[str], None], stop: threading.Event) -> None:
        self.path = Path(path)
        self._make_synth, self._prepare, self._ready, self._say = make_synth, prepare, ready, say
        self._stop = stop
        self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _run(self) -> None:
        seen = self._stamp()
        while not self._stop.wait(WATCH_EVERY_S):
            now = self._stamp()
            if now is None or now == seen:
                continue
            seen = now
            time.sleep(SETTLE_S)
            try:
                new = self._make_synth(GeneratorModel.load(self.path, device="cpu", threads=1))
                self._prepare(new)
            except SynthError as error:
                self._say(f"kept the current model: {error}")
                continue
            except Exception as error:  # noqa: BLE001  a watcher must never end the music with a traceback
                self._say(f"kept the current model: it could not be prepared ({type(error).__name__}: {error})")
                continue
            if self._stop.is_set():
                new.stop_worker()
                return
            self._ready(new)
