"""What a palette checkpoint adds to its plugin (contract v2): the instruments, knob directions
through them, and the encoder.

- **Instruments**: each GM program of the training set, named, at the mean of its notes' encoded
  latents (the encoder's posterior means).
- **Knobs**: principal components of the instruments' latents (knob 1 the widest), each spreading
  twice the instruments' standard deviation along it, so a full sweep from any instrument reaches
  its neighbours (GANSpace's idea, on the instruments rather than on random latents).
- **Encoder**: the encoder's network exported to ONNX and carried base64 in the manifest with its
  log-mel recipe; the runtime computes the log-mel with numpy and runs the network, so it encodes
  a user's sample without torch (``synth preset from-sample``).
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synth.errors import DataError, ModelError
from synth.gm import program_name
from training.data import NoteDataset
from training.train import build_encoder

OPSET = 17
ENCODE_BATCH = 32
SPREAD_SIGMAS = 2.0
MIN_SPREAD = 0.25  # a direction the instruments barely use still moves the sound audibly
ENCODER_TOLERANCE = 1e-3  # latent units; a latent spans about +-3


@dataclass
class PaletteParts:
    instruments: list[dict[str, Any]]  # {"name", "program", "latent"}
    directions: np.ndarray  # [count, latent_dim], orthonormal rows
    spreads: np.ndarray  # [count]
    explained_variance: np.ndarray  # [count], share of the instruments' variance
    encoder: str  # base64 ONNX: log-mel, pitch, velocity -> latent mean
    encoder_samples: int
    encoder_features: dict[str, float]


def palette_parts(state: dict[str, Any], data_folder: Path | None, count: int) -> PaletteParts:
    """The instruments, knobs and encoder of a checkpoint trained with ``encoder.enabled``."""
    config = state["config"]
    encoder = build_encoder(config)
    encoder.load_state_dict(state["encoder"])
    encoder.eval()
    folder = Path(data_folder or config["data"]["folder"])
    if not (folder / "index.json").is_file():
        raise DataError(f"the palette's training data {folder} is not there (its instruments are the mean "
                        "latents of their notes)", hint="build it with `make palette-data`, or give --data FOLDER")
    data = NoteDataset.load(folder, "train")
    latents = _encode(encoder, data)
    programs = sorted(set(data.program.tolist()))
    means = np.stack([latents[data.program == p].mean(axis=0) for p in programs])
    instruments = [{"name": program_name(p), "program": int(p), "latent": [round(float(x), 5) for x in mean]}
                   for p, mean in zip(programs, means)]
    directions, spreads, variance = instrument_directions(means, count)
    blob, samples = encoder_onnx(encoder, data)
    return PaletteParts(instruments, directions, spreads, variance, blob, samples, dict(encoder.features.recipe))


@torch.no_grad()
def _encode(encoder: torch.nn.Module, data: NoteDataset) -> np.ndarray:
    out = []
    for start in range(0, len(data), ENCODE_BATCH):
        rows = np.arange(start, min(len(data), start + ENCODE_BATCH))
        mean, _ = encoder(torch.from_numpy(np.asarray(data.audio[rows], np.float32)),
                          torch.from_numpy(data.pitch[rows]), torch.from_numpy(data.velocity[rows]))
        out.append(mean.numpy())
    return np.concatenate(out)


def instrument_directions(latents: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal axes of ``latents`` ``[P, D]`` (widest first), completed with orthonormal rows when
    the instruments span fewer dimensions than ``count``; spreads ``SPREAD_SIGMAS`` standard
    deviations of the instruments along each."""
    centred = latents - latents.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=True)
    count = min(count, latents.shape[1])
    directions = axes[:count]
    coordinates = centred @ directions.T
    spreads = np.maximum(SPREAD_SIGMAS * coordinates.std(axis=0), MIN_SPREAD)
    power = np.zeros(count)
    power[:min(count, len(singular))] = singular[:count] ** 2
    return directions.astype(np.float32), spreads.astype(np.float32), power / max(float(power.sum()), 1e-12)


def encoder_onnx(encoder: torch.nn.Module, data: NoteDataset) -> tuple[str, int]:
    """The encoder's network as ONNX (log-mel ``[B, mels, frames]``, pitch, velocity ->
    ``latent_mean``), base64, checked on real notes against torch with the runtime's own numpy
    log-mel as its input (so the features match too)."""
    import onnxruntime as ort

    from synth.plugin.features import log_mel

    samples = min(int(encoder.max_samples), int(data.audio.shape[1]))  # what training encoded of each note
    rows = np.linspace(0, len(data) - 1, 4).round().astype(int)
    audio = np.asarray(data.audio[rows], np.float32)[:, :samples]
    pitch, velocity = torch.from_numpy(data.pitch[rows]), torch.from_numpy(data.velocity[rows])
    with torch.no_grad():
        mel = encoder.features(torch.from_numpy(audio))
        expected = encoder(torch.from_numpy(audio), pitch, velocity)[0].numpy()
    wrapped = _MeanOnly(encoder).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped, (mel, pitch, velocity), buffer, dynamo=False, opset_version=OPSET,
                          input_names=["mel", "pitch", "velocity"], output_names=["latent_mean"],
                          dynamic_axes={"mel": {0: "batch", 2: "frames"}, "pitch": {0: "batch"},
                                        "velocity": {0: "batch"}, "latent_mean": {0: "batch"}})
    blob = buffer.getvalue()
    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    runtime_mel = log_mel(audio, data.sample_rate, **encoder.features.recipe)
    got = session.run(None, {"mel": runtime_mel, "pitch": pitch.numpy(), "velocity": velocity.numpy()})[0]
    error = float(np.abs(got - expected).max())
    if error > ENCODER_TOLERANCE:
        raise ModelError(f"the ONNX encoder on the runtime's log-mel differs from torch by {error:.2e} "
                         f"(limit {ENCODER_TOLERANCE:.0e})")
    return base64.b64encode(blob).decode("ascii"), samples


class _MeanOnly(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, mel: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        return self.encoder.encode_features(mel, pitch, velocity)[0]
