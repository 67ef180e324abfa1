"""What a palette checkpoint adds to its plugin (contract v2): the instruments, knob directions
through them, and the encoder.

- **Instruments** and **knobs**: see :mod:`training.instruments` (each GM program's mean encoded
  latent, named; principal axes through them, spreads that reach the neighbours).
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
from training.instruments import instrument_directions, instrument_latents
from training.train import build_encoder

OPSET = 17
ENCODER_TOLERANCE = 1e-3  # latent units; a latent spans about +-3


@dataclass
class PaletteParts:
    instruments: list[dict[str, Any]]  # {"name", "program", "latent"}
    directions: np.ndarray  # [count, latent_dim], unit rows
    spreads: np.ndarray  # [count]
    explained_variance: np.ndarray  # [count], share of the instruments' variance
    encoder: str  # base64 ONNX: log-mel, pitch, velocity -> latent mean
    encoder_samples: int
    encoder_features: dict[str, float]


def palette_parts(state: dict[str, Any], data_folder: Path | None, count: int,
                  generator: torch.nn.Module | None = None) -> PaletteParts:
    """The instruments, knobs and encoder of a checkpoint trained with ``encoder.enabled``; with
    ``generator``, the knobs' spreads calibrated by ear (:func:`training.instruments.calibrated_spreads`)."""
    config = state["config"]
    encoder = build_encoder(config)
    encoder.load_state_dict(state["encoder"])
    encoder.eval()
    folder = Path(data_folder or config["data"]["folder"])
    if not (folder / "index.json").is_file():
        raise DataError(f"the palette's training data {folder} is not there (its instruments are the mean "
                        "latents of their notes)", hint="build it with `make palette-data`, or give --data FOLDER")
    data = NoteDataset.load(folder, "train")
    programs, means = instrument_latents(encoder, data)
    instruments = [{"name": program_name(p), "program": int(p), "latent": [round(float(x), 5) for x in mean]}
                   for p, mean in zip(programs, means)]
    directions, spreads, variance = instrument_directions(means, count, generator)
    blob, samples = encoder_onnx(encoder, data)
    return PaletteParts(instruments, directions, spreads, variance, blob, samples, dict(encoder.features.recipe))


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
