"""synth bench: how fast a model generates notes on this machine, by batch size."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import SynthError
from .common import batch_sizes

EXAMPLE = "example:\n  synth bench                      (the default model, every CPU core)\n" \
          "  synth bench my.onnx --threads 1 --batches 1,8"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, nargs="?", help="plugin file (default: the built-in model)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: every core)")
    parser.add_argument("--batches", type=batch_sizes, default=None, help="batch sizes (1,8,32,61)")
    parser.add_argument("--calls", type=int, default=30, help="timed calls per batch size (30)")


def run(args: argparse.Namespace) -> int:
    from ..bench import BATCHES, generation_table, machine_description, measure_generation
    from ..plugin.model import GeneratorModel

    if args.calls < 1 or args.threads < 0:
        raise SynthError("--calls must be 1 or more and --threads 0 or more")
    model = GeneratorModel.load(args.model, device=args.device, threads=args.threads)
    rows = measure_generation(model, args.batches or BATCHES, args.calls)
    threads = args.threads or "all"
    print(f"{model.manifest.name} ({model.path.name}) on {model.device_description}, {threads} thread(s), "
          f"{model.run_path}; "
          f"{machine_description()}\n")
    print(generation_table(rows), end="")
    return 0
