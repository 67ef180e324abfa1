"""IO binding and the keep-alive, on the CPU with the real default model (the CUDA path shares
this code; what only a GPU can show is measured by `benchmarks/generation.py` where one is lent)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from synth.plugin.binding import BoundRunner
from synth.plugin.contract import INPUT_LATENT, INPUT_PITCH, INPUT_VELOCITY, OUTPUT_AUDIO
from synth.plugin.model import GeneratorModel


def _feeds(model: GeneratorModel, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    m = model.manifest
    rng = np.random.default_rng(seed)
    return {INPUT_LATENT: rng.standard_normal((batch, m.latent_dim)).astype(np.float32),
            INPUT_PITCH: rng.integers(m.pitch_min, m.pitch_max + 1, batch).astype(np.int64),
            INPUT_VELOCITY: rng.uniform(0.2, 1.0, batch).astype(np.float32)}


@pytest.fixture(scope="module")
def bound_model(default_model) -> GeneratorModel:
    model = GeneratorModel.load(default_model.path, device="cpu", io_binding=True)
    assert model.runner is not None and model.binding_note is None and model.run_path == "IO binding"
    return model


def test_plain_runs_on_the_cpu_by_default(default_model):
    assert default_model.runner is None and default_model.run_path == "plain session.run"


def test_io_binding_gives_the_plain_runs_audio(bound_model):
    for batch in (1, 3, 8):
        feeds = _feeds(bound_model, batch, seed=batch)
        plain = bound_model.session.run([OUTPUT_AUDIO], feeds)[0]
        bound = bound_model.generate(feeds[INPUT_LATENT], feeds[INPUT_PITCH], feeds[INPUT_VELOCITY])
        assert bound.shape == plain.shape and np.abs(bound - plain).max() < 1e-5


def test_a_result_is_not_overwritten_by_the_next_call(bound_model):
    first_feeds, second_feeds = _feeds(bound_model, 2, seed=1), _feeds(bound_model, 2, seed=2)
    first = bound_model.generate(*first_feeds.values())
    kept = first.copy()
    bound_model.generate(*second_feeds.values())
    assert np.array_equal(first, kept)  # the bound output buffer is copied out, never handed out


def test_graph_sized_batches_are_padded_and_split(default_model):
    """With CUDA graphs every call runs at one of a few fixed sizes; the padding and splitting
    logic runs on the CPU too (onnxruntime ignores the graph id there)."""
    import onnxruntime as ort

    runner = BoundRunner(ort, default_model.session, default_model.manifest, "cpu", cuda_graphs=True)
    for batch in (3, 20):
        feeds = _feeds(default_model, batch, seed=batch)
        plain = default_model.session.run([OUTPUT_AUDIO], feeds)[0]
        assert np.abs(runner.run(feeds) - plain).max() < 1e-5
    assert sorted(runner._bound) == [4, 16]  # 3 ran padded to 4; 20 as 16 + 4


def test_keep_alive_runs_only_while_idle_and_stops(default_model):
    model = GeneratorModel.load(default_model.path, device="cpu", threads=1)
    model.warm_up((1,))
    model.start_keep_alive(idle_s=0.05)
    keep_alive = model._keep_alive
    try:
        time.sleep(0.4)
        idle_runs = model.keep_alive_runs
        assert idle_runs >= 3
        feeds = _feeds(model, 1)
        busy_until = time.monotonic() + 0.3
        while time.monotonic() < busy_until:  # the model is busy: the keep-alive has nothing to do
            model.generate(*feeds.values())
        assert model.keep_alive_runs - idle_runs <= 1
    finally:
        model.stop_keep_alive()
    stopped = keep_alive.runs
    time.sleep(0.2)
    assert keep_alive.runs == stopped and not keep_alive._thread.is_alive()


@pytest.mark.parametrize("threads", [1, 2])
def test_warm_up_leaves_the_model_playing_the_same_notes(default_model, threads):
    model = GeneratorModel.load(default_model.path, device="cpu", threads=threads)
    feeds = _feeds(model, 2, seed=7)
    before = model.generate(*feeds.values())
    model.warm_up()
    assert np.abs(model.generate(*feeds.values()) - before).max() < 1e-5
