"""MIDI events: small immutable values, validated once at the edge.

Parsers here turn raw bytes (live ports) and mido messages (files) into
:class:`MidiEvent`; the engine trusts them after that. Messages the instrument
has no use for (SysEx, clock, active sensing, ...) parse to ``None``.
"""

from __future__ import annotations

from typing import NamedTuple

NOTE_OFF, NOTE_ON, CONTROL, PROGRAM, PITCH_BEND, CHANNEL_PRESSURE, POLY_PRESSURE = (
    "note_off", "note_on", "control", "program", "pitch_bend", "channel_pressure", "poly_pressure")

CC_MOD_WHEEL = 1
CC_DATA_ENTRY = 6
CC_VOLUME = 7
CC_PAN = 10
CC_EXPRESSION = 11
CC_SUSTAIN = 64
CC_NRPN_LSB, CC_NRPN_MSB, CC_RPN_LSB, CC_RPN_MSB = 98, 99, 100, 101
CC_ALL_SOUND_OFF = 120
CC_RESET_CONTROLLERS = 121
CC_ALL_NOTES_OFF = 123

_STATUS_KINDS = {0x80: NOTE_OFF, 0x90: NOTE_ON, 0xA0: POLY_PRESSURE, 0xB0: CONTROL,
                 0xC0: PROGRAM, 0xD0: CHANNEL_PRESSURE, 0xE0: PITCH_BEND}
_DATA_BYTES = {NOTE_OFF: 2, NOTE_ON: 2, POLY_PRESSURE: 2, CONTROL: 2, PROGRAM: 1,
               CHANNEL_PRESSURE: 1, PITCH_BEND: 2}


class MidiEvent(NamedTuple):
    """One channel message. ``a``: note, controller or program; ``b``: velocity, value, or bend.

    Pitch bend ``b`` is -8192..8191. A note-on with velocity 0 is a note-off.
    """

    kind: str
    channel: int
    a: int = 0
    b: int = 0

    @classmethod
    def checked(cls, kind: str, channel: int, a: int = 0, b: int = 0) -> MidiEvent:
        """Construct with range checks; raise ValueError naming the valid range."""
        if kind not in _DATA_BYTES:
            raise ValueError(f"unknown MIDI event kind {kind!r}")
        if not 0 <= channel <= 15:
            raise ValueError(f"MIDI channel must be 0..15, got {channel}")
        if not 0 <= a <= 127:
            raise ValueError(f"MIDI data byte must be 0..127, got {a}")
        low, high = (-8192, 8191) if kind == PITCH_BEND else (0, 127)
        if not low <= b <= high:
            raise ValueError(f"{kind} value must be {low}..{high}, got {b}")
        if kind == NOTE_ON and b == 0:
            kind = NOTE_OFF
        return cls(kind, channel, a, b)


def note_on(note: int, velocity: int, channel: int = 0) -> MidiEvent:
    return MidiEvent.checked(NOTE_ON, channel, note, velocity)


def note_off(note: int, channel: int = 0) -> MidiEvent:
    return MidiEvent.checked(NOTE_OFF, channel, note, 0)


def control(controller: int, value: int, channel: int = 0) -> MidiEvent:
    return MidiEvent.checked(CONTROL, channel, controller, value)


def from_bytes(data: bytes | list[int]) -> MidiEvent | None:
    """Parse one complete channel message; ``None`` for system messages and anything malformed."""
    if not data:
        return None
    status = data[0]
    kind = _STATUS_KINDS.get(status & 0xF0)
    if kind is None or len(data) != 1 + _DATA_BYTES[kind]:
        return None
    body = data[1:]
    if any(not 0 <= byte <= 127 for byte in body):
        return None
    channel = status & 0x0F
    if kind == PITCH_BEND:
        return MidiEvent(kind, channel, 0, (body[0] | (body[1] << 7)) - 8192)
    if kind in (PROGRAM, CHANNEL_PRESSURE):
        return MidiEvent(kind, channel, body[0], 0)
    if kind == NOTE_ON and body[1] == 0:
        return MidiEvent(NOTE_OFF, channel, body[0], 0)
    return MidiEvent(kind, channel, body[0], body[1])


def from_mido(message) -> MidiEvent | None:
    """Convert a mido message; ``None`` for the ones the instrument ignores."""
    t = message.type
    if t == "note_on":
        return MidiEvent(NOTE_ON if message.velocity else NOTE_OFF, message.channel, message.note, message.velocity)
    if t == "note_off":
        return MidiEvent(NOTE_OFF, message.channel, message.note, 0)
    if t == "control_change":
        return MidiEvent(CONTROL, message.channel, message.control, message.value)
    if t == "program_change":
        return MidiEvent(PROGRAM, message.channel, message.program, 0)
    if t == "pitchwheel":
        return MidiEvent(PITCH_BEND, message.channel, 0, message.pitch)
    if t == "aftertouch":
        return MidiEvent(CHANNEL_PRESSURE, message.channel, message.value, 0)
    return None
