"""Spectrogram pictures of notes, for people to look at (TensorBoard and ``synth eval``).

numpy only, so the same picture comes from a torch checkpoint or an ONNX plugin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.files import atomic_file

N_FFT = 1024
HOP = 256
FLOOR_DB = -80.0


def stft_magnitude(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``[num_samples]`` -> Hann-windowed STFT magnitude ``[frames, n_fft // 2 + 1]`` (short clips are padded)."""
    audio = np.asarray(audio, np.float64)
    if len(audio) < n_fft:
        audio = np.pad(audio, (0, n_fft - len(audio)))
    frames = 1 + (len(audio) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    return np.abs(np.fft.rfft(audio[index] * np.hanning(n_fft), axis=1))


def log_spectrogram(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """``[num_samples]`` -> dB magnitude ``[n_fft // 2 + 1, frames]`` relative to full scale, floored."""
    magnitude = stft_magnitude(audio, n_fft, hop).T / (np.hanning(n_fft).sum() / 2)
    return np.maximum(20.0 * np.log10(magnitude + 1e-9), FLOOR_DB)


def picture(audio: np.ndarray, height: int = 128) -> np.ndarray:
    """One note as a ``[height, frames]`` uint8 image: low frequencies at the bottom, log-spaced rows."""
    spec = log_spectrogram(audio)
    bins = spec.shape[0]
    rows = np.unique(np.geomspace(1, bins - 1, height * 2).astype(int))[:height]
    image = (spec[rows] - FLOOR_DB) / -FLOOR_DB
    return (np.clip(image, 0.0, 1.0)[::-1] * 255).astype(np.uint8)


def grid(rows: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Pictures of notes in a grid (``rows[r][c]`` is one note's audio), white lines between them."""
    tiles = [[picture(audio) for audio in row] for row in rows]
    height = max(t.shape[0] for row in tiles for t in row)
    width = max(t.shape[1] for row in tiles for t in row)
    columns = max(len(row) for row in tiles)
    out = np.full((len(tiles) * (height + gap) - gap, columns * (width + gap) - gap), 255, np.uint8)
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            top, left = r * (height + gap), c * (width + gap)
            out[top:top + tile.shape[0], left:left + tile.shape[1]] = tile
    return out


def save_png(image: np.ndarray, path: Path) -> Path:
    """Write a grey-scale ``uint8`` image as PNG, atomically."""
    from PIL import Image

    with atomic_file(path, label="picture ") as tmp:
        Image.fromarray(np.ascontiguousarray(image, np.uint8)).save(tmp, format="PNG")
    return Path(path)
