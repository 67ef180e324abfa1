"""A palette model's plugin (contract v2) and `synth preset from-sample` (issue 13), through real
parts: a tiny palette model trained for real on FluidSynth notes and exported with its
instruments and encoder; samples written as WAV files at other rates and channel counts."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from synth.plugin.model import GeneratorModel
from tests.conftest import ROOT

torch = pytest.importorskip("torch")


def _synth(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synth", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def _violin(dataset_folder, pitch: int = 57) -> np.ndarray:
    from training.data import NoteDataset

    data = NoteDataset.load(dataset_folder, "train")
    row = int(np.flatnonzero((data.program == 40) & (data.pitch == pitch) & (data.velocity > 0.8))[0])
    return np.asarray(data.audio[row], np.float32), data


def test_a_palette_export_carries_its_instruments_knobs_and_encoder(tiny_palette_path):
    m = GeneratorModel.load(tiny_palette_path, device="cpu").manifest
    assert m.contract_version == 2
    assert [(i["name"], i["program"]) for i in m.instruments] == [("Electric Piano 1", 4), ("Violin", 40)]
    assert m.encoder and m.encoder_samples == 16000 and m.encoder_features["num_mels"] == 16
    directions = np.asarray(m.latent_directions)
    # Unit rows, nine different knobs (principal axes in the decoder's metric: not orthogonal in the latent's).
    assert np.allclose(np.linalg.norm(directions, axis=1), 1.0, atol=1e-4)
    assert np.linalg.svd(directions, compute_uv=False).min() > 0.05
    # Knob 1 runs along the line between the two instruments and reaches from one to the other.
    a, b = (np.asarray(i["latent"]) for i in m.instruments)
    along = abs(float((b - a) @ directions[0]))
    assert along > 0.99 * np.linalg.norm(b - a) and 2 * m.direction_spreads[0] >= along * 0.99


def test_from_sample_encodes_as_training_does_at_any_rate_and_channel_count(tiny_palette_path, tiny_palette_run,
                                                                           tiny_palette_dataset, tmp_path):
    from training.train import build_encoder, load_checkpoint

    note, data = _violin(tiny_palette_dataset)
    plain = tmp_path / "violin.wav"
    sf.write(plain, note, data.sample_rate)
    done = _synth("preset", "from-sample", str(plain), "-o", str(tmp_path / "v.json"),
                  "--model", str(tiny_palette_path))
    assert done.returncode == 0, done.stderr
    assert "estimated MIDI 57" in done.stderr and "1 channel(s) at 16000 Hz" in done.stderr
    latent = np.asarray(json.loads((tmp_path / "v.json").read_text())["latent"])
    # The same note through the torch encoder of the checkpoint the plugin was exported from.
    state = load_checkpoint(tiny_palette_run / "checkpoint.pt")
    encoder = build_encoder(state["config"])
    encoder.load_state_dict(state["encoder"])
    with torch.no_grad():
        expected, _ = encoder.eval()(torch.from_numpy(note[None]), torch.tensor([57]), torch.tensor([100 / 127]))
    assert np.abs(latent - expected[0].numpy()).max() < 1e-3

    stereo = tmp_path / "violin-44k.wav"
    import soxr

    loud = soxr.resample(note, data.sample_rate, 44100)
    sf.write(stereo, np.stack([loud, 0.5 * loud], axis=1), 44100)
    done = _synth("preset", "from-sample", str(stereo), "-o", str(tmp_path / "s.json"), "--model",
                  str(tiny_palette_path), "--name", "violin")
    assert done.returncode == 0, done.stderr
    assert "2 channel(s) at 44100 Hz" in done.stderr and "estimated MIDI 57" in done.stderr
    other = np.asarray(json.loads((tmp_path / "s.json").read_text())["latent"])
    first, second = GeneratorModel.load(tiny_palette_path).manifest.instruments
    spread = np.linalg.norm(np.asarray(first["latent"]) - np.asarray(second["latent"]))
    assert np.linalg.norm(other - latent) < 0.25 * max(spread, 1e-3) + 0.05  # a level and a rate apart: near

    song = tmp_path / "song.wav"
    done = _synth("render", str(ROOT / "examples" / "demo.mid"), "-o", str(song), "--model", str(tiny_palette_path),
                  "--preset", str(tmp_path / "s.json"), "-q")
    assert done.returncode == 0, done.stderr
    audio, _ = sf.read(song)
    assert np.abs(audio).max() > 0.01


def test_the_palette_evaluation_reports_every_figure_and_draws_the_map(tiny_palette_run, tiny_palette_dataset,
                                                                      tmp_path):
    from PIL import Image

    done = _synth("eval", str(tiny_palette_run / "checkpoint.pt"), "--data", str(tiny_palette_dataset), "--palette",
                  "--map", str(tmp_path / "map.png"), "--json", str(tmp_path / "figures.json"))
    assert done.returncode == 0, done.stderr
    for needle in ("| Electric Piano 1 |", "| Violin |", "real vs real", "within 50 cents", "knob 4: a full sweep"):
        assert needle in done.stdout, done.stdout
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert len(figures["knob_reach"]) == 4 and all(r >= 0 for r in figures["knob_reach"])
    assert 0 <= figures["pitch_accuracy"] <= 1 and len(figures["map_points"]["names"]) == 2
    assert figures["real_pitch_accuracy"] > 0.5  # FluidSynth's EP and violin, read by the same estimator
    assert isinstance(figures["frechet"], dict)  # per family; this tiny set may hold too few notes for one
    with Image.open(tmp_path / "map.png") as image:
        assert image.size == (1000, 760)
        assert len(image.getcolors(maxcolors=100000) or []) > 4  # coloured dots, names, arrows: not blank


def test_a_preset_from_a_sample_plays_the_samples_colour(tiny_palette_path, tiny_palette_dataset, tmp_path):
    import mido

    note, data = _violin(tiny_palette_dataset)
    t = np.arange(len(note)) / data.sample_rate
    sample = tmp_path / "fading.wav"
    sf.write(sample, note * np.exp(-4.0 * t), data.sample_rate)  # a violin that dies away: the model's never does
    for name, extra in (("coloured", []), ("plain", ["--no-colour"])):
        done = _synth("preset", "from-sample", str(sample), "-o", str(tmp_path / f"{name}.json"),
                      "--model", str(tiny_palette_path), *extra)
        assert done.returncode == 0, done.stderr
    assert "colour" in json.loads((tmp_path / "coloured.json").read_text())
    assert "colour" not in json.loads((tmp_path / "plain.json").read_text())
    song = mido.MidiFile(ticks_per_beat=480)  # 120 bpm: 960 ticks a second
    song.tracks.append(mido.MidiTrack([mido.Message("note_on", note=57, velocity=100, time=0),
                                       mido.Message("note_off", note=57, velocity=0, time=864)]))
    song.save(tmp_path / "one.mid")

    def fall_db(audio: np.ndarray, rate: int) -> float:
        """How far the note falls from its first fifth to its last (0.9 s held)."""
        held = audio[: int(0.9 * rate)]
        first, last = held[: len(held) // 5], held[-len(held) // 5:]
        return 10 * np.log10(np.mean(first ** 2) / np.mean(last ** 2))

    falls = {}
    for name in ("coloured", "plain"):
        done = _synth("render", str(tmp_path / "one.mid"), "-o", str(tmp_path / f"{name}.wav"), "--model",
                      str(tiny_palette_path), "--preset", str(tmp_path / f"{name}.json"), "-q")
        assert done.returncode == 0, done.stderr
        audio, rate = sf.read(tmp_path / f"{name}.wav")
        falls[name] = fall_db(audio.mean(axis=1), rate)
    target = fall_db(note * np.exp(-4.0 * t), data.sample_rate)
    assert abs(falls["coloured"] - target) < 0.5 * abs(falls["plain"] - target), (falls, target)
