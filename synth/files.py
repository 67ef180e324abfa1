"""Atomic file publishing: a finished temporary file takes its final name in one step.

``tempfile.mkstemp`` makes files readable by their owner only; a preset, WAV or
model the user asked for should get the usual permissions (0666 less the umask).
"""

from __future__ import annotations

import os
from pathlib import Path

_UMASK = os.umask(0)  # read once, at import (the main thread): os.umask can only be read by setting it
os.umask(_UMASK)


def publish(tmp: str | Path, path: str | Path) -> None:
    """Give ``tmp`` the usual permissions and rename it to ``path`` (atomic on one file system)."""
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)
