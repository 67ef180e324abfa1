"""Pitch accuracy of a plugin: the share of generated notes within ±50 cents of the asked pitch.

Every pitch of the model's range × several seeded latents × three velocities, judged by the
YIN estimator in synth/pitch.py (no part of any model). Run:
  .venv/bin/python benchmarks/pitch_accuracy.py [--model FILE.onnx] [--latents 8]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from synth.pitch import pitch_error_cents
from synth.plugin.model import GeneratorModel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--latents", type=int, default=8)
    args = parser.parse_args()
    model = GeneratorModel.load(args.model, device="cpu")
    m = model.manifest
    rng = np.random.default_rng(0)
    rate = m.sample_rate
    total, good, worst = 0, 0, 0.0
    misses = []
    for pitch in range(m.pitch_min, m.pitch_max + 1):
        z = rng.standard_normal((args.latents * 3, m.latent_dim)).astype(np.float32)
        velocity = np.repeat(np.array([0.3, 0.6, 0.95], np.float32), args.latents)
        audio = model.generate(z, np.full(len(z), pitch), velocity)
        for clip in audio:
            cents = pitch_error_cents(clip[int(0.1 * rate):int(0.6 * rate)], rate, pitch)
            total += 1
            if cents is not None and abs(cents) <= 50:
                good += 1
                worst = max(worst, abs(cents))
            else:
                misses.append((pitch, cents))
    print(f"{m.name}: {good}/{total} notes within ±50 cents ({100 * good / total:.1f}%), "
          f"pitches {m.pitch_min}-{m.pitch_max}, {args.latents} latents x 3 velocities; "
          f"largest in-tune error {worst:.1f} cents; misses: {misses[:10]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
