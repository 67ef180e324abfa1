"""A palette model's instruments and the knob directions through them, shared by the export (which
writes them into the plugin) and the evaluation (which measures what the knobs reach).

- **Instruments**: each GM program of the training set at the mean of its notes' encoded latents
  (the encoder's posterior means).
- **Knobs**: the principal axes of the instruments' latents, widest first (GANSpace's idea, on the
  instruments rather than on random latents). Given the generator, "widest" is measured in what
  the decoder makes of the latent: the latents are whitened by ``J^T J + RIDGE * max`` (``J``: the
  Jacobian of the generator's controls, averaged over the instruments and three keys) before the
  principal axes are taken, and each axis gets the spread at which a full sweep from the
  instruments moves the sound as far as the median distance between two instruments
  (``CALIBRATED_SIGMAS`` of the instruments' standard deviation along it). In the latent's own
  metric the widest axes were ones the decoder barely hears (step 16,000: knob 2 travelled 0.33
  of an instrument even at 4 standard deviations); in the decoder's metric alone, the fourth axis
  was one the instruments barely differ on (0.47). The ridge between them (0.3-0.5 of the largest
  eigenvalue) gave every one of the first four knobs 0.7-1.3 instruments' distance at steps 8,000,
  13,200 and 16,000 of the palette run. Without a generator: plain principal axes, 2.5 standard
  deviations each.
"""

from __future__ import annotations

import numpy as np
import torch

from training.analysis import FLOOR
from training.data import NoteDataset

ENCODE_BATCH = 32
SPREAD_SIGMAS = 2.5
MIN_SPREAD = 0.25  # a direction the instruments barely use still moves the sound audibly
# Calibrated spreads stay on the instruments' manifold: at least 1.5, at most 4 standard deviations
# (past that the sweep leaves the region the encoder put notes in).
CALIBRATED_SIGMAS = tuple(1.5 + 0.25 * k for k in range(11))
CALIBRATION_KEYS = (48, 60, 72)
CALIBRATION_VELOCITY = 0.8
RIDGE = 0.5  # share of the decoder metric's largest eigenvalue added to every direction


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


def instrument_directions(latents: np.ndarray, count: int, generator: torch.nn.Module | None = None,
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knob directions through the instruments ``[P, D]``: unit rows, widest first (see the module's
    docstring), their spreads, and each one's share of the instruments' variance (in the decoder's
    metric when ``generator`` is given)."""
    centred = latents - latents.mean(axis=0)
    count = min(count, latents.shape[1])
    if generator is None or len(latents) < 2:
        _, singular, axes = np.linalg.svd(centred, full_matrices=True)
        directions = axes[:count]
        spreads = np.maximum(SPREAD_SIGMAS * (centred @ directions.T).std(axis=0), MIN_SPREAD)
    else:
        eigenvalues, eigenvectors = np.linalg.eigh(decoder_metric(generator, latents))
        eigenvalues = np.maximum(eigenvalues, 0.0) + RIDGE * max(float(eigenvalues.max()), 1e-12)
        root = eigenvectors * np.sqrt(eigenvalues)  # the whitening: y = latent @ root
        _, singular, axes = np.linalg.svd(centred @ root, full_matrices=True)
        directions = axes[:count] @ (eigenvectors / np.sqrt(eigenvalues)).T  # back to the latent
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        spreads = calibrated_spreads(generator, latents, directions, (centred @ directions.T).std(axis=0))
    power = np.zeros(count)
    power[:min(count, len(singular))] = singular[:count] ** 2
    return directions.astype(np.float32), spreads.astype(np.float32), power / max(float((singular**2).sum()), 1e-12)


def _features(generator: torch.nn.Module, z: torch.Tensor, key: int) -> torch.Tensor:
    """``[B, F]``: log partial amplitudes and noise gains, averaged over 8 stretches of the note."""
    controls = generator.get_controls(z, torch.full((len(z),), key), torch.full((len(z),), CALIBRATION_VELOCITY))
    parts = [torch.log(controls["amplitude"] * controls["harmonic_distribution"] + FLOOR),
             torch.log(controls["noise_band_gains"] + FLOOR)]
    frames = parts[0].shape[-1]
    stretches = [x[..., :frames - frames % 8].reshape(*x.shape[:2], 8, -1).mean(dim=-1).flatten(1) for x in parts]
    return torch.cat(stretches, dim=1)


@torch.no_grad()
def control_features(generator: torch.nn.Module, latents: np.ndarray) -> np.ndarray:
    """What a latent sounds like, cheaply: the log partial amplitudes and noise gains the generator
    asks for (no audio synthesised), averaged over 8 stretches of the note, at ``CALIBRATION_KEYS``:
    ``[N, keys, features]``."""
    z = torch.from_numpy(np.asarray(latents, np.float32))
    return np.stack([_features(generator, z, key).numpy() for key in CALIBRATION_KEYS], axis=1)


def decoder_metric(generator: torch.nn.Module, latents: np.ndarray) -> np.ndarray:
    """``J^T J`` ``[D, D]`` of :func:`control_features` at each latent and key, averaged: how far
    the sound moves for a step along each latent direction (to first order)."""
    total = np.zeros((latents.shape[1],) * 2)
    for latent in np.asarray(latents, np.float32):
        for key in CALIBRATION_KEYS:
            jacobian = torch.autograd.functional.jacobian(
                lambda z, key=key: _features(generator, z[None], key)[0], torch.from_numpy(latent), vectorize=True)
            total += (jacobian.T @ jacobian).double().numpy()
    return total / (len(latents) * len(CALIBRATION_KEYS))


def calibrated_spreads(generator: torch.nn.Module, latents: np.ndarray, directions: np.ndarray,
                       sigmas: np.ndarray) -> np.ndarray:
    """Per direction, the smallest of ``CALIBRATED_SIGMAS`` standard deviations at which a full sweep
    (from every instrument, -spread to +spread) moves the sound, by median, at least the median
    distance between two instruments (both in :func:`control_features`); the largest if none does."""
    sound = control_features(generator, latents)
    between = float(np.median([np.linalg.norm(sound[i] - sound[j], axis=1).mean()
                               for i in range(len(latents)) for j in range(i + 1, len(latents))]))
    spreads = []
    for direction, sigma in zip(directions, sigmas):
        if sigma * CALIBRATED_SIGMAS[0] < MIN_SPREAD:  # an axis the instruments do not use
            spreads.append(MIN_SPREAD)
            continue
        for multiple in CALIBRATED_SIGMAS:
            spread = multiple * sigma
            travel = np.linalg.norm(control_features(generator, latents + spread * direction)
                                    - control_features(generator, latents - spread * direction), axis=2)
            if np.median(travel) >= between:
                break
        spreads.append(spread)
    return np.asarray(spreads, np.float32)
