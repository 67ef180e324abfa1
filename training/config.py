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
from synth.files import read_document
from synth.settings import split_override

DEFAULTS: dict[str, Any] = {
    "architecture": "harmonic",
    "seed": 0,
    # focus_programs: GM programs drawn for focus_share of each control-stage batch (a wide data set
    # whose first instruments must keep their fidelity); [] draws every note alike.
    "data": {"folder": "data/ep", "focus_programs": [], "focus_share": 0.5},
    "model": {
        "latent_dim": 32, "sample_rate": 32000, "num_samples": 64000, "pitch_min": 36, "pitch_max": 84,
        # harmonic
        "num_frames": 128, "num_harmonics": 60, "num_noise_bands": 16, "noise_length": 8000, "hidden": 256,
        "channels": 128, "vibrato_cents": 0.0,
        # wavegan
        "width": 16,
    },
    "discriminator": {
        "kind": "spectrogram", "fft_sizes": [1024, 256], "channels": 32,  # spectrogram
        "width": 16, "layers": 5, "phase_shuffle": 2, "spectral_norm": True,  # waveform
    },
    # The palette model: an encoder from real notes to latents (VAE), reconstructions trained with
    # the STFT and adversarial losses, and prior samples with the adversarial loss alone.
    "encoder": {
        "enabled": False, "channels": 128, "num_mels": 64, "kl_weight": 0.02, "kl_warmup_steps": 2000,
        "prior_share": 0.5, "free_bits": 0.0,
    },
    "train": {
        "steps": 1500, "batch_size": 16, "lr_g": 3e-4, "lr_d": 2e-4, "betas": [0.5, 0.9],
        "gan_loss": "hinge", "gan_weight": 0.1, "feature_matching_weight": 1.0, "recon_weight": 1.0,
        "gp_weight": 10.0, "r1_weight": 0.0,
        "ema_decay": 0.995, "crop_samples": 16000, "checkpoint_every": 100, "log_every": 10, "threads": 0,
        "device": "auto", "mixed_precision": True, "sample_every": 250, "tensorboard": True,
        # The palette's first stage (training/analysis.py): the decoder's controls regressed on the
        # harmonic and noise analysis of each real note, before the audio-domain stage.
        "control_steps": 0, "control_batch_size": 64, "control_gan_weight": 0.0,
        # The vibrato's spectrum over the note, phase-free (training/analysis.py): 0 leaves the
        # frame-by-frame loss alone, which flattens a vibrato whose phase the latent does not hold.
        "vibrato_spectrum_weight": 0.0,
    },
}

CHOICES: dict[str, tuple[str, ...]] = {
    "architecture": ("harmonic", "wavegan"),
    "discriminator.kind": ("spectrogram", "waveform"),
    "train.gan_loss": ("nonsaturating", "hinge", "wgan-gp"),
    "train.device": ("auto", "cpu", "cuda"),
}


# Every number a run cannot do without, with its range (train.steps=-5 once wrote a checkpoint).
LIMITS: dict[str, tuple[float, float]] = {
    "seed": (0, 2**31 - 1), "data.focus_share": (0.0, 1.0),
    "model.latent_dim": (1, 1024), "model.sample_rate": (8000, 96000), "model.num_samples": (256, 10_000_000),
    "model.pitch_min": (0, 127), "model.pitch_max": (0, 127), "model.num_frames": (8, 4096),
    "model.num_harmonics": (1, 512), "model.num_noise_bands": (1, 256), "model.noise_length": (16, 10_000_000),
    "model.hidden": (1, 8192), "model.channels": (1, 4096), "model.vibrato_cents": (0.0, 1200.0),
    "model.width": (1, 1024),
    "discriminator.channels": (1, 4096), "discriminator.width": (1, 1024), "discriminator.layers": (1, 16),
    "discriminator.phase_shuffle": (0, 64),
    "encoder.channels": (1, 4096), "encoder.num_mels": (8, 256), "encoder.kl_weight": (0.0, 100.0),
    "encoder.kl_warmup_steps": (0, 10_000_000), "encoder.prior_share": (0.0, 4.0),
    "encoder.free_bits": (0.0, 100.0),
    "train.steps": (1, 100_000_000), "train.batch_size": (1, 4096), "train.lr_g": (1e-9, 1.0),
    "train.lr_d": (1e-9, 1.0), "train.gan_weight": (0.0, 1000.0), "train.feature_matching_weight": (0.0, 1000.0),
    "train.recon_weight": (0.0, 1000.0), "train.gp_weight": (0.0, 1000.0), "train.r1_weight": (0.0, 1000.0),
    "train.ema_decay": (0.0, 1.0), "train.crop_samples": (256, 10_000_000), "train.checkpoint_every": (1, 10_000_000),
    "train.log_every": (1, 10_000_000), "train.threads": (0, 1024), "train.sample_every": (1, 10_000_000),
    "train.control_steps": (0, 100_000_000), "train.control_batch_size": (1, 4096),
    "train.control_gan_weight": (0.0, 1000.0), "train.vibrato_spectrum_weight": (0.0, 1000.0),
}


def _check_limits(config: dict[str, Any]) -> None:
    for dotted, (low, high) in LIMITS.items():
        node: Any = config
        for part in dotted.split("."):
            node = node[part]
        if not low <= node <= high:
            raise ConfigError(f"config key '{dotted}' is {node!r}", hint=f"it must lie in {low:g}..{high:g}")
    if config["train"]["control_steps"] and (config["architecture"] != "harmonic" or not config["encoder"]["enabled"]):
        raise ConfigError("train.control_steps needs the harmonic architecture and encoder.enabled = true",
                          hint="the control stage fits the harmonic decoder's controls to encoded real notes; "
                               "set train.control_steps = 0 otherwise")
    focus = config["data"]["focus_programs"]
    if not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 127 for p in focus):
        raise ConfigError(f"config key 'data.focus_programs' is {focus!r}", hint="give GM program numbers 0..127")
    if config["model"]["pitch_min"] > config["model"]["pitch_max"]:
        raise ConfigError(f"model.pitch_min ({config['model']['pitch_min']}) is above model.pitch_max "
                          f"({config['model']['pitch_max']})", hint="swap them")


def _check_choices(config: dict[str, Any]) -> None:
    for dotted, allowed in CHOICES.items():
        node: Any = config
        for part in dotted.split("."):
            node = node[part]
        if node not in allowed:
            raise ConfigError(f"config key '{dotted}' is {node!r}", hint=f"choose one of: {', '.join(allowed)}")


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
            for kind, word in ((bool, "true or false"), (str, "a string"), (list, "a list")):
                if isinstance(base[key], kind) and not isinstance(value, kind):
                    raise ConfigError(f"config key '{path}' must be {word}, got {value!r}")
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
    _check_choices(config)
    _check_limits(config)
    return config


def complete(config: dict[str, Any]) -> dict[str, Any]:
    """A config saved by an older version, with the keys added since filled in from the defaults."""
    merged = copy.deepcopy(DEFAULTS)

    def fill(base: dict[str, Any], saved: dict[str, Any]) -> None:
        for key, value in saved.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                fill(base[key], value)
            else:
                base[key] = value

    fill(merged, config)
    return merged


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
