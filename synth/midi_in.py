"""Live MIDI input through python-rtmidi (ALSA or JACK): ports in, timestamped events out.

The rtmidi callback (rtmidi's own thread) only parses the bytes and appends to a bounded
deque; everything else happens on the engine thread.
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
from dataclasses import dataclass, field

from .errors import MidiError
from .events import MidiEvent, from_bytes

MIDI_APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK"}
MAX_QUEUED_EVENTS = 4096


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
class MidiInputs:
    """Open rtmidi inputs feeding one queue of :class:`MidiEvent`."""

    queue: collections.deque = field(default_factory=collections.deque)
    ports: list = field(default_factory=list)  # (MidiIn, name)
    received: int = 0
    dropped: int = 0
    last: MidiEvent | None = None

    def on_message(self, message, _data=None) -> None:
        event = from_bytes(message[0])
        if event is None:
            return
        if len(self.queue) >= MAX_QUEUED_EVENTS:
            self.dropped += 1  # a flood: keep the queue bounded, drop the newest
            return
        self.queue.append(event)
        self.received += 1
        self.last = event

    @property
    def names(self) -> list[str]:
        return [name for _, name in self.ports]

    def close(self) -> None:
        for midi_in, _ in self.ports:
            midi_in.cancel_callback()
            midi_in.close_port()
        self.ports = []


def _new_midi_in(api_choice: str):
    import rtmidi

    wanted = [api_choice] if api_choice != "auto" else ["alsa", "jack"]
    failures = []
    for name in wanted:
        api = getattr(rtmidi, f"API_{MIDI_APIS[name]}")
        if api not in rtmidi.get_compiled_api():
            failures.append(f"{name}: not built into python-rtmidi")
            continue
        try:
            with quiet_c_stderr():
                return rtmidi.MidiIn(api, name="gansynth"), name
        except rtmidi.SystemError as exc:
            failures.append(f"{name}: {exc}")
    hint = {"alsa": "this machine has no ALSA sequencer (/dev/snd/seq); try --midi-api jack",
            "jack": "is the JACK server running? try --midi-api alsa"}.get(
        api_choice, "start a JACK server or load the ALSA sequencer (snd-seq)")
    raise MidiError(f"cannot open a MIDI input ({'; '.join(failures)})", hint=hint)


def open_midi_inputs(api_choice: str, port_specs: list[str], virtual: str | None) -> MidiInputs:
    """Open a virtual port, or every port matching ``port_specs`` (index or name part; none: all
    hardware ports, so several keyboards play at once)."""
    inputs = MidiInputs()
    first, api_name = _new_midi_in(api_choice)
    first.ignore_types(sysex=True, timing=True, active_sense=True)
    if virtual:
        first.open_virtual_port(virtual)
        first.set_callback(inputs.on_message)
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
        midi_in.set_callback(inputs.on_message)
        inputs.ports.append((midi_in, available[index]))
    return inputs
