"""Writing audio files atomically: a temporary file beside the target, renamed into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import SynthError
from .files import publish

SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write ``audio`` ``[frames, channels]`` float32 to ``path``; the old file survives any failure."""
    path = Path(path)
    if subtype not in SUBTYPES:
        raise SynthError(f"WAV subtype must be one of {', '.join(SUBTYPES)}, got {subtype!r}")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise SynthError(f"cannot write {path}: folder {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial.wav", dir=directory)
    except OSError as exc:
        raise SynthError(f"cannot write {path} ({exc.strerror})") from None
    os.close(fd)
    try:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, subtype=subtype, format="WAV")
        publish(tmp, path)
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SynthError(f"cannot write {path} ({exc})") from None
    return path
