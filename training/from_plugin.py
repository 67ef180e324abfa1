"""A new run from an exported plugin's weights (``synth train --init-from MODEL.onnx``).

Runs live in ``runs/``, which no commit carries: a fresh checkout has the built-in model but not
the run that made it, and rebuilding that run (``make default-model``) takes hours. The plugin
keeps what fine-tuning needs most: the EMA generator's weights under their torch names (the
graph's initializers; its other constants are buffers the config rebuilds) and the encoder's, in
the base64 ONNX graph the plugin carries for ``synth preset from-sample`` (named ``encoder.*``
there). Loaded into the generator the config builds, they play the plugin's notes (within 3e-5 of
onnxruntime's, ``tests/test_training.py``). The discriminators are not in a plugin: they start new,
and so do the optimisers and the step count, as with any ``--init-from``.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import torch

from synth.errors import DataError
from training.models import build_generator
from training.train import build_encoder

CONSTANT_PREFIX = "onnx::"  # folded constants (the config's buffers), not weights


def plugin_checkpoint(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The weights of plugin ``path`` as a checkpoint for :func:`training.warm_start.warm_start`,
    for a run of ``config``; a plugin whose generator does not fit ``config``'s model is refused in
    one sentence (warm-starting it would leave the parts that do not fit at random)."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001  OSError, or protobuf's own DecodeError for a file that is not one
        raise DataError(f"{path} is not an ONNX model",
                        hint="give a plugin written by `synth export`, or a run's checkpoint.pt") from None

    def weights(model: Any, prefix: str = "") -> dict[str, torch.Tensor]:
        return {tensor.name.removeprefix(prefix): torch.from_numpy(numpy_helper.to_array(tensor).copy())
                for tensor in model.initializer if not tensor.name.startswith(CONSTANT_PREFIX)}

    generator = _with_buffers(path, "generator", build_generator(config), weights(graph.graph))
    state: dict[str, Any] = {"config": config, "step": 0, "generator": generator, "ema": generator,
                             "discriminator": {}}
    encoded = {entry.key: entry.value for entry in graph.metadata_props}.get("encoder")
    encoder = build_encoder(config)
    if encoded and encoder is not None:
        try:
            encoder_graph = onnx.load_from_string(base64.b64decode(encoded, validate=True))
        except Exception:  # noqa: BLE001  not base64 (binascii), or protobuf's DecodeError
            raise DataError(f"{path} carries an encoder that is not base64 ONNX",
                            hint="export the model again with `synth export`") from None
        state["encoder"] = _with_buffers(path, "encoder", encoder, weights(encoder_graph.graph, "encoder."))
    return state


def _with_buffers(path: Path, part: str, module: torch.nn.Module,
                  tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``tensors`` with ``module``'s buffers (sine tables, filterbanks: the config's, as the plugin's
    were), once every learnable tensor of ``module`` is found among them with its shape."""
    learnable = dict(module.named_parameters())
    for name, parameter in learnable.items():
        theirs = tensors.get(name)
        if theirs is None or tuple(theirs.shape) != tuple(parameter.shape):
            found = "missing" if theirs is None else f"{list(theirs.shape)}"
            raise DataError(f"{path}'s {part} does not fit this run's model: {name} is {found} there, "
                            f"{list(parameter.shape)} here",
                            hint="use the [model] and [encoder] settings the plugin was trained with")
    return {**{name: value for name, value in module.state_dict().items() if name not in learnable}, **tensors}
