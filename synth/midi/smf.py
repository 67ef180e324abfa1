"""Standard MIDI Files read straight from their bytes into timed events.

Why not mido: mido builds a message object (and copies it twice while merging
tracks) for each of a file's events, which took a tenth of a second on the
3-minute benchmark file, as long as generating a dozen notes. This reader makes
only the :class:`MidiEvent` values the engine plays. It follows mido where the
two could differ (tracks merged by tick with earlier tracks first on ties, a
tempo change taking effect after its own delta time, running status kept across
meta events) and is tested against mido on fuzzed files.
"""

from __future__ import annotations

from .events import CHANNEL_PRESSURE, CONTROL, NOTE_OFF, NOTE_ON, PITCH_BEND, PROGRAM, MidiEvent

DEFAULT_TEMPO = 500_000  # microseconds per beat: 120 bpm until a tempo event says otherwise
META, SYSEX, SYSEX_ESCAPE = 0xFF, 0xF0, 0xF7
META_TEMPO, META_END_OF_TRACK = 0x51, 0x2F
_KINDS = {0x80: NOTE_OFF, 0x90: NOTE_ON, 0xA0: None, 0xB0: CONTROL, 0xC0: PROGRAM, 0xD0: CHANNEL_PRESSURE,
          0xE0: PITCH_BEND}  # None: polyphonic aftertouch, read and dropped


class SmfError(ValueError):
    """The bytes are not a Standard MIDI File this reader can play; the message says where."""


def read_smf(data: bytes) -> tuple[list[tuple[float, MidiEvent]], float]:
    """Every playable channel event of a type-0 or type-1 file, as ``(seconds, event)`` in time order,
    and the song's length: the time of its last event of any kind (end-of-track included)."""
    file_format, track_count, division, pos = _header(data)
    if file_format == 2:
        raise SmfError("it is a type-2 file (independent sequences), which cannot be played as one song")
    tracks: list[list[tuple[int, object]]] = []
    while len(tracks) < track_count:
        if pos + 8 > len(data):
            raise SmfError(f"it declares {track_count} tracks but holds {len(tracks)}")
        name, length = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "big")
        body = data[pos + 8:pos + 8 + length]
        if len(body) < length:
            raise SmfError(f"chunk {len(tracks) + 1} is cut short ({len(body)} of {length} bytes)")
        pos += 8 + length
        if name == b"MTrk":  # other chunk types are skipped, as the standard asks
            tracks.append(_read_track(body, len(tracks) + 1))
    if not tracks:
        raise SmfError("it has no tracks")
    merged = [item for track in tracks for item in track]
    merged.sort(key=_tick)  # stable: on equal ticks, earlier tracks first, each in its own order
    return _to_seconds(merged, division)


def _tick(item: tuple[int, object]) -> int:
    return item[0]


def _header(data: bytes) -> tuple[int, int, int, int]:
    if data[:4] != b"MThd" or len(data) < 14:
        raise SmfError("it does not start with a MIDI file header (MThd)")
    length = int.from_bytes(data[4:8], "big")
    if length < 6:
        raise SmfError(f"its header is {length} bytes long, 6 are needed")
    file_format, track_count, division = (int.from_bytes(data[i:i + 2], "big") for i in (8, 10, 12))
    if file_format > 2:
        raise SmfError(f"it says it is a type-{file_format} file; only types 0, 1 and 2 exist")
    if division == 0 or division & 0x8000 and not division & 0xFF:
        raise SmfError("its time division is 0 ticks per beat (or per SMPTE frame)")
    return file_format, track_count, division, 8 + length


def _read_track(body: bytes, number: int) -> list[tuple[int, object]]:
    """``(tick, MidiEvent or tempo in microseconds per beat)`` in the track's order, closed by
    ``(tick, None)`` at the track's last event of any kind."""
    events: list[tuple[int, object]] = []
    pos, tick, running, end = 0, 0, 0, len(body)
    try:
        while pos < end:
            delta, pos = _varlen(body, pos)
            tick += delta
            status = body[pos]
            if status & 0x80:
                pos += 1
            elif running:
                status = running  # running status: the previous channel message's status byte again
            else:
                raise SmfError(f"track {number} has a data byte where an event should start")
            if status < 0xF0:
                running = status
                kind = _KINDS[status & 0xF0]
                a = body[pos]
                if kind in (PROGRAM, CHANNEL_PRESSURE):
                    b, pos = 0, pos + 1
                else:
                    b, pos = body[pos + 1], pos + 2
                if (a | b) & 0x80:
                    raise SmfError(f"track {number} has a data byte over 127 at tick {tick}")
                if kind is not None:
                    events.append((tick, _event(kind, status & 0x0F, a, b)))
            elif status == META:
                meta = body[pos]
                length, pos = _varlen(body, pos + 1)
                payload = body[pos:pos + length]
                if len(payload) < length:
                    raise IndexError
                pos += length
                if meta == META_TEMPO:
                    if length < 3:
                        raise SmfError(f"track {number} has a tempo event of {length} bytes, 3 are needed")
                    events.append((tick, int.from_bytes(payload[:3], "big")))
                elif meta == META_END_OF_TRACK:
                    break
            elif status in (SYSEX, SYSEX_ESCAPE):
                length, pos = _varlen(body, pos)
                if pos + length > end:
                    raise IndexError
                pos += length
            else:
                raise SmfError(f"track {number} has status byte 0x{status:02X}, which a MIDI file may not hold")
    except IndexError:
        raise SmfError(f"track {number} ends in the middle of an event") from None
    events.append((tick, None))
    return events


def _varlen(body: bytes, pos: int) -> tuple[int, int]:
    """A variable-length quantity (at most four bytes) and the position after it."""
    value = 0
    for _ in range(4):
        byte = body[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos
    raise SmfError("a variable-length number runs past four bytes")


def _event(kind: str, channel: int, a: int, b: int) -> MidiEvent:
    if kind == NOTE_ON and b == 0 or kind == NOTE_OFF:
        return MidiEvent(NOTE_OFF, channel, a, 0)
    if kind == PITCH_BEND:
        return MidiEvent(PITCH_BEND, channel, 0, (a | (b << 7)) - 8192)
    return MidiEvent(kind, channel, a, b)


def _to_seconds(merged: list[tuple[int, object]], division: int) -> tuple[list[tuple[float, MidiEvent]], float]:
    """Ticks to seconds through the tempo map (or the fixed SMPTE frame rate)."""
    if division & 0x8000:  # SMPTE: frames per second (negative, 29 meaning 29.97) and ticks per frame
        fps = 256 - (division >> 8)
        seconds_per_tick = 1.0 / ((29.97 if fps == 29 else fps) * (division & 0xFF))
        tempo_scale = 0.0
    else:
        seconds_per_tick = DEFAULT_TEMPO / 1e6 / division
        tempo_scale = 1e-6 / division
    out: list[tuple[float, MidiEvent]] = []
    now, last = 0.0, 0
    for tick, item in merged:
        now += (tick - last) * seconds_per_tick
        last = tick
        if type(item) is MidiEvent:
            out.append((now, item))
        elif item is not None and tempo_scale:
            seconds_per_tick = item * tempo_scale
    return out, now
