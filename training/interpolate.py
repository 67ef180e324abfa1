"""A fine-tuned run's weights moved back toward the model it started from (weight-space
interpolation, as WiSE-FT does: Wortsman et al., "Robust fine-tuning of zero-shot models", 2022).

Fine-tuning the built-in palette on the wide mixture teaches it the instruments around an unheard
sample's (a preset from a sample keeps its family more often) and, within a few hundred steps,
costs the sixteen instruments some of their fidelity (docs/training.md). Both runs start from the
same weights, so the straight line between them stays in one basin: a point near the start keeps
most of what the start had and part of what the tuning found. ``share`` is how far along the line
from ``base`` (0) to ``tuned`` (1).

    python -m training.interpolate synth/default_model/default.onnx runs/tuned/checkpoint.pt \\
        --share 0.2 -o runs/tuned/interpolated.pt

``base`` is a plugin (its EMA generator and encoder, :mod:`training.from_plugin`) or a checkpoint.
The result is a checkpoint of ``tuned``'s run with the generator, its EMA and the encoder
interpolated (the generator is set to the EMA's weights: a plugin carries only those); the
discriminators, optimisers and step are ``tuned``'s. ``synth export`` and ``synth eval`` take it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from synth.errors import DataError, SynthError
from synth.files import atomic_file

PARTS = ("ema", "encoder")


def interpolate_weights(base: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor],
                        share: float) -> dict[str, torch.Tensor]:
    """``(1 - share) * base + share * tuned`` for every floating tensor both have with one shape;
    ``tuned``'s own for the rest (step counters, fixed tables the config rebuilds anyway)."""
    mixed = {}
    for name, theirs in tuned.items():
        ours = base.get(name)
        if (torch.is_tensor(theirs) and theirs.is_floating_point() and torch.is_tensor(ours)
                and tuple(ours.shape) == tuple(theirs.shape)):
            mixed[name] = torch.lerp(ours.to(theirs.dtype), theirs, share)
        else:
            mixed[name] = theirs
    return mixed


def interpolate_checkpoint(base: dict[str, Any], tuned: dict[str, Any], share: float) -> dict[str, Any]:
    """``tuned`` with its EMA generator and encoder ``share`` of the way from ``base``'s."""
    if not 0.0 <= share <= 1.0:
        raise DataError(f"the share must be 0..1 (0: the base model, 1: the tuned run), got {share}")
    state = dict(tuned)
    for part in PARTS:
        if part not in tuned:
            continue
        if part not in base:
            raise DataError(f"the base model has no {part} to interpolate with",
                            hint="give the plugin or checkpoint the tuned run started from")
        state[part] = interpolate_weights(base[part], tuned[part], share)
    state["generator"] = state["ema"]
    return state


def _load_base(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    from training.from_plugin import plugin_checkpoint
    from training.train import load_checkpoint

    return plugin_checkpoint(path, config) if path.suffix == ".onnx" else load_checkpoint(path)


def main(argv: list[str] | None = None) -> int:
    from training.train import load_checkpoint

    parser = argparse.ArgumentParser(prog="python -m training.interpolate", description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path, help="the plugin (.onnx) or checkpoint the tuned run started from")
    parser.add_argument("tuned", type=Path, help="the fine-tuned run's checkpoint.pt")
    parser.add_argument("--share", type=float, required=True, help="how far toward the tuned run, 0..1")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the checkpoint to write")
    args = parser.parse_args(argv)
    try:
        tuned = load_checkpoint(args.tuned)
        state = interpolate_checkpoint(_load_base(args.base, tuned["config"]), tuned, args.share)
        with atomic_file(args.output) as tmp:
            torch.save(state, tmp)
    except SynthError as error:
        print(f"interpolate: {error}", file=sys.stderr)
        return error.exit_code
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
