"""The runtime of a GAN synthesizer: load a plugin (ONNX), play it, render with it.

Never imports torch. Public API:

* :class:`~synth.model.GeneratorModel` - a validated plugin file
* :class:`~synth.engine.Synth` - the instrument (prepare / process / reset / state)
* :func:`~synth.render.render_file` - headless MIDI file to WAV
* :class:`~synth.errors.SynthError` - the one error base the CLI reports
"""

from .errors import AudioDeviceError, ConfigError, MidiError, ModelError, SynthError

__version__ = "0.1.0"
__all__ = ["SynthError", "ModelError", "MidiError", "AudioDeviceError", "ConfigError", "__version__"]
