"""Instrument settings: one defaults object, TOML files that rejects unknown keys, overrides.

``Settings()`` is the factory default; ``Settings.load(path)`` stacks a TOML file
over it; ``with_overrides(["engine.polyphony=16"])`` changes single values.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from .engine.envelope import Envelope
from .errors import ConfigError
from .files import read_document, write_text_atomically

DEFAULT_KNOB_CCS = [1, 70, 71, 72, 73, 74, 75, 76, 77]

DEFAULTS: dict[str, Any] = {
    "engine": {"polyphony": 32, "velocity_buckets": 8, "cache_mb": 256, "master_gain": 0.8,
               "worker_process": True},
    # drum_channel: General MIDI's percussion channel (1-16), whose notes are skipped until a drum
    # model exists; 0 plays every channel.
    "midi": {"knob_ccs": DEFAULT_KNOB_CCS, "pitch_bend_range": 2.0, "morph_cc": 78, "drum_channel": 10},
    "envelope": Envelope().to_dict(),
    "presets": {"files": [], "count": 8},
    # The live host's audio: frames per block, the ring's latency target in blocks (latency is at
    # most ring_blocks + 1 blocks), and how much audio waits in the ring beyond it, rendered before
    # its MIDI and rendered again when MIDI changes the sound (no latency; it carries the sound
    # through a pause of the engine). --blocksize, --ring-blocks and --spare-ms override them.
    "live": {"block_size": 128, "ring_blocks": 2, "spare_ms": 8.0},
}

LIMITS: dict[str, tuple[float, float]] = {
    "engine.polyphony": (1, 256), "engine.velocity_buckets": (1, 128), "engine.cache_mb": (8, 65536),
    "engine.master_gain": (0.0, 4.0), "midi.pitch_bend_range": (0.0, 48.0), "midi.morph_cc": (0, 119),
    "midi.drum_channel": (0, 16), "presets.count": (1, 128), "live.block_size": (16, 8192), "live.ring_blocks": (1, 64),
    "live.spare_ms": (0.0, 100.0),
}


@dataclass
class Settings:
    """Everything a user can set, as nested dicts with the shape of :data:`DEFAULTS`."""

    values: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))

    @classmethod
    def load(cls, path: Path | None) -> Settings:
        settings = cls()
        if path is None:
            return settings
        data = read_document(Path(path), "config file", "TOML", tomllib.loads, tomllib.TOMLDecodeError)
        settings.merge(data, source=str(path))
        return settings

    def merge(self, data: dict[str, Any], source: str = "settings") -> None:
        for section, table in data.items():
            if section not in DEFAULTS:
                raise ConfigError(f"{source}: unknown section [{section}]; known: {', '.join(DEFAULTS)}")
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: [{section}] must be a table")
            for key, value in table.items():
                self.set(f"{section}.{key}", value, source)

    def set(self, dotted: str, value: Any, source: str = "settings") -> None:
        section, _, key = dotted.partition(".")
        if section not in DEFAULTS or key not in DEFAULTS[section]:
            known = ", ".join(f"{section}.{k}" for k in DEFAULTS.get(section, {})) or ", ".join(DEFAULTS)
            raise ConfigError(f"{source}: unknown setting '{dotted}'; known: {known}")
        default = DEFAULTS[section][key]
        value = _coerce(dotted, value, default, source)
        self.values[section][key] = value
        if section == "envelope":
            _ = self.envelope  # validates the combination now, not at the first note

    def with_overrides(self, overrides: list[str]) -> Settings:
        out = Settings(copy.deepcopy(self.values))
        for text in overrides:
            out.set(*split_override(text), "override")
        return out

    @property
    def envelope(self) -> Envelope:
        return Envelope.from_dict(self.values["envelope"])

    def __getitem__(self, dotted: str) -> Any:
        section, _, key = dotted.partition(".")
        return self.values[section][key]


def save_setting(path: Path, dotted: str, value: Any) -> None:
    """Write one setting into the TOML file at ``path`` (made if missing), atomically, leaving the
    rest of the file as the user wrote it (comments, order, the keys they did not set): MIDI learn
    saves its bindings this way. The value is checked first, as if it had been read from the file."""
    import tomlkit

    Settings().set(dotted, value, str(path))
    path = Path(path)
    try:
        document = tomlkit.parse(path.read_text()) if path.exists() else tomlkit.document()
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
        raise ConfigError(f"cannot update config file {path} ({exc})",
                          hint="fix or remove it, then learn again") from None
    section, _, key = dotted.partition(".")
    if section not in document:
        document[section] = tomlkit.table()
    document[section][key] = value
    write_text_atomically(path, tomlkit.dumps(document))


def split_override(text: str) -> tuple[str, Any]:
    """``section.key=value`` -> (``"section.key"``, value read as TOML, or the bare text)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form section.key=value")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word: a string
    return key.strip(), value


def _coerce(dotted: str, value: Any, default: Any, source: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: '{dotted}' must be true or false, got {value!r}")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{dotted}' must be a number, got {value!r}")
        if isinstance(default, int) and not isinstance(value, int):
            raise ConfigError(f"{source}: '{dotted}' must be a whole number, got {value!r}")
        low, high = LIMITS.get(dotted, (float("-inf"), float("inf")))
        if not low <= value <= high:
            raise ConfigError(f"{source}: '{dotted}' must lie in {low:g}..{high:g}, got {value!r}")
        return value
    if dotted == "midi.knob_ccs":
        if not isinstance(value, list) or not all(isinstance(c, int) and -1 <= c <= 119 for c in value):
            raise ConfigError(f"{source}: 'midi.knob_ccs' must be a list of controller numbers 0..119 "
                              "(-1: knob not bound)")
        return value
    if dotted == "presets.files":
        if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
            raise ConfigError(f"{source}: 'presets.files' must be a list of paths")
        return value
    return value
