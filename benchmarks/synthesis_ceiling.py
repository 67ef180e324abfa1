"""How well could any preset sound like an unseen instrument through this generator's synthesis?

The unseen instruments of `benchmarks/from_sample_family.py` have their real notes analysed
(`training/analysis.py`: partial amplitudes, noise-band gains, pitch deviation, frame by frame) and
resynthesised through the harmonic generator's own signal path from exactly those controls, no
network in between. Those notes are judged as presets are (the second judge there: the sample's
own instrument in the reference). No encoder or training can do better through the same path,
so this is the ceiling the synthesis sets. ``--bands``, ``--frames`` and ``--partials`` try
another synthesis (the analysis follows it).

  .venv/bin/python benchmarks/synthesis_ceiling.py --bands 16 --bands 64
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

from from_sample_family import PLAYED_KEYS, UNSEEN, FamilyJudge, UnseenNotes  # noqa: E402

from synth.gm import program_name  # noqa: E402
from training.analysis import analyse_notes  # noqa: E402
from training.config import load_config  # noqa: E402
from training.data import NoteDataset  # noqa: E402
from training.models import build_generator  # noqa: E402


def resynthesised(notes: np.ndarray, keys, config: dict) -> np.ndarray:
    """``notes`` ``[N, samples]`` through the generator's signal path from their own analysis."""
    m = config["model"]
    generator = build_generator(config).eval()  # its weights are never used, only get_signal
    found = analyse_notes(notes, np.array(keys), m["sample_rate"], m["num_frames"], m["num_harmonics"],
                          m["num_noise_bands"])
    partials = torch.from_numpy(found.harmonics.astype(np.float32))
    level = partials.sum(dim=1, keepdim=True)
    controls = {"f0_hz": 440.0 * 2.0 ** ((torch.tensor(keys, dtype=torch.float32) - 69.0) / 12.0),
                "amplitude": level, "harmonic_distribution": partials / (level + 1e-7),
                "noise_band_gains": torch.from_numpy(found.noise.astype(np.float32)),
                "f0_cents": torch.from_numpy(found.cents.astype(np.float32))}
    with torch.no_grad():
        return generator.get_signal(controls).numpy()[:, :notes.shape[1]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "palette", help="the palette data set")
    parser.add_argument("--bands", type=int, action="append", help="noise bands (repeatable; default 16)")
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--partials", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    held = NoteDataset.load(args.data, "validation")
    length = held.audio.shape[1]
    judge = FamilyJudge(held, np.flatnonzero(np.isin(held.pitch, PLAYED_KEYS)))
    with tempfile.TemporaryDirectory() as tmp:
        own = UnseenNotes(Path(tmp) / "own", held.sample_rate, length)
        print(table(own, judge, args, held.sample_rate, length))
    return 0


def table(own: UnseenNotes, judge: FamilyJudge, args: argparse.Namespace, rate: int, length: int) -> str:
    lines = ["| noise bands | frames | partials | family kept | nearest its own instrument | per instrument |",
             "|---|---|---|---|---|---|"]
    for bands in args.bands or [16]:
        config = load_config([ROOT / "training/configs/palette.toml"], [
            f"model.num_noise_bands={bands}", f"model.num_frames={args.frames}",
            f"model.num_harmonics={args.partials}", f"model.sample_rate={rate}",
            f"model.num_samples={length}"])
        kept: dict[int, list[bool]] = {}
        nearest: dict[int, list[bool]] = {}
        for program in UNSEEN:
            judge.keeps_family(resynthesised(own.at_keys(program, loud=True), PLAYED_KEYS, config), PLAYED_KEYS,
                               program, kept, own.at_keys(program, loud=False), nearest)
        share = float(np.mean([k for v in kept.values() for k in v]))
        mine = float(np.mean([k for v in nearest.values() for k in v]))
        each = ", ".join(f"{program_name(p)} {100 * np.mean(v):.0f}%" for p, v in kept.items())
        lines.append(f"| {bands} | {args.frames} | {args.partials} | **{100 * share:.1f}%** | {100 * mine:.1f}% "
                     f"| {each} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
