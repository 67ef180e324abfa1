"""ADSR envelopes, rendered a block at a time (numpy, no per-sample Python).

The release falls along an exponential curve that is bent to reach exactly zero
at ``release_s``, so a released note never ends on a step (no click).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError

ATTACK, DECAY, SUSTAIN, RELEASE, DONE = range(5)
RELEASE_CURVE = 6.0  # steepness of the release: higher falls faster early on
MAX_TABLE_SAMPLES = 1 << 17  # stages up to ~2.7 s at 48 kHz read a precomputed curve
MAX_TABLES = 32

_tables: dict[tuple[int, int], np.ndarray] = {}


def _stage_curve(stage: int, length: int) -> np.ndarray | None:
    """The stage's shape over ``length`` samples, from 1/length to 1 (float32), computed once:
    a voice then copies a slice per block instead of evaluating ``exp`` again."""
    key = (stage, length)
    table = _tables.get(key)
    if table is None and length <= MAX_TABLE_SAMPLES and len(_tables) < MAX_TABLES:
        table = _tables[key] = _curve(stage, (1 + np.arange(length)) / length).astype(np.float32)
    return table


def _curve(stage: int, t: np.ndarray) -> np.ndarray:
    if stage == RELEASE:
        return (np.exp(-RELEASE_CURVE * t) - math.exp(-RELEASE_CURVE)) / (1.0 - math.exp(-RELEASE_CURVE))
    return t


@dataclass(frozen=True)
class Envelope:
    """Times in seconds, sustain level 0..1."""

    attack_s: float = 0.003
    decay_s: float = 0.0
    sustain_level: float = 1.0
    release_s: float = 0.25

    def __post_init__(self) -> None:
        for name in ("attack_s", "decay_s", "release_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 30.0):
                raise ConfigError(f"envelope {name} must be 0..30 seconds, got {value!r}")
        if not (isinstance(self.sustain_level, (int, float)) and 0.0 <= self.sustain_level <= 1.0):
            raise ConfigError(f"envelope sustain_level must be 0..1, got {self.sustain_level!r}")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Envelope:
        if not isinstance(data, dict):
            raise ConfigError(f"an envelope must be a table of attack_s, decay_s, sustain_level, release_s, "
                              f"got {type(data).__name__}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown envelope keys {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**data)


class EnvelopeState:
    """One voice's envelope position. ``render(n)`` returns ``[n]`` float32 gains and advances."""

    __slots__ = ("stage", "level", "elapsed", "release_from", "release_len", "attack_len", "decay_len",
                 "sustain")

    def __init__(self, env: Envelope, sample_rate: int) -> None:
        self.stage = ATTACK
        self.level = 0.0
        self.elapsed = 0  # samples spent in the current stage
        self.attack_len = max(1, int(env.attack_s * sample_rate))
        self.decay_len = int(env.decay_s * sample_rate)
        self.sustain = env.sustain_level
        if self.sustain < 1.0 and self.decay_len == 0:
            self.decay_len = max(1, int(0.005 * sample_rate))  # never step down to the sustain level
        self.release_len = max(1, int(env.release_s * sample_rate))
        self.release_from = 0.0

    def copy(self) -> EnvelopeState:
        """A copy (the engine saves every voice's envelope before rendering ahead: copy.copy took
        10 us a voice)."""
        other = EnvelopeState.__new__(EnvelopeState)
        (other.stage, other.level, other.elapsed, other.release_from, other.release_len, other.attack_len,
         other.decay_len, other.sustain) = (self.stage, self.level, self.elapsed, self.release_from,
                                            self.release_len, self.attack_len, self.decay_len, self.sustain)
        return other

    def release(self, fast_len: int | None = None) -> None:
        """Start the release from wherever the level is now (optionally faster, for stolen voices)."""
        if self.stage == DONE:
            return
        if fast_len is not None:
            self.release_len = max(1, min(self.release_len, fast_len)) if self.stage == RELEASE else max(1, fast_len)
        self.release_from = self.level
        self.stage, self.elapsed = RELEASE, 0

    def render(self, n: int, out: np.ndarray, scale: float = 1.0) -> None:
        """Fill ``out[:n]`` with gains times ``scale`` (a voice's velocity gain rides along: one pass
        over its samples fewer)."""
        filled = 0
        while filled < n:
            left = n - filled
            stage = self.stage
            if stage in (ATTACK, DECAY, RELEASE):
                length = self.attack_len if stage == ATTACK else self.decay_len if stage == DECAY else self.release_len
                take = min(left, length - self.elapsed)
                if take:
                    shape, dest = self._shape(stage, length, take), out[filled:filled + take]
                    if stage == ATTACK:
                        np.multiply(shape, scale, out=dest)
                        self.level = float(shape[-1])
                    elif stage == DECAY:  # from 1 down to the sustain level
                        np.multiply(shape, (self.sustain - 1.0) * scale, out=dest)
                        dest += scale
                        self.level = 1.0 + (self.sustain - 1.0) * float(shape[-1])
                    else:
                        np.multiply(shape, self.release_from * scale, out=dest)
                        self.level = self.release_from * float(shape[-1])
                next_stage = (DECAY if self.decay_len else SUSTAIN) if stage == ATTACK else \
                    SUSTAIN if stage == DECAY else DONE
                self._advance(take, length, next_stage)
                if stage == RELEASE and not take:
                    self.level = 0.0
            elif stage == SUSTAIN:
                take = left
                self.level = self.sustain
                out[filled:n] = self.level * scale
            else:
                take = left
                out[filled:n] = 0.0
                self.level = 0.0
            filled += take

    def _shape(self, stage: int, length: int, take: int) -> np.ndarray:
        """The next ``take`` samples of this stage's curve."""
        table = _stage_curve(stage, length)
        if table is not None:
            return table[self.elapsed:self.elapsed + take]
        return _curve(stage, (self.elapsed + 1 + np.arange(take)) / length)

    def _advance(self, take: int, length: int, next_stage: int) -> None:
        self.elapsed += take
        if self.elapsed >= length:
            self.stage, self.elapsed = next_stage, 0

    @property
    def done(self) -> bool:
        return self.stage == DONE
