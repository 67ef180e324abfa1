"""Live MIDI input from ALSA through python-rtmidi.

rtmidi's own thread only queues raw messages in C (its bounded queue); the engine thread
polls that queue before each block and parses the bytes. No Python runs on a MIDI thread.
JACK MIDI does not use rtmidi: its JACK input handler can crash on a late upstream client
(see :mod:`synth.midi.jack`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import MidiError
from .source import MAX_EVENTS_PER_POLL, MidiSource, choose_ports, quiet_c_stderr

RTMIDI_QUEUE = 8192  # messages rtmidi holds between polls (it drops beyond)


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


def _new_midi_in():
    """An rtmidi ALSA input (the JACK API is served by :mod:`synth.midi.jack`)."""
    import rtmidi

    api = rtmidi.API_LINUX_ALSA
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


def open_alsa_midi(port_specs: list[str], virtual: str | None) -> MidiInputs:
    """A virtual port named ``virtual``, or an input on every ALSA port matching ``port_specs``
    (index or name part; none: every port but MIDI Through and our own)."""
    inputs = MidiInputs(virtual=bool(virtual))
    first = _new_midi_in()[0]
    first.ignore_types(sysex=True, timing=True, active_sense=True)
    if virtual:
        first.open_virtual_port(virtual)
        inputs.ports.append((first, virtual))
        return inputs
    available = first.get_ports()
    try:
        chosen = choose_ports(port_specs, available,
                              lambda name: "through" not in name.lower() and "gansynth" not in name.lower(),
                              "MIDI input")
    except MidiError:
        first.delete()
        raise
    for n, index in enumerate(chosen):
        midi_in = first if n == 0 else _new_midi_in()[0]
        midi_in.ignore_types(sysex=True, timing=True, active_sense=True)
        midi_in.open_port(index)
        inputs.ports.append((midi_in, stable_port_name(available[index])))
    return inputs
