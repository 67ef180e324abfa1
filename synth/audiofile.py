"""Writing audio files atomically: a temporary file beside the target, renamed into place.

16-bit WAV, what a song renders to, is written here from numpy: a 44-byte header, then each
block's samples, the sizes filled in at the end. libsndfile took 41-46 ms to write
benchmarks/bench_3min.mid's 34 MB, this 12-27 ms, and a render then never imports soundfile
(11 ms). Other formats and sample types go through libsndfile (soundfile)."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import SynthError
from .files import atomic_file

SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
# What each container takes: FLAC is integer only, Ogg is Vorbis (lossy; the subtype is its own).
FORMAT_SUBTYPES = {"WAV": SUBTYPES, "FLAC": ("PCM_16", "PCM_24"), "OGG": ("VORBIS",)}
PCM16_SCALE = 32767.0  # +1.0 maps to the largest 16-bit sample, never past it
WAV_HEADER_BYTES = 44
RIFF_LIMIT = 0xFFFFFFFF  # a RIFF file's sizes are 32-bit: a WAV holds at most 4 GB


def _to_pcm16(block: np.ndarray, scaled: np.ndarray, ints: np.ndarray) -> np.ndarray:
    """``block`` (within +-1) rounded to 16-bit integers in ``ints`` (``scaled``: scratch)."""
    np.multiply(block, PCM16_SCALE, out=scaled)
    np.rint(scaled, out=scaled)
    np.copyto(ints, scaled, casting="unsafe")
    return ints


class Pcm16WavWriter:
    """A 16-bit PCM WAV file written block by block into an open binary file."""

    def __init__(self, handle: BinaryIO, sample_rate: int, channels: int) -> None:
        self.handle, self.sample_rate, self.channels = handle, sample_rate, channels
        self.data_bytes = 0
        self._scaled = np.zeros((0, channels), np.float32)
        self._ints = np.zeros((0, channels), "<i2")  # WAV is little-endian whatever the machine
        handle.write(self._header())  # sizes of an empty file until finish()

    def _header(self) -> bytes:
        block_align = 2 * self.channels
        return (b"RIFF" + struct.pack("<I", 36 + self.data_bytes) + b"WAVE"
                + b"fmt " + struct.pack("<IHHIIHH", 16, 1, self.channels, self.sample_rate,
                                        self.sample_rate * block_align, block_align, 16)
                + b"data" + struct.pack("<I", self.data_bytes))

    def write(self, block: np.ndarray) -> None:
        """Write ``[frames, channels]`` float32 samples within +-1."""
        block = block.reshape(len(block), -1)
        if self.data_bytes + block.size * 2 > RIFF_LIMIT - 36:
            hours = RIFF_LIMIT / (2 * self.channels * self.sample_rate) / 3600
            raise SynthError(f"a WAV file holds at most 4 GB ({hours:.1f} h at this rate and channel count)",
                             hint="render a shorter piece, or to FLAC (-o OUT.flac)")
        if len(self._scaled) < len(block):
            self._scaled = np.empty(block.shape, np.float32)
            self._ints = np.empty(block.shape, "<i2")
        ints = _to_pcm16(block, self._scaled[:len(block)], self._ints[:len(block)])
        self.handle.write(ints.data)
        self.data_bytes += ints.nbytes

    def finish(self) -> None:
        """Fill in the sizes, now that they are known."""
        self.handle.seek(0)
        self.handle.write(self._header())


class BlockWriter:
    """Writes float blocks to an open sound file. 16-bit files get their samples rounded to
    integers here: libsndfile's own float conversion took a tenth of the benchmark render."""

    def __init__(self, handle) -> None:  # a soundfile.SoundFile
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
        self.handle.write(_to_pcm16(block, self._scaled[:len(block)], self._ints[:len(block)]))


@contextlib.contextmanager
def wav_writer(path: str | Path, sample_rate: int, channels: int = 2,
               subtype: str = "PCM_16", fmt: str = "WAV") -> Iterator[BlockWriter | Pcm16WavWriter]:
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
    if fmt == "WAV" and subtype == "PCM_16":
        with atomic_file(path) as tmp, open(tmp, "wb") as handle:
            writer = Pcm16WavWriter(handle, sample_rate, channels)
            yield writer
            writer.finish()
        return
    import soundfile as sf

    with atomic_file(path, failures=(OSError, RuntimeError, sf.LibsndfileError)) as tmp, \
            sf.SoundFile(tmp, "w", sample_rate, channels, subtype=subtype, format=fmt) as handle:
        yield BlockWriter(handle)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write ``audio`` ``[frames, channels]`` float32 to ``path``; the old file survives any failure."""
    audio = np.asarray(audio)
    with wav_writer(path, sample_rate, audio.shape[1] if audio.ndim == 2 else 1, subtype) as handle:
        handle.write(np.clip(audio, -1.0, 1.0, dtype=np.float32).reshape(len(audio), -1))
    return Path(path)
