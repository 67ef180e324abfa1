"""synth train: train a generator from a TOML config (needs the `train` extra)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ..errors import SynthError, missing_training_extra
from .common import writable_folder

EXAMPLE = """examples:
  synth dataset soundfont -o data/ep --programs 4 --pitches 36-84 --velocities 40,80,120
  synth train training/configs/default.toml --run-dir runs/mine
  synth train training/configs/default.toml --run-dir runs/mine --resume --set train.steps=3000
  synth train training/configs/wavegan.toml --run-dir runs/wavegan
  torchrun --nproc_per_node 2 -m synth train training/configs/default.toml --run-dir runs/ddp
  tensorboard --logdir runs  (loss curves, audio and spectrograms)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, nargs="+", help="TOML config file(s), later ones override")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/default"), help="where checkpoints go")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one value, e.g. --set train.steps=200")
    parser.add_argument("--resume", action="store_true", help="continue from the run dir's checkpoint")
    parser.add_argument("--init-from", type=Path, metavar="CHECKPOINT",
                        help="start a new run from another run's weights where they fit (a generator with "
                             "more noise bands splits the old ones), or from an exported plugin's (.onnx: its "
                             "generator and encoder; the discriminators start new); optimisers and the step "
                             "count start afresh")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    try:
        from training.config import load_config
        from training.train import CHECKPOINT_NAME, Trainer, load_checkpoint
    except ImportError as exc:
        raise missing_training_extra("training", exc) from None
    config = load_config(args.config, args.overrides)
    data = Path(config["data"]["folder"])
    if not (data / "index.json").is_file():
        raise SynthError(f"data set {data} does not exist", hint="build it with `synth dataset soundfont`")
    if args.init_from is not None:
        if args.resume:
            raise SynthError("--init-from starts a new run and --resume continues one", hint="give one of them")
        if not args.init_from.exists():
            raise SynthError(f"--init-from {args.init_from} does not exist", hint="give a checkpoint.pt of a run")
        if args.init_from.suffix == ".onnx":  # a plugin, e.g. the built-in model, whose run is not here
            from training.from_plugin import plugin_checkpoint

            source = plugin_checkpoint(args.init_from, config)
        else:
            source = load_checkpoint(args.init_from)
    checkpoint = args.run_dir / CHECKPOINT_NAME
    if checkpoint.exists() and not args.resume:
        raise SynthError(f"{checkpoint} exists", hint="add --resume to continue it or pick another --run-dir")
    writable_folder(checkpoint, "--run-dir")  # now, not after the first hundred steps
    trainer = Trainer(config, args.run_dir)  # its faults are SynthErrors with a hint
    if args.init_from is not None:
        from training.warm_start import warm_start

        new = warm_start(trainer, source)
        print(f"starting from the weights of {args.init_from} (step {source['step']})"
              + (f"; new: {_grouped(new)}" if new else ""), file=sys.stderr)
    if args.resume:
        if not checkpoint.exists():
            raise SynthError(f"nothing to resume: {checkpoint} does not exist")
        trainer.load_state(load_checkpoint(checkpoint))
        print(f"resuming at step {trainer.step}", file=sys.stderr)
    # Stopped by kill, a session's end or a shell that ignores Ctrl-C for background jobs: save
    # and exit as on Ctrl-C, so a long run loses nothing and goes on with --resume.
    signal.signal(signal.SIGTERM, _interrupt)
    trainer.fit(progress=not args.quiet)
    if trainer.group.leader:
        print(args.run_dir / CHECKPOINT_NAME)
    trainer.group.close()
    return 0


def _grouped(names: list[str]) -> str:
    """``module.tensor`` names, a module's many as one entry (a plugin's discriminators are all new)."""
    modules: dict[str, list[str]] = {}
    for name in names:
        modules.setdefault(name.split(".", 1)[0], []).append(name)
    return ", ".join(", ".join(group) if len(group) <= 3 else f"{module} ({len(group)} tensors)"
                     for module, group in modules.items())


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt
