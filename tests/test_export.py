"""Export: a real trained torch generator to a contract-conforming ONNX file, with parity."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import torch

from export.onnx_export import parity_error
from synth.plugin.model import GeneratorModel
from training.models import build_generator
from training.train import load_checkpoint


def test_export_passes_checker_and_parity(tiny_run, tiny_model_path):
    onnx.checker.check_model(onnx.load(tiny_model_path))
    state = load_checkpoint(tiny_run / "checkpoint.pt")
    generator = build_generator(state["config"])
    generator.load_state_dict(state["ema"])
    generator.eval()
    plugin = GeneratorModel.load(tiny_model_path, device="cpu")
    assert parity_error(generator, plugin, batch=6, seed=1) < 1e-4
    # The parity check can fail: other weights give other audio.
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(0.1)
    assert parity_error(generator, plugin, batch=6, seed=1) > 1e-3


def test_export_cli_writes_file_and_reports_error(tiny_run, tmp_path):
    out = tmp_path / "cli.onnx"
    result = subprocess.run([sys.executable, "-m", "synth", "export", str(tiny_run / "checkpoint.pt"), "-o",
                             str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "max abs error" in result.stderr and out.exists()
    model = GeneratorModel.load(out, device="cpu")
    assert model.manifest.name == "cli" and len(model.manifest.latent_directions) == 8  # latent_dim 8 caps it
    directions = np.array(model.manifest.latent_directions)
    assert np.allclose(directions @ directions.T, np.eye(len(directions)), atol=1e-5)


def test_export_refuses_missing_checkpoint(tmp_path):
    result = subprocess.run([sys.executable, "-m", "synth", "export", str(tmp_path / "none.pt"), "-o",
                             str(tmp_path / "x.onnx")], capture_output=True, text=True)
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_wavegan_trains_exports_through_the_contract_and_plays(tiny_dataset, tmp_path):
    """The second architecture goes the whole way: train, export with parity, load in the host, render."""
    from export.onnx_export import export_checkpoint
    from synth.engine.synth import Synth
    from synth.midi import events as ev
    from tests.conftest import ROOT, TINY_CONFIG_OVERRIDES
    from training.config import load_config
    from training.train import Trainer

    config = load_config([ROOT / "training/configs/wavegan.toml"], TINY_CONFIG_OVERRIDES + [
        f"data.folder={str(tiny_dataset)!r}", "model.width=4", "discriminator.width=4", "train.tensorboard=false"])
    Trainer(config, tmp_path / "run").fit(progress=False)
    report = export_checkpoint(tmp_path / "run" / "checkpoint.pt", tmp_path / "wg.onnx", name="tiny wavegan",
                               fp16=True)
    assert report.max_abs_error < 1e-4
    assert [v.variant for v in report.variants] == ["fp32", "fp16"] and report.variants[1].max_abs_error < 5e-3
    model = GeneratorModel.load(tmp_path / "wg.onnx", device="cpu")
    assert model.manifest.architecture == "wavegan" and model.manifest.num_samples == 16000
    synth = Synth(model)
    synth.prepare(48000, 512)
    audio = np.concatenate([synth.process([(0, ev.note_on(60, 100))] if i == 0 else [], 512).copy()
                            for i in range(40)])
    assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-4  # three steps of training: sound, not music


def test_pca_directions_are_orthonormal_ordered_and_knob_1_moves_the_sound_most(tiny_run):
    from export.directions import pca_directions
    from training.metrics import note_features

    state = load_checkpoint(tiny_run / "checkpoint.pt")
    generator = build_generator(state["config"])
    generator.load_state_dict(state["ema"])
    generator.eval()
    m = state["config"]["model"]
    found = pca_directions(generator, m["latent_dim"], m["sample_rate"], (m["pitch_min"], m["pitch_max"]),
                           count=8, samples=128)
    assert np.allclose(found.vectors @ found.vectors.T, np.eye(len(found.vectors)), atol=1e-5)
    assert np.all(np.diff(found.explained_variance) <= 1e-12)  # knob 1 first
    assert found.explained_variance[0] > found.explained_variance[-1]

    def timbre_change(direction: np.ndarray) -> float:
        """Mean log-mel feature change between a knob's two ends, over 16 base latents at C4."""
        rng = np.random.default_rng(5)
        z = torch.from_numpy(rng.standard_normal((16, m["latent_dim"])).astype(np.float32))
        step = torch.from_numpy(direction * 1.5)
        pitch, velocity = torch.full((16,), 63), torch.full((16,), 0.8)
        with torch.no_grad():
            ends = [generator(z + sign * step, pitch, velocity).numpy() for sign in (-1, 1)]
        return float(np.abs(note_features(ends[1], m["sample_rate"]) - note_features(ends[0], m["sample_rate"])).mean())

    assert timbre_change(found.vectors[0]) > timbre_change(found.vectors[-1])


def test_every_export_variant_plays_in_the_host_and_matches_torch(tiny_run, tmp_path):
    """`synth export --optimize --fp16 --static-batch 1,4`: each variant is a plugin of its own, checked
    against torch at export, fingerprinted in its manifest, and plays the same notes as the main file
    (fp16 within 5e-3: its network runs in half precision, its synthesiser in float32)."""
    out = tmp_path / "v.onnx"
    result = subprocess.run([sys.executable, "-m", "synth", "export", str(tiny_run / "checkpoint.pt"), "-o", str(out),
                             "--optimize", "--fp16", "--static-batch", "1,4", "--pca-samples", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    paths = {"fp32": out, "optimized": tmp_path / "v.optimized.onnx", "fp16": tmp_path / "v.fp16.onnx",
             "batch1": tmp_path / "v.batch1.onnx", "batch4": tmp_path / "v.batch4.onnx"}
    for variant, path in paths.items():
        assert f"| {variant} | {path.name} |" in result.stderr  # the parity table names every file
    main = GeneratorModel.load(out, device="cpu")
    rng = np.random.default_rng(3)
    z = rng.standard_normal((6, main.manifest.latent_dim)).astype(np.float32)
    pitch = np.array([40, 48, 55, 60, 67, 72])
    velocity = np.linspace(0.2, 1.0, 6).astype(np.float32)
    expected = main.generate(z, pitch, velocity)
    hashes = set()
    for variant, path in paths.items():
        model = GeneratorModel.load(path, device="cpu")
        extra = model.manifest.extra
        assert extra["variant"] == variant and int(extra["weights_bytes"]) > 0
        hashes.add(extra["weights_sha256"])
        assert model.static_batch == ({"batch1": 1, "batch4": 4}.get(variant))
        # 6 notes: a batch-4 model runs them as 4 + 2 padded; a batch-1 model as six calls
        limit = 5e-3 if variant == "fp16" else 1e-4
        assert np.abs(model.generate(z, pitch, velocity) - expected).max() < limit, variant
    assert len(hashes) == 5  # each variant is a different graph, and its fingerprint says so
    initializers = onnx.load(paths["fp16"]).graph.initializer
    assert onnx.TensorProto.FLOAT16 in {i.data_type for i in initializers}  # the network is in half precision
    # and the synthesiser is not: its sine basis, one period of each partial in 2048 + 1 points
    basis = [i for i in initializers if list(i.dims[-1:]) == [2049]]
    assert basis and all(i.data_type == onnx.TensorProto.FLOAT for i in basis)


def test_static_batch_refuses_nonsense(tiny_run, tmp_path):
    result = subprocess.run([sys.executable, "-m", "synth", "export", str(tiny_run / "checkpoint.pt"), "-o",
                             str(tmp_path / "x.onnx"), "--static-batch", "0"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "batch" in result.stderr
