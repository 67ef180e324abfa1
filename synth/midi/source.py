"""What every live MIDI input shares: the base class the host polls, one port matcher for ALSA
and JACK, and a guard against C libraries printing on stderr."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import NoMidiPort
from .events import MidiEvent, from_bytes

MAX_EVENTS_PER_POLL = 512  # per engine block: 190,000 events/s at 48 kHz / 128


@contextlib.contextmanager
def quiet_c_stderr():
    """Silence what C libraries print on stderr (ALSA's 'cannot open /dev/snd/seq' on a machine
    without sound hardware): the user gets our one sentence instead."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@dataclass
class MidiSource:
    """What every live MIDI input offers the host: its ports as ``(port, name)``, the events taken,
    and three calls: :meth:`poll` (engine thread, between blocks), :meth:`watch` (a control
    thread, twice a second) and :meth:`close`."""

    ports: list = field(default_factory=list)
    received: int = 0
    last: MidiEvent | None = None
    gone: set = field(default_factory=set)  # sources that went away, by stable name
    # JACK cycles in which the ports were read, or None where the API has no cycle (ALSA): the
    # benchmarks' floor client times its blocks by it (see synth.host.ahead.MidiCycleGate).
    cycles: int | None = None
    # Set each time the ports are read, for the engine to wait on instead of polling (None: poll).
    wake: threading.Event | None = None
    server_gone: bool = False  # the MIDI server itself went away (the audio side reports that)

    def poll(self, out: list, budget: int = MAX_EVENTS_PER_POLL) -> None:
        """Append up to ``budget`` waiting events to ``out`` as ``(0, event)``; never blocks."""
        raise NotImplementedError

    def close(self) -> None:
        """Close every port; the source takes no more events."""
        raise NotImplementedError

    def watch(self) -> list[str]:
        """Control thread, about twice a second: notice sources that went away (a keyboard
        unplugged) or came back (reconnected here); returns what to tell the player."""
        return []

    def _went_away(self, name: str) -> str:
        self.gone.add(name)
        return f"MIDI port {name!r} went away; playing on, and it reconnects when the port returns"

    def _came_back(self, name: str) -> str:
        self.gone.discard(name)
        return f"MIDI port {name!r} is back"

    def _take(self, raw, out: list) -> None:
        """Parse one raw message; a valid event goes to ``out`` as ``(0, event)``."""
        event = from_bytes(raw)
        if event is not None:
            out.append((0, event))
            self.received += 1
            self.last = event

    @property
    def names(self) -> list[str]:
        return [name for _, name in self.ports]


@dataclass
class NoMidiInput(MidiSource):
    """No MIDI at all: ``synth play --osc-port`` with no keyboard anywhere plays from OSC alone."""

    def poll(self, out: list, budget: int = MAX_EVENTS_PER_POLL) -> None:
        return None

    def close(self) -> None:
        return None


def choose_ports(specs: Sequence[str], names: Sequence[str], default: Callable[[str], bool], kind: str,
                 aliases: Sequence[str] = ()) -> list[int]:
    """Indices of the ports ``specs`` pick out of ``names`` (each spec an index, or part of a name
    or of its alias, any case), in the order asked, without repeats; with no specs, those
    ``default`` accepts. A spec that matches nothing, or nothing found, is one :class:`MidiError`."""
    if specs:
        chosen: list[int] = []
        for spec in specs:
            needle = spec.lower()
            matches = [i for i, name in enumerate(names)
                       if (spec.isdigit() and i == int(spec)) or needle in name.lower()
                       or (i < len(aliases) and needle in aliases[i].lower())]
            if not matches:
                raise NoMidiPort(f"no {kind} port matches {spec!r}", hint="list ports with `synth devices`")
            chosen += [i for i in matches if i not in chosen]
        return chosen
    chosen = [i for i, name in enumerate(names) if default(name)]
    if not chosen:
        raise NoMidiPort(f"no {kind} port found",
                        hint="plug in a keyboard, list ports with `synth devices`, or use --virtual-midi NAME")
    return chosen
