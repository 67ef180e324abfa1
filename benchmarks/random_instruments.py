"""What "randomise" gives on a palette model: draws from the prior against new instruments between two.

Each kind of draw (60 seeded latents, five keys 48-72, velocity 0.7) is judged by the nearest real
held-out note of the palette at that key (standardised log-mel statistics, as `synth eval
--palette`): a note farther from every real note than 95 % of the real notes at velocity 60 are
from their nearest at velocity 100 is counted as off the map of real instruments; and by YIN,
within 50 cents. The runtime's randomise uses :func:`synth.engine.latent.between_instruments`.

  .venv/bin/python benchmarks/random_instruments.py [--model FILE.onnx] [--data data/palette]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synth.engine.latent import between_instruments  # noqa: E402
from synth.plugin.model import GeneratorModel  # noqa: E402
from training.data import NoteDataset  # noqa: E402
from training.metrics import note_features, pitch_accuracy  # noqa: E402

KEYS = (48, 55, 60, 67, 72)
DRAWS = 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "synth" / "default_model" / "default.onnx")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "palette")
    args = parser.parse_args()
    model = GeneratorModel.load(args.model, device="cpu", threads=1)
    m = model.manifest
    if not m.instruments:
        print(f"{args.model} has no instruments: randomise draws from its prior there", file=sys.stderr)
        return 2
    held = NoteDataset.load(args.data, "validation")
    rows = np.flatnonzero(np.isin(held.pitch, KEYS))
    features = note_features(held.audio[rows], held.sample_rate)
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    real = (features - mean) / std
    pitch, quiet = held.pitch[rows], held.velocity[rows] < 0.6
    nearest_real = [np.linalg.norm(real[~quiet & (pitch == pitch[i])] - real[i], axis=1).min()
                    for i in np.flatnonzero(quiet)]
    edge = float(np.percentile(nearest_real, 95))
    rng = np.random.default_rng(1)
    draws = {"the prior": [rng.standard_normal(m.latent_dim).astype(np.float32) for _ in range(DRAWS)],
             "between two instruments": [between_instruments(m, seed) for seed in range(DRAWS)]}
    print(f"| {DRAWS} draws x {len(KEYS)} keys | nearest real note, p50 | p95 | off the map | in tune |")
    print("|---|---|---|---|---|")
    for name, latents in draws.items():
        distances, in_tune = [], []
        for z in latents:
            audio = model.generate(np.repeat(z[None], len(KEYS), 0), np.array(KEYS),
                                   np.full(len(KEYS), 0.7, np.float32))
            described = (note_features(audio[:, :held.audio.shape[1]], m.sample_rate) - mean) / std
            for vector, key in zip(described, KEYS):
                distances.append(np.linalg.norm(real[pitch == key] - vector, axis=1).min())
            in_tune.append(pitch_accuracy(audio, np.array(KEYS), m.sample_rate)[0])
        distances = np.array(distances)
        print(f"| {name} | {np.median(distances):.2f} | {np.percentile(distances, 95):.2f} | "
              f"{100 * np.mean(distances > edge):.1f}% | {100 * np.mean(in_tune):.1f}% |")
    print(f"(real notes: nearest other-velocity real note p50 {np.median(nearest_real):.2f}, p95 {edge:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
