"""Headless render speed: `synth render` against FluidSynth on the same MIDI file, in alternation.

Prints a table and appends it to docs/performance.md with the machine and the command.
Run: .venv/bin/python benchmarks/render_vs_fluidsynth.py [--rounds 3] [--midi FILE] [--no-append]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from synth.bench import machine_description as machine  # noqa: E402

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--midi", type=Path, default=ROOT / "benchmarks" / "bench_3min.mid")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samplerate", type=int, default=48000)
    parser.add_argument("--model", type=Path, default=None, help="a plugin to render with (default: built-in)")
    parser.add_argument("--preset", type=Path, default=None,
                        help="a preset every channel plays (e.g. one from `synth preset from-sample`, whose colour "
                             "the note worker puts on every note)")
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args()
    song_s = mido.MidiFile(args.midi).length
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        ours_midi = args.midi
        if args.preset:  # every channel plays the preset: its program changes become markers (same timing)
            song = mido.MidiFile(args.midi)
            for track in song.tracks:
                track[:] = [mido.MetaMessage("marker", text="program", time=m.time) if m.type == "program_change"
                            else m for m in track]
            ours_midi = Path(tmp) / "no-programs.mid"
            song.save(ours_midi)
        synth_cmd = [sys.executable, "-m", "synth", "render", str(ours_midi), "-o", f"{tmp}/ours.wav", "-q",
                     "--samplerate", str(args.samplerate)] + (["--model", str(args.model)] if args.model else []) \
            + (["--preset", str(args.preset)] if args.preset else [])
        fluid_cmd = ["fluidsynth", "-ni", "-q", "-r", str(args.samplerate), "-F", f"{tmp}/fluid.wav",
                     str(SOUNDFONT), str(args.midi)]
        for _ in range(args.rounds):  # alternate, so both see the same machine state
            ours.append(timed(synth_cmd))
            theirs.append(timed(fluid_cmd))
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    table = (f"| renderer | median wall time (s) | real-time factor |\n|---|---|---|\n"
             f"| `synth render` ({args.model.name if args.model else 'default model'}"
             f"{', preset ' + args.preset.name if args.preset else ''}, CPU) | {ours_s:.2f} | "
             f"{song_s / ours_s:.0f}x |\n"
             f"| `fluidsynth -ni -F` (FluidR3_GM) | {theirs_s:.2f} | {song_s / theirs_s:.0f}x |\n\n"
             f"Ratio ours / FluidSynth: **{ours_s / theirs_s:.2f}x** "
             f"(file {args.midi.name}: {song_s:.0f} s of music, {args.rounds} alternating rounds, "
             f"{args.samplerate} Hz, times include process start-up and model load).\n")
    print(table)
    if not args.no_append:
        entry = (f"\n### Headless render vs FluidSynth, {dt.date.today().isoformat()}\n\n"
                 f"Machine: {machine()}. Command: `.venv/bin/python benchmarks/render_vs_fluidsynth.py "
                 f"--rounds {args.rounds} --midi {args.midi.name}"
                 f"{' --model ' + str(args.model) if args.model else ''}`\n\n{table}")
        with open(ROOT / "docs" / "performance.md", "a") as handle:
            handle.write(entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
