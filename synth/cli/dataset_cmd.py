"""synth dataset: build a training data set of single notes (needs the `train` extra)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import SynthError, missing_training_extra
from .common import (
    bounded,
    check_soundfont,
    parse_pitches,
    parse_range,
    parse_velocities,
    refuse_existing,
    writable_folder,
)


def parse_programs(text: str) -> list[int]:
    """``palette`` (the sixteen of synth.gm.PALETTE), ``melodic`` (0-95) or a list like ``0,4,11-13``."""
    from ..gm import PALETTE

    if text == "palette":
        return list(PALETTE)
    if text == "melodic":
        return list(range(96))
    return parse_range(text)

EXAMPLE = """examples:
  synth dataset soundfont -o data/ep --programs 4 --pitches 36-84 --velocities 40,80,120
  synth dataset soundfont -o data/palette --programs palette --velocities 40,80,120 --held-out-velocities 60,100
  synth dataset folder ~/samples/rhodes -o data/rhodes   (pitch from names like C4, F#2, x-060-100, or estimated)
  synth dataset merge data/wide data/wide-musescore -o data/wide-2sf   (two recordings of each instrument)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=("soundfont", "folder", "merge"), help="where the notes come from")
    parser.add_argument("folders", type=Path, nargs="*", metavar="FOLDER",
                        help="folder of one-shot recordings (source 'folder'), or data sets to merge (source 'merge')")
    parser.add_argument("-o", "--output", type=Path, required=True, help="data set folder to write")
    parser.add_argument("--force", action="store_true", help="replace a data set already at --output")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--soundfont", type=Path, default=Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"))
    parser.add_argument("--programs", type=parse_programs, default=[4],
                        help="GM programs, 0-based, or 'palette' or 'melodic' (4)")
    parser.add_argument("--pitches", type=parse_pitches, default=list(range(36, 85)), help="notes (36-84)")
    parser.add_argument("--velocities", type=parse_velocities, default=[40, 80, 120],
                        help="velocities, 1-127 (40,80,120)")
    parser.add_argument("--held-out-velocities", type=parse_velocities, default=[],
                        help="velocities rendered for validation only (default: a random 10%% of notes)")
    parser.add_argument("--sample-rate", type=bounded(int, 8000, 96000, " Hz"), default=32000,
                        help="Hz, 8000-96000 (32000)")
    parser.add_argument("--seconds", type=bounded(float, 0.1, 30, " s"), default=2.0, help="clip length (2.0)")


def run(args: argparse.Namespace) -> int:
    try:
        from training.data import build_soundfont_dataset
    except ImportError as exc:
        raise missing_training_extra("dataset building", exc) from None
    if (args.output / "index.json").exists() or (args.output.exists() and not args.output.is_dir()):
        refuse_existing(args.output, "data set", args.force)
    if args.source == "folder":
        return _from_folder(args)
    if args.source == "merge":
        return _merge(args)
    if args.folders:
        raise SynthError("a folder is only read with `synth dataset folder DIR` or `synth dataset merge DATA...`")
    check_soundfont(args.soundfont)
    writable_folder(args.output / "index.json", "--output")  # now, not after minutes of rendering
    out = build_soundfont_dataset(args.output, args.programs, args.pitches, args.velocities,
                                  args.sample_rate, int(args.seconds * args.sample_rate), args.soundfont,
                                  held_out_velocities=args.held_out_velocities, progress=not args.quiet)
    print(out)
    return 0


def _from_folder(args: argparse.Namespace) -> int:
    from training.folder_data import build_folder_dataset

    if len(args.folders) != 1 or not args.folders[0].is_dir():
        raise SynthError(f"{args.folders[0] if args.folders else 'a folder'} is not a folder of recordings"
                         if len(args.folders) < 2 else "`synth dataset folder` reads one folder",
                         hint="synth dataset folder DIR -o OUT")
    report = build_folder_dataset(args.folders[0], args.output, args.sample_rate, int(args.seconds * args.sample_rate),
                                  progress=not args.quiet)
    print(report.summary(), file=sys.stderr)
    print(args.output)
    return 0


def _merge(args: argparse.Namespace) -> int:
    from training.merge_data import merge_datasets

    if any(folder.resolve() == args.output.resolve() for folder in args.folders):
        raise SynthError(f"{args.output} is one of the data sets to merge", hint="write the merged set elsewhere")
    writable_folder(args.output / "index.json", "--output")
    print(merge_datasets(args.output, args.folders))
    return 0
