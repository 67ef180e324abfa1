"""TensorBoard during training: loss curves, and every so often audio and spectrograms of fixed notes.

The sample notes use fixed latents and pitches spread over the data set's range,
so one run's pictures can be compared step by step. Only the leading process writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.data import NoteDataset
from training.spectrogram import grid

SAMPLE_NOTES = 4


class Monitor:
    def __init__(self, writer: Any, data: NoteDataset) -> None:
        self.writer = writer
        self.sample_rate = data.sample_rate
        pitches = np.unique(data.pitch)
        self.pitches = pitches[np.linspace(0, len(pitches) - 1, min(SAMPLE_NOTES, len(pitches))).round().astype(int)]
        # One real note per sample pitch (the loudest velocity), shown beside the generated ones.
        self.real = [np.asarray(data.audio[np.flatnonzero(data.pitch == p)[np.argmax(data.velocity[data.pitch == p])]])
                     for p in self.pitches]
        self.z: torch.Tensor | None = None

    @classmethod
    def open(cls, folder: Path, data: NoteDataset) -> Monitor | None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)", file=sys.stderr)
            return None
        return cls(SummaryWriter(str(folder)), data)

    def scalars(self, step: int, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            if name not in ("step", "elapsed_s"):
                self.writer.add_scalar(f"loss/{name}", value, step)

    @torch.no_grad()
    def samples(self, step: int, generator: torch.nn.Module, device: torch.device) -> None:
        if self.z is None:
            rng = np.random.default_rng(0)
            self.z = torch.from_numpy(rng.standard_normal((len(self.pitches), generator.latent_dim)).astype(np.float32))
        pitch = torch.from_numpy(self.pitches.astype(np.int64)).to(device)
        velocity = torch.full((len(self.pitches),), 0.8, device=device)
        audio = generator(self.z.to(device), pitch, velocity).float().cpu().numpy()
        for p, note in zip(self.pitches, audio):
            self.writer.add_audio(f"generated/pitch_{p}", np.clip(note, -1, 1)[None], step,
                                  sample_rate=self.sample_rate)
        image = grid([list(self.real), list(audio)])  # top row real, bottom row generated
        self.writer.add_image("spectrograms/real_top_generated_bottom", image[None], step, dataformats="CHW")

    def flush(self) -> None:
        self.writer.flush()
