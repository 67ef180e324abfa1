"""Adversarial losses. ``nonsaturating`` is the seed's minimax loss in its usual
form: D maximises log D(x) + log(1 - D(G(z))), G maximises log D(G(z))."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def discriminator_loss(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    if kind == "nonsaturating":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    raise ValueError(f"unknown GAN loss {kind!r}; known: hinge, nonsaturating")


def generator_loss(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    if kind == "hinge":
        return -fake_logits.mean()
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()
    raise ValueError(f"unknown GAN loss {kind!r}; known: hinge, nonsaturating")


def feature_matching(real_features: list[torch.Tensor], fake_features: list[torch.Tensor]) -> torch.Tensor:
    total = real_features[0].new_zeros(())
    for r, f in zip(real_features, fake_features):
        total = total + F.l1_loss(f, r.detach())
    return total / max(len(real_features), 1)
