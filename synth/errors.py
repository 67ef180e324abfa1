"""One error family for everything the user can get wrong.

Each error carries the facts (a path, a device, a value) and ends with the next
step. The CLI prints ``str(error)`` as one line on stderr and exits with
``error.exit_code``; only unexpected bugs show a traceback.
"""

from __future__ import annotations


class SynthError(Exception):
    """Base of every error the instrument reports to its user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}; {hint}")


class ModelError(SynthError):
    """A model file is missing, unreadable, or breaks the plugin contract."""


class MidiError(SynthError):
    """A MIDI file or port cannot be read."""


class NoMidiPort(MidiError):
    """The MIDI system runs, but no port matches (none plugged in, or none by that name)."""


class AudioDeviceError(SynthError):
    """An audio device cannot be opened or went away."""


class ConfigError(SynthError):
    """A config file, preset or setting is malformed or out of range."""


class DataError(SynthError):
    """A training data set, SoundFont or folder of recordings cannot be used."""


TRAIN_EXTRA_HINT = 'pip install -e ".[train]"'


def missing_training_extra(what: str, exc: ImportError, hint: str = TRAIN_EXTRA_HINT) -> SynthError:
    """The error for ``what`` (a command or a step) when the ``train`` extra (torch, onnx...) is missing."""
    return SynthError(f"{what} needs the training extra ({exc.name} is missing)", hint=hint)
