"""synth devices: audio outputs (with host API) and MIDI inputs of every available API."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    import rtmidi
    import sounddevice as sd

    from ..midi.jack import list_jack_midi_sources
    from ..midi.source import quiet_c_stderr

    apis = sd.query_hostapis()
    print("audio outputs:")
    found = False
    for index, device in enumerate(sd.query_devices()):
        if device["max_output_channels"] > 0:
            found = True
            print(f"  {index:3d}  {device['name']}  [{apis[device['hostapi']]['name']}, "
                  f"{device['max_output_channels']} ch, {device['default_samplerate']:.0f} Hz]")
    if not found:
        print("  (none: no sound card, and no JACK server running)")
    print("MIDI inputs:")
    for api in rtmidi.get_compiled_api():
        if api == rtmidi.API_UNIX_JACK:
            continue  # listed below, in the order --midi-api jack counts them
        name = rtmidi.get_api_display_name(api)
        try:
            with quiet_c_stderr():
                ports = rtmidi.MidiIn(api).get_ports()
        except rtmidi.SystemError:
            print(f"  {name}: not available")
            continue
        print(f"  {name}: " + (", ".join(f"{i}: {p}" for i, p in enumerate(ports)) or "(no ports)"))
    with quiet_c_stderr():
        jack_ports = list_jack_midi_sources()
    print("  JACK: " + ("not available (no server running)" if jack_ports is None else
                        ", ".join(f"{i}: {p}" for i, p in enumerate(jack_ports)) or "(no ports)"))
    return 0
