"""synth play: play live from a MIDI keyboard."""

from __future__ import annotations

import argparse
import faulthandler
import os
import sys
from pathlib import Path

from .common import add_model_arguments, bounded, build_synth, sample_rate

EXAMPLE = """examples:
  synth play                                   # default audio device, first MIDI input
  synth play --midi-port "USB Keyboard" --audio-device pulse
  synth play --headless --midi-api jack --virtual-midi gansynth --audio-device jack
  synth play --osc-port 9000 --watch runs/mine.onnx   # OSC knobs, reload the model when it changes"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio-device", help="index, or part of the device or host-API name")
    parser.add_argument("--samplerate", type=sample_rate, help="Hz (default: the device's)")
    parser.add_argument("--blocksize", type=int, help="frames per audio callback (default: live.block_size, 128)")
    parser.add_argument("--ring-blocks", type=int, help="blocks rendered ahead (default: live.ring_blocks, 2)")
    parser.add_argument("--spare-ms", type=float,
                        help="audio kept in the ring beyond its latency target, in whole blocks, rendered again "
                             "when MIDI changes the sound: it plays through a pause of the engine and adds no "
                             "latency (default: live.spare_ms, 8)")
    parser.add_argument("--channels", type=int, default=2, choices=(2,), help="output channels (2)")
    parser.add_argument("--midi-port", action="append", default=[],
                        help="index or part of a MIDI input port name, repeatable (default: every input port)")
    parser.add_argument("--virtual-midi", metavar="NAME", help="open a virtual MIDI input port instead")
    parser.add_argument("--audio-backend", choices=("rtmixer", "sounddevice"), default="rtmixer",
                        help="rtmixer: a C callback that never waits for Python (default); "
                             "sounddevice: a Python callback")
    parser.add_argument("--engine-priority", choices=("auto", "normal", "nice", "fifo"), default="auto",
                        help="engine thread priority: fifo (real-time), nice, normal; auto (default): fifo "
                             "under a real-time JACK server, else nice (each as far as the system allows)")
    parser.add_argument("--midi-api", choices=("auto", "alsa", "jack"), default="auto")
    parser.add_argument("--headless", action="store_true", help="no terminal UI; log to stderr")
    parser.add_argument("--osc-port", type=bounded(int, 1, 65535),
                        help="listen for OSC control on this UDP port (localhost)")
    parser.add_argument("--watch", type=Path, metavar="MODEL",
                        help="play MODEL and reload it whenever the file changes (hot-swap)")
    parser.add_argument("--preset-dir", type=Path, default=Path("presets"), help="where the UI saves presets")
    parser.add_argument("--stats", type=Path, help="write a JSON summary here at exit")
    parser.add_argument("--duration", type=bounded(float, 0.01, 1e9, " s"), help="stop after this many seconds")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..errors import AudioDeviceError, SynthError
    from ..host.live import LiveHost, LiveOptions
    from ..host.stats import summary
    from ..settings import LIMITS

    for option, key in (("blocksize", "live.block_size"), ("ring_blocks", "live.ring_blocks"),
                        ("spare_ms", "live.spare_ms")):
        value, (low, high) = getattr(args, option), LIMITS[key]
        if value is not None and not low <= value <= high:
            raise SynthError(f"--{option.replace('_', '-')} must be {low:g}..{high:g}, got {value}")
    if args.watch is not None:
        if args.model is not None and args.model != args.watch:
            raise SynthError("--watch MODEL already names the model; drop --model")
        args.model = args.watch
    synth = build_synth(args, threads=1)
    blocksize = args.blocksize or synth.settings["live.block_size"]
    ring_blocks = args.ring_blocks or synth.settings["live.ring_blocks"]
    spare_ms = synth.settings["live.spare_ms"] if args.spare_ms is None else args.spare_ms
    headless = args.headless or not sys.stdout.isatty()
    options = LiveOptions(audio_device=args.audio_device, samplerate=args.samplerate, blocksize=blocksize,
                          ring_blocks=ring_blocks, spare_ms=spare_ms, channels=args.channels,
                          audio_backend=args.audio_backend,
                          engine_priority=args.engine_priority,
                          midi_ports=args.midi_port,
                          virtual_midi=args.virtual_midi, midi_api=args.midi_api, headless=headless,
                          stats=args.stats, duration_s=args.duration, osc_port=args.osc_port, watch=args.watch,
                          config_path=args.config, preset_dir=args.preset_dir, seed=args.seed)
    _keep_c_libraries_quiet()
    try:
        stats = LiveHost(synth, options).run()
    except AudioDeviceError as error:
        # The device is gone: PortAudio's own shutdown could hang on it at exit, so leave now.
        print(f"synth play: {error}", file=sys.stderr, flush=True)
        os._exit(error.exit_code)
    print(summary(stats), file=sys.stderr)
    return 0


def _keep_c_libraries_quiet() -> None:
    """Point fd 2 at /dev/null for C libraries (JACK and ALSA print pages when a server goes away)
    and keep Python's own stderr on the real one, so the user reads our one sentence."""
    if os.environ.get("SYNTH_C_STDERR") == "1":
        faulthandler.enable()
        return  # for debugging the audio stack
    real = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(real, "w", buffering=1)
    faulthandler.enable(file=sys.stderr)  # a crash in a C library still leaves a report
