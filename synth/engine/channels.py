"""What each of the 16 MIDI channels holds: its instrument, controllers and playing state."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .envelope import Envelope


@dataclass
class ChannelState:
    """Per MIDI channel: the preset and controllers that shape the next notes."""

    preset_index: int = 0
    knobs: list[float] = field(default_factory=list)
    envelope: Envelope = field(default_factory=Envelope)
    bend: int = 0  # -8192..8191
    bend_range: float = 2.0  # semitones
    sustain: bool = False
    volume: int = 100
    expression: int = 127
    pan: int = 64
    rpn: tuple[int, int] = (127, 127)
    morph: float = 0.0  # 0: the preset's latent, 1: the morph target's
    morph_target: int = 1
    latent: np.ndarray | None = None  # cached; None when a knob or the preset changed
    digest: bytes = b""

    @property
    def bend_ratio(self) -> float:
        return 2.0 ** (self.bend / 8192.0 * self.bend_range / 12.0)

    def gains(self) -> tuple[float, float]:
        """Equal-power pan times GM volume/expression curves."""
        level = (self.volume / 127.0) ** 2 * (self.expression / 127.0) ** 2
        angle = (min(self.pan, 127) / 127.0) * math.pi / 2
        return level * math.cos(angle) * math.sqrt(2), level * math.sin(angle) * math.sqrt(2)
