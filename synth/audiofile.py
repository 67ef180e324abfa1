"""Writing audio files atomically: a temporary file beside the target, renamed into place."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import SynthError
from .files import atomic_file

SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
# What each container takes: FLAC is integer only, Ogg is Vorbis (lossy; the subtype is its own).
FORMAT_SUBTYPES = {"WAV": SUBTYPES, "FLAC": ("PCM_16", "PCM_24"), "OGG": ("VORBIS",)}
PCM16_SCALE = 32767.0  # +1.0 maps to the largest 16-bit sample, never past it


class BlockWriter:
    """Writes float blocks to an open sound file. 16-bit files get their samples rounded to
    integers here: libsndfile's own float conversion took a tenth of the benchmark render."""

    def __init__(self, handle: sf.SoundFile) -> None:
        self.handle = handle
        self._pcm16 = handle.subtype == "PCM_16"
        self._scaled = np.zeros((0, handle.channels), np.float32)
        self._ints = np.zeros((0, handle.channels), np.int16)

    def write(self, block: np.ndarray) -> None:
        """Write ``[frames, channels]`` float32 samples within +-1."""
        if not self._pcm16:
            self.handle.write(block)
            return
        if len(self._scaled) < len(block):
            self._scaled = np.empty(block.shape, np.float32)
            self._ints = np.empty(block.shape, np.int16)
        scaled, ints = self._scaled[:len(block)], self._ints[:len(block)]
        np.multiply(block, PCM16_SCALE, out=scaled)
        np.rint(scaled, out=scaled)
        np.copyto(ints, scaled, casting="unsafe")
        self.handle.write(ints)


@contextlib.contextmanager
def wav_writer(path: str | Path, sample_rate: int, channels: int = 2,
               subtype: str = "PCM_16", fmt: str = "WAV") -> Iterator[BlockWriter]:
    """An audio file (WAV, FLAC or Ogg) for ``path`` written block by block; published when the
    block ends without error. The old file survives any failure, and the error names the path.
    Callers keep samples within +-1 (integer formats would wrap)."""
    path = Path(path)
    allowed = FORMAT_SUBTYPES.get(fmt, ())
    if fmt == "OGG":
        subtype = "VORBIS"
    if subtype not in allowed:
        raise SynthError(f"{fmt} files take {', '.join(allowed) or 'nothing'}, not {subtype!r}",
                         hint=f"pick --subtype {allowed[0]}" if allowed else None)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise SynthError(f"cannot write {path}: folder {directory} does not exist")
    with atomic_file(path, failures=(OSError, RuntimeError, sf.LibsndfileError)) as tmp, \
            sf.SoundFile(tmp, "w", sample_rate, channels, subtype=subtype, format=fmt) as handle:
        yield BlockWriter(handle)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write ``audio`` ``[frames, channels]`` float32 to ``path``; the old file survives any failure."""
    audio = np.asarray(audio)
    with wav_writer(path, sample_rate, audio.shape[1] if audio.ndim == 2 else 1, subtype) as handle:
        handle.write(np.clip(audio, -1.0, 1.0, dtype=np.float32).reshape(len(audio), -1))
    return Path(path)
