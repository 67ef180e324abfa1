"""synth eval: pitch accuracy, Fréchet ratio, NDB and a spectrogram grid for a model or checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..files import write_text_atomically
from .common import bounded, writable_folder

EXAMPLE = """examples:
  synth eval synth/default_model/default.onnx --data data/ep --grid out/grid.png
  synth eval runs/wavegan/checkpoint.pt --data data/ep --json out/wavegan-eval.json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="a plugin (.onnx) or a training checkpoint (.pt)")
    parser.add_argument("--data", type=Path, required=True, help="a data set folder from `synth dataset`")
    parser.add_argument("--latents", type=bounded(int, 1, 64), default=4,
                        help="latents per pitch for pitch accuracy, 1-64 (4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", type=Path, help="write a spectrogram grid PNG here")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")


def run(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate

    # Outputs are checked before minutes of measuring, and the figures are printed before any
    # file is written: a folder that cannot be written to loses nothing that was computed.
    for path, what in ((args.grid, "--grid"), (args.json, "--json")):
        if path is not None:
            writable_folder(path, what)
    report = evaluate(args.model, args.data, latents=args.latents, seed=args.seed, grid=args.grid is not None)
    print(report.table(), flush=True)
    if args.grid:
        report.grid = str(report.save_grid(args.grid))
        print(f"spectrogram grid: {report.grid}")
    if args.json:
        write_text_atomically(args.json, json.dumps(report.as_dict(), indent=2) + "\n")
    return 0
