"""A single-producer/single-consumer ring of stereo frames.

The engine thread writes whole blocks (and may rewrite those the callback has not reached); the
audio callback reads whole blocks.
Each side only moves its own counter (a Python int: assignments are atomic), so
neither side takes a lock, and the callback never allocates a buffer.
"""

from __future__ import annotations

import numpy as np


def copy_in(buffer: np.ndarray, position: int, block: np.ndarray) -> None:
    """Copy ``block`` into the circular ``buffer`` from frame ``position`` (counted since the
    start), wrapping round its end."""
    size, frames = len(buffer), len(block)
    start = position % size
    first = min(frames, size - start)
    buffer[start:start + first] = block[:first]
    if first < frames:
        buffer[:frames - first] = block[first:]


class FrameRing:
    def __init__(self, capacity_frames: int, channels: int = 2) -> None:
        self.capacity = int(capacity_frames)
        self.buffer = np.zeros((self.capacity, channels), np.float32)
        self.written = 0  # frames written so far (producer only)
        self.read = 0  # frames read so far (consumer only)
        self.underflows = 0  # callbacks that found too little audio (consumer only)

    @property
    def fill(self) -> int:
        return self.written - self.read

    def space(self) -> int:
        return self.capacity - self.fill

    def write(self, block: np.ndarray) -> None:
        """Producer: append ``[frames, channels]``; the caller checks ``space()`` first."""
        copy_in(self.buffer, self.written, block)
        self.written += len(block)

    def overwrite(self, position: int, block: np.ndarray) -> None:
        """Producer: replace frames from ``position`` (frames since the start) that the consumer has
        not reached; they stay counted as written."""
        copy_in(self.buffer, position, block)

    def read_into(self, out: np.ndarray) -> bool:
        """Consumer: fill ``out`` ``[frames, channels]``; on underflow write silence and count it."""
        frames = len(out)
        if self.written - self.read < frames:
            out.fill(0.0)
            self.underflows += 1
            return False
        start = self.read % self.capacity
        first = min(frames, self.capacity - start)
        out[:first] = self.buffer[start:start + first]
        if first < frames:
            out[first:] = self.buffer[: frames - first]
        self.read += frames
        return True


class ScopeRing:
    """The latest output's left channel, for the terminal UI's spectrum. The engine thread keeps
    each block in it (no allocation); the UI reads it as it is: a torn read only smudges one frame
    of the picture."""

    def __init__(self, frames: int) -> None:
        self.samples = np.zeros(frames, np.float32)
        self.at = 0  # where the next block goes

    def keep(self, block: np.ndarray) -> None:
        frames = len(self.samples)
        block = block[-frames:, 0]
        copy_in(self.samples, self.at, block)
        self.at = (self.at + len(block)) % frames

    def latest(self) -> np.ndarray:
        """The samples oldest first (a copy: for the UI thread)."""
        return np.roll(self.samples, -self.at)
