"""synth eval: pitch accuracy, Fréchet ratio, NDB and a spectrogram grid for a model or checkpoint."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from ..errors import SynthError, missing_training_extra
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
    parser.add_argument("--palette", action="store_true",
                        help="a palette checkpoint (encoder): nearest-instrument accuracy, latent separation, "
                             "reconstruction, pitch, knob reach, on the data set's held-out notes")
    parser.add_argument("--instruments", type=Path,
                        help="with --palette: the data set the plugin takes its instruments and knobs from "
                             "(`synth export --data`), when wider than --data")
    parser.add_argument("--map", type=Path, help="with --palette: write the timbre map PNG here")
    parser.add_argument("--threads", type=bounded(int, 1, 256), default=None,
                        help="CPU threads judging a checkpoint (.pt; default: torch's own); give 1 beside a "
                             "training run: two processes each spinning on every core run many times slower")


def run(args: argparse.Namespace) -> int:
    if args.palette:
        return _palette(args)
    for given, what in ((args.map, "--map"), (args.instruments, "--instruments")):
        if given is not None:
            raise SynthError(f"{what} is a palette figure", hint="add --palette (a checkpoint with an encoder)")
    from training.evaluate import evaluate

    # Outputs are checked before minutes of measuring, and the figures are printed before any
    # file is written: a folder that cannot be written to loses nothing that was computed.
    for path, what in ((args.grid, "--grid"), (args.json, "--json")):
        if path is not None:
            writable_folder(path, what)
    report = evaluate(args.model, args.data, latents=args.latents, seed=args.seed, grid=args.grid is not None,
                      threads=args.threads)
    print(report.table(), flush=True)
    if args.grid:
        report.grid = str(report.save_grid(args.grid))
        print(f"spectrogram grid: {report.grid}")
    if args.json:
        write_text_atomically(args.json, json.dumps(report.as_dict(), indent=2) + "\n")
    return 0


def _palette(args: argparse.Namespace) -> int:
    try:
        from training.palette_eval import palette_report
    except ImportError as exc:
        raise missing_training_extra("judging a palette checkpoint", exc) from None
    for path, what in ((args.json, "--json"), (args.map, "--map")):
        if path is not None:
            writable_folder(path, what)
    for folder in (args.data, args.instruments):
        if folder is not None and not (folder / "index.json").is_file():
            raise SynthError(f"data set {folder} does not exist", hint="build it with `synth dataset soundfont`")
    report = palette_report(args.model, args.data, threads=args.threads, instruments=args.instruments)
    print(report.table(), flush=True)
    if args.map:
        from training.timbre_map import draw_timbre_map

        print(f"timbre map: {draw_timbre_map(report.map_points, args.map, f'palette model at step {report.step}')}")
    if args.json:
        write_text_atomically(args.json, json.dumps(dataclasses.asdict(report), indent=2) + "\n")
    return 0
