"""Model registry: each architecture builds from a config dict and exports through one contract.

``config['model']`` holds the keys of every architecture (so one strict schema checks
them all); each generator takes the ones its constructor names.
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from synth.errors import ConfigError
from training.models.discriminators import MultiResolutionDiscriminator
from training.models.harmonic import HarmonicGenerator
from training.models.wavegan import WaveformDiscriminator, WaveGANGenerator

GENERATORS = {"harmonic": HarmonicGenerator, "wavegan": WaveGANGenerator}
DISCRIMINATORS = ("spectrogram", "waveform")


def _accepted(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    names = inspect.signature(cls.__init__).parameters
    return {key: value for key, value in options.items() if key in names}


def build_generator(config: dict[str, Any]) -> nn.Module:
    """Build the generator named by ``config['architecture']`` from ``config['model']``."""
    name = config["architecture"]
    if name not in GENERATORS:
        raise ConfigError(f"unknown architecture {name!r}", hint=f"choose one of: {', '.join(sorted(GENERATORS))}")
    return GENERATORS[name](**_accepted(GENERATORS[name], config["model"]))


def build_discriminator(config: dict[str, Any]) -> nn.Module:
    """The discriminator named by ``config['discriminator']['kind']``."""
    options = config["discriminator"]
    if options["kind"] == "spectrogram":
        return MultiResolutionDiscriminator(tuple(options["fft_sizes"]), options["channels"])
    if options["kind"] == "waveform":
        return WaveformDiscriminator(options["width"], options["layers"], options["phase_shuffle"],
                                     options["spectral_norm"])
    raise ConfigError(f"unknown discriminator {options['kind']!r}", hint=f"choose one of: {', '.join(DISCRIMINATORS)}")
