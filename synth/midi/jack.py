"""Live MIDI input from JACK MIDI ports through the JACK-Client package (the system's libjack).

Why not python-rtmidi's JACK API: its JACK input handler (RtMidi ``jackProcessIn``) ignores
the result of ``jack_midi_event_get``. When an upstream JACK client runs late and rewrites
its port buffer while we read it (it happens on an overloaded machine: the 10-minute stress
benchmark), the call fails, the event struct stays uninitialised, and the handler copies
bytes from a garbage pointer: a SIGSEGV that takes the instrument down (core dumps in
docs/reliability.md). JACK-Client stops at a failed read. One input port per source, so
JACK never mixes buffers down (that path asserts on the same race).

The process callback runs on JACK's thread and only appends ``bytes`` to a bounded deque;
the engine thread drains it between blocks like the rtmidi queue.
"""

from __future__ import annotations

import collections
import re
import threading
from dataclasses import dataclass, field

from ..errors import MidiError
from .source import MAX_EVENTS_PER_POLL, MidiSource, choose_ports

QUEUE_LIMIT = 8192  # events held between polls; beyond it the oldest drop (a flood stays bounded)
MAX_EVENT_BYTES = 3  # channel messages only: SysEx, clock and sensing are not for the synth
IGNORED_STATUS = frozenset({0xF8, 0xFA, 0xFB, 0xFC, 0xFE})  # clock, start/continue/stop, active sensing


def _import_jack():
    try:
        import jack
    except (ImportError, OSError) as exc:  # OSError: the package is there but libjack is not
        raise MidiError(f"JACK MIDI needs the JACK-Client package and libjack ({exc})",
                        hint="pip install JACK-Client and apt-get install libjack-jackd2-0, "
                             "or use --midi-api alsa") from None
    return jack


@dataclass
class JackMidiInputs(MidiSource):
    """One JACK client with one MIDI input port per source (``ports``: (jack port, display name))."""

    client: object = None
    connected: bool = False  # ports connected to sources (not a virtual port others connect to)
    cycles: int | None = 0  # JACK cycles in which the ports were read (the engine times its blocks by it)
    wake: threading.Event | None = field(default_factory=threading.Event)  # set at each read, for the engine
    _queue: collections.deque = field(default_factory=lambda: collections.deque(maxlen=QUEUE_LIMIT))

    def _process(self, frames: int) -> None:
        """JACK thread: copy each short event out of the port buffers; nothing else."""
        queue = self._queue
        for port, _ in self.ports:
            for _offset, data in port.incoming_midi_events():
                if 0 < len(data) <= MAX_EVENT_BYTES and data[0] not in IGNORED_STATUS:
                    queue.append(bytes(data))
        self.cycles += 1
        self.wake.set()

    def poll(self, out: list, budget: int = MAX_EVENTS_PER_POLL) -> None:
        """Append up to ``budget`` waiting events to ``out`` as ``(0, event)``."""
        queue = self._queue
        while budget > 0 and queue:
            try:
                raw = queue.popleft()
            except IndexError:
                break
            budget -= 1
            self._take(raw, out)

    def watch(self) -> list[str]:
        if not self.connected or self.client is None or self.server_gone:
            return []
        jack = _import_jack()
        listed = {p.name for p in self.client.get_ports(is_midi=True)}
        if self.ports[0][0].name not in listed:
            return []  # not even our own port: the server is going, which the audio side reports
        news = []
        for port, name in self.ports:
            if name not in listed:
                if name not in self.gone:
                    news.append(self._went_away(name))  # JACK has dropped the connection itself
            elif name in self.gone:
                try:
                    self.client.connect(name, port)
                except jack.JackError:
                    continue  # registered but not ready: try again next time
                news.append(self._came_back(name))
        return news

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.deactivate()  # stops the process callback before the ports go
                self.client.close()
            except Exception:  # noqa: BLE001  the server may be gone already; closing is best effort
                pass
            self.client = None
        self.ports = []


def open_jack_midi(port_specs: list[str], virtual: str | None, client_name: str = "gansynth") -> JackMidiInputs:
    """A virtual port named ``virtual``, or one port connected to each JACK MIDI output matching
    ``port_specs`` (index or name part; none: every hardware MIDI output)."""
    jack = _import_jack()
    try:
        client = jack.Client(client_name, no_start_server=True)
    except jack.JackError as exc:
        raise MidiError(f"cannot open a JACK MIDI input ({exc})",
                        hint="is the JACK server running? try --midi-api alsa") from None
    inputs = JackMidiInputs(client=client)
    try:
        if virtual:
            inputs.ports.append((client.midi_inports.register(virtual), virtual))
            sources = []
        else:
            sources = _choose_sources(client, port_specs)
            for n, source in enumerate(sources):
                inputs.ports.append((client.midi_inports.register(f"in_{n + 1}"), source.name))
            inputs.connected = True
        client.set_process_callback(inputs._process)
        client.set_shutdown_callback(lambda *_: setattr(inputs, "server_gone", True))
        client.activate()
        for (port, _), source in zip(inputs.ports, sources):
            client.connect(source, port)
    except jack.JackError as exc:
        inputs.close()
        raise MidiError(f"cannot set up the JACK MIDI input ({exc})") from None
    except MidiError:
        inputs.close()
        raise
    return inputs


def list_jack_midi_sources() -> list[str] | None:
    """JACK MIDI outputs in the order ``--midi-port N`` counts them; None without a JACK server."""
    try:
        jack = _import_jack()
        client = jack.Client("gansynth-list", no_start_server=True)
    except Exception:  # noqa: BLE001  no server, no libjack: nothing to list
        return None
    try:
        return [p.name for p in _available(client)]
    finally:
        client.close()


def _available(client) -> list:
    return [p for p in client.get_ports(is_midi=True, is_output=True)
            if not p.name.startswith(client.name + ":")]


def _choose_sources(client, port_specs: list[str]) -> list:
    available = _available(client)
    names = [p.name for p in available]
    aliases = [p.aliases[0] if p.aliases else "" for p in available]
    physical = {p.name for p in available if p.is_physical}
    chosen = choose_ports(port_specs, names,
                          lambda name: name in physical and not re.search("through", name, re.I),
                          "JACK MIDI output" if port_specs else "hardware JACK MIDI", aliases)
    return [available[i] for i in chosen]
