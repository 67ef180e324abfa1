"""What each of the 16 MIDI channels holds: its instrument, controllers and playing state."""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

import numpy as np

from ..notes.colour import Colour
from .envelope import Envelope

RECENT_KEYS = 8


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
    colour: Colour | None = None  # cached with it: a preset from a sample colours its notes
    digest: bytes = b""
    # The timbre moved since the engine last looked: its sounding notes are to follow.
    retimbre: bool = False
    # The last distinct (note, velocity) pairs struck, newest last: the keys likely to be played next.
    recent: collections.deque = field(default_factory=lambda: collections.deque(maxlen=RECENT_KEYS))

    def timbre_moved(self) -> None:
        """A knob, morph, preset or latent changed: new latent for the next notes, and the
        sounding ones follow."""
        self.latent = None
        self.retimbre = True

    def struck(self, note: int, velocity: int) -> None:
        if (note, velocity) in self.recent:
            self.recent.remove((note, velocity))
        self.recent.append((note, velocity))

    @property
    def bend_ratio(self) -> float:
        return 2.0 ** (self.bend / 8192.0 * self.bend_range / 12.0)

    def gains(self) -> tuple[float, float]:
        """Equal-power pan times GM volume/expression curves."""
        level = (self.volume / 127.0) ** 2 * (self.expression / 127.0) ** 2
        angle = (min(self.pan, 127) / 127.0) * math.pi / 2
        return level * math.cos(angle) * math.sqrt(2), level * math.sin(angle) * math.sqrt(2)
