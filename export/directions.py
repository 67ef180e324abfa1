"""Knob directions by PCA of what the generator does (GANSpace, Härkönen et al. 2020).

Sample many latents, generate notes at a few pitches, describe each latent by the
log-mel statistics of its notes (the same features ``synth eval`` uses, so the
directions follow what a listener hears, whatever the architecture), take the
principal components of those descriptions, and map each component back to the
latent space by least squares (the latent direction whose movement best predicts
the component's coordinate). Knob 1 gets the component with the most variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from training.metrics import note_features

PITCHES = (48, 60, 72)  # low, middle, high: a direction should mean the same across the keyboard
FEATURE_SECONDS = 1.0


@dataclass
class Directions:
    vectors: np.ndarray  # [count, latent_dim], unit rows
    explained_variance: np.ndarray  # [count] share of the feature variance, descending
    spreads: np.ndarray  # [count] latent distance a knob moves either way


@torch.no_grad()
def pca_directions(generator: torch.nn.Module, latent_dim: int, sample_rate: int, pitch_range: tuple[int, int],
                   count: int, samples: int = 256, seed: int = 0, batch: int = 32) -> Directions:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((samples, latent_dim)).astype(np.float32)
    pitches = [min(max(p, pitch_range[0]), pitch_range[1]) for p in PITCHES]
    length = int(FEATURE_SECONDS * sample_rate)
    described = []
    for pitch in pitches:
        notes = []
        for start in range(0, samples, batch):
            chunk = torch.from_numpy(z[start:start + batch])
            audio = generator(chunk, torch.full((len(chunk),), pitch, dtype=torch.int64),
                              torch.full((len(chunk),), 0.8))
            notes.append(audio[:, :length].float().numpy())
        described.append(note_features(np.concatenate(notes), sample_rate))
    features = np.concatenate(described, axis=1)  # [samples, pitches * 2 * bands]
    features = features - features.mean(axis=0)
    _, singular, components = np.linalg.svd(features, full_matrices=False)
    variance = singular**2 / max(float(np.sum(singular**2)), 1e-12)
    count = min(count, latent_dim, len(singular))
    coordinates = features @ components[:count].T  # [samples, count]
    coordinates /= coordinates.std(axis=0) + 1e-12
    # Least squares: z ≈ coordinates @ mapping, so mapping[k] is the latent step of one std of component k.
    mapping, *_ = np.linalg.lstsq(coordinates, z, rcond=None)
    vectors = _orthonormalise(mapping)
    return Directions(vectors.astype(np.float32), variance[:count], np.full(count, 1.5, np.float32))


def _orthonormalise(rows: np.ndarray) -> np.ndarray:
    """Gram-Schmidt in order, so knob 1's direction is kept exactly and later knobs do not repeat it."""
    out = []
    for row in rows.astype(np.float64):
        for previous in out:
            row = row - (row @ previous) * previous
        norm = np.linalg.norm(row)
        out.append(row / norm if norm > 1e-9 else np.eye(len(row))[len(out)])
    return np.array(out)
