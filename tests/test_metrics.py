"""Quality metrics on signals whose answer is known, `synth eval` end to end, and the folder data set builder."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from training.folder_data import build_folder_dataset, pitch_from_name
from training.metrics import frechet_distance, ndb, note_features, pitch_accuracy

RATE = 16000


def _tone(pitch: float, seconds: float = 1.0, rate: int = RATE, partials: int = 4) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    return sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, partials + 1) if k * f0 < rate / 2) * 0.3


def test_pure_tones_at_the_asked_pitch_score_100_percent_and_a_semitone_off_scores_0():
    pitches = np.arange(36, 85, 4)
    notes = np.stack([_tone(p) for p in pitches])
    score, errors = pitch_accuracy(notes, pitches, RATE)
    assert score == 1.0 and max(abs(e) for e in errors) < 5
    score, _ = pitch_accuracy(notes, pitches + 1, RATE)
    assert score == 0.0
    assert pitch_accuracy(np.zeros((2, RATE)), np.array([60, 64]), RATE)[0] == 0.0  # silence is out of tune
    assert pitch_accuracy(np.zeros((1, 10)), np.array([60]), RATE)[0] == 0.0  # too short to judge: no crash


def test_frechet_distance_is_zero_for_the_same_notes_and_grows_with_the_difference():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    near = frechet_distance(a, rng.standard_normal((400, 6)))
    far = frechet_distance(a, rng.standard_normal((400, 6)) + 2.0)
    assert near < 0.5 < 20 < far  # a 2-sigma shift in 6 dimensions: 6 * 4 = 24
    # Known answer for diagonal Gaussians: |mu|^2 + sum (s_a - s_b)^2.
    assert frechet_distance(a, 3 * a + 1) == pytest.approx(np.sum((3 * a.mean(0) + 1 - a.mean(0)) ** 2)
                                                           + np.trace(np.cov(a, rowvar=False)) * 4, rel=0.02)


def test_ndb_finds_no_bins_for_the_same_distribution_and_many_for_a_collapsed_one():
    rng = np.random.default_rng(1)
    train = rng.standard_normal((2000, 4))
    same = ndb(train, rng.standard_normal((2000, 4)), bins=20)
    collapsed = ndb(train, rng.standard_normal((2000, 4)) * 0.2, bins=20)  # a generator with mode collapse
    assert same.different <= 3 and collapsed.different >= 10


def test_note_features_tell_timbres_apart():
    dull, bright = _tone(60, partials=1), _tone(60, partials=12)
    features = note_features(np.stack([dull, dull, bright]), RATE)
    assert np.allclose(features[0], features[1])
    assert np.abs(features[0] - features[2]).max() > 1.0


def test_eval_cli_reports_every_metric_and_writes_the_grid(tiny_model_path, tiny_dataset, tmp_path):
    out = tmp_path / "eval.json"
    result = subprocess.run([sys.executable, "-m", "synth", "eval", str(tiny_model_path), "--data", str(tiny_dataset),
                             "--latents", "2", "--grid", str(tmp_path / "grid.png"), "--json", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["pitch_notes"] == 13 * 2 and report["real_pitch_notes"] > 0
    assert report["real_pitch_accuracy"] == 1.0  # FluidSynth's notes through the same estimator
    assert report["frechet_ratio"] == pytest.approx(report["frechet"] / report["frechet_real_halves"], rel=1e-6)
    assert 0 <= report["ndb_generated"] <= report["ndb_bins"]
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run([sys.executable, "-m", "synth", "eval", str(tiny_model_path), "--data", str(tmp_path / "no")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("stem, expected", [
    ("C4", (60, None)), ("piano_F#2_soft", (42, None)), ("Bb3", (58, None)), ("keys-060-100", (60, 100)),
    ("pitch72", (72, None)), ("midi_36_take2", (36, None)), ("sample1", (None, None)), ("Csharp4", (61, None)),
])
def test_pitch_from_file_names(stem, expected):
    assert pitch_from_name(stem) == expected


def test_folder_builder_keeps_good_notes_and_counts_what_it_skips(tmp_path):
    src = tmp_path / "samples"
    (src / "sub").mkdir(parents=True)
    sf.write(src / "C4.wav", _tone(60, 1.5, 44100), 44100)
    sf.write(src / "sub" / "keys-064-090.flac", _tone(64, 0.8, 32000), 32000)
    sf.write(src / "take.wav", np.concatenate([np.zeros(3000), _tone(69, 1.0, 48000)]), 48000)  # pitch estimated
    sf.write(src / "quiet.wav", np.zeros(32000), 32000)
    sf.write(src / "phone.wav", _tone(60, 1.0, 8000), 8000)
    (src / "broken.wav").write_bytes(b"RIFF\x00\x00junk")
    report = build_folder_dataset(src, tmp_path / "out", sample_rate=32000, num_samples=32000, progress=False)
    assert report.kept == 3 and report.estimated_pitch == 1
    assert report.skipped == {"silent": 1, "unreadable": 1, "below 32000 Hz": 1}
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert {n["file"]: (n["pitch"], n["velocity"]) for n in index["notes"]} == {
        "C4.wav": (60, 100), "sub/keys-064-090.flac": (64, 90), "take.wav": (69, 100)}
    audio = np.load(tmp_path / "out" / "audio.npy")
    assert audio.shape == (3, 32000) and np.abs(audio).max() == pytest.approx(0.9, abs=1e-6)
    onset = int(np.argmax(np.abs(audio[2]) > 0.01))
    assert onset < 200  # the leading silence of take.wav was cut
    score, _ = pitch_accuracy(audio, np.array([n["pitch"] for n in index["notes"]]), 32000)
    assert score == 1.0


def test_folder_builder_refuses_a_folder_with_nothing_usable(tmp_path):
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "quiet.wav", np.zeros(32000), 32000)
    result = subprocess.run([sys.executable, "-m", "synth", "dataset", "folder", str(tmp_path / "in"),
                             "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 2 and "none of the 1 audio files" in result.stderr and "1 silent" in result.stderr
    assert not (tmp_path / "out").exists()


def test_vibrato_depth_is_the_f0s_spread_in_cents_and_zero_for_a_steady_note():
    from training.metrics import vibrato_cents

    rate, pitch = 32000, 67
    t = np.arange(2 * rate) / rate
    hz = 440.0 * 2 ** ((pitch - 69) / 12)
    steady = np.sin(2 * np.pi * hz * t)
    cents = 30.0 * np.sin(2 * np.pi * 5.5 * t)  # a 5.5 Hz vibrato, 30 cents either way
    wobbling = np.sin(2 * np.pi * np.cumsum(hz * 2 ** (cents / 1200)) / rate)
    assert vibrato_cents(steady, rate, pitch) < 1.0
    spread = 30.0 / np.sqrt(2)  # a sine's standard deviation; each 64 ms frame averages a third of a cycle
    assert 0.75 * spread < vibrato_cents(wobbling, rate, pitch) < spread
    assert vibrato_cents(np.zeros(2 * rate), rate, pitch) is None
