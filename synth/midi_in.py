"""Live MIDI input: ALSA through python-rtmidi, JACK through :mod:`synth.midi_jack`.

rtmidi's own thread only queues raw messages in C (its bounded queue); the engine thread
polls that queue before each block and parses the bytes. No Python runs on a MIDI thread.
JACK MIDI does not use rtmidi: its JACK input handler can crash on a late upstream client
(see :mod:`synth.midi_jack`).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from dataclasses import dataclass, field

from .errors import MidiError
from .events import MidiEvent, from_bytes

MIDI_APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK"}
MAX_EVENTS_PER_POLL = 512  # per engine block: 190,000 events/s at 48 kHz / 128
RTMIDI_QUEUE = 8192  # messages rtmidi holds between polls (it drops beyond)


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
    """What every live MIDI input shares: its ports as ``(port, name)`` and the events taken."""

    ports: list = field(default_factory=list)
    received: int = 0
    last: MidiEvent | None = None
    gone: set = field(default_factory=set)  # sources that went away, by stable name

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
class MidiInputs(MidiSource):
    """Open rtmidi (ALSA) inputs, drained by the engine thread with :meth:`poll`.

    No Python callback: rtmidi queues messages in C (its own lock-free queue) and the
    engine takes them between blocks, so rtmidi's thread never waits for the GIL.
    """

    virtual: bool = False
    _lister: object = None  # an input of its own that only lists ports (the watch thread's)
    _retired: list = field(default_factory=list)  # inputs replaced after a reconnect, closed at exit

    def watch(self) -> list[str]:
        if self.virtual or not self.ports:
            return []
        if self._lister is None:
            self._lister = _new_midi_in()[0]
        listed = self._lister.get_ports()
        available = {stable_port_name(p): i for i, p in enumerate(listed)}
        news = []
        for n, (midi_in, name) in enumerate(list(self.ports)):
            if name not in available:
                if name not in self.gone:
                    news.append(self._went_away(name))
            elif name in self.gone:
                # A replugged device is a new ALSA port: open it on a new input and swap that in
                # (the engine thread polls the list; the old input is closed at exit, not under it).
                fresh = _new_midi_in()[0]
                try:
                    fresh.ignore_types(sysex=True, timing=True, active_sense=True)
                    fresh.open_port(available[name])
                except Exception:  # noqa: BLE001  rtmidi's errors vary; the port may be half-made
                    fresh.delete()
                    continue  # try again at the next look
                self.ports[n] = (fresh, name)
                self._retired.append(midi_in)
                news.append(self._came_back(name))
        return news

    def poll(self, out: list, budget: int = MAX_EVENTS_PER_POLL) -> None:
        """Append up to ``budget`` waiting events to ``out`` as ``(0, event)``; the rest wait in
        rtmidi's bounded queue for the next call (a flood cannot make one block slow)."""
        for midi_in, _ in self.ports:
            while budget > 0:
                message = midi_in.get_message()
                if message is None:
                    break
                budget -= 1
                self._take(message[0], out)

    def close(self) -> None:
        for midi_in in [*(p for p, _ in self.ports), *self._retired]:
            midi_in.close_port()
        if self._lister is not None:
            self._lister.delete()
            self._lister = None
        self.ports = []


def stable_port_name(name: str) -> str:
    """An ALSA port name without its client:port numbers, which change when a device is replugged."""
    return re.sub(r"\s+\d+:\d+$", "", name)


def _new_midi_in(api_choice: str = "alsa"):
    """An rtmidi ALSA input (the JACK API is served by :mod:`synth.midi_jack`)."""
    import rtmidi

    api = getattr(rtmidi, f"API_{MIDI_APIS['alsa']}")
    if api not in rtmidi.get_compiled_api():
        reason = "alsa: not built into python-rtmidi"
    else:
        try:
            with quiet_c_stderr():
                return rtmidi.MidiIn(api, name="gansynth", queue_size_limit=RTMIDI_QUEUE), "alsa"
        except rtmidi.SystemError as exc:
            reason = f"alsa: {exc}"
    raise MidiError(f"cannot open a MIDI input ({reason})",
                    hint="this machine has no ALSA sequencer (/dev/snd/seq); try --midi-api jack")


def open_midi_inputs(api_choice: str, port_specs: list[str], virtual: str | None):
    """Open a virtual port, or every port matching ``port_specs`` (index or name part; none: all
    hardware ports, so several keyboards play at once). ``auto``: ALSA, else JACK."""
    from .midi_jack import open_jack_midi

    if api_choice == "jack":
        return open_jack_midi(port_specs, virtual)
    try:
        return _open_alsa(port_specs, virtual)
    except MidiError as alsa_error:
        if api_choice != "auto":
            raise
        try:
            return open_jack_midi(port_specs, virtual)
        except MidiError as jack_error:
            raise MidiError(f"cannot open a MIDI input (ALSA: {alsa_error.message}; JACK: {jack_error.message})",
                            hint="start a JACK server or load the ALSA sequencer (snd-seq)") from None


def _open_alsa(port_specs: list[str], virtual: str | None) -> MidiInputs:
    inputs = MidiInputs(virtual=bool(virtual))
    first, api_name = _new_midi_in()
    first.ignore_types(sysex=True, timing=True, active_sense=True)
    if virtual:
        first.open_virtual_port(virtual)
        inputs.ports.append((first, virtual))
        return inputs
    available = first.get_ports()
    if port_specs:
        chosen = []
        for spec in port_specs:
            matches = [i for i, p in enumerate(available)
                       if (spec.isdigit() and i == int(spec)) or spec.lower() in p.lower()]
            if not matches:
                first.delete()
                raise MidiError(f"no MIDI input port matches {spec!r}", hint="list ports with `synth devices`")
            chosen += [i for i in matches if i not in chosen]
    else:
        chosen = [i for i, p in enumerate(available) if "through" not in p.lower() and "gansynth" not in p.lower()]
    if not chosen:
        first.delete()
        raise MidiError("no MIDI input port found",
                        hint="plug in a keyboard, list ports with `synth devices`, or use --virtual-midi NAME")
    for n, index in enumerate(chosen):
        midi_in = first if n == 0 else _new_midi_in(api_name)[0]
        midi_in.ignore_types(sysex=True, timing=True, active_sense=True)
        midi_in.open_port(index)
        inputs.ports.append((midi_in, stable_port_name(available[index])))
    return inputs
