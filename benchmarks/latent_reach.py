"""Could any latent of this decoder sound like an instrument it never heard?

For each unseen instrument of `benchmarks/from_sample_family.py`, a latent is fitted (Adam, the
control stage's loss) to its real notes' analysed controls at all five played keys at once: the
best the decoder offers that instrument, knowing more than any one sample tells. Its notes, and
those of the mean of the five notes' encodings, are judged as presets are (the sample's own
instrument in the reference). Beside `benchmarks/synthesis_ceiling.py` (what the synthesis can
do with perfect controls) it says whether a gap is the encoder's or the decoder's.

  .venv/bin/python benchmarks/latent_reach.py runs/wide/checkpoint.pt
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from from_sample_family import PLAYED_KEYS, UNSEEN, Checkpoint, FamilyJudge, UnseenNotes  # noqa: E402

from training.analysis import analyse_notes, control_loss  # noqa: E402
from training.data import NoteDataset  # noqa: E402

VELOCITY = 100 / 127


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a palette run's checkpoint.pt")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "palette", help="the palette data set")
    parser.add_argument("--steps", type=int, default=200, help="Adam steps per instrument")
    args = parser.parse_args()
    torch.set_num_threads(1)
    trained = Checkpoint(args.checkpoint)  # its EMA generator and encoder, in eval mode
    m, generator, encoder = trained.model, trained.generator, trained.encoder
    generator.requires_grad_(False)
    held = NoteDataset.load(args.data, "validation")
    length = held.audio.shape[1]
    judge = FamilyJudge(held, np.flatnonzero(np.isin(held.pitch, PLAYED_KEYS)))
    keys, velocity = torch.tensor(PLAYED_KEYS), torch.full((len(PLAYED_KEYS),), VELOCITY)
    verdicts = {"encoded": ({}, {}), "fitted": ({}, {})}
    with tempfile.TemporaryDirectory() as tmp:
        own = UnseenNotes(Path(tmp) / "own", held.sample_rate, length)
        for program in UNSEEN:
            real = own.at_keys(program, loud=True)
            found = analyse_notes(real, np.array(PLAYED_KEYS), m["sample_rate"], m["num_frames"], m["num_harmonics"],
                                  m["num_noise_bands"])
            targets = [torch.from_numpy(x.astype(np.float32)) for x in (found.harmonics, found.noise,
                                                                         found.noise_weight)]
            with torch.no_grad():
                encoded = encoder(torch.from_numpy(real), keys, velocity)[0].mean(dim=0, keepdim=True)
            z = encoded.clone().requires_grad_(True)
            optimiser = torch.optim.Adam([z], lr=0.05)
            for _ in range(args.steps):
                optimiser.zero_grad()
                partials, noise = control_loss(generator.get_controls(z.expand(len(keys), -1), keys, velocity),
                                               *targets)
                (partials + noise).backward()
                optimiser.step()
            for name, latent in (("encoded", encoded), ("fitted", z.detach())):
                with torch.no_grad():
                    audio = generator(latent.expand(len(keys), -1), keys, velocity).numpy()[:, :length]
                kept, nearest = verdicts[name]
                judge.keeps_family(audio, PLAYED_KEYS, program, kept, own.at_keys(program, loud=False), nearest)

    def share(d: dict) -> float:
        return 100 * float(np.mean([k for v in d.values() for k in v]))

    print("| latent | family kept | nearest its own instrument |\n|---|---|---|")
    for name, label in (("encoded", "the mean of its five notes' encodings"),
                        ("fitted", f"fitted to their controls ({args.steps} Adam steps)")):
        kept, nearest = verdicts[name]
        print(f"| {label} | {share(kept):.1f}% | {share(nearest):.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
