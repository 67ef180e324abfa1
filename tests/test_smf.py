"""The MIDI file reader on hand-made bytes: each feature of the format it must honour, and the
one-sentence refusals. (Agreement with mido on damaged files is a property test.)"""

from __future__ import annotations

import pytest

from synth.errors import MidiError
from synth.midi import events as ev
from synth.midi.midifile import load_song
from synth.midi.smf import SmfError, read_smf


def smf(*tracks: bytes, file_format: int = 1, division: int = 480, extra: bytes = b"") -> bytes:
    header = b"MThd" + (6).to_bytes(4, "big") + file_format.to_bytes(2, "big") + len(tracks).to_bytes(2, "big")
    header += division.to_bytes(2, "big")
    return header + extra + b"".join(b"MTrk" + len(t).to_bytes(4, "big") + t for t in tracks)


END = b"\x00\xff\x2f\x00"
TEMPO_60_BPM = b"\x00\xff\x51\x03\x0f\x42\x40"  # 1,000,000 microseconds per beat


def test_running_status_velocity_zero_and_bend():
    track = (b"\x00\x90\x3c\x64"  # note on C4
             b"\x83\x60\x3c\x00"  # 480 ticks later, running status, velocity 0: a note-off
             b"\x00\xe1\x00\x40"  # bend centre on channel 2
             b"\x00\x7f\x7f" + END)  # running status again: bend to the top
    events, length = read_smf(smf(track))
    assert [e for _, e in events] == [ev.MidiEvent(ev.NOTE_ON, 0, 60, 100), ev.MidiEvent(ev.NOTE_OFF, 0, 60, 0),
                                      ev.MidiEvent(ev.PITCH_BEND, 1, 0, 0), ev.MidiEvent(ev.PITCH_BEND, 1, 0, 8191)]
    assert [t for t, _ in events] == [0.0, 0.5, 0.5, 0.5] and length == 0.5  # 120 bpm until told otherwise


def test_tempo_in_another_track_and_ties_keep_track_order():
    conductor = TEMPO_60_BPM + END
    notes = b"\x00\x90\x40\x50\x83\x60\x80\x40\x00" + END
    drums = b"\x83\x60\x99\x24\x70" + END
    events, _ = read_smf(smf(conductor, notes, drums))
    assert [(t, e.kind, e.channel) for t, e in events] == [(0.0, ev.NOTE_ON, 0), (1.0, ev.NOTE_OFF, 0),
                                                           (1.0, ev.NOTE_ON, 9)]


def test_smpte_division_sysex_and_unknown_chunks_are_handled():
    track = (b"\x00\xf0\x05\x7e\x7f\x09\x01\xf7"  # GM reset SysEx: skipped
             b"\x00\xff\x01\x04text"  # a text event: skipped
             b"\x19\xb0\x07\x64" + END)  # 25 ticks of 1/1000 s
    data = smf(track, division=(0xE7 << 8) | 40)  # -25 fps, 40 ticks per frame
    data = data[:14] + b"XFIH" + (3).to_bytes(4, "big") + b"abc" + data[14:]  # a vendor chunk first
    events, length = read_smf(data)
    assert events == [(pytest.approx(0.025), ev.MidiEvent(ev.CONTROL, 0, 7, 100))]
    assert length == pytest.approx(0.025)


@pytest.mark.parametrize("data, says", [
    (b"RIFF" + bytes(20), "does not start with a MIDI file header"),
    (smf(END, file_format=2), "type-2"),
    (smf(END, division=0), "time division is 0"),
    (smf(b"\x00\x90\x3c"), "ends in the middle of an event"),
    (smf(b"\x00\x3c\x64" + END), "data byte where an event should start"),
    (smf(b"\x00\x90\x3c\xe4" + END), "data byte over 127"),
    (smf(b"\x00\xf3\x01" + END), "status byte 0xF3"),
    (smf(END)[:-3], "cut short"),
    (smf(END).replace(b"\x00\x01\x01\xe0", b"\x00\x02\x01\xe0"), "declares 2 tracks but holds 1"),
])
def test_bad_files_are_refused_with_the_reason(tmp_path, data, says):
    with pytest.raises(SmfError, match=says):
        read_smf(data)
    path = tmp_path / "bad.mid"
    path.write_bytes(data)
    with pytest.raises(MidiError) as caught:
        load_song(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_note_never_released_ends_with_the_song(tmp_path):
    path = tmp_path / "held.mid"
    path.write_bytes(smf(b"\x00\x90\x3c\x64\x8f\x00\xff\x2f\x00"))  # note on, end of track 1920 ticks later
    song = load_song(path)
    assert song.length_s == 2.0 and song.notes == 1
    assert song.events[-1] == (2.0, ev.MidiEvent(ev.NOTE_OFF, 0, 60, 0))
