"""Adversarial losses and penalties.

``nonsaturating`` is the seed's minimax loss in its usual form: D maximises
log D(x) + log(1 - D(G(z))), G maximises log D(G(z)). ``hinge`` is the margin
form; ``wgan-gp`` is the Wasserstein critic (WaveGAN's choice) whose Lipschitz
bound comes from :func:`gradient_penalty`. :func:`r1_penalty` (gradient norm on
real data) can be added to any of them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from synth.errors import ConfigError

GAN_LOSSES = ("nonsaturating", "hinge", "wgan-gp")

Outputs = list[tuple[torch.Tensor, list[torch.Tensor]]]


def discriminator_loss(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    if kind == "nonsaturating":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "wgan-gp":
        return fake_logits.mean() - real_logits.mean()
    raise ConfigError(f"unknown GAN loss {kind!r}", hint=f"choose one of: {', '.join(GAN_LOSSES)}")


def generator_loss(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    if kind in ("hinge", "wgan-gp"):
        return -fake_logits.mean()
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()
    raise ConfigError(f"unknown GAN loss {kind!r}", hint=f"choose one of: {', '.join(GAN_LOSSES)}")


def feature_matching(real_features: list[torch.Tensor], fake_features: list[torch.Tensor]) -> torch.Tensor:
    total = real_features[0].new_zeros(())
    for r, f in zip(real_features, fake_features):
        total = total + F.l1_loss(f, r.detach())
    return total / max(len(real_features), 1)


def _input_gradients(discriminator: Callable[..., Outputs], audio: torch.Tensor,
                     pitch: torch.Tensor) -> list[torch.Tensor]:
    """d(logits)/d(audio) for each of the discriminator's outputs, kept differentiable."""
    outputs = discriminator(audio, pitch)
    return [torch.autograd.grad(logits.sum(), audio, create_graph=True, retain_graph=True)[0]
            for logits, _ in outputs]


def gradient_penalty(discriminator: Callable[..., Outputs], real: torch.Tensor, fake: torch.Tensor,
                     pitch: torch.Tensor) -> torch.Tensor:
    """WGAN-GP: (|grad D| - 1)^2 at random points between real and generated notes."""
    alpha = torch.rand(real.shape[0], 1, device=real.device)
    mixed = (alpha * real + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    grads = _input_gradients(discriminator, mixed, pitch)
    return sum(((g.flatten(1).norm(dim=1) - 1.0) ** 2).mean() for g in grads) / len(grads)


def r1_penalty(discriminator: Callable[..., Outputs], real: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): |grad D(real)|^2; the caller scales it by gamma / 2."""
    grads = _input_gradients(discriminator, real.detach().requires_grad_(True), pitch)
    return sum(g.flatten(1).pow(2).sum(dim=1).mean() for g in grads) / len(grads)
