"""Write examples/demo.mid: a short piece that exercises the instrument.

A monophonic melody over two octaves and a half (so a test can check every
note's pitch), notes above the model's range (played by octave repitching),
long held notes (sustain loop past the generated length) and a sustain-pedal
passage. Run: python examples/make_demo.py
"""

from pathlib import Path

import mido

TICKS = 480  # per beat, 100 bpm
TEMPO = mido.bpm2tempo(100)


def main(path: Path = Path(__file__).with_name("demo.mid")) -> None:
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name="demo", time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=TEMPO, time=0))
    progression = [[48, 52, 55, 60, 64, 67, 72, 67], [45, 48, 52, 57, 60, 64, 69, 64],
                   [41, 45, 48, 53, 57, 60, 65, 60], [43, 47, 50, 55, 59, 62, 67, 74]]
    notes = []  # (start_beat, length_beats, pitch, velocity)
    beat = 0.0
    for repeat in range(2):
        for bar in progression:
            for i, pitch in enumerate(bar):
                velocity = 70 + 8 * (i % 4) + 10 * repeat
                notes.append((beat, 0.45, pitch + 12 * repeat * (i >= 6), velocity))
                beat += 0.5
    for pitch in (76, 79, 84, 88, 91):  # the top of the range and beyond it
        notes.append((beat, 0.9, pitch, 90))
        beat += 1.0
    for pitch, length in ((60, 6.0), (55, 4.0), (48, 7.0)):  # held past the generated 2 s
        notes.append((beat, length, pitch, 100))
        beat += length + 0.5
    events = []
    for start, length, pitch, velocity in notes:
        events.append((int(start * TICKS), "on", pitch, velocity))
        events.append((int((start + length) * TICKS), "off", pitch, 0))
    events.sort(key=lambda e: (e[0], e[1] == "on"))  # offs before ons at the same tick
    now = 0
    for tick, kind, pitch, velocity in events:
        message = "note_on" if kind == "on" else "note_off"
        track.append(mido.Message(message, note=pitch, velocity=velocity, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=TICKS))
    mido.MidiFile(ticks_per_beat=TICKS, tracks=[track]).save(path)


if __name__ == "__main__":
    main()
