"""A new run from another run's weights, where they fit (``synth train --init-from CHECKPOINT``).

A change of the harmonic generator's noise bank (``model.num_noise_bands``) need not start from
random weights: when the new count is a multiple of the old, each old band is the union of that
many new ones (both are log-spaced from 40 Hz to Nyquist), so each new band starts with its old
band's control, lowered so the bands' unit-RMS noises sum to the old band's level. The rest of
the generator, the encoder and the discriminators carry over tensor by tensor where the shapes
match. Optimisers, the step count and random state start afresh: it is a new run.
"""

from __future__ import annotations

import math
from typing import Any

import torch

HEAD = ("head.weight", "head.bias")


def split_noise_rows(old: torch.Tensor, harmonics: int, old_bands: int, new_bands: int,
                     bias: bool) -> torch.Tensor:
    """The generator head's ``old`` weight or bias with each noise row repeated ``new_bands /
    old_bands`` times. A bias is lowered too: ``r`` unit-RMS bands at gain ``g / sqrt(r)`` sound
    as loud as one at ``g``, and ``scaled_sigmoid(x) ~ 2 exp(x ln 10)`` where the gains are small,
    so ``x - ln(r) / (2 ln 10)`` divides the gain by ``sqrt(r)``."""
    ratio = new_bands // old_bands
    start, stop = 1 + harmonics, 1 + harmonics + old_bands
    noise = old[start:stop].repeat_interleave(ratio, dim=0)
    if bias:
        noise = noise - math.log(ratio) / (2.0 * math.log(10.0))
    return torch.cat([old[:start], noise, old[stop:]], dim=0)


def carry(module: torch.nn.Module, old: dict[str, torch.Tensor], adapt=None) -> list[str]:
    """Load into ``module`` every tensor of ``old`` whose name and shape fit (``adapt(name, tensor)``
    may reshape one first); the names left at their new values are returned."""
    mine = module.state_dict()
    left = []
    for name, value in mine.items():
        theirs = old.get(name)
        if theirs is not None and adapt is not None:
            theirs = adapt(name, theirs)
        if theirs is not None and theirs.shape == value.shape:
            mine[name] = theirs.to(value.dtype)
        else:
            left.append(name)
    module.load_state_dict(mine)
    return left


def warm_start(trainer: Any, state: dict[str, Any]) -> list[str]:
    """Copy ``state``'s weights into ``trainer`` (a fresh :class:`training.train.Trainer`) where
    they fit; returns what stays new, as ``module.tensor`` names. The noise bank itself is rebuilt
    from the config, so it is never carried."""
    old_model, new_model = state["config"]["model"], trainer.config["model"]
    harmonics, old_bands = old_model.get("num_harmonics"), old_model.get("num_noise_bands")
    new_bands = new_model.get("num_noise_bands")

    def adapt(name: str, tensor: torch.Tensor) -> torch.Tensor:
        if (name in HEAD and harmonics == new_model.get("num_harmonics") and old_bands and new_bands
                and new_bands != old_bands and new_bands % old_bands == 0):
            return split_noise_rows(tensor, harmonics, old_bands, new_bands, bias=name == "head.bias")
        return tensor

    left = []
    pairs = [("generator", trainer.generator, "generator", adapt), ("ema", trainer.ema, "ema", adapt),
             ("discriminator", trainer.discriminator, "discriminator", None)]
    if trainer.encoder is not None and "encoder" in state:
        pairs.append(("encoder", trainer.encoder, "encoder", None))
    if trainer.control_discriminator is not None and "control_discriminator" in state:
        pairs.append(("control_discriminator", trainer.control_discriminator, "control_discriminator", None))
    for label, module, key, fit in pairs:
        left += [f"{label}.{name}" for name in carry(module, state[key], fit)
                 if not name.startswith("noise_")]  # the bank and its segments: from the config
    return left
