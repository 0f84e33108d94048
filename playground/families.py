"""The model families, in one explicit registry, and the protocol a family follows.

A family is a config dataclass (a *spec*) saved in every checkpoint card. The one training loop
(`playground.train`), the checkpoints and the pages rely only on what the protocol below names; nothing
outside a family's own module reads its network internals (a UNet's channels, a GAN's latent size).

Every family module is imported here, once, at the top: there is no lazy import and no import circle
(`checkpoints` imports this module; no family imports `checkpoints`).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from .autoencoders import AutoencoderSpec
from .clip import CLIPSpec
from .dalle import DalleSpec
from .diffusion.classifier import NoisyClassifierSpec
from .diffusion.ddpm import DiffusionSpec
from .diffusion.text import TextDiffusionSpec
from .flows import FlowMatchingSpec, RealNVPSpec
from .gan import GANSpec
from .latent import KLAutoencoderSpec
from .metrics import ClassifierSpec
from .unclip import UnCLIPSpec
from .prior import TokenPriorSpec
from .vq import VQSpec


@runtime_checkable
class Family(Protocol):
    """What every spec has. `sample_shape` is the shape of one sample the model makes ((C, H, W) for images,
    (2,) for 2D points, (grid, grid) for token grids), or None for a model that makes none (a classifier)."""

    family: str  # the checkpoint family tag, a key of FAMILIES
    batch_size: int  # examples per training step
    lr: float  # learning rate
    ema_decay: float  # decay of the weights' moving average (0: none)
    grad_clip: float  # clip the gradient norm to this (0: no clipping)

    def to_dict(self) -> dict: ...  # the card's "spec" entry; FAMILIES[family](**to_dict()) rebuilds the spec

    def build(self) -> torch.nn.Module: ...  # a fresh network

    @property
    def sample_shape(self) -> tuple[int, ...] | None: ...


@runtime_checkable
class LossFamily(Family, Protocol):
    """A family trained with one loss and one Adam optimizer: the loop does backward, clipping and the step."""

    def loss(self, model, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict]: ...


@runtime_checkable
class SteppedFamily(Family, Protocol):
    """A family whose step is not one loss and one optimizer (a GAN: alternating D and G updates). It makes
    its optimizers and does its own backward passes and updates in `train_step`; the loop still draws the
    batches, averages the weights, checks the loss, and reports."""

    def optimizers(self, model) -> list[torch.optim.Optimizer]: ...

    def train_step(self, model, optimizers, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple: ...


@runtime_checkable
class Previewing(Protocol):
    """Optional: a few samples for the live preview of a training run."""

    def preview(self, model, n: int, generator: torch.Generator) -> torch.Tensor: ...


@runtime_checkable
class Conditional(Protocol):
    """Optional: a model that takes a condition y (a class label today; token states or an embedding later).
    `null_condition(n, device)` is the unconditional input for n examples, used by classifier-free guidance."""

    def null_condition(self, n: int, device: torch.device | str = "cpu"): ...


@runtime_checkable
class Pretrained(Protocol):
    """Optional: a model with frozen parts taken from other checkpoints (a text encoder, a first stage).
    `pretrained()` maps a submodule's name to (checkpoint, the part of that checkpoint's model, "" for all of
    it); the training loop loads them into a fresh model before the first step. A saved checkpoint holds
    every part's weights, so loading it needs nothing else."""

    def pretrained(self) -> dict[str, tuple[str, str]]: ...


FAMILIES: dict[str, type] = {spec.family: spec for spec in (
    DiffusionSpec, AutoencoderSpec, GANSpec, ClassifierSpec, NoisyClassifierSpec, VQSpec, TokenPriorSpec, CLIPSpec,
    KLAutoencoderSpec, TextDiffusionSpec, DalleSpec, UnCLIPSpec, RealNVPSpec, FlowMatchingSpec)}
for _spec in FAMILIES.values():
    assert isinstance(_spec(), Family), _spec


def spec_from_card(card: dict):
    """Rebuild the spec saved in a checkpoint card."""
    if card.get("family") not in FAMILIES:
        raise ValueError(f"checkpoint {card.get('name')!r} has unknown family {card.get('family')!r}; "
                         f"known: {', '.join(FAMILIES)}")
    return FAMILIES[card["family"]](**card["spec"])


def modality(sample_shape: tuple[int, ...] | None) -> str | None:
    """"image" for (C, H, W), "points" for (2,), "embedding" for another vector (a CLIP embedding), "tokens" for
    (grid, grid), None for a model without samples."""
    if sample_shape is None:
        return None
    if len(sample_shape) == 1:
        return "points" if sample_shape == (2,) else "embedding"
    return {2: "tokens", 3: "image"}[len(sample_shape)]
