"""synth render: MIDI file -> WAV, or a folder of one-shots."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import SynthError
from .common import (
    add_model_arguments,
    audio_output,
    bounded,
    build_synth,
    parse_pitches,
    parse_velocities,
    sample_rate,
)

EXAMPLE = """examples:
  synth render examples/demo.mid -o demo.wav
  synth render song.mid -o song.wav --model my.onnx --samplerate 44100 --seed 3
  synth render --one-shots pack/ --pitches 36-84 --velocities 64,127"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("midi", nargs="?", type=Path, help="MIDI file to render")
    parser.add_argument("-o", "--output", type=Path, help="audio file to write (.wav, .flac or .ogg)")
    parser.add_argument("--one-shots", type=Path, metavar="DIR", help="write one WAV per note into DIR instead")
    parser.add_argument("--pitches", type=parse_pitches, default=list(range(36, 85)), help="one-shot notes (36-84)")
    parser.add_argument("--velocities", type=parse_velocities, default=[100], help="one-shot velocities, 1-127 (100)")
    parser.add_argument("--duration", type=bounded(float, 0.01, 60, " s"), default=2.0,
                        help="one-shot hold time in seconds, up to 60 (2.0)")
    parser.add_argument("--samplerate", type=sample_rate, default=48000, help="output sample rate in Hz (48000)")
    parser.add_argument("--subtype", default=None, choices=("PCM_16", "PCM_24", "FLOAT"),
                        help="WAV sample format (PCM_16 for songs, PCM_24 for one-shots)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..host.render import SongReading, ahead_workers, render_file, render_one_shots

    if args.one_shots is None and (args.midi is None or args.output is None):
        raise SynthError("render needs a MIDI file and -o OUT.wav (or --one-shots DIR)",
                         hint="see `synth render --help`")
    fmt = audio_output(args.output) if args.one_shots is None else "WAV"
    # A song is read, and the sessions that generate its notes beside the model's own are opened,
    # while the model loads. One thread per session, one session per core: the model's own session
    # on two threads beside the other worker's made bench_3min.mid 10-30 ms slower (median of 11-15
    # alternating rounds).
    song = SongReading(args.midi) if args.one_shots is None else None
    siblings = ahead_workers() - 1 if song is not None else 0
    synth = build_synth(args, threads=1 if siblings else 0, cpu_siblings=siblings)
    started = time.perf_counter()
    if args.one_shots is not None:
        files = render_one_shots(synth, args.one_shots, args.pitches, args.velocities, args.duration,
                                 args.samplerate, args.subtype or "PCM_24", progress=not args.quiet)
        print(f"wrote {len(files)} one-shots to {args.one_shots}", file=sys.stderr)
        print(args.one_shots)
        return 0
    report = render_file(synth, args.midi, args.output, args.samplerate, args.subtype or "PCM_16",
                         progress=not args.quiet, fmt=fmt, song=song)
    took = time.perf_counter() - started
    for notice in synth.notices:  # a program this model lacks, drums skipped: each once
        print(notice, file=sys.stderr)
    print(f"rendered {report.notes} notes, {report.seconds:.1f} s of audio in {took:.1f} s "
          f"({report.seconds / max(took, 1e-9):.0f}x real time, {report.generated} notes generated, "
          f"peak {report.peak:.2f}) on {synth.model.device_description}", file=sys.stderr)
    print(report.path)
    return 0
