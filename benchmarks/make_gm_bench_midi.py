"""Write benchmarks/bench_gm.mid: a multi-timbral General MIDI file for render benchmarks.

Nine channels, nine programs (piano, electric piano, organ, guitar, bass, strings, trumpet, sax,
flute; one of them, Rock Organ, is not in the palette, so the nearest plays) and a drum part on
channel 10 that the synth skips: about 3,000 pitched notes in three minutes at 120 bpm, with
sustain pedal on the piano. Seeded: the same file every time.
Run: python benchmarks/make_gm_bench_midi.py
"""

from pathlib import Path

import mido
import numpy as np

TICKS = 480
BARS = 90  # 4/4 at 120 bpm: 3 minutes
PROGRESSION = [(48, [0, 4, 7]), (45, [0, 3, 7]), (41, [0, 4, 7]), (43, [0, 4, 7])]
# (channel, GM program, part)
PARTS = [(0, 0, "chords"), (1, 4, "offbeats"), (2, 18, "pad"), (3, 24, "arpeggio"), (4, 33, "bass"),
         (5, 48, "pad"), (6, 56, "calls"), (7, 65, "melody"), (8, 73, "melody")]


def _part(kind: str, channel: int, bar: int, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """(start tick, length ticks, pitch, velocity) for one bar of a part."""
    root, shape = PROGRESSION[bar % 4]
    start = bar * 4 * TICKS
    chord = [root + 12 + i for i in shape]
    if kind == "chords":
        return [(start + half * 2 * TICKS, 2 * TICKS - 30, p, 75) for half in range(2) for p in chord]
    if kind == "offbeats":
        return [(start + beat * TICKS + TICKS // 2, TICKS // 2 - 20, chord[1] + 12, 70) for beat in range(4)]
    if kind == "pad":
        return [(start, 4 * TICKS - 20, p, 60) for p in chord[:2]]
    if kind == "arpeggio":
        return [(start + step * TICKS // 2, TICKS // 2 - 10, chord[step % 3] + 12 * (step // 4), 80)
                for step in range(8)]
    if kind == "bass":
        return [(start + beat * TICKS, TICKS - 40, root - 12 + (7 if beat == 2 else 0), 95) for beat in range(4)]
    if kind == "calls":
        return [(start, TICKS - 40, root + 24, 100), (start + TICKS, TICKS - 40, root + 31, 100)] if bar % 2 else []
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    lift = 24 if channel == 8 else 12
    return [(start + step * TICKS // 2, TICKS // 2 - 20, root + lift + scale[int(rng.integers(0, 8))], 85)
            for step in range(8) if rng.random() < 0.65]


def main(path: Path = Path(__file__).with_name("bench_gm.mid")) -> None:
    rng = np.random.default_rng(11)
    tracks = []
    for channel, program, kind in PARTS:
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=f"{kind} {channel + 1}", time=0),
                                mido.Message("program_change", channel=channel, program=program, time=0)])
        events = []
        for bar in range(BARS):
            if channel == 0:
                events.append((bar * 4 * TICKS, 0, mido.Message("control_change", channel=0, control=64, value=127)))
                events.append(((bar + 1) * 4 * TICKS - 10, 0,
                               mido.Message("control_change", channel=0, control=64, value=0)))
            for start, length, pitch, velocity in _part(kind, channel, bar, rng):
                events.append((start, 2, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
                events.append((start + length, 1, mido.Message("note_off", channel=channel, note=pitch)))
        tracks.append((track, events))
    drums = mido.MidiTrack([mido.MetaMessage("track_name", name="drums 10", time=0)])
    drum_events = []
    for bar in range(BARS):
        for step in range(8):
            tick = bar * 4 * TICKS + step * TICKS // 2
            note = 36 if step % 4 == 0 else (38 if step % 4 == 2 else 42)
            drum_events.append((tick, 2, mido.Message("note_on", channel=9, note=note, velocity=90)))
            drum_events.append((tick + 60, 1, mido.Message("note_off", channel=9, note=note)))
    tracks.append((drums, drum_events))
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120), time=0)])
    out = mido.MidiFile(ticks_per_beat=TICKS, tracks=[tempo])
    for track, events in tracks:
        events.sort(key=lambda e: (e[0], e[1]))
        now = 0
        for tick, _, message in events:
            track.append(message.copy(time=tick - now))
            now = tick
        out.tracks.append(track)
    out.save(path)


if __name__ == "__main__":
    main()
