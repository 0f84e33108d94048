"""Record a reverse-process run once, so that a viewer can scrub through it without recomputing."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .samplers import Step, denoise_steps
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
    eps_cond: torch.Tensor | None = None  # (F, B, …) conditional ε, when classifier-free guidance computed it
    eps_uncond: torch.Tensor | None = None  # (F, B, …) unconditional / unguided ε, when guidance computed it
    clipped: torch.Tensor | None = None  # (F, B) share of x̂_0 values clipping changed (0 on the last frame); None: off
    clipped_mean: torch.Tensor | None = None  # (B,) that share averaged over EVERY step of the run, kept or not

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def final(self) -> torch.Tensor:
        return self.x_t[-1].float()


@dataclass
class RecordEvent:
    """One reverse step of a run being recorded; the last event also carries the whole `Trajectory`."""

    i: int  # steps done (1 … total)
    total: int  # steps in the run
    step: Step  # what the sampler yielded: t, x_t (the new sample), eps, x0
    trajectory: Trajectory | None = None  # the recording, on the last event only


class Recorder:
    """Keeps at most `max_frames` evenly spaced steps of a run of `total` steps (always the first and last), on the
    CPU in float16 to bound memory (200 frames of 16 Fashion images: about 15 MB). Feed it each `Step` in order."""

    def __init__(self, schedule: Schedule, x_T: torch.Tensor, total: int, label: str, max_frames: int = 200):
        self.schedule, self.total, self.label = schedule, total, label
        self.keep = set(np.linspace(1, total, min(max_frames, total)).round().astype(int).tolist())
        self.ts, self.frames = [], {"x_t": [], "eps": [], "x0": [], "eps_cond": [], "eps_uncond": []}
        self.x_in, self.i = x_T, 0
        self.clipped_kept, self.clipped_sum = [], None  # shares of the kept frames; the sum over all steps

    def add(self, step: Step) -> None:
        self.i += 1
        if self.i in self.keep:
            self.ts.append(step.t)
            for key, value in (("x_t", self.x_in), ("eps", step.eps), ("x0", step.x0),
                               ("eps_cond", step.eps_cond), ("eps_uncond", step.eps_uncond)):
                if value is not None:
                    self.frames[key].append(value.detach().to("cpu", torch.float16))
            if step.clipped is not None:
                self.clipped_kept.append(step.clipped.detach().to("cpu", torch.float32))
        if step.clipped is not None:
            share = step.clipped.detach().to("cpu", torch.float32)
            self.clipped_sum = share if self.clipped_sum is None else self.clipped_sum + share
        self.x_in = step.x_t

    def trajectory(self) -> Trajectory:
        """The recording, with the finished sample as its last frame."""
        final = self.x_in.detach().to("cpu", torch.float16)
        ts = self.ts + [-1]
        zero = torch.zeros_like(final)
        stacked = {key: torch.stack(kept + [zero]) if len(kept) == len(ts) - 1 else None
                   for key, kept in self.frames.items() if key not in ("x_t", "x0")}
        alpha_bar = [float(self.schedule.alphas_cumprod[t]) for t in ts[:-1]] + [1.0]
        clipped = clipped_mean = None
        if self.clipped_sum is not None and len(self.clipped_kept) == len(ts) - 1:
            clipped = torch.stack(self.clipped_kept + [torch.zeros(len(final))])
            clipped_mean = self.clipped_sum / self.i
        return Trajectory(ts, torch.stack(self.frames["x_t"] + [final]), stacked["eps"],
                          torch.stack(self.frames["x0"] + [final]), alpha_bar, self.label,
                          eps_cond=stacked["eps_cond"], eps_uncond=stacked["eps_uncond"], clipped=clipped,
                          clipped_mean=clipped_mean)


def run_label(sampler: str, total: int, eta: float) -> str:
    """How a recording names its sampler, e.g. "ddim-50, eta 0"."""
    return f"{sampler}-{total}" + (f", eta {eta:g}" if sampler == "ddim" else "")


def record_steps(model: Callable, schedule: Schedule, x_T: torch.Tensor, *, sampler: str = "ddim",
                 num_steps: int | None = None, eta: float = 0.0, y=None, guidance=None,
                 generator: torch.Generator | None = None, max_frames: int = 200,
                 clip_x0=True) -> Iterator[RecordEvent]:
    """Run `denoise_steps`, yielding a `RecordEvent` per step and keeping at most `max_frames` evenly spaced
    steps (always the first and last) for scrubbing. Closing the generator stops the run.
    clip_x0 as in `denoise_steps` (True, False, a bound B or a `DynamicThreshold`)."""
    steps = denoise_steps(model, schedule, x_T, sampler, num_steps, eta, y, guidance, generator, clip_x0)
    total = schedule.num_steps if sampler == "ddpm" else (num_steps or schedule.num_steps)
    recorder = Recorder(schedule, x_T, total, run_label(sampler, total, eta), max_frames)
    for i, step in enumerate(steps, start=1):
        recorder.add(step)
        if i < total:
            yield RecordEvent(i, total, step)
    yield RecordEvent(total, total, step, recorder.trajectory())


def record(model: Callable, schedule: Schedule, x_T: torch.Tensor, **kwargs) -> Trajectory:
    """Run `record_steps` to the end and return the `Trajectory` (keyword arguments as there)."""
    return deque(record_steps(model, schedule, x_T, **kwargs), maxlen=1)[0].trajectory


@torch.no_grad()
def score_field(model: Callable, schedule: Schedule, t: int, y=None, limit: float = 2.5, n: int = 17,
                device: torch.device | str = "cpu"):
    """The model's ε̂ on an n×n grid of 2D points at schedule index t, and the score it implies.

    Returns (grid (n², 2), eps (n², 2), score (n², 2)), with score = −ε̂ / √(1 − ᾱ_t) (Song et al. 2021,
    score-SDE: ∇ log p_t(x) ≈ −ε_θ(x, t) / σ_t): the direction in which the data density rises.
    """
    axis = torch.linspace(-limit, limit, n)
    grid = torch.cartesian_prod(axis, axis)  # (n², 2)
    t_batch = torch.full((len(grid),), t, dtype=torch.long, device=device)
    labels = None if y is None else torch.full((len(grid),), int(y), dtype=torch.long, device=device)
    eps = model(grid.to(device), t_batch, labels).cpu()
    score = -eps / float((1 - schedule.alphas_cumprod[t]).sqrt())
    return grid, eps, score
