"""synth preset: make or check a preset file (latent seed, knob values, envelope, model hash), or
encode a one-shot sample into one (palette models)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import SynthError
from .common import bounded, refuse_existing

EXAMPLE = """examples:
  synth preset new -o warm.json --name Warm --seed 3 --knob 0=0.8 --knob 2=0.3 --release 0.6
  synth preset from-sample cello-c3.wav -o cello.json
  synth render examples/demo.mid -o warm.wav --preset warm.json
  synth preset show warm.json"""


def _knob(text: str) -> tuple[int, float]:
    try:
        index, value = text.split("=", 1)
        knob, level = int(index), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not KNOB=VALUE, e.g. 0=0.8") from None
    if not 0 <= level <= 1 or not 0 <= knob < 64:
        raise argparse.ArgumentTypeError(f"{text!r}: knob 0..63, value 0..1")
    return knob, level


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = sub.add_parser("new", help="write a new preset file")
    new.add_argument("-o", "--output", type=Path, required=True)
    new.add_argument("--force", action="store_true", help="replace a preset already at --output")
    new.add_argument("--name", default=None)
    new.add_argument("--seed", type=bounded(int, 0, 2**31 - 1), default=0, help="seed of the base latent (0)")
    new.add_argument("--knob", type=_knob, action="append", default=[], metavar="K=V", help="knob K at V (0..1)")
    new.add_argument("--attack", type=bounded(float, 0, 10, " s"), default=None, help="seconds, 0-10")
    new.add_argument("--release", type=bounded(float, 0, 30, " s"), default=None, help="seconds, 0-30")
    new.add_argument("--model", type=Path, default=None, help="bind the preset to this model (default: built-in)")
    sample = sub.add_parser("from-sample", help="encode a one-shot sample into a preset (palette models)",
                            description="Encode a one-shot recording of one note (any rate, mono or stereo) "
                                        "with the model's encoder into a preset that plays it across the keyboard.")
    sample.add_argument("sample", type=Path, help="WAV, FLAC or Ogg file holding one note")
    sample.add_argument("-o", "--output", type=Path, required=True, help="preset file to write (.json)")
    sample.add_argument("--pitch", type=bounded(int, 0, 127), default=None,
                        help="the sample's MIDI key (default: estimated with YIN)")
    sample.add_argument("--name", default=None, help="the preset's name (default: the sample's file name)")
    sample.add_argument("--force", action="store_true", help="replace a preset already at --output")
    sample.add_argument("--model", type=Path, default=None, help="palette model to encode with (default: built-in)")
    sample.add_argument("--no-colour", action="store_true",
                        help="keep only the encoded latent: the model's nearest sound, without the sample's "
                             "spectral balance and envelope")
    show = sub.add_parser("show", help="check a preset file and print it")
    show.add_argument("preset", type=Path)


def run(args: argparse.Namespace) -> int:
    from ..engine.envelope import Envelope
    from ..engine.latent import Preset
    from ..plugin.model import GeneratorModel

    if args.action == "show":
        print(json.dumps(Preset.load(args.preset).to_dict(), indent=2))
        return 0
    if args.action == "from-sample":
        return _from_sample(args)
    refuse_existing(args.output, "preset", args.force)
    model = GeneratorModel.load(args.model, device="cpu")
    knobs = [0.5] * len(model.manifest.latent_directions)
    for knob, value in args.knob:
        if knob >= len(knobs):
            raise SynthError(f"this model has knobs 0..{len(knobs) - 1}, not {knob}")
        knobs[knob] = value
    envelope = Envelope().to_dict()
    if args.attack is not None:
        envelope["attack_s"] = args.attack
    if args.release is not None:
        envelope["release_s"] = args.release
    preset = Preset(name=args.name or args.output.stem, seed=args.seed, knobs=knobs,
                    envelope=Envelope.from_dict(envelope), model_sha256=model.sha256)
    preset.save(args.output)
    print(args.output)
    return 0


def _from_sample(args: argparse.Namespace) -> int:
    import sys

    import numpy as np

    from .. import gm
    from ..engine.latent import Preset
    from ..notes.colour import sample_colour
    from ..plugin.encode import VELOCITY, encode_sample, nearest_instrument
    from ..plugin.model import GeneratorModel

    refuse_existing(args.output, "preset", args.force)
    if not args.sample.is_file():
        raise SynthError(f"sample {args.sample} does not exist" if not args.sample.exists()
                         else f"sample {args.sample} is not a file", hint="give a WAV, FLAC or Ogg file")
    model = GeneratorModel.load(args.model, device="cpu")
    encoded = encode_sample(model.manifest, args.sample, args.pitch)
    knobs = [0.5] * len(model.manifest.latent_directions)
    latent = [round(float(x), 5) for x in encoded.latent]
    colour = None if args.no_colour else sample_colour(model, encoded.audio, np.asarray(latent, np.float32),
                                                       encoded.pitch, VELOCITY)
    preset = Preset(name=args.name or args.sample.stem, latent=latent, knobs=knobs, model_sha256=model.sha256,
                    colour=colour)
    preset.save(args.output)
    how = (f"estimated MIDI {encoded.pitch} ({encoded.cents:+.0f} cents)" if encoded.estimated
           else f"MIDI {encoded.pitch} as given")
    near = nearest_instrument(model.manifest, encoded.latent)
    closest = f"; nearest instrument {near['name']} ({gm.family_name(near['program'])})" if near else ""
    print(f"{args.sample.name}: {encoded.channels} channel(s) at {encoded.source_rate} Hz, {how}{closest}",
          file=sys.stderr)
    print(args.output)
    return 0
