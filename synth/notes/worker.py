"""Generate notes in a separate process, so the live engine never waits for Python's GIL.

A note worker *thread* shares the GIL with the engine thread that fills the audio ring.
Inference releases it, but resampling and loop preparation hold it in short stretches;
a worker thread in a low scheduling class can be switched out while it holds the GIL, and
the engine then waits for it (a priority inversion the stress benchmark heard as dropouts
during knob sweeps). A worker process has its own interpreter.

The child is ``synth.notes.worker`` run as a plain subprocess (not ``multiprocessing``,
whose spawn re-imports the parent's main script), talking over its stdin/stdout in
length-prefixed pickles. The parent sends a list of ``NoteRequest`` and receives
``("notes", [(NoteKey, loop_start, loop_end, decay, decay_start, pitch, length), ...])``
followed by each note's raw float32 samples, which the parent reads straight into their
arrays: the kernel copies them while the GIL is free, so the engine's only cost per note
is a small unpickle and a dictionary store. ``None`` asks the child to exit. The child
loads the same model file and checks its hash.
"""

from __future__ import annotations

import io
import os
import pickle
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import SynthError
from ..ostune import lower_own_priority
from ..plugin.model import GeneratorModel
from .prepare import PreparedNote, generate_notes

START_TIMEOUT_S = 60.0
MAX_HEADER_BYTES = 64 << 20
# The child's first lines: take the idle scheduling class *before* importing numpy and
# onnxruntime. Starting up is half a second of CPU; at normal priority, on two cores, it held the
# engine off for 6 ms during a hot-swap (an underflow in 1 of 6 runs of the hot-swap test).
CHILD_BOOTSTRAP = """import os, runpy
try:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
except (AttributeError, OSError):
    os.nice(19)
runpy.run_module("synth.notes.worker", run_name="__main__")
"""


class WorkerGone(SynthError):
    """The note worker process failed to start or died."""


def _write_all(stream: io.FileIO, data) -> None:
    view = memoryview(data).cast("B")
    while view:
        written = stream.write(view)
        view = view[written:]


def _read_into(stream: io.FileIO, view: memoryview) -> None:
    """Fill ``view`` from the pipe; ``readinto`` releases the GIL while the kernel copies."""
    while view:
        got = stream.readinto(view)
        if not got:
            raise EOFError("the pipe closed")
        view = view[got:]


def send_message(stream: io.FileIO, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(stream, len(data).to_bytes(8, "little") + data)


def receive_message(stream: io.FileIO) -> object:
    size_bytes = bytearray(8)
    _read_into(stream, memoryview(size_bytes))
    size = int.from_bytes(size_bytes, "little")
    if size > MAX_HEADER_BYTES:
        raise EOFError(f"a message of {size} bytes is not from a note worker")
    data = bytearray(size)
    _read_into(stream, memoryview(data))
    return pickle.loads(data)


def _child_main(requests_in: io.FileIO, replies_out: io.FileIO, model_path: str, device: str, sha256: str,
                output_rate: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    lower_own_priority()
    try:
        model = GeneratorModel.load(model_path, device=device, threads=1)
    except SynthError as error:
        send_message(replies_out, ("error", str(error)))
        return
    if model.sha256 != sha256:
        send_message(replies_out, ("error", f"{model_path} changed on disk since the host loaded it"))
        return
    if model.provider == "CUDAExecutionProvider":
        model.warm_up()  # first runs and graph captures before the first note, not during it
        model.start_keep_alive()  # the GPU keeps its clocks between notes
    send_message(replies_out, ("ready", None))
    while True:
        try:
            requests = receive_message(requests_in)
        except (EOFError, OSError):  # the parent is gone
            return
        if requests is None:
            return
        started = time.perf_counter()
        notes = generate_notes(model, output_rate, requests)
        header = [(key, n.loop_start, n.loop_end, n.decay_per_sample, n.decay_start, n.pitch, len(n.samples))
                  for key, n in notes]
        try:
            send_message(replies_out, ("notes", header))
            for _, note in notes:
                _write_all(replies_out, np.ascontiguousarray(note.samples, np.float32))
        except OSError:  # the parent is gone
            return
        # Half duty at most: the audio server and its clients share the machine.
        time.sleep(min(time.perf_counter() - started, 0.05))


def _child_entry(argv: list[str]) -> None:
    """The child (started through ``CHILD_BOOTSTRAP``; ``python -m synth.notes.worker MODEL DEVICE SHA256
    RATE`` also works by hand): messages on stdin/stdout."""
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the message stream
    model_path, device, sha256, rate = argv
    with io.FileIO(0, "rb", closefd=False) as requests_in, io.FileIO(reply_fd, "wb") as replies_out:
        _child_main(requests_in, replies_out, model_path, device, sha256, int(rate))


class NoteProcess:
    """The parent's handle on one worker process for one model and output rate."""

    def __init__(self, model: GeneratorModel, output_rate: int) -> None:
        device = "cuda" if model.provider == "CUDAExecutionProvider" else "cpu"
        package_root = str(Path(__file__).resolve().parents[2])  # the folder that holds synth/
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        self._process = subprocess.Popen(
            [sys.executable, "-c", CHILD_BOOTSTRAP, str(model.path), device, model.sha256, str(output_rate)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        # Unbuffered streams of our own on duplicates of the pipe ends: one owner per descriptor.
        self._send = io.FileIO(os.dup(self._process.stdin.fileno()), "wb")
        self._recv = io.FileIO(os.dup(self._process.stdout.fileno()), "rb")
        self._process.stdin.close()
        self._process.stdout.close()
        self._started = False

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Block until the child has loaded its model; raise :class:`WorkerGone` if it cannot."""
        if self._started:
            return
        readable, _, _ = select.select([self._recv], [], [], timeout)
        if not readable:
            self.close(0)
            raise WorkerGone(f"the note worker process did not start within {timeout:.0f} s")
        kind, detail = self._receive()
        if kind != "ready":
            self.close(0)
            raise WorkerGone(f"the note worker process could not load the model: {detail}")
        self._started = True

    def generate(self, requests: list) -> list:
        """Generate ``requests`` in the child: ``[(key, PreparedNote), ...]``. Blocks, mostly in
        system calls that free the GIL."""
        self.wait_ready()
        try:
            send_message(self._send, requests)
        except (OSError, ValueError) as error:
            raise WorkerGone(f"the note worker process is gone ({error})") from None
        kind, header = self._receive()
        if kind != "notes":
            raise WorkerGone(f"the note worker process answered {kind!r}")
        notes = []
        for key, loop_start, loop_end, decay, decay_start, pitch, length in header:
            samples = np.empty(length, np.float32)
            try:
                _read_into(self._recv, memoryview(samples).cast("B"))
            except (EOFError, OSError, ValueError) as error:
                raise WorkerGone(f"the note worker process died mid-note ({error})") from None
            notes.append((key, PreparedNote(samples, loop_start, loop_end, decay, decay_start, pitch)))
        return notes

    def _receive(self) -> tuple[str, object]:
        try:
            return receive_message(self._recv)
        except (EOFError, OSError, ValueError, pickle.UnpicklingError) as error:
            code = self._process.poll()
            raise WorkerGone(f"the note worker process died (exit code {code}, {error or 'pipe closed'})") from None

    def close(self, timeout: float = 5.0) -> None:
        """Ask the child to exit; wait up to ``timeout`` seconds, then kill it."""
        try:
            send_message(self._send, None)
        except (OSError, ValueError):
            pass
        if timeout > 0:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()  # under load a child can take longer than asked: no waiting past this
                try:
                    self._process.wait(5.0)
                except subprocess.TimeoutExpired:
                    pass  # killed but not reaped yet: the kernel finishes it; nothing to say at exit
        self._send.close()
        if timeout > 0:
            self._recv.close()  # else the worker thread may still be reading; closed when collected

    @property
    def pid(self) -> int | None:
        return self._process.pid


if __name__ == "__main__":
    _child_entry(sys.argv[1:])
