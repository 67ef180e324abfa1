"""Latent control: presets give a base latent, knobs move it along the manifest's directions.

``latent = base + sum_k (knob_k - 0.5) * 2 * spread_k * direction_k``; knob values
are 0..1 (0.5 is the preset's own sound). Knob values are quantised to 254 steps
(every MIDI value and the neutral 0.5 fall on them), so that the same gesture
always gives the same latent, and the same cache key.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..files import read_document, write_text_atomically
from ..notes.colour import Colour
from ..plugin.contract import Manifest
from .envelope import Envelope

NEUTRAL = 0.5
PRESET_FORMAT = 1


KNOB_STEPS = 254  # every MIDI CC value v lands on v/127 exactly, and so does the neutral 0.5


MAX_LATENT = 1e6  # a latent of a normal prior is a few units; far beyond this is a broken file


def quantise_knob(value: float) -> float:
    return round(min(max(float(value), 0.0), 1.0) * KNOB_STEPS) / KNOB_STEPS


def base_latent(manifest: Manifest, seed: int) -> np.ndarray:
    """The reproducible latent of preset ``seed`` (``[latent_dim]`` float32, drawn from the model's
    prior; read-only, and drawn once: a knob sweep asks for it on every move)."""
    return _drawn_latent(manifest.latent_prior, manifest.latent_dim, seed)


@functools.lru_cache(maxsize=1024)
def _drawn_latent(prior: str, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if prior == "uniform":
        latent = rng.uniform(-1.0, 1.0, dim).astype(np.float32)
    else:
        latent = rng.standard_normal(dim).astype(np.float32)
    latent.setflags(write=False)
    return latent


BETWEEN_SCATTER = 0.15  # a random instrument's distance off the line between two, x their median distance


def between_instruments(manifest: Manifest, seed: int) -> np.ndarray:
    """A reproducible new instrument of a palette model (``[latent_dim]`` float32): a random point
    on the line between two of its instruments, moved off it by ``BETWEEN_SCATTER`` of the median
    distance between two instruments. What "randomise" gives on a palette: the prior's own draws
    fall where no instrument was encoded (`benchmarks/random_instruments.py`, default palette, 60
    draws x 5 keys: 3.0 % of the prior's notes farther from every real note than 95 % of real notes
    are from their nearest, 0.7 % of these; every note of these YIN misses is a blend with the
    Drawbar Organ, read an octave low as its real notes are)."""
    latents = np.asarray([item["latent"] for item in manifest.instruments], np.float64)
    rng = np.random.default_rng([seed, 0x5A17])
    a, b = rng.choice(len(latents), 2, replace=False) if len(latents) > 1 else (0, 0)
    gaps = np.linalg.norm(latents[:, None] - latents[None], axis=2)[np.triu_indices(len(latents), 1)]
    scale = BETWEEN_SCATTER * (float(np.median(gaps)) if len(gaps) else 1.0) / np.sqrt(latents.shape[1])
    point = latents[a] + rng.uniform() * (latents[b] - latents[a]) + scale * rng.standard_normal(latents.shape[1])
    return point.astype(np.float32)


@dataclass
class Preset:
    """A sound: a base latent (from ``seed`` unless given), knob values and an envelope; a preset
    made from a sample also keeps the sample's colour (:mod:`synth.notes.colour`)."""

    name: str
    seed: int = 0
    latent: list[float] | None = None
    knobs: list[float] = field(default_factory=list)
    envelope: Envelope = field(default_factory=Envelope)
    model_sha256: str | None = None
    program: int | None = None  # the General MIDI program it plays (a model's instruments have one)
    colour: Colour | None = None

    def base(self, manifest: Manifest) -> np.ndarray:
        if self.latent is not None:
            if len(self.latent) != manifest.latent_dim:
                raise ConfigError(f"preset '{self.name}' has a latent of {len(self.latent)} numbers, "
                                  f"the model needs {manifest.latent_dim}", hint="it was made for another model")
            return np.asarray(self.latent, np.float32)
        return base_latent(manifest, self.seed)

    def to_dict(self) -> dict:
        data = {"format": PRESET_FORMAT, "name": self.name, "seed": self.seed, "latent": self.latent,
                "knobs": self.knobs, "envelope": self.envelope.to_dict(), "model_sha256": self.model_sha256}
        if self.program is not None:
            data["program"] = self.program
        if self.colour is not None:
            data["colour"] = self.colour.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = "preset") -> Preset:
        if not isinstance(data, dict):
            raise ConfigError(f"{source} must hold a JSON object")
        known = {"format", "name", "seed", "latent", "knobs", "envelope", "model_sha256", "program", "colour"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{source} has unknown keys {sorted(unknown)}; known: {sorted(known)}")
        if data.get("format", PRESET_FORMAT) != PRESET_FORMAT:
            raise ConfigError(f"{source} is preset format {data.get('format')!r}, this version reads {PRESET_FORMAT}")
        knobs = data.get("knobs", [])
        if not isinstance(knobs, list) or not all(isinstance(k, (int, float)) and 0 <= k <= 1 for k in knobs):
            raise ConfigError(f"{source} knobs must be a list of numbers in 0..1")
        latent = data.get("latent")
        if latent is not None and (not isinstance(latent, list) or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and -MAX_LATENT < x < MAX_LATENT
                for x in latent)):  # the comparison also refuses NaN, inf and ints too big for float32
            raise ConfigError(f"{source} latent must be a list of numbers between -{MAX_LATENT:g} and {MAX_LATENT:g}")
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"{source} seed must be a non-negative integer, got {seed!r}")
        program = data.get("program")
        if program is not None and (not isinstance(program, int) or isinstance(program, bool)
                                    or not 0 <= program <= 127):
            raise ConfigError(f"{source} program must be a General MIDI program 0..127, got {program!r}")
        return cls(name=str(data.get("name", "preset")), seed=seed, latent=latent,
                   knobs=[float(k) for k in knobs], envelope=Envelope.from_dict(data.get("envelope", {})),
                   model_sha256=data.get("model_sha256"), program=program,
                   colour=None if data.get("colour") is None else Colour.from_dict(data["colour"], source))

    def save(self, path: Path) -> None:
        write_text_atomically(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Preset:
        data = read_document(Path(path), "preset file", "JSON", json.loads, json.JSONDecodeError)
        return cls.from_dict(data, source=f"preset file {path}")


def default_presets(count: int = 8) -> list[Preset]:
    return [Preset(name=f"Preset {i + 1}", seed=i) for i in range(count)]


VARIATION = 0.5  # how far (latent units) ``--seed`` moves an instrument: a variation of it, not another one


def instrument_presets(manifest: Manifest, seed: int = 0) -> list[Preset]:
    """A palette model's factory presets: its instruments, each a named latent with a GM program.
    ``seed`` other than 0 gives each a reproducible variation (its latent moved ``VARIATION`` in a
    direction drawn from the seed and the program)."""
    presets = []
    for item in manifest.instruments:
        latent = np.asarray(item["latent"], np.float64)
        if seed:
            latent = latent + VARIATION * np.random.default_rng([seed, item["program"]]).standard_normal(len(latent))
        presets.append(Preset(name=item["name"], latent=[float(x) for x in latent], program=int(item["program"])))
    return presets


class LatentSpace:
    """Turns (preset, knob values) into latents for one model."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.directions = np.asarray(manifest.latent_directions, np.float32).reshape(-1, manifest.latent_dim)
        self.spreads = np.asarray(manifest.direction_spreads, np.float32)

    @property
    def num_knobs(self) -> int:
        return len(self.directions)

    def latent(self, base: np.ndarray, knobs: np.ndarray) -> np.ndarray:
        """``base`` ``[latent_dim]`` moved by ``knobs`` ``[num_knobs]`` (0..1, 0.5 neutral)."""
        offsets = (np.asarray(knobs[: self.num_knobs], np.float32) - NEUTRAL) * 2.0 * self.spreads[: len(knobs)]
        return (base + offsets @ self.directions[: len(offsets)]).astype(np.float32)

