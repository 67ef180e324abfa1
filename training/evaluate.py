"""``synth eval``: judge a plugin (.onnx) or a training checkpoint (.pt) against a note data set.

Reports pitch accuracy (generated and real notes through the same estimator),
the Fréchet distance of log-mel statistics as a ratio to the distance between two
halves of the real set, NDB against the real set, and writes a spectrogram grid.
Needs torch only for checkpoints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soxr

from synth.errors import TRAIN_EXTRA_HINT, SynthError, missing_training_extra
from training.metrics import frechet_distance, ndb, note_features, pitch_accuracy
from training.spectrogram import grid, save_png

Generate = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
GRID_PITCHES = 6


@dataclass
class Source:
    name: str
    generate: Generate
    sample_rate: int
    latent_dim: int
    pitch_min: int
    pitch_max: int


@dataclass
class EvalReport:
    model: str
    data: str
    pitch_accuracy: float
    pitch_notes: int
    real_pitch_accuracy: float
    real_pitch_notes: int
    frechet: float
    frechet_real_halves: float
    frechet_ratio: float
    frechet_notes: int
    ndb_generated: int
    ndb_real: int
    ndb_bins: int
    seconds: float
    grid: str | None
    # The spectrogram grid, made with the figures and written by save_grid (after they are shown).
    grid_image: np.ndarray | None = field(default=None, repr=False)

    def save_grid(self, path: Path) -> Path:
        if self.grid_image is None:
            raise SynthError("this evaluation made no spectrogram grid", hint="evaluate with grid=True")
        self.grid = str(save_png(self.grid_image, path))
        return Path(self.grid)

    def table(self) -> str:
        rows = [
            ("pitch accuracy (±50 cents)", f"{100 * self.pitch_accuracy:.1f}% of {self.pitch_notes} generated notes",
             f"{100 * self.real_pitch_accuracy:.1f}% of {self.real_pitch_notes} real notes"),
            ("Fréchet distance (log-mel)", f"{self.frechet:.2f}",
             f"{self.frechet_real_halves:.2f} between real halves; ratio {self.frechet_ratio:.2f}"),
            ("NDB (bins differing)", f"{self.ndb_generated}/{self.ndb_bins}",
             f"{self.ndb_real}/{self.ndb_bins} for the other real half"),
        ]
        lines = [f"{self.model} on {self.data} ({self.seconds:.0f} s)", "| metric | generated | real |",
                 "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
        if self.grid:
            lines.append(f"spectrogram grid (top row real, then generated): {self.grid}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key != "grid_image"}


def open_source(path: Path, threads: int | None = None) -> Source:
    """A plugin through onnxruntime, or a checkpoint's EMA generator through torch (on ``threads``
    CPU threads when given)."""
    path = Path(path)
    if path.suffix == ".onnx":
        from synth.plugin.model import GeneratorModel

        model = GeneratorModel.load(path, device="cpu")
        m = model.manifest
        return Source(m.name, model.generate, m.sample_rate, m.latent_dim, m.pitch_min, m.pitch_max)
    if not path.is_file():
        raise SynthError(f"{path} does not exist", hint="pass an exported .onnx file or a run's checkpoint.pt")
    try:
        import torch

        from training.models import build_generator
        from training.train import load_checkpoint
    except ImportError as exc:
        raise missing_training_extra("judging a checkpoint", exc,
                                     TRAIN_EXTRA_HINT + ", or export it and pass the .onnx file") from None
    if threads:
        torch.set_num_threads(threads)
    try:
        state = load_checkpoint(path)
    except Exception as exc:  # torch raises many kinds for a file that is not a checkpoint
        raise SynthError(f"{path} is not a training checkpoint ({type(exc).__name__})") from None
    config = state["config"]
    generator = build_generator(config)
    generator.load_state_dict(state["ema"])
    generator.eval()

    def generate(z: np.ndarray, pitch: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return generator(torch.from_numpy(z), torch.from_numpy(pitch.astype(np.int64)),
                             torch.from_numpy(velocity.astype(np.float32))).numpy()

    m = config["model"]
    return Source(f"{path} (step {state['step']})", generate, m["sample_rate"], m["latent_dim"],
                  m["pitch_min"], m["pitch_max"])


def _generate_batched(source: Source, pitch: np.ndarray, velocity: np.ndarray, rng: np.random.Generator,
                      rate: int, batch: int = 16) -> np.ndarray:
    z = rng.standard_normal((len(pitch), source.latent_dim)).astype(np.float32)
    out = np.concatenate([source.generate(z[i:i + batch], pitch[i:i + batch], velocity[i:i + batch])
                          for i in range(0, len(pitch), batch)])
    if source.sample_rate != rate:
        out = np.stack([soxr.resample(note, source.sample_rate, rate) for note in out]).astype(np.float32)
    return out


def _halves(pitch: np.ndarray, velocity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split note indices into two halves alike in pitch and velocity (alternate in sorted order)."""
    order = np.lexsort((velocity, pitch))
    return order[0::2], order[1::2]


def evaluate(model_path: Path, data_dir: Path, *, latents: int = 4, seed: int = 0,
             grid_path: Path | None = None, grid: bool = False, threads: int | None = None) -> EvalReport:
    """Every figure for a model on a data set. ``grid``: also make the spectrogram grid (the
    report's :meth:`EvalReport.save_grid` writes it); ``grid_path``: and write it there now.
    ``threads``: torch's CPU threads for a checkpoint (default: torch's own)."""
    from training.data import NoteDataset

    started = time.time()
    if not (Path(data_dir) / "index.json").is_file():
        raise SynthError(f"data set {data_dir} does not exist", hint="build one with `synth dataset`")
    source = open_source(model_path, threads)
    data = NoteDataset.load(Path(data_dir), split=None)
    rate = data.sample_rate
    rng = np.random.default_rng(seed)
    inside = (data.pitch >= source.pitch_min) & (data.pitch <= source.pitch_max)
    if inside.sum() < 8:
        raise SynthError(f"data set {data_dir} has {int(inside.sum())} notes in the model's range "
                         f"{source.pitch_min}-{source.pitch_max}; at least 8 are needed")
    real = np.asarray(data.audio[np.flatnonzero(inside)], np.float32)
    real_pitch, real_velocity = data.pitch[inside], data.velocity[inside]

    # Pitch accuracy: every pitch of the model's range, several latents and velocities each.
    pitches = np.repeat(np.arange(source.pitch_min, source.pitch_max + 1), latents)
    velocities = np.resize(np.array([0.3, 0.6, 0.95], np.float32), len(pitches))
    generated = _generate_batched(source, pitches, velocities, rng, rate)
    accuracy, _ = pitch_accuracy(generated, pitches, rate)
    real_accuracy, _ = pitch_accuracy(real, real_pitch, rate)

    # Fréchet and NDB: generated notes conditioned like real half A, judged against half B (and A).
    half_a, half_b = _halves(real_pitch, real_velocity)
    length = min(real.shape[1], generated.shape[1])
    fake = _generate_batched(source, real_pitch[half_a], real_velocity[half_a], rng, rate)[:, :length]
    features_a = note_features(real[half_a, :length], rate)
    features_b = note_features(real[half_b, :length], rate)
    features_fake = note_features(fake, rate)
    fd = frechet_distance(features_fake, features_b)
    fd_real = frechet_distance(features_a, features_b)
    bins = int(np.clip(len(half_a) // 8, 2, 50))
    ndb_fake, ndb_real = ndb(features_a, features_fake, bins, seed), ndb(features_a, features_b, bins, seed)

    image = _grid(source, real, real_pitch, real_velocity, rng, rate) if grid or grid_path else None
    report = EvalReport(source.name, str(data_dir), accuracy, len(pitches), real_accuracy, len(real), fd, fd_real,
                        fd / max(fd_real, 1e-9), len(half_a), ndb_fake.different, ndb_real.different, bins,
                        time.time() - started, None, image)
    if grid_path is not None:
        report.save_grid(grid_path)
    return report


def _grid(source: Source, real: np.ndarray, pitch: np.ndarray, velocity: np.ndarray,
          rng: np.random.Generator, rate: int) -> np.ndarray:
    """Top row: a real note per pitch (its loudest); next two rows: generated at that pitch and velocity."""
    chosen = np.unique(pitch)[np.linspace(0, len(np.unique(pitch)) - 1, GRID_PITCHES).round().astype(int)]
    picks = [np.flatnonzero(pitch == p)[np.argmax(velocity[pitch == p])] for p in np.unique(chosen)]
    rows = [[real[i] for i in picks]]
    for _ in range(2):
        rows.append(list(_generate_batched(source, pitch[picks], velocity[picks], rng, rate)[:, :real.shape[1]]))
    return grid(rows)
