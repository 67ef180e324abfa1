"""Write benchmarks/bench_3min.mid: a 3-minute, ~3000-note file for render benchmarks.

Four tracks on four channels (bass, chords, arpeggio, melody), a tempo change every
16 bars, sustain pedal on the chords, pitch bends on the melody. Seeded: the same
file every time. Run: python benchmarks/make_bench_midi.py
"""

from pathlib import Path

import mido
import numpy as np

TICKS = 480
PROGRESSION = [(48, [0, 4, 7]), (45, [0, 3, 7]), (41, [0, 4, 7]), (43, [0, 4, 7])]


def _track(name: str, channel: int, program: int) -> mido.MidiTrack:
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    return track


def _flush(track: mido.MidiTrack, events: list) -> None:
    events.sort(key=lambda e: (e[0], e[1].type == "note_on"))
    now = 0
    for tick, message in events:
        track.append(message.copy(time=tick - now))
        now = tick


def main(path: Path = Path(__file__).with_name("bench_3min.mid")) -> None:
    rng = np.random.default_rng(7)
    tempo_track = mido.MidiTrack()
    bars = 96  # 4/4; tempos 120-144 bpm -> about 3 minutes
    tempos = [120, 132, 144, 126, 138, 120]
    for i, bpm in enumerate(tempos):
        delta = 0 if i == 0 else 16 * 4 * TICKS
        tempo_track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=delta))
    names = [("bass", 0, 33), ("chords", 1, 4), ("arpeggio", 2, 4), ("melody", 3, 4)]
    tracks = {name: _track(name, ch, prog) for name, ch, prog in names}
    events = {name: [] for name, _, _ in names}
    for bar in range(bars):
        root, shape = PROGRESSION[bar % 4]
        start = bar * 4 * TICKS
        for beat in range(4):  # bass: quarter notes
            t = start + beat * TICKS
            note = root - 12 + (7 if beat == 2 else 0)
            events["bass"] += [(t, mido.Message("note_on", channel=0, note=note, velocity=90)),
                               (t + TICKS - 40, mido.Message("note_off", channel=0, note=note))]
        events["chords"].append((start, mido.Message("control_change", channel=1, control=64, value=127)))
        for half in range(2):  # chords: half notes under the pedal
            t = start + half * 2 * TICKS
            for interval in shape:
                note = root + 12 + interval
                events["chords"] += [(t, mido.Message("note_on", channel=1, note=note, velocity=70)),
                                     (t + TICKS, mido.Message("note_off", channel=1, note=note))]
        events["chords"].append((start + 4 * TICKS - 10, mido.Message("control_change", channel=1, control=64,
                                                                        value=0)))
        for step in range(16):  # arpeggio: sixteenth notes
            t = start + step * TICKS // 4
            note = root + 24 + shape[step % 3] + 12 * (step // 8)
            velocity = int(rng.integers(50, 90))
            events["arpeggio"] += [(t, mido.Message("note_on", channel=2, note=note, velocity=velocity)),
                                   (t + TICKS // 4 - 20, mido.Message("note_off", channel=2, note=note))]
        t = start
        while t < start + 4 * TICKS:  # melody: eighths and quarters, with a bend now and then
            length = int(rng.choice([TICKS // 2, TICKS]))
            note = root + 24 + int(rng.choice([0, 2, 4, 5, 7, 9, 11, 12]))
            velocity = int(rng.integers(70, 110))
            events["melody"] += [(t, mido.Message("note_on", channel=3, note=note, velocity=velocity)),
                                 (t + length - 30, mido.Message("note_off", channel=3, note=note))]
            if rng.random() < 0.2:
                for k in range(8):
                    value = int(4096 * np.sin(np.pi * k / 7))
                    events["melody"].append((t + k * length // 8, mido.Message("pitchwheel", channel=3, pitch=value)))
            t += length
    for name in tracks:
        _flush(tracks[name], events[name])
    mid = mido.MidiFile(ticks_per_beat=TICKS, tracks=[tempo_track, *tracks.values()])
    mid.save(path)
    notes = sum(1 for _, m in sum(events.values(), []) if m.type == "note_on")
    print(f"{path}: {mid.length:.1f} s, {notes} notes")


if __name__ == "__main__":
    main()
