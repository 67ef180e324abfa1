"""Arguments and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ..engine.latent import Preset, default_presets, instrument_presets
from ..errors import ConfigError, SynthError
from ..settings import Settings


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=None,
                        help="plugin file (.onnx); default: the embedded default model")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where onnxruntime runs the model (default: auto)")
    parser.add_argument("--config", type=Path, default=None, help="settings file (TOML), see docs/config.md")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set engine.polyphony=16 (repeatable)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the presets' latents; with a palette model, a variation of each instrument "
                             "(default 0: the instruments as trained)")
    parser.add_argument("--preset", type=Path, action="append", default=[],
                        help="preset JSON file to load into program slot 0, 1, ... (repeatable)")


def parse_range(text: str, low: int = 0, high: int = 127, what: str = "values") -> list[int]:
    """``36-84`` or ``60,64,67`` or ``60`` -> list of ints, each in ``low..high``."""
    values: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                first, last = (int(x) for x in part.split("-", 1))
                if first > last:
                    raise argparse.ArgumentTypeError(f"{part.strip()!r} runs backwards: write it low to high, "
                                                     f"{last}-{first}")
                values.extend(range(first, last + 1))
            else:
                values.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 60,64,67 or a range like 36-84") from None
    outside = [v for v in values if not low <= v <= high]
    if not values or outside:
        raise argparse.ArgumentTypeError(f"{what} run from {low} to {high}; {text!r} has {outside[:3] or 'none'}")
    return values


def parse_pitches(text: str) -> list[int]:
    """MIDI notes 0-127, as a list or ranges in order."""
    return parse_range(text, 0, 127, "MIDI notes")


def parse_velocities(text: str) -> list[int]:
    """Velocities 1-127 (a note-on at velocity 0 is a note-off: it would be silent)."""
    return parse_range(text, 1, 127, "velocities")


def bounded(kind: type, low: float, high: float, unit: str = ""):
    """An argparse type: a ``kind`` number from ``low`` to ``high`` (the range is in the message)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {low:g}..{high:g}{unit}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


sample_rate = bounded(int, 8000, 384000, " Hz")

AUDIO_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


def audio_output(path: Path) -> str:
    """The soundfile format for an output file, from its extension; anything else is refused
    (``-o x.mp3`` once wrote a WAV under that name)."""
    fmt = AUDIO_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ConfigError(f"cannot write {path}: this renders {', '.join(AUDIO_FORMATS)} files",
                          hint="name the output .wav, .flac or .ogg")
    return fmt


def refuse_existing(path: Path, what: str, force: bool) -> None:
    """Saved work is never replaced unless asked: ``-o`` naming an existing file or folder fails."""
    if Path(path).exists() and not force:
        raise ConfigError(f"{what} {path} already exists", hint="choose another name, or add --force to replace it")


def writable_folder(path: Path, what: str) -> None:
    """Fail now, in one sentence, if ``path``'s folder cannot take a new file."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".synth-probe-"):
            pass
    except OSError as exc:
        raise SynthError(f"cannot write {what} {path} ({exc.strerror})", hint="write somewhere else") from None


def check_soundfont(path: Path) -> None:
    """A SoundFont by its content (a RIFF file of form ``sfbk``), not by its name."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except IsADirectoryError:
        raise ConfigError(f"SoundFont {path} is a folder", hint="give an .sf2 file") from None
    except FileNotFoundError:
        raise ConfigError(f"SoundFont {path} does not exist", hint="apt-get install fluid-soundfont-gm") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise ConfigError(f"{path} is not a SoundFont (an .sf2 file starts with RIFF....sfbk)",
                          hint="give an .sf2 file, e.g. /usr/share/sounds/sf2/FluidR3_GM.sf2")


def build_synth(args: argparse.Namespace, threads: int = 0, cpu_siblings: int = 0):
    """The engine as the arguments describe it (model, settings, presets, seed); ``cpu_siblings``:
    see :meth:`GeneratorModel.load`."""
    from ..engine.synth import Synth
    from ..plugin.model import GeneratorModel

    if args.seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {args.seed}")
    settings = Settings.load(args.config).with_overrides(args.overrides)
    model = GeneratorModel.load(args.model, device=args.device, threads=threads, cpu_siblings=cpu_siblings)
    chosen = [Preset.load(Path(path)) for path in list(settings["presets.files"]) + list(args.preset)]
    if model.manifest.instruments:
        # A palette model: the user's presets first (channels start on the first), then its
        # instruments, which program changes pick by their GM program.
        presets = chosen + instrument_presets(model.manifest, args.seed)
    else:
        presets = default_presets(settings["presets.count"])
        for preset in presets:
            preset.seed += args.seed
        for slot, preset in enumerate(chosen):
            if slot >= len(presets):
                presets.append(preset)
            else:
                presets[slot] = preset
    for preset in presets:
        if preset.model_sha256 and preset.model_sha256 != model.sha256:
            raise ConfigError(f"preset '{preset.name}' was made for another model "
                              f"(sha256 {preset.model_sha256[:12]}, this one {model.sha256[:12]})",
                              hint="drop its model_sha256 to use it anyway")
    return Synth(model, settings, presets)


def batch_sizes(text: str) -> tuple[int, ...]:
    """argparse type: ``"1,8,32"`` -> ``(1, 8, 32)``, each from 1 to 1024, repeats dropped."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of batch sizes") from None
    if not sizes or min(sizes) < 1 or max(sizes) > 1024:
        raise argparse.ArgumentTypeError("batch sizes run from 1 to 1024")
    return tuple(dict.fromkeys(sizes))
