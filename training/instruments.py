"""A palette model's instruments and the knob directions through them, shared by the export (which
writes them into the plugin) and the evaluation (which measures what the knobs reach).

- **Instruments**: each GM program of the training set at the mean of its notes' encoded latents
  (the encoder's posterior means).
- **Knobs**: the principal axes of the instruments' latents, widest first, each spreading
  ``SPREAD_SIGMAS`` standard deviations of the instruments along it, so a full sweep from any
  instrument reaches its neighbours (GANSpace's idea, on the instruments rather than on random
  latents).
"""

from __future__ import annotations

import numpy as np
import torch

from training.data import NoteDataset

ENCODE_BATCH = 32
SPREAD_SIGMAS = 2.5
MIN_SPREAD = 0.25  # a direction the instruments barely use still moves the sound audibly


@torch.no_grad()
def encode_notes(encoder: torch.nn.Module, data: NoteDataset, rows: np.ndarray | None = None) -> np.ndarray:
    """The encoder's posterior means of ``data``'s notes (``rows``, default all): ``[N, latent_dim]``."""
    rows = np.arange(len(data)) if rows is None else np.asarray(rows)
    out = []
    for start in range(0, len(rows), ENCODE_BATCH):
        idx = rows[start:start + ENCODE_BATCH]
        mean, _ = encoder(torch.from_numpy(np.asarray(data.audio[idx], np.float32)),
                          torch.from_numpy(data.pitch[idx]), torch.from_numpy(data.velocity[idx]))
        out.append(mean.numpy())
    return np.concatenate(out) if out else np.zeros((0, encoder.latent_dim), np.float32)


def instrument_latents(encoder: torch.nn.Module, data: NoteDataset) -> tuple[list[int], np.ndarray]:
    """The programs of ``data`` in order, and each one's mean encoded latent ``[P, latent_dim]``."""
    latents = encode_notes(encoder, data)
    programs = sorted(set(data.program.tolist()))
    return programs, np.stack([latents[data.program == p].mean(axis=0) for p in programs])


def instrument_directions(latents: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal axes of ``latents`` ``[P, D]`` (widest first; rows past the instruments' own span
    complete an orthonormal set), their spreads, and each one's share of the instruments' variance."""
    centred = latents - latents.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=True)
    count = min(count, latents.shape[1])
    directions = axes[:count]
    coordinates = centred @ directions.T
    spreads = np.maximum(SPREAD_SIGMAS * coordinates.std(axis=0), MIN_SPREAD)
    power = np.zeros(count)
    power[:min(count, len(singular))] = singular[:count] ** 2
    return directions.astype(np.float32), spreads.astype(np.float32), power / max(float(power.sum()), 1e-12)
