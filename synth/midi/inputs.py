"""Open the live MIDI input the player asked for: ALSA, JACK, or whichever this machine has."""

from __future__ import annotations

from ..errors import MidiError, NoMidiPort
from .alsa import open_alsa_midi
from .jack import open_jack_midi
from .source import MidiSource


def open_midi_inputs(api_choice: str, port_specs: list[str], virtual: str | None) -> MidiSource:
    """Open a virtual port, or every port matching ``port_specs`` (index or name part; none: all
    hardware ports, so several keyboards play at once). ``auto``: ALSA, else JACK."""
    if api_choice == "jack":
        return open_jack_midi(port_specs, virtual)
    try:
        return open_alsa_midi(port_specs, virtual)
    except MidiError as alsa_error:
        if api_choice != "auto":
            raise
        try:
            return open_jack_midi(port_specs, virtual)
        except MidiError as jack_error:
            message = f"cannot open a MIDI input (ALSA: {alsa_error.message}; JACK: {jack_error.message})"
            if isinstance(jack_error, NoMidiPort):  # JACK runs: it only lacks a port to connect
                raise NoMidiPort(message, hint="plug in a keyboard, or open a port of our own with --virtual-midi "
                                               "NAME and connect a source to it (jack_connect)") from None
            raise MidiError(message, hint="start a JACK server or load the ALSA sequencer (snd-seq)") from None
