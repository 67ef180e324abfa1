"""MIDI and other control input: events, Standard MIDI Files, live ports (ALSA, JACK), OSC."""
