"""The ``synth`` command: one entry point, one module per subcommand.

Heavy imports (torch, onnxruntime) happen inside the subcommand that needs them,
so ``synth --help`` is instant and the player never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import SynthError

COMMANDS = {
    "render": "Render a MIDI file to WAV (or a folder of one-shots) with a model.",
    "play": "Play live from a MIDI keyboard through an audio device.",
    "inspect": "Print a model's manifest and whether it follows the plugin contract.",
    "devices": "List audio devices and MIDI ports.",
    "preset": "Make or check a preset file.",
    "export": "Export a training checkpoint to a plugin (ONNX).",
    "train": "Train a generator from a TOML config.",
    "dataset": "Build a training data set of single notes.",
    "eval": "Judge a model: pitch accuracy, Fréchet ratio, NDB, spectrogram grid.",
    "bench": "Measure how fast a model generates notes on this machine.",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only``, just that subcommand's module is imported (the
    others keep their names and help), which saves a render tens of milliseconds of imports."""
    parser = argparse.ArgumentParser(
        prog="synth", description="A GAN synthesizer you can play.",
        epilog="example: synth render examples/demo.mid -o demo.wav",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, description=help_text)
            continue
        module = importlib.import_module(f".{name}_cmd", __name__)
        command = sub.add_parser(name, help=help_text, description=help_text,
                                 epilog=getattr(module, "EXAMPLE", None),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except SynthError as error:
        print(f"synth {args.command}: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"synth {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
