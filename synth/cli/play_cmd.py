"""synth play: play live from a MIDI keyboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_model_arguments, build_synth

EXAMPLE = """examples:
  synth play                                   # default audio device, first MIDI input
  synth play --midi-port "USB Keyboard" --audio-device pulse
  synth play --headless --midi-api jack --virtual-midi gansynth --audio-device jack"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio-device", help="index, or part of the device or host-API name")
    parser.add_argument("--samplerate", type=int, help="Hz (default: the device's)")
    parser.add_argument("--blocksize", type=int, default=128, help="frames per audio callback (128)")
    parser.add_argument("--ring-blocks", type=int, default=2, help="blocks rendered ahead (2)")
    parser.add_argument("--channels", type=int, default=2, choices=(2,), help="output channels (2)")
    parser.add_argument("--midi-port", help="index or part of a MIDI input port name (default: the first)")
    parser.add_argument("--virtual-midi", metavar="NAME", help="open a virtual MIDI input port instead")
    parser.add_argument("--midi-api", choices=("auto", "alsa", "jack"), default="auto")
    parser.add_argument("--headless", action="store_true", help="no terminal UI; log to stderr")
    parser.add_argument("--stats", type=Path, help="write a JSON summary here at exit")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..errors import SynthError
    from ..live import LiveHost, LiveOptions, summary

    if not 16 <= args.blocksize <= 8192:
        raise SynthError(f"--blocksize must be 16..8192 frames, got {args.blocksize}")
    if not 1 <= args.ring_blocks <= 64:
        raise SynthError(f"--ring-blocks must be 1..64, got {args.ring_blocks}")
    synth = build_synth(args, threads=1)
    options = LiveOptions(audio_device=args.audio_device, samplerate=args.samplerate, blocksize=args.blocksize,
                          ring_blocks=args.ring_blocks, channels=args.channels, midi_port=args.midi_port,
                          virtual_midi=args.virtual_midi, midi_api=args.midi_api, headless=True,
                          stats=args.stats, duration_s=args.duration)
    stats = LiveHost(synth, options).run()
    print(summary(stats), file=sys.stderr)
    return 0
