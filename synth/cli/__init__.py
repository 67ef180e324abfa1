"""The ``synth`` command: one entry point, one module per subcommand.

Heavy imports (torch, onnxruntime) happen inside the subcommand that needs them,
so ``synth --help`` is instant and the player never loads torch.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from typing import NoReturn

from ..errors import SynthError

# numpy's BLAS on one thread, for the program (set before any subcommand imports numpy; a value
# the user set stays): the engine's BLAS work is one small product per block (the channels to
# stereo, engine/mixer.py), and OpenBLAS's second thread, spinning after each, took a core from
# the render's note workers and the live host's audio.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments are one sentence too: what is wrong and where the help is (argparse printed
    the whole usage block above its message)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; see `{self.prog} --help`\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only``, just that subcommand's module is imported (the
    others keep their names and help), which saves a render tens of milliseconds of imports."""
    parser = OneLineParser(
        prog="synth", description="A GAN synthesizer you can play.",
        epilog="example: synth render examples/demo.mid -o demo.wav\n"
               "--debug (anywhere) or SYNTH_DEBUG=1 shows a traceback instead of one sentence, for bug reports",
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
    """Run one subcommand. Whatever goes wrong ends as one sentence on stderr and a non-zero exit:
    the project's own errors (2), a file-system fault nobody named yet (2), anything else (70,
    a bug: the sentence says how to get the traceback). ``--debug`` anywhere on the line, or
    SYNTH_DEBUG=1, shows the traceback instead, for bug reports."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get("SYNTH_DEBUG") == "1"
    argv = [arg for arg in argv if arg != "--debug"]
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except SynthError as error:
        if debug:
            raise
        print(f"synth {args.command}: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"synth {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:
        if debug:
            raise
        print(f"synth {args.command}: {describe_os_error(error)}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001  a bug: one sentence, and the way to the traceback
        if debug:
            raise
        print(f"synth {args.command}: internal error ({type(error).__name__}: {str(error)[:200]}); "
              "run it again with --debug and report the traceback", file=sys.stderr)
        return 70


# Subcommands whose work is all done when they return (their files closed and renamed into place,
# their threads joined): the program then ends at once instead of tearing the interpreter down
# (freeing numpy's and onnxruntime's modules took 45 ms after a 0.9 s render of
# benchmarks/bench_3min.mid; os._exit 10 ms).
QUICK_EXIT = frozenset({"render"})


def program() -> NoReturn:
    """The ``synth`` program (the console script and ``python -m synth``): :func:`main`, then exit."""
    argv = sys.argv[1:]
    code = main(argv)
    command = next((arg for arg in argv if arg != "--debug"), None)
    if code == 0 and command in QUICK_EXIT:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # a closed pipe: the ordinary exit deals with it
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


OS_ERRORS = {
    errno.EROFS: ("the file system is read-only", "write somewhere else"),
    errno.ENOSPC: ("the disk is full", "free some space or write somewhere else"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or write somewhere else"),
    errno.EFBIG: ("the file is too large for this file system or limit", "write somewhere else"),
    errno.EACCES: ("permission denied", "check who owns it, or write somewhere else"),
    errno.EPERM: ("not permitted", "check who owns it, or write somewhere else"),
    errno.EISDIR: ("it is a folder", "give a file name"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the path"),
    errno.ENOENT: ("it does not exist", "check the path"),
}


def describe_os_error(error: OSError) -> str:
    """One sentence for a file-system fault: what, where, and what to do."""
    where = f" {error.filename}" if error.filename else ""
    what, hint = OS_ERRORS.get(error.errno, (error.strerror or type(error).__name__, "check the path"))
    return f"cannot use{where}: {what}; {hint}"
