"""Write examples/palette_demo.mid: a General MIDI file for the palette model, one instrument per
channel, so each can be heard alone and then together.

Eight bars in C: the piano alone (channel 1), then the bass (2), the strings (3), the flute (4),
the trumpet (5) and the vibraphone (6) enter two bars apart, and a drum part on channel 10 (which
the synth skips, saying so once, until it has a drum model). Each part keeps to its instrument's
range in the palette's training keys (MIDI 36-84). Run: python examples/make_palette_demo.py
"""

from pathlib import Path

import mido

TICKS = 480  # per beat
TEMPO = mido.bpm2tempo(96)
CHORDS = [(48, 52, 55), (45, 48, 52), (41, 45, 48), (43, 47, 50)]  # C, Am, F, G
# (channel, GM program 0-based, first bar it plays)
PARTS = [(0, 0, 0), (1, 33, 2), (2, 48, 2), (3, 73, 4), (4, 56, 6), (5, 11, 4)]
MELODY = [72, 74, 76, 79, 77, 76, 74, 72, 69, 71, 72, 74, 76, 74, 72, 67]  # two bars of eighths
BARS = 10


def _notes(channel: int, bar: int) -> list[tuple[float, float, int, int]]:
    """(start beat, length beats, pitch, velocity) of ``channel``'s part in ``bar``."""
    root = CHORDS[bar % 4]
    start = 4.0 * bar
    if channel == 0:  # piano: the chord on each half bar
        return [(start + half * 2, 1.8, p + 12, 80) for half in range(2) for p in root]
    if channel == 1:  # bass: root on beats 1 and 3, fifth on 2 and 4
        return [(start + b, 0.9, (root[0] if b % 2 == 0 else root[2]) - 12 + 12 * (root[0] < 45), 95)
                for b in range(4)]
    if channel == 2:  # strings: the chord held through the bar
        return [(start, 3.9, p + 12, 70) for p in root[:2]]
    if channel == 3:  # flute: the melody, eighths
        first = 8 * (bar % 2)
        return [(start + 0.5 * i, 0.45, MELODY[first + i], 85) for i in range(8)]
    if channel == 4:  # trumpet: a call on beat 1
        return [(start, 0.9, root[0] + 24, 100), (start + 1.0, 0.9, root[2] + 24, 100)]
    return [(start + 0.75 + b, 0.4, root[1] + 36, 75) for b in range(0, 4, 2)]  # vibraphone: offbeat sparkle


def main(path: Path = Path(__file__).with_name("palette_demo.mid")) -> None:
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name="palette demo", time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=TEMPO, time=0))
    events = []  # (tick, order, message)
    for channel, program, _ in PARTS:
        events.append((0, 0, mido.Message("program_change", channel=channel, program=program)))
    for channel, _, first in PARTS:
        for bar in range(first, BARS):
            for start, length, pitch, velocity in _notes(channel, bar):
                events.append((int(start * TICKS), 2, mido.Message("note_on", channel=channel, note=pitch,
                                                                   velocity=velocity)))
                events.append((int((start + length) * TICKS), 1, mido.Message("note_off", channel=channel,
                                                                              note=pitch, velocity=0)))
    for bar in range(4, BARS):  # channel 10: kick and hat, skipped by the synth with one notice
        for beat in range(4):
            tick = int((4.0 * bar + beat) * TICKS)
            note = 36 if beat % 2 == 0 else 42
            events.append((tick, 2, mido.Message("note_on", channel=9, note=note, velocity=90)))
            events.append((tick + TICKS // 4, 1, mido.Message("note_off", channel=9, note=note, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=TICKS * 2))
    mido.MidiFile(ticks_per_beat=TICKS, tracks=[track]).save(path)


if __name__ == "__main__":
    main()
