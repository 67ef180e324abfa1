"""Model registry: each architecture builds from a config dict and exports through one contract."""

from __future__ import annotations

from typing import Any

from .harmonic import HarmonicGenerator

GENERATORS = {"harmonic": HarmonicGenerator}


def build_generator(config: dict[str, Any]):
    """Build the generator named by ``config['architecture']`` from ``config['model']``."""
    name = config["architecture"]
    if name not in GENERATORS:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(sorted(GENERATORS))}")
    return GENERATORS[name](**config["model"])
