"""Training: a few real steps on real FluidSynth notes for each architecture and loss, checkpoints,
exact resume, and two-process data-parallel training (gloo) through torchrun."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synth.errors import ConfigError, DataError
from tests.conftest import ROOT, TINY_CONFIG_OVERRIDES
from training.config import load_config
from training.train import Trainer, load_checkpoint

TINY_WAVEGAN = ["model.width=4", "discriminator.width=4"]


def _config(dataset: Path, steps: int, arch: str = "default", extra: list[str] = ()) -> dict:
    return load_config([ROOT / f"training/configs/{arch}.toml"],
                       TINY_CONFIG_OVERRIDES + [f"data.folder={str(dataset)!r}", f"train.steps={steps}",
                                                "train.tensorboard=false", *extra])


def test_resume_continues_exactly(tiny_dataset, tmp_path):
    straight = Trainer(_config(tiny_dataset, 4), tmp_path / "a")
    straight.fit(progress=False)
    first = Trainer(_config(tiny_dataset, 2), tmp_path / "b")
    first.fit(progress=False)
    resumed = Trainer(_config(tiny_dataset, 4), tmp_path / "b")
    resumed.load_state(load_checkpoint(tmp_path / "b" / "checkpoint.pt"))
    assert resumed.step == 2
    resumed.fit(progress=False)
    for name, value in straight.generator.state_dict().items():
        assert torch.equal(value, resumed.generator.state_dict()[name]), name
    assert not list((tmp_path / "b").glob("*.partial"))


def test_init_from_splits_noise_bands_and_keeps_the_rest(tiny_dataset, tmp_path):
    """A run with four times the noise bands, started from a trained run's weights, starts where it
    left off: the same partials, and each old band's noise level shared by the four bands it splits into."""
    from training.warm_start import warm_start

    old = Trainer(_config(tiny_dataset, 2), tmp_path / "old")
    old.fit(progress=False)
    new = Trainer(_config(tiny_dataset, 2, extra=["model.num_noise_bands=16"]), tmp_path / "new")
    left = warm_start(new, load_checkpoint(tmp_path / "old" / "checkpoint.pt"))
    assert not [name for name in left if name.startswith(("generator.", "ema."))], left
    z, pitch, velocity = torch.randn(3, 8), torch.tensor([57, 63, 69]), torch.tensor([0.3, 0.6, 0.9])
    with torch.no_grad():
        before, after = old.ema.get_controls(z, pitch, velocity), new.ema.get_controls(z, pitch, velocity)
    assert torch.equal(before["amplitude"], after["amplitude"])
    assert torch.equal(before["harmonic_distribution"], after["harmonic_distribution"])
    gains = after["noise_band_gains"]
    shared = (gains.reshape(3, 4, 4, -1) ** 2).sum(dim=2).sqrt()  # four unit-RMS bands' level together
    assert torch.allclose(shared, before["noise_band_gains"], rtol=0.05), (shared / before["noise_band_gains"]).max()
    assert not torch.allclose(gains.reshape(3, 4, 4, -1)[:, :, 0], before["noise_band_gains"], rtol=0.2)


def test_a_plugin_gives_back_its_generator_and_encoder_for_a_new_run():
    """``--init-from MODEL.onnx``: the built-in model's weights, loaded into the generator and the
    encoder the palette config builds, play its notes and encode its samples as the plugin does."""
    from synth.plugin.encode import VELOCITY, SampleEncoder
    from synth.plugin.model import DEFAULT_MODEL, GeneratorModel
    from training.from_plugin import plugin_checkpoint
    from training.models import build_generator
    from training.train import build_encoder

    config = load_config([ROOT / "training/configs/palette.toml"])
    state = plugin_checkpoint(DEFAULT_MODEL, config)
    assert state["discriminator"] == {} and state["ema"] is state["generator"]
    generator, encoder = build_generator(config).eval(), build_encoder(config).eval()
    for module, weights in ((generator, state["ema"]), (encoder, state["encoder"])):
        mine = module.state_dict()
        mine.update(weights)
        module.load_state_dict(mine)
    plugin = GeneratorModel.load(DEFAULT_MODEL, device="cpu")
    z = np.random.default_rng(5).standard_normal((3, plugin.manifest.latent_dim)).astype(np.float32)
    pitch, velocity = np.array([40, 60, 80]), np.array([0.3, 0.6, 0.9], np.float32)
    with torch.no_grad():
        ours = generator(torch.from_numpy(z), torch.from_numpy(pitch), torch.from_numpy(velocity)).numpy()
    theirs = plugin.generate(z, pitch, velocity)
    assert np.abs(ours - theirs).max() < 1e-4
    clip = np.zeros(encoder.max_samples, np.float32)
    clip[:theirs.shape[1]] = theirs[1, :encoder.max_samples]
    with torch.no_grad():
        mean, _ = encoder(torch.from_numpy(clip[None]), torch.tensor([60]), torch.tensor([VELOCITY]))
    assert np.abs(mean[0].numpy() - SampleEncoder(plugin.manifest).encode(theirs[1], 60)).max() < 1e-3


@pytest.mark.parametrize("arch, loss, extra", [
    ("default", "hinge", []),
    ("default", "nonsaturating", ["train.r1_weight=1e-4"]),
    ("wavegan", "hinge", TINY_WAVEGAN),
    ("wavegan", "wgan-gp", TINY_WAVEGAN + ["discriminator.spectral_norm=false"]),
])
def test_a_few_steps_lower_the_discriminator_loss(tiny_dataset, tmp_path, arch, loss, extra):
    trainer = Trainer(_config(tiny_dataset, 20, arch, [f"train.gan_loss={loss!r}", "train.checkpoint_every=100",
                                                       *extra]), tmp_path)
    trainer.fit(progress=False)
    d = [h["d"] for h in trainer.history]
    assert np.isfinite(d).all()
    assert np.mean(d[-4:]) < np.mean(d[:4]), d
    if loss == "wgan-gp":
        assert all("gp" in h for h in trainer.history)


def test_wavegan_phase_shuffle_moves_features_only_while_training():
    from training.models.wavegan import WaveformDiscriminator, phase_shuffle

    torch.manual_seed(0)
    x = torch.arange(40.0).reshape(1, 1, 40).repeat(8, 3, 1)
    shuffled = phase_shuffle(x, 2)
    shifts = {int(s) for s in (shuffled[:, 0, 10] - x[:, 0, 10])}
    assert shifts <= {-2, -1, 0, 1, 2} and len(shifts) > 1
    assert torch.equal(shuffled[:, 0], shuffled[:, 2])  # one shift per example, all channels alike
    disc = WaveformDiscriminator(width=4).eval()
    audio, pitch = torch.randn(2, 4000), torch.tensor([60, 62])
    assert torch.equal(disc(audio, pitch)[0][0], disc(audio, pitch)[0][0])


def test_train_cli_refuses_unknown_keys_and_missing_data(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[train]\nstepz = 3\n")
    result = subprocess.run([sys.executable, "-m", "synth", "train", str(config)], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown config key 'train.stepz'" in result.stderr
    config.write_text("[train]\ngan_loss = 'wgan'\n")
    result = subprocess.run([sys.executable, "-m", "synth", "train", str(config)], capture_output=True, text=True)
    assert result.returncode == 2 and "train.gan_loss" in result.stderr and "wgan-gp" in result.stderr
    result = subprocess.run([sys.executable, "-m", "synth", "train", str(ROOT / "training/configs/default.toml"),
                             "--set", f"data.folder='{tmp_path / 'none'}'"], capture_output=True, text=True)
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_a_run_stopped_by_sigterm_saves_and_resumes(tiny_dataset, tmp_path):
    """A long run in the background is stopped by kill or by its session's end (and a
    non-interactive shell's background job ignores Ctrl-C): it saves where it is and resumes."""
    import signal
    import time

    run = tmp_path / "run"
    sets = [arg for o in TINY_CONFIG_OVERRIDES + [f"data.folder={str(tiny_dataset)!r}", "train.steps=100000",
                                                  "train.tensorboard=false"] for arg in ("--set", o)]
    proc = subprocess.Popen([sys.executable, "-m", "synth", "train", str(ROOT / "training/configs/default.toml"),
                             "--run-dir", str(run), "-q", *sets], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted at step" in err and "Traceback" not in err, err
    stopped = int(err.split("interrupted at step ")[1].split(";")[0])
    assert load_checkpoint(run / "checkpoint.pt")["step"] == stopped >= 1
    done = subprocess.run([sys.executable, "-m", "synth", "train", str(ROOT / "training/configs/default.toml"),
                           "--run-dir", str(run), "-q", "--resume", *sets[:-4],
                           "--set", f"train.steps={stopped + 2}", "--set", "train.tensorboard=false"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"resuming at step {stopped}" in done.stderr
    assert load_checkpoint(run / "checkpoint.pt")["step"] == stopped + 2


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "synth", "train", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_two_process_data_parallel_training_and_resume(tiny_dataset, tmp_path):
    """torchrun, 2 CPU processes, gloo: replicas stay identical, each draws its own batches, and
    --resume restores every process's random state."""
    shutil.copy(ROOT / "training/configs/default.toml", tmp_path / "c.toml")
    common = [str(tmp_path / "c.toml"), "--run-dir", str(tmp_path / "run"), "-q",
              "--set", f"data.folder={str(tiny_dataset)!r}", "--set", "train.tensorboard=false"]
    common += [arg for override in TINY_CONFIG_OVERRIDES for arg in ("--set", override)]
    first = _torchrun(*common, "--set", "train.steps=2")
    assert first.returncode == 0, first.stderr[-2000:]
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["step"] == 2 and len(state["rank_rngs"]) == 2
    assert state["replica_checksums"][0] == state["replica_checksums"][1]
    assert not torch.equal(state["rank_rngs"][0]["torch"], state["rank_rngs"][1]["torch"])
    resumed = _torchrun(*common, "--set", "train.steps=4", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["step"] == 4 and state["replica_checksums"][0] == state["replica_checksums"][1]
    assert "random streams start afresh" not in resumed.stderr


def test_tensorboard_gets_losses_audio_and_spectrograms(tiny_dataset, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer = Trainer(_config(tiny_dataset, 2, extra=["train.tensorboard=true", "train.sample_every=2"]), tmp_path)
    trainer.fit(progress=False)
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"audio": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"loss/d", "loss/g_adv", "loss/stft"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("loss/d")] == [1, 2]
    audio = [tag for tag in tags["audio"] if tag.startswith("generated/pitch_")]
    assert len(audio) == 4 and events.Audio(audio[0])[0].sample_rate == 16000
    image = events.Images("spectrograms/real_top_generated_bottom")[0]
    assert image.step == 2 and image.width > 0 and image.height > 0


@pytest.mark.parametrize("num_frames, noise_length", [(128, 8000), (128, 6400)])
def test_segmented_noise_equals_interpolating_every_band(num_frames, noise_length):
    """The harmonic generator's noise, computed per control-frame segment with small matrix
    products (inference about 3x faster), equals interpolating every band's gain to audio rate and
    summing; a shape the segment path cannot take (hop 500 does not divide 6400) uses the latter."""
    from torch.nn import functional as F

    from training.models.harmonic import HarmonicGenerator

    generator = HarmonicGenerator(num_samples=64000, num_frames=num_frames, noise_length=noise_length)
    gains = torch.rand(3, generator.noise_bank.shape[0], num_frames) * 2
    repeats = generator.num_samples // noise_length
    expected = (F.interpolate(gains, size=generator.num_samples, mode="linear", align_corners=False)
                * generator.noise_bank.repeat(1, repeats)[None]).sum(dim=1)
    got = generator._noise(gains)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() < 1e-5 * expected.abs().max()
    assert (generator.noise_period is None) == (noise_length % (64000 // num_frames) != 0)
    assert not any(key.startswith("noise_") and key != "noise_bank" for key in generator.state_dict())


def test_soundfont_data_set_is_16_bit_named_and_holds_out_velocities(tmp_path):
    from training.data import NoteDataset, build_soundfont_dataset

    folder = build_soundfont_dataset(tmp_path / "d", [0, 40], [60, 62], [60, 110], sample_rate=16000,
                                     num_samples=8000, progress=False, held_out_velocities=[90])
    assert np.load(folder / "audio.npy", mmap_mode="r").dtype == np.int16
    train, held = NoteDataset.load(folder, "train"), NoteDataset.load(folder, "validation")
    assert sorted(set(np.round(train.velocity * 127).astype(int))) == [60, 110]
    assert set(np.round(held.velocity * 127).astype(int)) == {90}
    assert train.names == {0: "Acoustic Grand Piano", 40: "Violin"}
    clips = train.audio[np.array([3, 0])]  # read in any order, scaled back to float
    assert clips.dtype == np.float32 and 0.05 < np.abs(clips).max() <= 1.0
    assert np.array_equal(clips[1], train.audio[0])


def test_merged_data_sets_keep_every_note_and_name_its_recording(tiny_dataset, tiny_palette_dataset, tmp_path):
    from training.data import NoteDataset
    from training.merge_data import merge_datasets

    merged = merge_datasets(tmp_path / "both", [tiny_dataset, tiny_palette_dataset])
    parts = [NoteDataset.load(tiny_dataset, None), NoteDataset.load(tiny_palette_dataset, None)]
    whole = NoteDataset.load(merged, None)
    assert len(whole) == len(parts[0]) + len(parts[1])
    assert np.array_equal(whole.program, np.concatenate([p.program for p in parts]))
    assert np.array_equal(whole.audio[len(parts[0])], parts[1].audio[0])  # the second set's first note
    assert np.array_equal(whole.audio[len(parts[0]) - 1], parts[0].audio[len(parts[0]) - 1])
    for split in ("train", "validation"):
        assert len(NoteDataset.load(merged, split)) == sum(len(NoteDataset.load(f, split))
                                                           for f in (tiny_dataset, tiny_palette_dataset))
    index = json.loads((merged / "index.json").read_text())
    sources = [n["source"] for n in index["notes"]]
    assert sources == [parts[0].description] * len(parts[0]) + [parts[1].description] * len(parts[1])
    assert whole.description == f"{parts[0].description} + {parts[1].description}"
    thrice = json.loads((merge_datasets(tmp_path / "thrice", [merged, tiny_dataset]) / "index.json").read_text())
    assert [n["source"] for n in thrice["notes"]] == sources + [parts[0].description] * len(parts[0])
    assert index["merged_from"] == [str(tiny_dataset), str(tiny_palette_dataset)]
    with pytest.raises(DataError, match="named twice"):
        merge_datasets(tmp_path / "again", [tiny_dataset, tiny_dataset])
    assert not (tmp_path / "again").exists() or not any((tmp_path / "again").iterdir())

def test_palette_encoder_trains_and_resumes_exactly(tiny_dataset, tmp_path):
    extra = ["encoder.enabled=true", "encoder.channels=16", "encoder.num_mels=16", "encoder.kl_warmup_steps=2"]
    straight = Trainer(_config(tiny_dataset, 4, extra=extra), tmp_path / "a")
    straight.fit(progress=False)
    assert all(np.isfinite(h["kl"]) and np.isfinite(h["stft"]) for h in straight.history)
    first = Trainer(_config(tiny_dataset, 2, extra=extra), tmp_path / "b")
    first.fit(progress=False)
    resumed = Trainer(_config(tiny_dataset, 4, extra=extra), tmp_path / "b")
    resumed.load_state(load_checkpoint(tmp_path / "b" / "checkpoint.pt"))
    resumed.fit(progress=False)
    for name, value in straight.encoder.state_dict().items():
        assert torch.equal(value, resumed.encoder.state_dict()[name]), name
    for name, value in straight.generator.state_dict().items():
        assert torch.equal(value, resumed.generator.state_dict()[name]), name


def test_palette_report_measures_a_palette_checkpoint(tmp_path):
    """A tiny palette run (two instruments, a held-out velocity) judged through the CLI."""
    import subprocess
    import sys

    from training.data import build_soundfont_dataset

    data = build_soundfont_dataset(tmp_path / "d", [4, 40], [57, 60, 62], [60, 110], sample_rate=16000,
                                   num_samples=16000, progress=False, held_out_velocities=[90])
    config = _config(data, 2, extra=["encoder.enabled=true", "encoder.channels=16", "encoder.num_mels=16",
                                     "model.pitch_min=48", "model.pitch_max=72"])
    Trainer(config, tmp_path / "run").fit(progress=False)
    result = subprocess.run([sys.executable, "-m", "synth", "eval", str(tmp_path / "run" / "checkpoint.pt"),
                             "--data", str(data), "--palette", "--json", str(tmp_path / "p.json"), "--threads", "1"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Electric Piano 1" in result.stdout and "Violin" in result.stdout and "real vs real" in result.stdout
    import json

    report = json.loads((tmp_path / "p.json").read_text())
    assert 0.0 <= report["program_accuracy"] <= 1.0 and 0.0 <= report["separation"] <= 1.0
    assert report["real_program_accuracy"] > 0.5  # two real velocities of a note are nearest each other
    real_vibrato = {row[0]: row[5] for row in report["rows"]}  # FluidR3's violin wavers, its electric piano not
    assert real_vibrato["Violin"] > 2.0 > real_vibrato["Electric Piano 1"]
    assert report["unreadable"] == []  # YIN reads both real instruments: every note is judged for pitch


def test_palette_report_refuses_a_plain_checkpoint(tiny_run, tiny_dataset):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "synth", "eval", str(tiny_run / "checkpoint.pt"), "--data",
                             str(tiny_dataset), "--palette"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 2 and "has no encoder" in result.stderr and "Traceback" not in result.stderr


def test_the_control_stage_with_its_adversary_trains_and_resumes_exactly(tiny_dataset, tmp_path):
    """Both palette stages with the control discriminator and vibrato: stopped after the first
    control step and resumed, a run ends bit for bit where a straight one does (the adversary
    and its optimiser are in the checkpoint)."""
    extra = ["encoder.enabled=true", "encoder.channels=16", "encoder.num_mels=16", "model.vibrato_cents=60",
             "train.control_steps=3", "train.control_batch_size=4", "train.control_gan_weight=0.1"]
    straight = Trainer(_config(tiny_dataset, 5, extra=extra), tmp_path / "a")
    straight.fit(progress=False)
    control = [h for h in straight.history if "harm" in h]
    assert len(control) == 3 and all(np.isfinite(h["cd"]) and np.isfinite(h["vib"]) for h in control)
    assert all("stft" in h for h in straight.history[3:])  # then the audio stage
    first = Trainer(_config(tiny_dataset, 1, extra=extra), tmp_path / "b")
    first.fit(progress=False)
    resumed = Trainer(_config(tiny_dataset, 5, extra=extra), tmp_path / "b")
    resumed.load_state(load_checkpoint(tmp_path / "b" / "checkpoint.pt"))
    resumed.fit(progress=False)
    for mine, theirs in ((straight.generator, resumed.generator), (straight.encoder, resumed.encoder),
                         (straight.control_discriminator, resumed.control_discriminator)):
        for name, value in mine.state_dict().items():
            assert torch.equal(value, theirs.state_dict()[name]), name


def test_knob_spreads_are_calibrated_by_ear_within_the_instruments_reach():
    """Each knob's spread is the smallest multiple of the instruments' standard deviation along it
    (1.5-4) whose full sweep moves the generator's controls as far as two instruments are apart; a
    direction the decoder hears less gets the wider spread."""
    from training.instruments import CALIBRATED_SIGMAS, calibrated_spreads, control_features
    from training.models.harmonic import HarmonicGenerator

    torch.manual_seed(3)
    generator = HarmonicGenerator(latent_dim=8, num_samples=8000, num_frames=64, noise_length=1000, hidden=32,
                                  channels=16).eval()
    with torch.no_grad():  # make the decoder deaf to latent dimension 1 (its first layer ignores it)
        generator.trunk[0].weight[:, 1] *= 0.05
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(6, 8)).astype(np.float32)
    directions = np.eye(8, dtype=np.float32)[:2]  # dimension 0 (heard) and dimension 1 (barely)
    sigmas = (latents @ directions.T).std(axis=0)
    spreads = calibrated_spreads(generator, latents, directions, sigmas)
    multiples = spreads / sigmas
    assert all(CALIBRATED_SIGMAS[0] - 1e-4 <= m <= CALIBRATED_SIGMAS[-1] + 1e-4 for m in multiples), multiples
    assert multiples[1] > multiples[0]  # the axis heard less is swept further
    sound = control_features(generator, latents)
    between = np.median([np.linalg.norm(sound[i] - sound[j], axis=1).mean() for i in range(6) for j in range(i + 1, 6)])
    for direction, spread, multiple in zip(directions, spreads, multiples):
        travel = np.median(np.linalg.norm(control_features(generator, latents + spread * direction)
                                          - control_features(generator, latents - spread * direction), axis=2))
        assert travel >= between or multiple > CALIBRATED_SIGMAS[-1] - 1e-4, (travel, between, multiple)


@pytest.mark.parametrize("pitch", [36, 60, 84])
def test_gliding_phase_in_closed_form_equals_the_running_sum_of_every_sample(pitch):
    """The vibrato path's phase (a float64 sum over frames, a float32 quadratic within each) is the
    running sum of the per-sample frequency, the pitch ratio linear within each control frame."""
    from training.models.harmonic import HarmonicGenerator

    generator = HarmonicGenerator(num_samples=64000, num_frames=128, hidden=32, channels=16, vibrato_cents=60.0)
    cents = 60.0 * torch.tanh(torch.randn(2, 128, generator=torch.Generator().manual_seed(pitch)) * 2)
    f0 = 440.0 * torch.pow(2.0, (torch.full((2,), float(pitch)) - 69.0) / 12.0)
    phase = generator._gliding_phase(f0, cents).double()
    ratio = torch.pow(2.0, cents.double() / 1200.0)
    ratio = torch.cat([ratio, ratio[:, -1:]], dim=1)
    hop = 64000 // 128
    index = torch.arange(64000)
    here, there = ratio[:, index // hop], ratio[:, index // hop + 1]
    step = f0.double()[:, None] / 32000 * (here + (there - here) * (index % hop).double() / hop)
    exact = torch.cumsum(step, dim=1) - step  # phase 0 at the first sample
    error = phase - exact
    error = error - torch.round(error)  # both wrapped: compare as angles
    assert float(error.abs().max()) < 1e-4


def test_knob_1_is_the_widest_axis_the_decoder_hears_not_the_widest_it_ignores():
    """Instruments spread widest along a latent dimension the decoder barely hears: plain PCA makes
    that knob 1; measured in the decoder's metric, knob 1 is the dimension that changes the sound."""
    from training.instruments import instrument_directions
    from training.models.harmonic import HarmonicGenerator

    torch.manual_seed(5)
    generator = HarmonicGenerator(latent_dim=8, num_samples=8000, num_frames=64, noise_length=1000, hidden=32,
                                  channels=16).eval()
    with torch.no_grad():  # the decoder hears latent dimension 0 only (its first layer nearly ignores 1-7)
        generator.trunk[0].weight[:, 1:8] *= 0.02
    latents = np.zeros((8, 8), np.float32)
    latents[:, 0] = [1, -1, 1, -1, 1, -1, 1, -1]  # heard
    latents[:, 1] = [1.6, 1.6, -1.6, -1.6, 1.6, 1.6, -1.6, -1.6]  # wider (and uncorrelated), unheard
    plain, _, _ = instrument_directions(latents, 2)
    heard, spreads, share = instrument_directions(latents, 2, generator)
    assert abs(plain[0, 1]) > 0.9  # the latent's own widest axis
    assert abs(heard[0, 0]) > 0.9  # the widest the decoder hears
    assert np.allclose(np.linalg.norm(heard, axis=1), 1.0, atol=1e-5) and share[0] >= share[1] and all(spreads > 0)


def test_focus_programs_take_their_share_of_every_control_batch(tiny_palette_dataset, tmp_path):
    """``data.focus_programs``: a wide data set's first instruments keep their share of the batches
    (here the violin, 40, half of each batch of 16 where it holds half of the notes)."""
    from training.control_stage import ControlStage

    extra = ["encoder.enabled=true", "encoder.channels=16", "encoder.num_mels=16", "train.control_steps=3",
             "train.control_batch_size=16", "data.focus_programs=[40]", "data.focus_share=0.75"]
    trainer = Trainer(_config(tiny_palette_dataset, 3, extra=extra), tmp_path / "focus")
    stage = ControlStage(trainer)
    programs = trainer.data.program
    shares = [np.mean(programs[stage.batch_rows()] == 40) for _ in range(200)]
    assert 0.8 < np.mean(shares) < 0.93  # 0.75 drawn from the violin, and half of the other quarter
    assert min(shares) >= 0.75
    trainer.config["data"]["focus_programs"] = [0]  # the Acoustic Grand: not in this data set
    with pytest.raises(ConfigError, match=r"data.focus_programs names GM programs \[0\]"):
        ControlStage(trainer)


def test_a_tuned_run_interpolated_toward_where_it_started(tiny_run, tiny_model_path, tmp_path):
    """training.interpolate (WiSE-FT): share 0 is the base's weights, 1 the tuned run's, in between
    the straight line; a plugin as the base gives its EMA weights back; a share out of 0..1 is one
    sentence and writes nothing."""
    import torch

    from training.interpolate import interpolate_checkpoint, main
    from training.train import load_checkpoint

    tuned = load_checkpoint(tiny_run / "checkpoint.pt")
    learned = [name for name, value in tuned["ema"].items() if torch.is_tensor(value) and value.is_floating_point()]
    base = {**tuned, "ema": {name: value + 1.0 if name in learned else value for name, value in tuned["ema"].items()}}
    for share in (0.0, 0.25, 1.0):
        mixed = interpolate_checkpoint(base, tuned, share)
        for name in learned:
            expected = base["ema"][name] + share * (tuned["ema"][name] - base["ema"][name])
            assert torch.allclose(mixed["ema"][name], expected, atol=1e-5)
        assert mixed["generator"] is mixed["ema"]
    out = tmp_path / "interpolated.pt"
    assert main([str(tiny_model_path), str(tiny_run / "checkpoint.pt"), "--share", "0", "-o", str(out)]) == 0
    again = load_checkpoint(out)  # the plugin holds the run's EMA weights: share 0 gives them back
    assert again["step"] == tuned["step"]
    assert max(float((again["ema"][name] - tuned["ema"][name]).abs().max()) for name in learned) < 1e-5
    assert main([str(tiny_model_path), str(tiny_run / "checkpoint.pt"), "--share", "1.5", "-o",
                 str(tmp_path / "bad.pt")]) == 2
    assert not (tmp_path / "bad.pt").exists()
