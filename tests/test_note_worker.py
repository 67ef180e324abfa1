"""The live note worker: a separate process that generates notes, and the fallback when it dies."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from synth.engine.synth import Synth
from synth.notes.bank import NoteBank
from synth.settings import Settings

RATE = 48000


def _wait_for(bank: NoteBank, count: int, seconds: float = 30.0) -> None:
    deadline = time.time() + seconds
    while len(bank) < count and time.time() < deadline:
        time.sleep(0.01)
    assert len(bank) >= count, f"the worker generated {len(bank)} of {count} notes in {seconds} s"


def test_worker_process_notes_equal_notes_generated_in_process(default_model):
    live = Synth(default_model, realtime=True)
    live.prepare(RATE, 128)
    assert live.worker.kind == "process"
    requests = live.note_requests([(0, note, 100) for note in (48, 60, 72)])
    live.queue(requests)
    _wait_for(live.bank, 3)
    here = NoteBank(default_model, RATE)
    here.ensure(requests)
    for request in requests:
        theirs, ours = live.bank.get(request.key), here.get(request.key)
        assert (theirs.loop_start, theirs.loop_end) == (ours.loop_start, ours.loop_end)
        np.testing.assert_allclose(theirs.samples, ours.samples, atol=1e-6)
    assert live.worker.error is None
    live.stop_worker()


def test_killed_worker_process_falls_back_to_a_thread(default_model):
    synth = Synth(default_model, realtime=True)
    synth.prepare(RATE, 128)
    synth.prefetch_notes([(0, 60, 100)], wait=False)
    _wait_for(synth.bank, 1)
    os.kill(synth.bank._process.pid, signal.SIGKILL)
    time.sleep(0.2)
    synth.prefetch_notes([(0, 62, 100), (0, 64, 100)], wait=False)
    _wait_for(synth.bank, 3)
    assert synth.worker.kind == "thread"
    assert "worker process" in synth.worker.error
    synth.stop_worker()


def test_thread_worker_when_configured(default_model):
    settings = Settings().with_overrides(["engine.worker_process=false"])
    synth = Synth(default_model, settings, realtime=True)
    synth.prepare(RATE, 128)
    assert synth.worker.kind == "thread"
    synth.prefetch_notes([(0, 60, 100)], wait=False)
    _wait_for(synth.bank, 1)
    synth.stop_worker()
