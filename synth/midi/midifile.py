"""MIDI files to timed events: all tracks and channels merged, tempo changes honoured.

Strict: a file that is not a well-formed Standard MIDI File is refused with one
sentence naming the file and what is wrong (see :mod:`synth.midi.smf`). Notes never
released get a note-off at the end of the song.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import MidiError
from .events import NOTE_OFF, NOTE_ON, MidiEvent
from .smf import SmfError, read_smf

MAX_SONG_S = 6 * 3600.0


@dataclass
class Song:
    """``events`` are ``(time_s, MidiEvent)`` in time order; ``length_s`` is the last event's time."""

    path: Path
    events: list[tuple[float, MidiEvent]]
    length_s: float
    notes: int


def load_song(path: str | Path) -> Song:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MidiError(f"MIDI file {path} does not exist") from None
    except OSError as exc:
        raise MidiError(f"cannot read {path} ({exc.strerror or exc})") from None
    try:
        timed, length_s = read_smf(data)
    except SmfError as exc:
        raise MidiError(f"{path} is not a readable MIDI file: {exc}",
                        hint="check that it is a complete Standard MIDI File (.mid)") from None
    if length_s > MAX_SONG_S:
        raise MidiError(f"{path} runs past {MAX_SONG_S / 3600:.0f} hours (huge delta times?)")
    events: list[tuple[float, MidiEvent]] = []
    sounding: set[tuple[int, int]] = set()
    for now, event in timed:
        if event.kind == NOTE_ON:
            sounding.add((event.channel, event.a))
        elif event.kind == NOTE_OFF:
            sounding.discard((event.channel, event.a))
        events.append((now, event))
    for channel, note in sounding:
        events.append((length_s, MidiEvent(NOTE_OFF, channel, note, 0)))
    notes = sum(1 for _, e in events if e.kind == NOTE_ON)
    return Song(path, events, length_s, notes)
