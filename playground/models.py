"""A loaded model and the facts about it that pages, the CLI and notebooks need.

`checkpoints.load(NAME)` returns a `Loaded`; a model trained in a session is wrapped in one too
(`Loaded.trained(...)`), so a page treats a shipped and a user's model alike:

    >>> m = checkpoints.load("ddpm-fashion-cosine")
    >>> x_T = m.noise(16, seed=0)                       # (16, 1, 28, 28) on m.device
    >>> x = sample(m.model, m.schedule, x_T, "ddim", 50, y=m.labels(16, 3))
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch

from . import data
from .diffusion import Schedule, make_schedule
from .families import Conditional, modality


@dataclass(eq=False)
class Loaded:
    """A network with its spec and card, on the device it runs on."""

    name: str  # checkpoint name, or "user:ID" for a model trained in a session
    model: torch.nn.Module  # the network, in eval mode, on `device`
    spec: object  # its family spec (see families.Family)
    card: dict = field(default_factory=dict)  # the checkpoint card ({} for a model trained in a session)
    label: str = ""  # how a menu shows it

    @classmethod
    def trained(cls, model: torch.nn.Module, spec, dataset: str, label: str, model_id: str, **card) -> "Loaded":
        """A model a user trained in this session (never written to assets/)."""
        return cls(f"user:{model_id}", model.eval(), spec, {"dataset": dataset, "family": spec.family, **card}, label)

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def device(self) -> torch.device:
        first = next(iter(self.model.parameters()), None)
        return first.device if first is not None else torch.device("cpu")

    @property
    def dataset(self) -> str | None:
        """The playground.data name it was trained on."""
        return self.card.get("dataset")

    @functools.cached_property
    def schedule(self) -> Schedule | None:
        """The noise schedule it was trained with (cached), or None for a family without one."""
        kind, steps = getattr(self.spec, "schedule", None), getattr(self.spec, "num_steps", None)
        return make_schedule(kind, steps) if isinstance(kind, str) else None

    @property
    def sample_shape(self) -> tuple[int, ...] | None:
        """Shape of one sample: (C, H, W), (2,) or (grid, grid); None for a classifier."""
        return self.spec.sample_shape

    @property
    def modality(self) -> str | None:
        """"image", "points", "tokens" or None."""
        return modality(self.sample_shape)

    @property
    def num_classes(self) -> int | None:
        """How many class labels it is conditioned on (None: unconditional)."""
        return getattr(self.spec, "num_classes", None)

    @property
    def class_names(self) -> list[str] | None:
        """The names of its classes, or None for an unconditional model."""
        if not self.num_classes:
            return None
        names = data.class_names(self.dataset) if self.dataset else []
        return names if len(names) == self.num_classes else [f"class {k}" for k in range(self.num_classes)]

    def null_condition(self, n: int):
        """The unconditional input for n examples (classifier-free guidance), or None for an unconditional model."""
        return self.spec.null_condition(n, self.device) if isinstance(self.spec, Conditional) else None

    def noise(self, n: int, seed: int) -> torch.Tensor:
        """x_T ~ N(0, I) for n samples, drawn on the CPU from `seed` (the same on every device), then moved."""
        return torch.randn((n, *self.sample_shape), generator=torch.Generator().manual_seed(seed)).to(self.device)

    def labels(self, n: int, label: int | None) -> torch.Tensor | None:
        """Labels for n samples: all `label`, or, with label None, every class in turn (None if unconditional)."""
        if not self.num_classes:
            return None
        if label is None:
            return torch.arange(n, device=self.device) % self.num_classes
        return torch.full((n,), int(label), dtype=torch.long, device=self.device)
