"""The plugin contract: good files load, broken files are refused with one sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from synth.errors import ModelError
from synth.plugin.contract import CONTRACT_VERSION, READABLE_VERSIONS, parse_manifest
from synth.plugin.model import GeneratorModel


def _rewrite(src: Path, dst: Path, edit) -> Path:
    proto = onnx.load(src)
    edit(proto)
    onnx.save(proto, dst)
    return dst


def _set_meta(proto, key, value=None):
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key != key]
    del proto.metadata_props[:]
    for k, v in keep + ([(key, value)] if value is not None else []):
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v


def test_default_model_is_valid(default_model):
    m = default_model.manifest
    assert m.contract_version in READABLE_VERSIONS  # the shipped model may be a version-1 file
    assert m.pitch_conditioned and m.velocity_input
    assert m.sample_rate >= 32000
    probe = default_model.probe()
    assert probe["finite"] and probe["peak"] > 1e-3


def test_generate_shapes_and_dynamic_batch(tiny_model_path):
    model = GeneratorModel.load(tiny_model_path, device="cpu")
    m = model.manifest
    for batch in (1, 5):
        audio = model.generate(np.zeros((batch, m.latent_dim), np.float32), np.full(batch, 60),
                               np.full(batch, 0.5, np.float32))
        assert audio.shape == (batch, m.num_samples) and audio.dtype == np.float32


@pytest.mark.parametrize("edit, needle", [
    (lambda p: _set_meta(p, "sample_rate"), "missing the manifest key 'sample_rate'"),
    (lambda p: _set_meta(p, "contract_version", "99"), "contract version 99"),
    (lambda p: _set_meta(p, "contract_version"), "not a synth plugin"),
    (lambda p: _set_meta(p, "latent_dim", "7"), "latent_directions rows"),
    (lambda p: _set_meta(p, "pitch_min", "300"), "'pitch_min' must lie in 0..127"),
    (lambda p: _set_meta(p, "latent_directions", "[[1, 2"), "unreadable manifest key 'latent_directions'"),
    (lambda p: _set_meta(p, "num_samples", "12345"), "its manifest says 12345"),
    (lambda p: _set_meta(p, "velocity_input", "false"), "inputs"),
    (lambda p: _set_meta(p, "instruments", '[{"name": "x", "program": 0, "latent": [1]}]'), "has a latent of 1"),
    (lambda p: _set_meta(p, "instruments", '[{"name": "x", "program": 200, "latent": []}]'), "GM program 0..127"),
    (lambda p: _set_meta(p, "instruments", '[{"name": "x"}]'), "exactly 'name', 'program' and 'latent'"),
    (lambda p: _set_meta(p, "encoder", "not base64!"), "'encoder' is not base64"),
])
def test_broken_manifest_is_refused(tiny_model_path, tmp_path, edit, needle):
    broken = _rewrite(tiny_model_path, tmp_path / "broken.onnx", edit)
    with pytest.raises(ModelError) as info:
        GeneratorModel.load(broken, device="cpu")
    assert needle in str(info.value)


def _graph_model(tmp_path: Path, pitch_type=TensorProto.INT64, out_name="audio", z_name="z",
                 gain: float = 1.0) -> Path:
    """A small real ONNX graph: audio = gain * tile(z) (the contract's shapes, with one thing changed)."""
    z = helper.make_tensor_value_info(z_name, TensorProto.FLOAT, ["batch", 4])
    pitch = helper.make_tensor_value_info("pitch", pitch_type, ["batch"])
    audio = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", 64])
    repeats = helper.make_tensor("repeats", TensorProto.INT64, [2], [1, 16])
    scale = helper.make_tensor("gain", TensorProto.FLOAT, [], [gain])
    nodes = [helper.make_node("Tile", [z_name, "repeats"], ["tiled"]),
             helper.make_node("Mul", ["tiled", "gain"], [out_name]),
             helper.make_node("Identity", ["pitch"], ["unused"])]
    graph = helper.make_graph(nodes, "g", [z, pitch], [audio], initializer=[repeats, scale])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    meta = {"contract_version": "1", "name": "g", "sample_rate": "16000", "num_samples": "64",
            "latent_dim": "4", "latent_prior": "normal", "pitch_conditioned": "true", "pitch_min": "60",
            "pitch_max": "72", "velocity_input": "false", "latent_directions": "[[1, 0, 0, 0]]",
            "direction_spreads": "[1.0]", "architecture": "test"}
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    path = tmp_path / "graph.onnx"
    onnx.save(model, path)
    return path


def test_too_new_ir_version_is_named(tmp_path):
    path = _graph_model(tmp_path)
    _rewrite(path, path, lambda p: setattr(p, "ir_version", 99))
    with pytest.raises(ModelError) as info:
        GeneratorModel.load(path, device="cpu")
    assert "IR version" in str(info.value) and "onnxruntime_src" not in str(info.value)


def _external_gain(tmp_path: Path, location: str) -> Path:
    """The hand-built graph with its ``gain`` tensor stored in a side file at ``location``."""
    model = onnx.load(_graph_model(tmp_path))
    tensor = next(t for t in model.graph.initializer if t.name == "gain")
    model_path = tmp_path / "models" / "graph.onnx"
    model_path.parent.mkdir(exist_ok=True)
    (model_path.parent / location).write_bytes(np.float32(1.0).tobytes())  # the data really exists
    for key, value in (("location", location), ("offset", "0"), ("length", "4")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    onnx.save(model, model_path)
    return model_path


def test_external_data_inside_the_folder_loads(tmp_path):
    model = GeneratorModel.load(_external_gain(tmp_path, "gain.bin"), device="cpu")
    assert model.generate(np.ones((1, 4), np.float32), np.array([60])).max() == 1.0


@pytest.mark.parametrize("location", ["../gain.bin", "/etc/hostname"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    path = _external_gain(tmp_path, location) if location.startswith("..") else None
    if path is None:  # an absolute path: point the tensor at a file that exists, outside
        path = _external_gain(tmp_path, "gain.bin")
        model = onnx.load(path, load_external_data=False)
        tensor = next(t for t in model.graph.initializer if t.name == "gain")
        next(e for e in tensor.external_data if e.key == "location").value = location
        onnx.save(model, path)
    with pytest.raises(ModelError) as info:
        GeneratorModel.load(path, device="cpu")
    assert "outside its folder" in str(info.value) and location in str(info.value)


@pytest.mark.parametrize("gain, needle", [(float("nan"), "NaN or infinite"), (0.0, "generates silence")])
def test_model_making_nan_or_silence_is_refused(tmp_path, gain, needle):
    with pytest.raises(ModelError) as info:
        GeneratorModel.load(_graph_model(tmp_path, gain=gain), device="cpu")
    assert needle in str(info.value)
    result = _inspect(str(tmp_path / "graph.onnx"))
    assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr


def test_hand_built_graph_follows_contract(tmp_path):
    model = GeneratorModel.load(_graph_model(tmp_path), device="cpu")
    assert model.generate(np.ones((2, 4), np.float32), np.array([60, 61])).shape == (2, 64)


@pytest.mark.parametrize("kwargs, needle", [
    ({"pitch_type": TensorProto.INT32}, "'pitch' is tensor(int32)"),
    ({"out_name": "wave"}, "output named 'audio'"),
    ({"z_name": "latent"}, "inputs"),
])
def test_broken_graph_is_refused(tmp_path, kwargs, needle):
    with pytest.raises(ModelError) as info:
        GeneratorModel.load(_graph_model(tmp_path, **kwargs), device="cpu")
    assert needle in str(info.value)


def test_manifest_round_trip(default_model):
    again = parse_manifest(default_model.manifest.to_metadata())
    assert again == default_model.manifest


def _inspect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synth", "inspect", *args], capture_output=True, text=True)


def test_inspect_prints_manifest_and_verdict(tiny_model_path):
    result = _inspect(str(tiny_model_path))
    assert result.returncode == 0, result.stderr
    assert "sample rate" in result.stdout and "verdict: valid plugin" in result.stdout


@pytest.mark.parametrize("content, needle", [
    (None, "does not exist"),
    ("not a model", "not a readable ONNX model"),
    ("folder", "not a file"),
])
def test_inspect_bad_input_one_sentence(tmp_path, content, needle):
    path = tmp_path / "model.onnx"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    result = _inspect(str(path))
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_inspect_truncated_and_contract_breaking(tiny_model_path, tmp_path):
    data = tiny_model_path.read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 3])
    broken = _rewrite(tiny_model_path, tmp_path / "nometa.onnx", lambda p: _set_meta(p, "latent_dim"))
    for path, needle in ((truncated, "not a readable ONNX model"), (broken, "latent_dim")):
        result = _inspect(str(path))
        assert result.returncode == 2 and needle in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_device_cuda_refuses_to_start_on_the_cpu(tiny_model_path, tmp_path):
    """Where onnxruntime's CUDA provider cannot run (this CPU machine), --device cuda is refused with
    one sentence rather than quietly playing on the CPU; auto and cpu play on the CPU and say so."""
    import onnxruntime as ort

    from synth.plugin.model import cuda_usable

    if cuda_usable(ort):
        model = GeneratorModel.load(tiny_model_path, device="cuda")
        assert model.provider == "CUDAExecutionProvider" and model.device_description.startswith("CUDA")
        assert model.runner is not None  # IO binding on CUDA (with graphs, or saying why not)
        return
    with pytest.raises(ModelError) as info:
        GeneratorModel.load(tiny_model_path, device="cuda")
    assert "--device cuda" in str(info.value)
    for device in ("auto", "cpu"):
        model = GeneratorModel.load(tiny_model_path, device=device)
        assert model.provider == "CPUExecutionProvider" and model.device_description == "CPU"
    demo = Path(__file__).resolve().parents[1] / "examples" / "demo.mid"
    result = subprocess.run([sys.executable, "-m", "synth", "render", str(demo), "-o", str(tmp_path / "x.wav"),
                             "--model", str(tiny_model_path), "--device", "cuda"], capture_output=True, text=True)
    assert result.returncode == 2 and "--device cuda" in result.stderr and "Traceback" not in result.stderr


def test_broken_file_gets_no_onnxruntime_banner(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(_graph_model(tmp_path).read_bytes()[:200])
    result = _inspect(str(path))
    assert result.returncode == 2 and "EP Error" not in result.stdout + result.stderr


def test_a_version_2_manifest_round_trips_with_its_instruments(default_model):
    from dataclasses import replace

    m = default_model.manifest
    latent = [0.25] * m.latent_dim
    recipe = {"n_fft": 1024, "hop": 256, "num_mels": 64, "fmin": 30.0, "floor": 1e-5}
    v2 = replace(m, contract_version=CONTRACT_VERSION, encoder="AAAA", encoder_samples=32000,
                 encoder_features=recipe, instruments=[{"name": "Violin", "program": 40, "latent": latent}])
    back = parse_manifest(v2.to_metadata())
    assert back.instruments == v2.instruments and back.encoder == "AAAA" and back.encoder_samples == 32000
    assert back.encoder_features == recipe
    with pytest.raises(ModelError, match="no encoder_samples or encoder_features"):
        parse_manifest(replace(v2, encoder_features={}).to_metadata())
    assert back.contract_version == 2
    # A file without the version-2 keys writes none of them: version 1 hosts' files stay as they were.
    plain = replace(m, instruments=[], encoder="", encoder_samples=0, encoder_features={}).to_metadata()
    assert not {"instruments", "encoder", "encoder_samples", "encoder_features"} & set(plain)
