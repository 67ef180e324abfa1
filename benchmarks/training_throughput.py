"""Training throughput: steps/s, notes/s and seconds of audio per second, per architecture.

Runs the real `Trainer` (generator and discriminator steps with every loss of the config) on
the config's data set, or on a small FluidSynth-rendered set when that is missing. CPU unless
--device cuda. Prints a table and appends it to docs/performance.md.

  .venv/bin/python benchmarks/training_throughput.py [--steps 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from synth.bench import record  # noqa: E402

CONFIGS = ("training/configs/default.toml", "training/configs/wavegan.toml")


def data_for(config: dict, scratch: Path) -> str:
    """The config's data folder if it exists, else a small real data set at the config's shape."""
    from training.data import build_soundfont_dataset

    folder = ROOT / config["data"]["folder"]
    if (folder / "index.json").exists():
        return str(folder)
    model = config["model"]
    out = scratch / f"ep-{model['sample_rate']}-{model['num_samples']}"
    if not out.exists():
        build_soundfont_dataset(out, [4], list(range(model["pitch_min"], model["pitch_max"] + 1, 4)), [60, 110],
                                sample_rate=model["sample_rate"], num_samples=model["num_samples"], progress=False)
    return str(out)


def measure(config_path: str, steps: int, device: str, scratch: Path) -> dict:
    import torch

    from training.config import load_config
    from training.train import Trainer

    config = load_config([ROOT / config_path], [f"train.device={device!r}", "train.tensorboard=false"])
    config["data"]["folder"] = data_for(config, scratch)
    trainer = Trainer(config, scratch / f"run-{Path(config_path).stem}")
    for _ in range(2):  # warm-up: allocator, autotuning, first-call overheads
        trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    batch = config["train"]["batch_size"]
    return {"architecture": config["architecture"], "device": str(trainer.device), "batch": batch,
            "steps_per_s": steps / seconds, "notes_per_s": steps * batch / seconds,
            "audio_s_per_s": steps * batch * config["model"]["num_samples"] / config["model"]["sample_rate"] / seconds,
            "threads": torch.get_num_threads()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    rows = ["| architecture | device | torch threads | batch | steps/s | notes/s | generated audio s per s |",
            "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for config_path in CONFIGS:
            r = measure(config_path, args.steps, args.device, Path(tmp))
            rows.append(f"| {r['architecture']} | {r['device']} | {r['threads']} | {r['batch']} | "
                        f"{r['steps_per_s']:.2f} | {r['notes_per_s']:.1f} | {r['audio_s_per_s']:.1f} |")
    table = "\n".join(rows) + "\n"
    print(table)
    if not args.no_append:
        record(ROOT / "docs" / "performance.md", "Training throughput",
               f".venv/bin/python benchmarks/training_throughput.py --steps {args.steps} --device {args.device}",
               "A generator and a discriminator update per step, every loss of the config; 2 warm-up "
               f"steps not counted.\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
