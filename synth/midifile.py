"""MIDI files to timed events: all tracks and channels merged, tempo changes honoured.

Strict by default: a file mido cannot parse is refused with one sentence naming
the file. Notes never released get a note-off at the end of the song.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mido

from .errors import MidiError
from .events import NOTE_OFF, NOTE_ON, MidiEvent, from_mido

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
    if not path.exists():
        raise MidiError(f"MIDI file {path} does not exist")
    try:
        midi = mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise MidiError(f"{path} is not a readable MIDI file ({exc})",
                        hint="check that it is a complete Standard MIDI File (.mid)") from None
    if midi.type == 2:
        raise MidiError(f"{path} is a type-2 MIDI file (independent sequences), which cannot be rendered as one song")
    if not midi.tracks:
        raise MidiError(f"{path} has no tracks")
    events: list[tuple[float, MidiEvent]] = []
    now = 0.0
    sounding: dict[tuple[int, int], int] = {}
    try:
        for message in midi:  # merges tracks and converts ticks to seconds through the tempo map
            now += message.time
            if now > MAX_SONG_S:
                raise MidiError(f"{path} runs past {MAX_SONG_S / 3600:.0f} hours (huge delta times?)")
            event = from_mido(message)
            if event is None:
                continue
            if event.kind == NOTE_ON:
                sounding[(event.channel, event.a)] = sounding.get((event.channel, event.a), 0) + 1
            elif event.kind == NOTE_OFF:
                sounding.pop((event.channel, event.a), None)
            events.append((now, event))
    except (ValueError, KeyError, EOFError) as exc:
        raise MidiError(f"{path} has a malformed event near {now:.3f} s ({exc})") from None
    for channel, note in sounding:
        events.append((now, MidiEvent(NOTE_OFF, channel, note, 0)))
    notes = sum(1 for _, e in events if e.kind == NOTE_ON)
    return Song(path, events, now, notes)
