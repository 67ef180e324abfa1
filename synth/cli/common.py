"""Arguments and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.latent import Preset, default_presets
from ..errors import ConfigError
from ..settings import Settings


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=None,
                        help="plugin file (.onnx); default: the embedded default model")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where onnxruntime runs the model (default: auto)")
    parser.add_argument("--config", type=Path, default=None, help="settings file (TOML), see docs/config.md")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set engine.polyphony=16 (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the presets' latents (default 0)")
    parser.add_argument("--preset", type=Path, action="append", default=[],
                        help="preset JSON file to load into program slot 0, 1, ... (repeatable)")


def parse_range(text: str) -> list[int]:
    """``36-84`` or ``60,64,67`` or ``60`` -> list of ints."""
    values: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                low, high = part.split("-", 1)
                values.extend(range(int(low), int(high) + 1))
            else:
                values.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 60,64,67 or a range like 36-84") from None
    if not values or not all(0 <= v <= 127 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: values must lie in 0..127")
    return values


def build_synth(args: argparse.Namespace, threads: int = 0):
    """The engine as the arguments describe it (model, settings, presets, seed)."""
    from ..engine.synth import Synth
    from ..plugin.model import GeneratorModel

    if args.seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {args.seed}")
    settings = Settings.load(args.config).with_overrides(args.overrides)
    model = GeneratorModel.load(args.model, device=args.device, threads=threads)
    presets = default_presets(settings["presets.count"])
    for preset in presets:
        preset.seed += args.seed
    for slot, path in enumerate(list(settings["presets.files"]) + list(args.preset)):
        if slot >= len(presets):
            presets.append(Preset.load(Path(path)))
        else:
            presets[slot] = Preset.load(Path(path))
    for preset in presets:
        if preset.model_sha256 and preset.model_sha256 != model.sha256:
            raise ConfigError(f"preset '{preset.name}' was made for another model "
                              f"(sha256 {preset.model_sha256[:12]}, this one {model.sha256[:12]})",
                              hint="drop its model_sha256 to use it anyway")
    return Synth(model, settings, presets)


def batch_sizes(text: str) -> tuple[int, ...]:
    """argparse type: ``"1,8,32"`` -> ``(1, 8, 32)``, each from 1 to 1024, repeats dropped."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of batch sizes") from None
    if not sizes or min(sizes) < 1 or max(sizes) > 1024:
        raise argparse.ArgumentTypeError("batch sizes run from 1 to 1024")
    return tuple(dict.fromkeys(sizes))
