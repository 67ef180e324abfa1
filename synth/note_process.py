"""Generate notes in a separate process, so the live engine never waits for Python's GIL.

A note worker *thread* shares the GIL with the engine thread that fills the audio ring.
Inference releases it, but resampling and loop preparation hold it in short stretches;
a worker thread in a low scheduling class can be switched out while it holds the GIL, and
the engine then waits for it (a priority inversion the stress benchmark heard as dropouts
during knob sweeps). A worker process has its own interpreter: the engine's only work for a
note is to unpickle the finished samples (a memory copy) and store them.

The child is ``python -m synth.note_process`` (a plain subprocess, not ``multiprocessing``,
whose spawn re-imports the parent's main script). The protocol is one request at a time over
its stdin/stdout as :class:`multiprocessing.connection.Connection` messages: the parent sends a
list of ``(NoteKey, z, velocity)`` and receives ``("notes", [(NoteKey, PreparedNote), ...])``;
``None`` asks the child to exit. The child loads the same model file and checks its hash.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from .errors import SynthError
from .model import GeneratorModel

START_TIMEOUT_S = 60.0


class WorkerGone(SynthError):
    """The note worker process failed to start or died."""


def _child_main(conn: Connection, model_path: str, device: str, sha256: str, output_rate: int) -> None:
    from .notes import _lower_own_priority, generate_notes

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _lower_own_priority()
    try:
        model = GeneratorModel.load(model_path, device=device, threads=1)
    except SynthError as error:
        conn.send(("error", str(error)))
        return
    if model.sha256 != sha256:
        conn.send(("error", f"{model_path} changed on disk since the host loaded it"))
        return
    conn.send(("ready", None))
    while True:
        try:
            requests = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if requests is None:
            return
        started = time.perf_counter()
        conn.send(("notes", generate_notes(model, output_rate, requests)))
        # Half duty at most: the audio server and its clients share the machine.
        time.sleep(min(time.perf_counter() - started, 0.05))


def _child_entry(argv: list[str]) -> None:
    """``python -m synth.note_process MODEL DEVICE SHA256 RATE``: messages on stdin/stdout."""
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the message stream
    conn_in, conn_out = Connection(0, writable=False), Connection(reply_fd, readable=False)

    class _Duplex:
        send, recv = conn_out.send, conn_in.recv

    model_path, device, sha256, rate = argv
    _child_main(_Duplex(), model_path, device, sha256, int(rate))


class NoteProcess:
    """The parent's handle on one worker process for one model and output rate."""

    def __init__(self, model: GeneratorModel, output_rate: int) -> None:
        device = "cuda" if model.provider == "CUDAExecutionProvider" else "cpu"
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "synth.note_process", str(model.path), device, model.sha256, str(output_rate)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        # The connections own duplicates of the pipe ends, so each fd has exactly one owner.
        self._send = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._recv = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()
        self._started = False

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Block until the child has loaded its model; raise :class:`WorkerGone` if it cannot."""
        if self._started:
            return
        if not self._recv.poll(timeout):
            self.close(0)
            raise WorkerGone(f"the note worker process did not start within {timeout:.0f} s")
        kind, detail = self._receive()
        if kind != "ready":
            self.close(0)
            raise WorkerGone(f"the note worker process could not load the model: {detail}")
        self._started = True

    def generate(self, requests: list[tuple[object, np.ndarray, float]]) -> list:
        """Generate ``requests`` in the child; blocks (without the GIL) until they are done."""
        self.wait_ready()
        try:
            self._send.send(requests)
        except (OSError, ValueError) as error:
            raise WorkerGone(f"the note worker process is gone ({error})") from None
        kind, notes = self._receive()
        if kind != "notes":
            raise WorkerGone(f"the note worker process answered {kind!r}")
        return notes

    def _receive(self) -> tuple[str, object]:
        try:
            return self._recv.recv()
        except (EOFError, OSError) as error:
            code = self._process.poll()
            raise WorkerGone(f"the note worker process died (exit code {code}, {error or 'pipe closed'})") from None

    def close(self, timeout: float = 5.0) -> None:
        """Ask the child to exit; wait up to ``timeout`` seconds, then kill it."""
        try:
            self._send.send(None)
        except (OSError, ValueError):
            pass
        if timeout > 0:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(1.0)
        self._send.close()
        if timeout > 0:
            self._recv.close()  # else the worker thread may still be reading; closed when collected

    @property
    def pid(self) -> int | None:
        return self._process.pid


if __name__ == "__main__":
    _child_entry(sys.argv[1:])
