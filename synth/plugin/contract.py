"""The plugin contract: what one ONNX file must hold to be an instrument.

Written once here; ``export/`` imports it to write files, the host uses it to
validate them. The contract has two halves:

* the graph: inputs ``z`` float32 ``[batch, latent_dim]``, ``pitch`` int64
  ``[batch]`` (MIDI note number, when pitch-conditioned), optional ``velocity``
  float32 ``[batch]`` in 0..1; output ``audio`` float32 ``[batch, num_samples]``;
* the manifest: string key/values in ``metadata_props`` (JSON where structured),
  described field by field in :data:`FIELDS` and ``docs/model-contract.md``.

This module must not import onnxruntime or torch: it is pure data and checks.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ModelError

CONTRACT_VERSION = 2  # 2 adds instruments (named latents with their GM program) and an encoder
READABLE_VERSIONS = (1, 2)
INPUT_LATENT = "z"
INPUT_PITCH = "pitch"
INPUT_VELOCITY = "velocity"
OUTPUT_AUDIO = "audio"
LATENT_PRIORS = ("normal", "uniform")
UNPITCHED_MODES = ("pads", "repitch")


@dataclass(frozen=True)
class Field:
    """One manifest key: how to parse its string and what range it must hold."""

    parse: Callable[[str], Any]
    check: Callable[[Any], str | None] = lambda _value: None
    required: bool = True
    default: Any = None


def _parse_bool(text: str) -> bool:
    if text in ("true", "false"):
        return text == "true"
    raise ValueError("expected 'true' or 'false'")


def _int_range(low: int, high: int) -> Callable[[Any], str | None]:
    return lambda v: None if low <= v <= high else f"must lie in {low}..{high}, got {v}"


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}, got {v!r}"


def _matrix(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        return "must be a JSON list of rows"
    for row in value:
        if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in row):
            return "must hold finite numbers only"
    return None


def _vector(value: Any) -> str | None:
    if not isinstance(value, list) or not all(
        isinstance(x, (int, float)) and math.isfinite(x) and x >= 0 for x in value
    ):
        return "must be a JSON list of finite non-negative numbers"
    return None


def _text(value: Any) -> str | None:
    return None if len(value) <= 10_000 else "is longer than 10000 characters"


def _instruments(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a JSON list of instruments"
    for item in value:
        if not isinstance(item, dict) or set(item) != {"name", "program", "latent"}:
            return "must hold objects with exactly 'name', 'program' and 'latent'"
        if not isinstance(item["name"], str) or not 0 < len(item["name"]) <= 200:
            return "must name each instrument (1-200 characters)"
        program = item["program"]
        if not isinstance(program, int) or isinstance(program, bool) or not 0 <= program <= 127:
            return f"must give each instrument a GM program 0..127, got {program!r}"
        latent = item["latent"]
        if not isinstance(latent, list) or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in latent):
            return f"must give instrument {item['name']!r} a latent of finite numbers"
    return None


def _features(value: Any) -> str | None:
    keys = ("n_fft", "hop", "num_mels", "fmin", "floor")
    if not isinstance(value, dict) or set(value) != set(keys):
        return f"must be a JSON object with exactly {', '.join(keys)}"
    if not all(isinstance(value[k], (int, float)) and not isinstance(value[k], bool) and value[k] > 0 for k in keys):
        return "must hold positive numbers"
    if not (16 <= value["n_fft"] <= 65536 and 1 <= value["hop"] <= value["n_fft"] and 1 <= value["num_mels"] <= 512):
        return "must have 16 <= n_fft <= 65536, 1 <= hop <= n_fft and 1..512 mels"
    return None


def _encoder(value: Any) -> str | None:
    # The encoder's ONNX graph, base64: decoded (and run) only when a sample is encoded.
    if len(value) > 64_000_000:
        return "is larger than 64 MB"
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "is not base64"
    return None


FIELDS: dict[str, Field] = {
    "contract_version": Field(int),
    "name": Field(str, _text),
    "sample_rate": Field(int, _int_range(8_000, 192_000)),
    "num_samples": Field(int, _int_range(64, 192_000 * 30)),
    "latent_dim": Field(int, _int_range(1, 4096)),
    "latent_prior": Field(str, _one_of(LATENT_PRIORS)),
    "pitch_conditioned": Field(_parse_bool),
    "pitch_min": Field(int, _int_range(0, 127)),
    "pitch_max": Field(int, _int_range(0, 127)),
    "velocity_input": Field(_parse_bool),
    "latent_directions": Field(json.loads, _matrix),
    "direction_spreads": Field(json.loads, _vector),
    "architecture": Field(str, _text),
    "unpitched_mode": Field(str, _one_of(UNPITCHED_MODES), required=False, default="repitch"),
    "root_pitch": Field(int, _int_range(0, 127), required=False, default=60),
    "training_data": Field(str, _text, required=False, default=""),
    "model_version": Field(str, _text, required=False, default=""),
    "exported_at": Field(str, _text, required=False, default=""),
    "config_hash": Field(str, _text, required=False, default=""),
    "description": Field(str, _text, required=False, default=""),
    # version 2
    "instruments": Field(json.loads, _instruments, required=False, default=[]),
    "encoder": Field(str, _encoder, required=False, default=""),
    "encoder_samples": Field(int, _int_range(0, 192_000 * 30), required=False, default=0),
    "encoder_features": Field(json.loads, _features, required=False, default={}),
}


V2_KEYS = ("instruments", "encoder", "encoder_samples", "encoder_features")


@dataclass(frozen=True)
class Manifest:
    """Everything the host needs to play a model, parsed and range-checked.

    ``latent_directions`` is ``[num_directions, latent_dim]``; knob ``k`` moves
    the latent along row ``k`` by up to ``direction_spreads[k]`` either way.
    """

    name: str
    sample_rate: int
    num_samples: int
    latent_dim: int
    latent_prior: str
    pitch_conditioned: bool
    pitch_min: int
    pitch_max: int
    velocity_input: bool
    latent_directions: list[list[float]]
    direction_spreads: list[float]
    architecture: str
    contract_version: int = CONTRACT_VERSION
    unpitched_mode: str = "repitch"
    root_pitch: int = 60
    training_data: str = ""
    model_version: str = ""
    exported_at: str = ""
    config_hash: str = ""
    description: str = ""
    instruments: list[dict] = field(default_factory=list)  # [{"name", "program", "latent"}]
    encoder: str = ""  # base64 ONNX: mel [B, num_mels, frames], pitch, velocity -> latent_mean
    encoder_samples: int = 0  # the note's first samples that the log-mel is taken of
    encoder_features: dict = field(default_factory=dict)  # the log-mel recipe (synth/plugin/features.py)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    def to_metadata(self) -> dict[str, str]:
        """The manifest as ``metadata_props`` strings (the inverse of :func:`parse_manifest`)."""
        out: dict[str, str] = {}
        for key, value in asdict(self).items():
            if key == "extra" or (key in V2_KEYS and not value):  # a file without them reads as before
                continue
            if isinstance(value, bool):
                out[key] = "true" if value else "false"
            elif isinstance(value, (list, dict)):
                out[key] = json.dumps(value)
            else:
                out[key] = str(value)
        out.update(self.extra)
        return out


def parse_manifest(metadata: dict[str, str], source: str = "model") -> Manifest:
    """Parse and check ``metadata_props``; raise :class:`ModelError` naming the first fault."""
    if "contract_version" not in metadata:
        raise ModelError(
            f"{source} has no 'contract_version' in its metadata, so it is not a synth plugin",
            hint="export it with `synth export`",
        )
    values: dict[str, Any] = {}
    for key, spec in FIELDS.items():
        if key not in metadata:
            if spec.required:
                raise ModelError(f"{source} is missing the manifest key '{key}'",
                                 hint="see docs/model-contract.md")
            values[key] = spec.default
            continue
        try:
            value = spec.parse(metadata[key])
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{source} has an unreadable manifest key '{key}'={metadata[key]!r}: {exc}") from None
        problem = spec.check(value)
        if problem:
            raise ModelError(f"{source} manifest key '{key}' {problem}")
        values[key] = value
    if values["contract_version"] not in READABLE_VERSIONS:
        raise ModelError(
            f"{source} follows contract version {values['contract_version']}, "
            f"this host reads versions {', '.join(map(str, READABLE_VERSIONS))}",
            hint="re-export the model with this version of `synth export`",
        )
    if values["pitch_min"] > values["pitch_max"]:
        raise ModelError(f"{source} has pitch_min {values['pitch_min']} above pitch_max {values['pitch_max']}")
    directions, spreads = values["latent_directions"], values["direction_spreads"]
    if any(len(row) != values["latent_dim"] for row in directions):
        raise ModelError(f"{source} latent_directions rows must each have latent_dim={values['latent_dim']} numbers")
    if len(spreads) != len(directions):
        raise ModelError(f"{source} has {len(directions)} latent directions but {len(spreads)} spreads")
    for item in values["instruments"]:
        if len(item["latent"]) != values["latent_dim"]:
            raise ModelError(f"{source} instrument {item['name']!r} has a latent of {len(item['latent'])} numbers, "
                             f"latent_dim is {values['latent_dim']}")
    if values["encoder"] and not (values["encoder_samples"] and values["encoder_features"]):
        raise ModelError(f"{source} has an encoder but no encoder_samples or encoder_features",
                         hint="see docs/model-contract.md")
    extra = {k: v for k, v in metadata.items() if k not in FIELDS}
    return Manifest(**values, extra=extra)


@dataclass(frozen=True)
class TensorSpec:
    """A graph input or output as the runtime reports it (dims are ints or names)."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...]


def check_graph(inputs: list[TensorSpec], outputs: list[TensorSpec], manifest: Manifest,
                source: str = "model") -> None:
    """Check the graph's inputs and outputs against the contract and the manifest."""
    expected = {INPUT_LATENT: ("tensor(float)", 2, manifest.latent_dim)}
    if manifest.pitch_conditioned:
        expected[INPUT_PITCH] = ("tensor(int64)", 1, None)
    if manifest.velocity_input:
        expected[INPUT_VELOCITY] = ("tensor(float)", 1, None)
    names = {spec.name for spec in inputs}
    if names != set(expected):
        raise ModelError(
            f"{source} has inputs {sorted(names)} but its manifest calls for {sorted(expected)}",
            hint="see docs/model-contract.md",
        )
    for spec in inputs:
        _check_tensor(spec, *expected[spec.name], source)
    if [spec.name for spec in outputs] != [OUTPUT_AUDIO]:
        raise ModelError(f"{source} must have exactly one output named 'audio', "
                         f"found {[spec.name for spec in outputs]}")
    _check_tensor(outputs[0], "tensor(float)", 2, manifest.num_samples, source)


def _check_tensor(spec: TensorSpec, dtype: str, rank: int, last_dim: int | None, source: str) -> None:
    if spec.dtype != dtype:
        raise ModelError(f"{source} '{spec.name}' is {spec.dtype}, the contract needs {dtype}")
    if len(spec.shape) != rank:
        raise ModelError(f"{source} '{spec.name}' has rank {len(spec.shape)}, the contract needs {rank}")
    if last_dim is not None and rank == 2 and isinstance(spec.shape[1], int) and spec.shape[1] != last_dim:
        raise ModelError(
            f"{source} '{spec.name}' has {spec.shape[1]} columns, its manifest says {last_dim}")
