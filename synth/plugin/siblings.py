"""More CPU sessions of one model file, opened on other threads while the caller goes on.

A headless render generates its notes on one session per core (see
:class:`synth.host.render.AheadGenerator`). onnxruntime opens a session without holding Python's
GIL, so the others can open while the model's own session opens and the song is read, instead
of after (on 2 cores, two sessions opened together in 37 ms, one alone in 31 ms).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from pathlib import Path


def open_cpu_session(ort, path: Path, options, sha256: str | None = None) -> tuple[str, object | None]:
    """The sha256 of the bytes ``path`` holds now, and a CPU session opened from them; no session
    (None) when ``sha256`` is given and they are not those bytes (the file changed on disk)."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256:
        return digest, None
    return digest, ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"],
                                        enable_fallback=0)


class PendingSessions:
    """``len(options)`` CPU sessions of ``path`` (one per options object), each opened from the
    file's bytes on its own thread; :meth:`take` hands them over."""

    def __init__(self, ort, path: Path, options: list) -> None:
        self._opened: queue.SimpleQueue = queue.SimpleQueue()
        self._left = len(options)
        self._lock = threading.Lock()
        for number, session_options in enumerate(options):
            threading.Thread(target=self._open, args=(ort, path, session_options), daemon=True,
                             name=f"open-session-{number}").start()

    def _open(self, ort, path: Path, options) -> None:
        try:
            self._opened.put(open_cpu_session(ort, path, options))
        except Exception:  # noqa: BLE001  no session (memory, the file gone): take() says None
            self._opened.put(None)

    def take(self, sha256: str) -> object | None:
        """One of the sessions, once open (it waits for one still opening); None when none is left,
        it failed to open, or the file it read is not the one with ``sha256`` (changed on disk)."""
        with self._lock:
            if self._left == 0:
                return None
            self._left -= 1
        opened = self._opened.get()
        if opened is None or opened[0] != sha256:
            return None
        return opened[1]
