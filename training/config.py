"""Training configuration: TOML files with every hyper-parameter, checked against the defaults.

Unknown keys are refused (a typo must not silently train with a default), and
``--set section.key=value`` overrides single values.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import tomllib

from synth.errors import ConfigError
from synth.settings import read_document, split_override

DEFAULTS: dict[str, Any] = {
    "architecture": "harmonic",
    "seed": 0,
    "data": {"folder": "data/ep"},
    "model": {
        "latent_dim": 32, "sample_rate": 32000, "num_samples": 64000, "num_frames": 128,
        "num_harmonics": 60, "num_noise_bands": 16, "noise_length": 8000, "hidden": 256,
        "channels": 128, "pitch_min": 36, "pitch_max": 84,
    },
    "train": {
        "steps": 1500, "batch_size": 16, "lr_g": 3e-4, "lr_d": 2e-4, "betas": [0.5, 0.9],
        "gan_loss": "hinge", "gan_weight": 0.1, "feature_matching_weight": 1.0, "recon_weight": 1.0,
        "ema_decay": 0.995, "crop_samples": 16000, "checkpoint_every": 100, "log_every": 10, "threads": 0,
    },
}


def _merge(base: dict[str, Any], update: dict[str, Any], where: str) -> None:
    for key, value in update.items():
        path = f"{where}{key}"
        if key not in base:
            raise ConfigError(f"unknown config key '{path}'", hint=f"known keys: {', '.join(sorted(base))}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{path}' must be a table")
            _merge(base[key], value, path + ".")
        else:
            if isinstance(base[key], (int, float)) and not isinstance(base[key], bool):
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise ConfigError(f"config key '{path}' must be a number, got {value!r}")
                value = type(base[key])(value) if isinstance(base[key], float) else value
            base[key] = value


def parse_override(text: str) -> dict[str, Any]:
    """``train.steps=200`` -> ``{"train": {"steps": 200}}`` (the value is read as TOML)."""
    key, value = split_override(text)
    out: dict[str, Any] = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def load_config(paths: list[Path], overrides: list[str] = ()) -> dict[str, Any]:
    """Stack config files over the defaults, then apply overrides."""
    config = copy.deepcopy(DEFAULTS)
    for path in paths:
        data = read_document(Path(path), "config file", "TOML", tomllib.loads, tomllib.TOMLDecodeError)
        _merge(config, data, "")
    for text in overrides:
        _merge(config, parse_override(text), "")
    return config


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
