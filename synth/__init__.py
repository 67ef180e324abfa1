"""The runtime of a GAN synthesizer: load a plugin (ONNX), play it, render with it.

Never imports torch. The folders follow the data path::

    midi/ (events, files, ports, OSC) -> engine/ (the Synth: channels, sound controls, voices)
        -> notes/ (note requests generated, prepared and cached) -> plugin/ (the ONNX model)
    host/ (live loop, audio outputs, offline render, terminal UI) drives the engine; cli/ is the
    command line; ostune.py tunes the OS for the live host.

Public API:

* :class:`~synth.plugin.model.GeneratorModel` - a validated plugin file
* :class:`~synth.engine.synth.Synth` - the instrument (prepare / process / reset / state)
* :func:`~synth.host.render.render_file` - headless MIDI file to WAV
* :class:`~synth.errors.SynthError` - the one error base the CLI reports
"""

from .errors import AudioDeviceError, ConfigError, MidiError, ModelError, SynthError

__version__ = "0.1.0"
__all__ = ["SynthError", "ModelError", "MidiError", "AudioDeviceError", "ConfigError", "__version__"]
