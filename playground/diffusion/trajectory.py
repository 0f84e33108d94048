"""Record a reverse-process run once, so that a viewer can scrub through it without recomputing."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .samplers import denoise_steps
from .schedules import Schedule


@dataclass
class Trajectory:
    """Recorded steps of one sampling run, plus the final sample as the last frame.

    Frame k < len − 1 is a reverse step at schedule index ts[k]: the model looked at x_t[k]
    (noise level ᾱ = alpha_bar[k]) and predicted eps[k] and x̂_0 = x0[k]. The last frame is the
    finished sample (ts = −1, ᾱ = 1, eps = 0, x0 = the sample).
    """

    ts: list[int]  # schedule index of each frame's step (−1 for the finished sample)
    x_t: torch.Tensor  # (F, B, …) the sample the model looked at
    eps: torch.Tensor  # (F, B, …) predicted noise (after guidance)
    x0: torch.Tensor  # (F, B, …) predicted clean sample x̂_0
    alpha_bar: list[float]  # ᾱ_t of each frame
    sampler: str  # e.g. "ddim-50, eta 0"
    stopped_early: bool = False  # the run was cancelled before the end
    eps_cond: torch.Tensor | None = None  # (F, B, …) conditional ε, when classifier-free guidance computed it
    eps_uncond: torch.Tensor | None = None  # (F, B, …) unconditional / unguided ε, when guidance computed it

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def final(self) -> torch.Tensor:
        return self.x_t[-1].float()


def record(model: Callable, schedule: Schedule, x_T: torch.Tensor, *, sampler: str = "ddim", num_steps: int | None = None,
           eta: float = 0.0, y=None, guidance=None, generator: torch.Generator | None = None, max_frames: int = 200,
           on_step: Callable | None = None, should_stop: Callable[[], bool] | None = None) -> Trajectory:
    """Run `denoise_steps`, keeping at most `max_frames` evenly spaced steps (always the first and last).

    on_step(i, total, step) is called after every step (live views); should_stop() ends the run early.
    Frames are kept in float16 to bound memory (200 frames of 16 Fashion images: about 15 MB).
    """
    steps = denoise_steps(model, schedule, x_T, sampler, num_steps, eta, y, guidance, generator)
    total = schedule.num_steps if sampler == "ddpm" else (num_steps or schedule.num_steps)
    keep = set(np.linspace(1, total, min(max_frames, total)).round().astype(int).tolist())
    ts, xs, epss, x0s = [], [], [], []
    extras = {"eps_cond": [], "eps_uncond": []}  # kept when guidance reports them
    x_in, stopped = x_T, False
    for i, step in enumerate(steps, start=1):
        if i in keep:
            ts.append(step.t)
            xs.append(x_in.half())
            epss.append(step.eps.half())
            x0s.append(step.x0.half())
            for key, kept in extras.items():
                if getattr(step, key) is not None:
                    kept.append(getattr(step, key).half())
        x_in = step.x_t
        if on_step is not None:
            on_step(i, total, step)
        if should_stop is not None and should_stop() and i < total:
            stopped = True
            break
    ts.append(-1)
    xs.append(x_in.half())
    epss.append(torch.zeros_like(x_in).half())
    x0s.append(x_in.half())
    alpha_bar = [float(schedule.alphas_cumprod[t]) for t in ts[:-1]] + [1.0]
    label = f"{sampler}-{total}" + (f", eta {eta:g}" if sampler == "ddim" else "")
    extras = {key: torch.stack(kept + [torch.zeros_like(x_in).half()]) if len(kept) == len(ts) - 1 else None
              for key, kept in extras.items()}
    return Trajectory(ts, torch.stack(xs), torch.stack(epss), torch.stack(x0s), alpha_bar, label, stopped, **extras)


@torch.no_grad()
def score_field(model: Callable, schedule: Schedule, t: int, y=None, limit: float = 2.5, n: int = 17):
    """The model's ε̂ on an n×n grid of 2D points at schedule index t, and the score it implies.

    Returns (grid (n², 2), eps (n², 2), score (n², 2)), with score = −ε̂ / √(1 − ᾱ_t) (Song et al. 2021,
    score-SDE: ∇ log p_t(x) ≈ −ε_θ(x, t) / σ_t): the direction in which the data density rises.
    """
    axis = torch.linspace(-limit, limit, n)
    grid = torch.cartesian_prod(axis, axis)  # (n², 2)
    t_batch = torch.full((len(grid),), t, dtype=torch.long)
    labels = None if y is None else torch.full((len(grid),), int(y), dtype=torch.long)
    eps = model(grid, t_batch, labels)
    score = -eps / float((1 - schedule.alphas_cumprod[t]).sqrt())
    return grid, eps, score
