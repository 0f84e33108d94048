"""Measuring reverse-process samples: sample a batch to the end, check that DDIM with η = 0 is deterministic, and
score a batch (2D: distance to fresh data; images: the metric classifier). /reverse compares samplers and
schedules with these; a notebook can too:

    >>> m = checkpoints.load("ddpm-moons-cosine")
    >>> x, seconds = final_sample(m.model, m.schedule, m.noise(500, 0), sampler="ddim", num_steps=20)
    >>> sample_quality(x, modality=m.modality, dataset=m.dataset)
"""
from __future__ import annotations

import time
from collections.abc import Callable

import torch

from .. import data
from ..metrics import class_fidelity, features_and_probs, sliced_wasserstein
from .schedules import Schedule
from .trajectory import record

SWD = "sliced Wasserstein to fresh data (lower is better)"
ACCURACY = "classifier accuracy on the requested class"
CONFIDENCE = "mean confidence"


def final_sample(model: Callable, schedule: Schedule, x_T: torch.Tensor, *, sampler: str = "ddim",
                 num_steps: int | None = None, eta: float = 0.0, y=None, seed: int = 0) -> tuple[torch.Tensor, float]:
    """The finished sample (on the CPU) of one run from x_T, and the seconds it took; `seed` seeds the sampler's
    own noise (DDPM, DDIM with η > 0)."""
    began = time.perf_counter()
    trajectory = record(model, schedule, x_T, sampler=sampler, num_steps=num_steps, eta=eta, y=y,
                        generator=torch.Generator().manual_seed(seed), max_frames=1)
    return trajectory.final, time.perf_counter() - began


def ddim_determinism_gap(model: Callable, schedule: Schedule, x_T: torch.Tensor, *, y=None, seed: int = 0,
                         num_steps: int = 20) -> float:
    """Largest difference between two DDIM runs with η = 0 from the same x_T but different sampler seeds.

    With η = 0 every σ_t is 0 (Song et al. 2021, eq. 16), so eq. 12 adds no noise: x_0 is a function of x_T
    alone and the gap is 0.
    """
    a, _ = final_sample(model, schedule, x_T, sampler="ddim", num_steps=num_steps, y=y, seed=seed)
    b, _ = final_sample(model, schedule, x_T, sampler="ddim", num_steps=num_steps, y=y, seed=seed + 1)
    return float((a - b).abs().max())


def sample_quality(samples: torch.Tensor, *, modality: str, dataset: str | None, labels: torch.Tensor | None = None,
                   classifier=None) -> dict[str, float]:
    """A batch's quality figures, named for a table.

    points: the sliced Wasserstein distance (Rabin et al. 2011) to as many fresh points of `dataset`.
    image: the share of samples `classifier` assigns to the requested `labels`, and its mean probability for
    them; {} without a classifier or labels.
    """
    samples = samples.detach().float().cpu()
    if modality == "points":
        fresh = data.load_toy2d(dataset, "test", n=len(samples), seed=1).x
        return {SWD: sliced_wasserstein(samples, fresh)}
    if classifier is None or labels is None:
        return {}
    _, probs = features_and_probs(classifier, samples)
    fidelity = class_fidelity(probs, labels.cpu().numpy())
    return {ACCURACY: fidelity["accuracy"], CONFIDENCE: fidelity["confidence"]}
