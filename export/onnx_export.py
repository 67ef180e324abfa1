"""Turn a training checkpoint into a plugin: an ONNX graph plus its manifest.

The file is checked three ways before it is written: ``onnx.checker``, the host's
own contract validation (the same code ``synth`` runs on load), and parity with
torch on a batch of notes across the pitch range (max abs error must stay below
``tolerance``). It is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import copy
import datetime as _dt
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from export.directions import pca_directions
from export.palette import PaletteParts, palette_parts
from export.variants import optimized, stamp, static_batch
from synth.errors import ModelError
from synth.files import atomic_file
from synth.plugin.contract import INPUT_LATENT, INPUT_PITCH, INPUT_VELOCITY, OUTPUT_AUDIO, Manifest
from synth.plugin.model import GeneratorModel
from training.config import config_hash
from training.models import build_generator
from training.train import load_checkpoint

OPSET = 17
NUM_KNOBS = 9
FP16_TOLERANCE = 5e-3  # half precision in the network: about 1e-3 from torch's float32 (-57 dB of full scale)


@dataclass
class VariantReport:
    variant: str
    path: Path
    max_abs_error: float  # against torch, on the same notes as every other variant
    size_bytes: int
    weights_sha256: str


@dataclass
class ExportReport:
    path: Path
    max_abs_error: float
    parity_batch: int
    size_bytes: int
    explained_variance: list[float]  # per knob direction (empty: random directions)
    variants: list[VariantReport] = field(default_factory=list)  # the main file first
    instruments: list[str] = field(default_factory=list)  # a palette model's, by name


def random_directions(latent_dim: int, count: int, seed: int) -> np.ndarray:
    """``[count, latent_dim]`` orthonormal rows, reproducible from ``seed`` (until PCA directions land)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((latent_dim, latent_dim)))
    return q[:, : min(count, latent_dim)].T.astype(np.float32)


def _torch_export(generator: torch.nn.Module, latent_dim: int) -> onnx.ModelProto:
    z = torch.zeros(2, latent_dim)
    pitch = torch.tensor([60, 64], dtype=torch.int64)
    velocity = torch.tensor([0.5, 0.8])
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but exact for this graph
        warnings.simplefilter("ignore")
        _export_to(generator, (z, pitch, velocity), buffer)
    return onnx.load_from_string(buffer.getvalue())


def _export_to(generator: torch.nn.Module, args: tuple, buffer: io.BytesIO) -> None:
    torch.onnx.export(
        generator, args, buffer, dynamo=False, opset_version=OPSET,
        input_names=[INPUT_LATENT, INPUT_PITCH, INPUT_VELOCITY], output_names=[OUTPUT_AUDIO],
        dynamic_axes={INPUT_LATENT: {0: "batch"}, INPUT_PITCH: {0: "batch"}, INPUT_VELOCITY: {0: "batch"},
                      OUTPUT_AUDIO: {0: "batch"}},
    )


def build_manifest(config: dict[str, Any], name: str, data_description: str, step: int,
                   directions: np.ndarray | None = None, spreads: np.ndarray | None = None,
                   palette: PaletteParts | None = None) -> Manifest:
    model = config["model"]
    if directions is None:
        directions = random_directions(model["latent_dim"], NUM_KNOBS, config["seed"])
        spreads = np.full(len(directions), 1.5)
    extra = {}
    if palette is not None:
        extra = {"instruments": palette.instruments, "encoder": palette.encoder,
                 "encoder_samples": palette.encoder_samples, "encoder_features": palette.encoder_features}
    return Manifest(**extra,
        name=name, sample_rate=model["sample_rate"], num_samples=model["num_samples"],
        latent_dim=model["latent_dim"], latent_prior="normal", pitch_conditioned=True,
        pitch_min=model["pitch_min"], pitch_max=model["pitch_max"], velocity_input=True,
        latent_directions=directions.round(6).tolist(), direction_spreads=[float(x) for x in spreads],
        architecture=config["architecture"], training_data=data_description,
        model_version=f"step {step}", exported_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        config_hash=config_hash(config),
    )


def variant_path(output: Path, variant: str) -> Path:
    """``my.onnx`` -> ``my.optimized.onnx``, ``my.batch8.onnx``."""
    return output.with_name(f"{output.stem}.{variant}{output.suffix or '.onnx'}")


def export_checkpoint(checkpoint: Path, output: Path, *, name: str | None = None, use_ema: bool = True,
                      tolerance: float = 1e-4, parity_batch: int = 8, pca_samples: int = 256,
                      optimize: bool = False, static_batches: tuple[int, ...] = (),
                      fp16: bool = False, data: Path | None = None) -> ExportReport:
    """Export ``checkpoint`` to ``output``; raise :class:`ModelError` if parity fails.

    ``pca_samples`` latents are used to find the knob directions by PCA (0: seeded random directions).
    ``optimize``, ``static_batches`` and ``fp16`` also write those variants beside ``output``
    (:func:`variant_path`), each checked against the float32 torch model like the main file
    (fp16 within ``FP16_TOLERANCE``). A palette checkpoint (one with an encoder) also gets its
    instruments, knobs through them and the encoder (:mod:`export.palette`), from the training
    notes in ``data`` (default: the folder its config names).
    """
    state = load_checkpoint(Path(checkpoint))
    config = state["config"]
    generator = build_generator(config)
    generator.load_state_dict(state["ema" if use_ema else "generator"])
    generator.eval()
    model = config["model"]
    proto = _torch_export(generator, model["latent_dim"])
    found = palette = None
    if "encoder" in state:
        palette = palette_parts(state, data, NUM_KNOBS, generator)
        directions, spreads, variance = palette.directions, palette.spreads, palette.explained_variance
    elif pca_samples > 0:
        found = pca_directions(generator, model["latent_dim"], model["sample_rate"],
                               (model["pitch_min"], model["pitch_max"]), NUM_KNOBS, pca_samples, config["seed"])
        directions, spreads, variance = found.vectors, found.spreads, found.explained_variance
    else:
        directions = spreads = variance = None
    manifest = build_manifest(config, name or Path(output).stem, state.get("data", ""), state["step"],
                              directions, spreads, palette)
    for key, value in manifest.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    output = Path(output)
    written = [_write_checked(stamp(proto, "fp32"), output, generator, tolerance, parity_batch, config["seed"], "fp32")]
    if optimize:
        variant = optimized(proto)
        written.append(_write_checked(stamp(variant, "optimized"), variant_path(output, "optimized"), generator,
                                      tolerance, parity_batch, config["seed"], "optimized"))
    if fp16:
        written.append(_write_checked(stamp(_half_precision_export(generator, proto, model["latent_dim"]), "fp16"),
                                      variant_path(output, "fp16"), generator, max(tolerance, FP16_TOLERANCE),
                                      parity_batch, config["seed"], "fp16"))
    for batch in static_batches:
        variant = static_batch(proto, batch)
        written.append(_write_checked(stamp(variant, f"batch{batch}"), variant_path(output, f"batch{batch}"),
                                      generator, tolerance, parity_batch, config["seed"], f"batch{batch}"))
    main = written[0]
    shares = [float(v) for v in variance] if variance is not None else []
    names = [item["name"] for item in palette.instruments] if palette else []
    return ExportReport(output, main.max_abs_error, parity_batch, main.size_bytes, shares, written, names)


def _half_precision_export(generator: torch.nn.Module, proto: onnx.ModelProto, latent_dim: int) -> onnx.ModelProto:
    """The generator with its network in float16 (``half_precision_modules``; the synthesiser and
    the inputs and output stay float32, so the contract holds), exported with ``proto``'s manifest."""
    half = copy.deepcopy(generator)
    for module in half.half_precision_modules():
        module.half()
    result = _torch_export(half, latent_dim)
    for prop in proto.metadata_props:
        entry = result.metadata_props.add()
        entry.key, entry.value = prop.key, prop.value
    onnx.checker.check_model(result)
    return result


def _write_checked(proto: onnx.ModelProto, output: Path, generator: torch.nn.Module, tolerance: float,
                   parity_batch: int, seed: int, variant: str) -> VariantReport:
    """Write ``proto`` to a temporary file, check it against torch, then rename it to ``output``."""
    with atomic_file(output, failures=(OSError, ValueError)) as tmp:
        onnx.save(proto, tmp)  # a full disk or read-only folder: one sentence, nothing published
        error = parity_error(generator, GeneratorModel.load(tmp, device="cpu"), parity_batch, seed)
        if error > tolerance:
            raise ModelError(f"ONNX output ({variant}) differs from torch by {error:.2e} (limit {tolerance:.0e}); "
                             f"{output} was not written")
    metadata = {p.key: p.value for p in proto.metadata_props}
    return VariantReport(variant, output, error, output.stat().st_size, metadata["weights_sha256"])


@torch.no_grad()
def parity_error(generator: torch.nn.Module, plugin: GeneratorModel, batch: int, seed: int) -> float:
    """Max abs difference between torch and onnxruntime on ``batch`` notes spread over the pitch range."""
    m = plugin.manifest
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, m.latent_dim)).astype(np.float32)
    pitch = np.linspace(m.pitch_min, m.pitch_max, batch).round().astype(np.int64)
    velocity = rng.uniform(0.1, 1.0, batch).astype(np.float32)
    expected = generator(torch.from_numpy(z), torch.from_numpy(pitch), torch.from_numpy(velocity)).numpy()
    got = plugin.generate(z, pitch, velocity)
    return float(np.abs(expected - got).max())
