"""Variants of an exported plugin, each a complete plugin file with its own manifest.

* ``optimized``: onnxruntime's offline graph optimisation (level "extended": constant folding,
  fusions) saved to disk, so the host skips that work at every start. It targets the CPU
  execution provider and may hold onnxruntime-only fused operators, which is fine: onnxruntime
  is this project's runtime.
* ``batch N`` (static shape): the batch dimension fixed to N. onnxruntime can plan every buffer
  once; the host splits or pads calls to N (:meth:`synth.plugin.model.GeneratorModel.generate`).

Every variant records ``variant``, ``weights_sha256`` (the graph without its metadata, so the
hash names the weights and operators, not the export date) and ``weights_bytes`` in its manifest.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import onnx

from synth.plugin.contract import INPUT_LATENT, INPUT_PITCH, INPUT_VELOCITY, OUTPUT_AUDIO

VARIANT_KEY, HASH_KEY, BYTES_KEY = "variant", "weights_sha256", "weights_bytes"


def graph_fingerprint(proto: onnx.ModelProto) -> tuple[str, int]:
    """sha256 and size of the serialised graph (nodes and weights, not the manifest)."""
    data = proto.graph.SerializeToString(deterministic=True)
    return hashlib.sha256(data).hexdigest(), len(data)


def stamp(proto: onnx.ModelProto, variant: str) -> onnx.ModelProto:
    """Record the variant name and the graph's fingerprint in the manifest (metadata_props)."""
    digest, size = graph_fingerprint(proto)
    values = {VARIANT_KEY: variant, HASH_KEY: digest, BYTES_KEY: str(size)}
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key not in values]
    del proto.metadata_props[:]
    for key, value in [*kept, *values.items()]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto


def _copy_metadata(source: onnx.ModelProto, target: onnx.ModelProto) -> None:
    del target.metadata_props[:]
    for prop in source.metadata_props:
        entry = target.metadata_props.add()
        entry.key, entry.value = prop.key, prop.value


def optimized(proto: onnx.ModelProto) -> onnx.ModelProto:
    """onnxruntime's extended offline optimisation of ``proto`` for the CPU provider."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        onnx.save(proto, source)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(target)
        options.log_severity_level = 3
        ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
        result = onnx.load(target)
    _copy_metadata(proto, result)  # the manifest travels with the graph, whatever the optimiser keeps
    return result


def static_batch(proto: onnx.ModelProto, batch: int) -> onnx.ModelProto:
    """``proto`` with the batch dimension of every input and the output fixed to ``batch``."""
    result = onnx.ModelProto()
    result.CopyFrom(proto)
    for value in [*result.graph.input, *result.graph.output]:
        if value.name in (INPUT_LATENT, INPUT_PITCH, INPUT_VELOCITY, OUTPUT_AUDIO):
            dim = value.type.tensor_type.shape.dim[0]
            dim.Clear()
            dim.dim_value = batch
    return onnx.shape_inference.infer_shapes(result)
