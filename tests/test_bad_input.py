"""Every subcommand against bad input (issue 15), table-driven: read-only and full folders (real
tmpfs mounts: the tests run as root), files of the wrong kind, numbers out of range, outputs that
already exist. Each case must end in one sentence on stderr that names the path or value, a
non-zero exit, no traceback, and every file that was there before left byte for byte as it was,
with no partial file beside it. Add a row for every new option.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, TINY_CONFIG_OVERRIDES

DEMO = ROOT / "examples" / "demo.mid"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def _mount(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def places(tmp_path_factory, tiny_run, tiny_dataset, tiny_model_path, tiny_palette_path):
    """The files and folders the cases point at: a read-only folder and a 64 KiB one that is full
    after the first few writes, each holding a file of its own; saved work to keep; wrong kinds."""
    root = tmp_path_factory.mktemp("bad-input")
    ro, full = root / "read-only", root / "full"
    if not (_mount(ro, "size=1m") and _mount(full, "size=64k")):
        if os.environ.get("GANSYNTH_REQUIRE_JACK"):  # make test: root, and mounts must work
            raise RuntimeError("cannot mount a tmpfs (the bad-input tests run as root)")
        pytest.skip("cannot mount a tmpfs here (needs root)")
    (ro / "old.wav").write_bytes(b"an old render")
    (ro / "old.json").write_bytes(b"{}")
    subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
    (full / "song.wav").write_bytes(b"an old render " * 512)  # 7 KiB
    (full / "filler").write_bytes(b"\0" * (52 << 10))  # the rest of the 64 KiB, nearly
    saved = root / "saved"
    saved.mkdir()
    (saved / "preset.json").write_text('{"name": "mine"}\n')
    (saved / "model.onnx").write_bytes(b"my exported model")
    (saved / "new.fp16.onnx").write_bytes(b"my exported fp16 model")
    dataset = saved / "dataset"
    shutil.copytree(tiny_dataset, dataset)
    wrong = root / "wrong"
    wrong.mkdir()
    (wrong / "sound.wav").write_bytes((ROOT / "tests" / "__init__.py").read_bytes() + b"RIFF....WAVE")
    (wrong / "notes.mid").write_bytes(b"MThd\0\0\0\x06\0\0\0\x01\0\x60MTrk\0\0\0\x04\0\xff\x2f\0")  # no notes
    (wrong / "config.toml").write_text("[engine]\npolyphony = 8\n")
    (wrong / "coloured.json").write_text('{"name": "x", "colour": {"band_hz": [100, 50], "segment_s": 0.064, '
                                         '"gains_db": [[0, 0]]}}\n')
    import numpy as np
    import soundfile as sf

    from training.data import write_dataset

    note = {"program": 4, "pitch": 60, "velocity": 80, "split": "train"}
    write_dataset(wrong / "short-notes", np.zeros((1, 800), np.int16), [note], 16000, "half-second notes")
    sf.write(wrong / "noise.wav", np.random.default_rng(0).uniform(-0.3, 0.3, 16000), 16000)
    sf.write(wrong / "silent.wav", np.zeros(16000), 16000)
    sf.write(wrong / "click.wav", np.sin(np.arange(400) * 0.2) * 0.5, 16000)  # 25 ms
    yield {"root": root, "ro": ro, "full": full, "saved": saved, "dataset": dataset, "wrong": wrong,
           "run": tiny_run, "data": tiny_dataset, "model": tiny_model_path, "palette": tiny_palette_path}
    for folder in (ro, full):
        subprocess.run(["umount", str(folder)], capture_output=True)


@dataclass
class Case:
    name: str
    args: list[str]  # {placeholders} are filled from the places fixture
    says: list[str]  # each must be in the one sentence
    code: int = 2
    extra: list[str] = field(default_factory=list)


TRAIN = ["train", "training/configs/default.toml", "--set", "data.folder='{data}'", "-q",
         *(arg for o in TINY_CONFIG_OVERRIDES for arg in ("--set", o))]

CASES = [
    # -- read-only folders: one sentence naming the path, and nothing computed is lost
    Case("render into a read-only folder", ["render", str(DEMO), "-o", "{ro}/song.wav", "-q"], ["{ro}/song.wav"]),
    Case("one-shots into a read-only folder", ["render", "--one-shots", "{ro}/pack", "--pitches", "60", "-q"],
         ["{ro}/pack"]),
    Case("data set into a read-only folder", ["dataset", "soundfont", "-o", "{ro}/data", "--programs", "4",
                                              "--pitches", "60", "--velocities", "100", "-q"], ["{ro}/data"]),
    Case("training into a read-only folder", [*TRAIN, "--run-dir", "{ro}/run"], ["{ro}/run"]),
    Case("eval grid into a read-only folder", ["eval", "{model}", "--data", "{data}", "--latents", "1",
                                               "--grid", "{ro}/grid.png"], ["{ro}/grid.png"]),
    Case("export into a read-only folder", ["export", "{run}/checkpoint.pt", "-o", "{ro}/m.onnx",
                                            "--pca-samples", "0"], ["{ro}/m.onnx"]),
    Case("preset into a read-only folder", ["preset", "new", "-o", "{ro}/p.json"], ["{ro}/p.json"]),
    # -- a full disk: the old file stays, no partial file
    Case("render onto a full disk", ["render", str(DEMO), "-o", "{full}/song.wav", "-q"], ["{full}/song.wav"]),
    Case("data set onto a full disk", ["dataset", "soundfont", "-o", "{full}/data", "--programs", "4",
                                       "--pitches", "60-62", "--velocities", "100", "-q"], ["{full}/data"]),
    # -- saved work is never replaced without --force
    Case("a new preset over a saved one", ["preset", "new", "-o", "{saved}/preset.json"],
         ["{saved}/preset.json", "--force"]),
    Case("a data set over a saved one", ["dataset", "soundfont", "-o", "{dataset}", "--programs", "4",
                                         "--pitches", "60", "--velocities", "100"], ["{dataset}", "--force"]),
    Case("an export over a saved model", ["export", "{run}/checkpoint.pt", "-o", "{saved}/model.onnx"],
         ["{saved}/model.onnx", "--force"]),
    Case("an export variant over a saved one", ["export", "{run}/checkpoint.pt", "-o", "{saved}/new.onnx",
                                                "--fp16"], ["new.fp16.onnx", "--force"], extra=["{saved}/new.onnx"]),
    # -- files of the wrong kind, known by their content
    Case("a WAV as the SoundFont", ["dataset", "soundfont", "-o", "{root}/d1", "--soundfont", "{wrong}/sound.wav",
                                    "--pitches", "60"], ["{wrong}/sound.wav", "SoundFont"]),
    Case("a WAV as a checkpoint", ["export", "{wrong}/sound.wav", "-o", "{root}/x.onnx"],
         ["{wrong}/sound.wav", "checkpoint"]),
    Case("an ONNX file as a checkpoint", ["export", "{model}", "-o", "{root}/y.onnx"], ["{model}", "checkpoint"]),
    Case("a folder as a checkpoint", ["export", "{run}", "-o", "{root}/z.onnx"], ["{run}", "folder"]),
    Case("a WAV as the model", ["render", str(DEMO), "-o", "{root}/a.wav", "--model", "{wrong}/sound.wav"],
         ["{wrong}/sound.wav"]),
    Case("a WAV as the MIDI file", ["render", "{wrong}/sound.wav", "-o", "{root}/b.wav"], ["{wrong}/sound.wav"]),
    Case("a WAV as a preset", ["preset", "show", "{wrong}/sound.wav"], ["{wrong}/sound.wav"]),
    Case("a WAV as the config", ["render", str(DEMO), "-o", "{root}/c.wav", "--config", "{wrong}/sound.wav"],
         ["{wrong}/sound.wav"]),
    Case("a WAV as the model to evaluate", ["eval", "{wrong}/sound.wav", "--data", "{data}"], ["{wrong}/sound.wav"]),
    Case("a MIDI file with no notes", ["render", "{wrong}/notes.mid", "-o", "{root}/silence.wav"],
         ["{wrong}/notes.mid", "no notes"]),
    Case("an output format it cannot write", ["render", str(DEMO), "-o", "{root}/song.mp3"],
         ["{root}/song.mp3", ".flac"]),
    Case("FLAC at a float subtype", ["render", str(DEMO), "-o", "{root}/song.flac", "--subtype", "FLOAT", "-q"],
         ["FLAC", "FLOAT"]),
    # -- samples that are not one pitched note, or a model without an encoder
    Case("noise as a sample", ["preset", "from-sample", "{wrong}/noise.wav", "-o", "{root}/n.json",
                               "--model", "{palette}"], ["{wrong}/noise.wav", "no pitch", "--pitch"]),
    Case("silence as a sample", ["preset", "from-sample", "{wrong}/silent.wav", "-o", "{root}/s.json",
                                 "--model", "{palette}"], ["{wrong}/silent.wav", "silent"]),
    Case("a 25 ms sample", ["preset", "from-sample", "{wrong}/click.wav", "-o", "{root}/c.json",
                            "--model", "{palette}"], ["{wrong}/click.wav", "too short"]),
    Case("a text file as a sample", ["preset", "from-sample", "{wrong}/sound.wav", "-o", "{root}/t.json",
                                     "--model", "{palette}"], ["{wrong}/sound.wav", "not an audio file"]),
    Case("a sample for a model with no encoder", ["preset", "from-sample", "{wrong}/noise.wav", "-o",
                                                  "{root}/e.json", "--pitch", "60", "--model", "{model}"],
         ["no encoder"]),
    Case("a sample's preset over a saved one", ["preset", "from-sample", "{wrong}/noise.wav", "-o",
                                                "{saved}/preset.json", "--model", "{palette}", "--pitch", "60"],
         ["{saved}/preset.json", "--force"]),
    Case("a sample's preset into a read-only folder", ["preset", "from-sample", "{wrong}/noise.wav", "-o",
                                                       "{ro}/p.json", "--model", "{palette}", "--pitch", "60"],
         ["{ro}/p.json"]),
    # -- numbers out of range, named with their range
    Case("sample rate 0", ["render", str(DEMO), "-o", "{root}/d.wav", "--samplerate", "0"], ["0", "8000..384000"]),
    Case("velocity 0 for one-shots", ["render", "--one-shots", "{root}/pack", "--velocities", "0"],
         ["velocities", "1 to 127"]),
    Case("merging one data set", ["dataset", "merge", "{data}", "-o", "{root}/m1"], ["at least two"]),
    Case("merging a folder that is no data set", ["dataset", "merge", "{data}", "{wrong}", "-o", "{root}/m2"],
         ["{wrong} is not a data set"]),
    Case("merging notes of other lengths", ["dataset", "merge", "{data}", "{wrong}/short-notes", "-o", "{root}/m3"],
         ["800 samples", "--seconds"], extra=["{root}/m3/index.json"]),
    Case("merging into a read-only folder", ["dataset", "merge", "{data}", "{dataset}", "-o", "{ro}/m"], ["{ro}/m"]),
    Case("merging onto a full disk", ["dataset", "merge", "{data}", "{dataset}", "-o", "{full}/m"], ["{full}/m"]),
    Case("merging a data set into itself", ["dataset", "merge", "{data}", "{dataset}", "-o", "{dataset}", "--force"],
         ["{dataset} is one of the data sets"]),
    Case("velocity 0 for a data set", ["dataset", "soundfont", "-o", "{root}/d2", "--velocities", "0"],
         ["velocities", "1 to 127"]),
    Case("pitches backwards", ["dataset", "soundfont", "-o", "{root}/d3", "--pitches", "90-30"], ["90-30", "30-90"]),
    Case("pitch 200", ["render", "--one-shots", "{root}/pack", "--pitches", "200"], ["0 to 127", "200"]),
    Case("a data set at 0 Hz", ["dataset", "soundfont", "-o", "{root}/d4", "--sample-rate", "0"], ["8000..96000"]),
    Case("clips of 0 s", ["dataset", "soundfont", "-o", "{root}/d5", "--seconds", "0"], ["0.1..30"]),
    Case("init-from and resume together", [*TRAIN, "--run-dir", "{root}/r4", "--init-from", "{run}/checkpoint.pt",
                                            "--resume"], ["--init-from", "--resume"]),
    Case("init-from a checkpoint that is not there", [*TRAIN, "--run-dir", "{root}/r5", "--init-from",
                                                      "{root}/none.pt"], ["{root}/none.pt", "does not exist"]),
    Case("init-from a WAV", [*TRAIN, "--run-dir", "{root}/r6", "--init-from", "{wrong}/sound.wav"],
         ["{wrong}/sound.wav", "not a checkpoint"]),
    Case("init-from a plugin of another shape", [*TRAIN, "--run-dir", "{root}/r8", "--init-from",
                                                 "synth/default_model/default.onnx"],
         ["default.onnx", "does not fit this run's model"]),
    Case("a focus program past 127", [*TRAIN, "--run-dir", "{root}/r7", "--set", "data.focus_programs=[200]"],
         ["data.focus_programs", "0..127"]),
    Case("a preset whose colour is broken", ["render", "{wrong}/notes.mid", "-o", "{root}/c.wav", "--preset",
                                             "{wrong}/coloured.json"], ["coloured.json", "band_hz", "rising"]),
    Case("training -5 steps", [*TRAIN, "--run-dir", "{root}/r1", "--set", "train.steps=-5"], ["train.steps", "-5"]),
    Case("a batch of 0", [*TRAIN, "--run-dir", "{root}/r2", "--set", "train.batch_size=0"], ["train.batch_size"]),
    Case("pitch range upside down", [*TRAIN, "--run-dir", "{root}/r3", "--set", "model.pitch_min=80"],
         ["pitch_min", "pitch_max"]),
    Case("one-shots of -1 s", ["render", "--one-shots", "{root}/pack", "--duration", "-1"], ["-1", "60"]),
    Case("a negative seed", ["render", str(DEMO), "-o", "{root}/e.wav", "--seed", "-1"], ["--seed"]),
    Case("eval with 0 latents", ["eval", "{model}", "--data", "{data}", "--latents", "0"], ["0", "1..64"]),
    Case("eval's instruments without --palette", ["eval", "{model}", "--data", "{data}", "--instruments", "{data}"],
         ["--instruments", "--palette"]),
    Case("bench with 0 calls", ["bench", "--calls", "0"], ["--calls"]),
    Case("bench with batch 0", ["bench", "--batches", "0"], ["batch sizes"]),
    Case("a preset knob past 1", ["preset", "new", "-o", "{root}/k.json", "--knob", "0=3"], ["0=3", "0..1"]),
    Case("a release of 100 s", ["preset", "new", "-o", "{root}/r.json", "--release", "100"], ["100", "0..30"]),
    Case("play at 0 Hz", ["play", "--samplerate", "0", "--headless"], ["0", "8000..384000"]),
    Case("play with a block of 5", ["play", "--blocksize", "5", "--headless"], ["--blocksize", "16..8192"]),
    Case("play on OSC port 70000", ["play", "--osc-port", "70000", "--headless"], ["70000", "1..65535"]),
    Case("an export tolerance of 0", ["export", "{run}/checkpoint.pt", "-o", "{root}/t.onnx", "--tolerance", "0"],
         ["--tolerance"]),
    Case("a setting out of range", ["render", str(DEMO), "-o", "{root}/f.wav", "--set", "engine.polyphony=0"],
         ["engine.polyphony", "1..256"]),
]


def _fill(text: str, places: dict) -> str:
    return text.format(**{k: str(v) for k, v in places.items()})


def _snapshot(places: dict) -> dict[Path, bytes]:
    """Every file under the places' folders, with its bytes."""
    files = {}
    for key in ("ro", "full", "saved", "wrong", "run", "data", "model", "palette"):
        base = places[key]
        for path in ([base] if base.is_file() else base.rglob("*")):
            if path.is_file():
                files[path] = path.read_bytes()
    return files


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_sentence_and_loses_nothing(case, places):
    before = _snapshot(places)
    args = [_fill(a, places) for a in case.args]
    result = subprocess.run([sys.executable, "-m", "synth", *args], capture_output=True, text=True, cwd=ROOT,
                            timeout=600)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == case.code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, f"more than one sentence:\n{result.stderr}"
    for fragment in case.says:
        assert _fill(fragment, places) in lines[0], f"{fragment!r} not in: {lines[0]}"
    after = _snapshot(places)
    changed = [str(p) for p in before if after.get(p) != before[p]]
    assert not changed, f"changed: {changed}"
    new = [str(p) for p in after if p not in before]
    assert not new, f"left behind: {new}"
    for path in case.extra:
        assert not Path(_fill(path, places)).exists(), f"{path} was written although the command failed"


def test_debug_shows_the_traceback_for_bug_reports(places):
    args = ["render", str(DEMO), "-o", _fill("{ro}/song.wav", places), "-q"]
    quiet = subprocess.run([sys.executable, "-m", "synth", *args], capture_output=True, text=True, cwd=ROOT)
    loud = subprocess.run([sys.executable, "-m", "synth", *args, "--debug"], capture_output=True, text=True,
                          cwd=ROOT)
    assert "Traceback" not in quiet.stderr and "Traceback" in loud.stderr and loud.returncode != 0


def test_force_replaces_saved_work(places, tmp_path):
    target = tmp_path / "preset.json"
    target.write_text('{"name": "old"}\n')
    result = subprocess.run([sys.executable, "-m", "synth", "preset", "new", "-o", str(target), "--name", "new",
                             "--force"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert '"new"' in target.read_text()


def test_flac_and_ogg_are_written_as_asked(tmp_path):
    import soundfile as sf

    for suffix, fmt in ((".flac", "FLAC"), (".ogg", "OGG")):
        out = tmp_path / f"demo{suffix}"
        result = subprocess.run([sys.executable, "-m", "synth", "render", str(DEMO), "-o", str(out), "-q"],
                                capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        assert sf.info(str(out)).format == fmt


def test_any_argument_list_parses_or_is_refused_in_one_line():
    """A property test over the whole command line: any mix of real subcommands, options and
    junk values either parses or ends in exit 2 with one line on stderr (argparse's usage block
    and tracebacks from argument types would fail it)."""
    import contextlib
    import io

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from synth.cli import COMMANDS, build_parser

    options = ["-o", "--samplerate", "--pitches", "--velocities", "--duration", "--seed", "--blocksize",
               "--osc-port", "--latents", "--calls", "--batches", "--knob", "--release", "--set", "--programs",
               "--sample-rate", "--seconds", "--tolerance", "--pca-samples", "--held-out-velocities", "-q"]
    values = ["0", "-1", "1e9", "nan", "90-30", "60,", "", "x=y", "0=3", "abc", "127", "200", "2-1-0", "--",
              "engine.polyphony=0", "4", "palette", "melodic"]
    words = st.sampled_from(options + values)

    @settings(max_examples=150, deadline=None)
    @given(st.sampled_from(sorted(COMMANDS)), st.lists(words, max_size=6))
    def check(command: str, rest: list[str]) -> None:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                build_parser(command).parse_args([command, *rest])
                return
            except SystemExit as exit_:
                code = exit_.code
        lines = err.getvalue().strip().splitlines()
        assert code == 2 and len(lines) == 1 and "Traceback" not in err.getvalue(), (command, rest, err.getvalue())

    check()
