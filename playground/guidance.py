"""Guidance experiments: a grid of scales × seeds for one class, and the trade-off between fidelity and
diversity measured from generated samples.

Both methods are guidance objects handed to the one sampler (`diffusion.samplers`):
- classifier-free (Ho & Salimans 2022): ε̃ = ε_uncond + w (ε_cond − ε_uncond); w = 1 is the plain conditional model;
- classifier guidance (Dhariwal & Nichol 2021): ε̂ = ε_uncond − s √(1 − ᾱ_t) ∇_x log p_φ(y | x_t); s = 0 is unguided.

A grid is ONE batched sampling run: batch index = row · seeds + column, with the scale given per example,
so every cell of a column starts from the same x_T and the rows differ only in their scale.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .data import Dataset
from . import flows
from .devices import device_of
from .diffusion.samplers import ClassifierFree, ClassifierGuidance, denoise_steps
from .diffusion.schedules import Schedule
from .diffusion.trajectory import RecordEvent, Trajectory, record_steps
from .metrics import class_fidelity, diversity, features_and_probs, frechet_distance, sliced_wasserstein

METHODS = {"cfg": "classifier-free guidance", "classifier": "classifier guidance"}
MAX_SCALES = 9  # rows of a grid
MAX_SEEDS = 8  # columns of a grid
MAX_ABS_SCALE = 100.0  # larger scales only saturate; refusing them keeps a request bounded and meaningful
NEUTRAL = {"cfg": 1.0, "classifier": 0.0}  # the scale at which each method is the plain model
SCALE_NAMES = {"cfg": "w", "classifier": "s"}  # each method's scale as its paper names it


def check_scales(scales: Sequence[float]) -> list[float]:
    """A list of 1 … MAX_SCALES finite scales, each within ±MAX_ABS_SCALE."""
    scales = list(scales)
    if not 1 <= len(scales) <= MAX_SCALES:
        raise ValueError(f"give 1 to {MAX_SCALES} guidance scales, got {len(scales)}")
    for s in scales:
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or abs(s) > MAX_ABS_SCALE:
            raise ValueError(f"every guidance scale must be a finite number within ±{MAX_ABS_SCALE:g}, got {s!r}")
    return [float(s) for s in scales]


def make_guidance(method: str, scale: float | torch.Tensor, classifier: Callable | None = None):
    """The guidance object of `method` ("cfg" or "classifier") at `scale` (a number or one per example)."""
    if method == "cfg":
        return ClassifierFree(scale)
    if method == "classifier":
        if classifier is None:
            raise ValueError("classifier guidance needs a noise-aware classifier p(y | x_t, t)")
        return ClassifierGuidance(classifier, scale)
    raise ValueError(f"unknown guidance method {method!r}; choose one of {', '.join(METHODS)}")


def column_noise(shape: tuple[int, ...], seeds: Sequence[int]) -> torch.Tensor:
    """x_T for each seed, (len(seeds), *shape): seed k always gives the same starting noise."""
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


def grid_steps(model: Callable, schedule: Schedule, shape: tuple[int, ...], label: int, scales: Sequence[float],
               seeds: Sequence[int], method: str, classifier: Callable | None = None, *, sampler: str = "ddim",
               num_steps: int | None = 50, eta: float = 0.0, max_frames: int = 60,
               clip_x0=True) -> Iterator[RecordEvent]:
    """Sample a grid: rows are `scales`, columns `seeds`, all of class `label`, recorded for step-through.
    Yields a `RecordEvent` per reverse step; the last one carries the `Trajectory`.

    Cell (row r, column c) is batch index r · len(seeds) + c; its x_T is `column_noise(shape, seeds)[c]`.
    (With DDPM or eta > 0 the noise added during sampling differs between cells; x_T does not.)
    clip_x0 as in `denoise_steps`; the trajectory's `clipped_mean` (per cell) says how often clipping acted.
    """
    scales = check_scales(scales)
    if not 1 <= len(seeds) <= MAX_SEEDS:
        raise ValueError(f"give 1 to {MAX_SEEDS} seeds, got {len(seeds)}")
    device = device_of(model)
    x_T = column_noise(shape, seeds).repeat(len(scales), *[1] * len(shape)).to(device)  # (rows · cols, *shape)
    w = torch.tensor(scales, dtype=torch.float64).repeat_interleave(len(seeds))  # the scale of each cell
    y = torch.full((len(x_T),), int(label), dtype=torch.long, device=device)
    yield from record_steps(model, schedule, x_T, sampler=sampler, num_steps=num_steps, eta=eta, y=y,
                            guidance=make_guidance(method, w, classifier),
                            generator=torch.Generator().manual_seed(int(seeds[0])), max_frames=max_frames,
                            clip_x0=clip_x0)


def flow_grid_steps(model: Callable, shape: tuple[int, ...], label: int, scales: Sequence[float], seeds: Sequence[int],
                    null, solver: str = "euler", num_steps: int = 20) -> Iterator:
    """A flow-matching model's grid with classifier-free guidance (ṽ = v_uncond + w (v_cond − v_uncond), the same
    `ClassifierFree` object as for diffusion): rows are `scales`, columns `seeds`, cell (r, c) is batch index
    r · len(seeds) + c and starts from `column_noise(shape, seeds)[c]`. Yields `flows.flow_steps`' steps;
    `null(n)` gives the unconditional input for n examples (e.g. `Loaded.null_condition`)."""
    scales = check_scales(scales)
    if not 1 <= len(seeds) <= MAX_SEEDS:
        raise ValueError(f"give 1 to {MAX_SEEDS} seeds, got {len(seeds)}")
    device = device_of(model)
    x_1 = column_noise(shape, seeds).repeat(len(scales), *[1] * len(shape)).to(device)
    w = torch.tensor(scales, dtype=torch.float64).repeat_interleave(len(seeds))
    y = torch.full((len(x_1),), int(label), dtype=torch.long, device=device)
    return flows.flow_steps(model, x_1, solver, num_steps, y=y, guidance=ClassifierFree(w, null=null(len(x_1))))


def clipped_per_row(trajectory: Trajectory, rows: int) -> list[float] | None:
    """A grid's share of x̂_0 values that clipping changed, averaged over every step and the cells of each row
    (scale); None when clipping was off."""
    if trajectory.clipped_mean is None:
        return None
    return [float(v) for v in trajectory.clipped_mean.reshape(rows, -1).mean(1)]


def grid(*args, **kwargs) -> Trajectory:
    """Run `grid_steps` to the end and return the recorded `Trajectory` (arguments as there)."""
    return deque(grid_steps(*args, **kwargs), maxlen=1)[0].trajectory


@dataclass
class CellStep:
    """One recorded frame of one grid cell, as float32 on the CPU: what the step-through shows."""

    t: int  # timestep index of the frame (-1: the finished sample)
    alpha_bar: float  # ᾱ_t of the frame (1 for the finished sample)
    x_t: torch.Tensor  # the sample entering this step
    x0: torch.Tensor  # the predicted clean sample x̂₀
    eps: torch.Tensor  # the guided ε (zero on the finished frame)
    eps_uncond: torch.Tensor  # the unconditional / unguided ε
    eps_cond: torch.Tensor | None  # the conditional ε (classifier-free guidance only)

    @property
    def class_direction(self) -> torch.Tensor:
        """What the scale multiplies: ε_cond − ε_uncond (CFG), or the classifier's push ε̂ − ε_uncond at this s."""
        return (self.eps_cond if self.eps_cond is not None else self.eps) - self.eps_uncond

    @property
    def guided_shift(self) -> torch.Tensor:
        """How far guidance moved ε: ε̃ − ε_uncond."""
        return self.eps - self.eps_uncond


def cell_step(trajectory: Trajectory, cell: int, frame: int) -> CellStep:
    """Frame `frame` of cell `cell` (batch index row · seeds + column) of a recorded grid."""

    def at(frames: torch.Tensor | None) -> torch.Tensor | None:
        return None if frames is None else frames[frame, cell].float()

    zero = torch.zeros_like(at(trajectory.x_t))
    eps = at(trajectory.eps)
    eps_uncond = at(trajectory.eps_uncond)
    return CellStep(trajectory.ts[frame], float(trajectory.alpha_bar[frame]), at(trajectory.x_t), at(trajectory.x0),
                    zero if eps is None else eps, zero if eps_uncond is None else eps_uncond, at(trajectory.eps_cond))


def rms(v: torch.Tensor) -> float:
    """Root mean square per value: about 1 for unit Gaussian noise."""
    return float(v.float().pow(2).mean().sqrt())


@dataclass
class ScaleProgress:
    """Progress of `sample_per_scale_steps`; the last event carries the samples."""

    done: int  # reverse steps done, over all batches
    total: int  # reverse steps in all
    samples: torch.Tensor | None = None  # (len(scales), n, *shape) on the CPU, on the last event only


def sample_per_scale_steps(model: Callable, schedule: Schedule, shape: tuple[int, ...], label: int,
                           scales: Sequence[float], n: int, method: str, classifier: Callable | None = None, *,
                           sampler: str = "ddim", num_steps: int | None = 50, eta: float = 0.0, seed: int = 0,
                           batch: int = 400, clip_x0=True) -> Iterator[ScaleProgress]:
    """n samples of class `label` at each scale, with the same n starting noises at every scale, so differences
    between scales come from the scale alone. Yields a `ScaleProgress` after every network call."""
    scales = check_scales(scales)
    device = device_of(model)
    x_T = torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed)).repeat(len(scales), *[1] * len(shape))
    w = torch.tensor(scales, dtype=torch.float64).repeat_interleave(n)
    chunks = list(zip(x_T.split(batch), w.split(batch)))
    steps_per_run = schedule.num_steps if sampler == "ddpm" else (num_steps or schedule.num_steps)
    total, done, out = len(chunks) * steps_per_run, 0, []
    generator = torch.Generator().manual_seed(seed + 1)
    for x, wc in chunks:
        x = x.to(device)
        y = torch.full((len(x),), int(label), dtype=torch.long, device=device)
        for step in denoise_steps(model, schedule, x, sampler, num_steps, eta, y, make_guidance(method, wc, classifier),
                                  generator, clip_x0):
            x = step.x_t
            done += 1
            if done < total:
                yield ScaleProgress(done, total)
        out.append(x.cpu())
    yield ScaleProgress(total, total, torch.cat(out).reshape(len(scales), n, *shape))


def sample_per_scale(*args, **kwargs) -> torch.Tensor:
    """Run `sample_per_scale_steps` to the end: (len(scales), n, *shape) (arguments as there)."""
    return deque(sample_per_scale_steps(*args, **kwargs), maxlen=1)[0].samples


def image_tradeoff(samples: torch.Tensor, label: int, metric_classifier, real_class: torch.Tensor,
                   held_out_class: torch.Tensor) -> dict:
    """Per scale (first axis of `samples`): the metric classifier's accuracy and confidence on `label`,
    diversity (mean pairwise feature distance) and the Fréchet distance to real images of the class.

    `real_class` is the reference set; `held_out_class` gives the same figures for n real images, the
    floor that n samples can reach (FD from few samples is biased upwards, so compare at the same n).
    """
    ref_feats, _ = features_and_probs(metric_classifier, real_class)
    rows = {"accuracy": [], "confidence": [], "diversity": [], "frechet_distance": []}
    for x in samples:
        feats, probs = features_and_probs(metric_classifier, x)
        fidelity = class_fidelity(probs, np.full(len(x), label))
        rows["accuracy"].append(fidelity["accuracy"])
        rows["confidence"].append(fidelity["confidence"])
        rows["diversity"].append(diversity(feats))
        rows["frechet_distance"].append(frechet_distance(feats, ref_feats))
    real = held_out_class[: samples.shape[1]]
    feats, probs = features_and_probs(metric_classifier, real)
    fidelity = class_fidelity(probs, np.full(len(real), label))
    rows["real"] = {"accuracy": fidelity["accuracy"], "confidence": fidelity["confidence"],
                    "diversity": diversity(feats), "frechet_distance": frechet_distance(feats, ref_feats), "n": len(real)}
    return rows


def tradeoff(samples: torch.Tensor, label: int, train: Dataset, held_out: Dataset, metric_classifier=None,
             reference_n: int = 2000) -> dict:
    """The trade-off figures per scale, for images (`image_tradeoff`, against up to `reference_n` real training
    images of the class, with `metric_classifier`) or 2D points (`point_tradeoff`), by the samples' shape."""
    if samples.dim() == 3:  # (scales, n, 2): points
        return point_tradeoff(samples, label, train, held_out)
    if metric_classifier is None:
        raise ValueError("measuring image samples needs the metric classifier (classifier-fashion)")
    return image_tradeoff(samples, label, metric_classifier, train.x[train.y == label][:reference_n],
                          held_out.x[held_out.y == label])


def point_tradeoff(samples: torch.Tensor, label: int, train: Dataset, held_out: Dataset, k: int = 15) -> dict:
    """The same three figures for 2D points: accuracy of a k-nearest-neighbour classifier fitted on real labelled
    points, diversity = mean pairwise distance, and the sliced Wasserstein distance to real points of the class."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(k).fit(train.x.numpy(), train.y.numpy())
    reference = train.x[train.y == label]  # the class's real points (the classifier's own training points)

    def measure(x: torch.Tensor) -> dict:
        probs = np.zeros((len(x), train.num_classes))
        probs[:, knn.classes_] = knn.predict_proba(x.numpy())
        m = min(len(x), len(reference))  # sliced Wasserstein compares equal-size clouds
        a = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:m]]
        b = reference[torch.randperm(len(reference), generator=torch.Generator().manual_seed(1))[:m]]
        return {**class_fidelity(probs, np.full(len(x), label)), "diversity": float(torch.pdist(x.double()).mean()),
                "sliced_wasserstein": sliced_wasserstein(a, b)}

    rows = {"accuracy": [], "confidence": [], "diversity": [], "sliced_wasserstein": []}
    for x in samples:
        for key, value in measure(x).items():
            rows[key].append(value)
    real = held_out.x[held_out.y == label][: samples.shape[1]]  # fresh real points: the figures data itself gets
    rows["real"] = {**measure(real), "n": len(real)}
    return rows
