"""One training loop for every family. A family (a spec) contributes `build()`,
`loss(model, x, y, generator)` and optionally `preview(model, n, generator)`;
the loop knows nothing else about the model, and reports through a callback.

A family whose step is not one loss and one optimizer (a GAN: alternating D and G updates) instead gives
`optimizers(model)` and `train_step(model, optimizers, x, y, generator) -> (loss, metrics)`, which does its own
backward passes and updates; the loop still draws the batches, averages weights, checks, stops and reports."""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable

import torch

from .data import Dataset


def _check(steps, data) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if len(data) == 0:
        raise ValueError("the dataset is empty")


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    # θ_ema ← d θ_ema + (1 − d) θ
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.lerp_(p, 1 - decay)


def train(spec, data: Dataset, steps: int, *, callback: Callable | None = None,
          should_stop: Callable[[], bool] | None = None, seed: int = 0, preview_every: int = 0,
          preview_n: int = 16, device: torch.device | str | None = None, resume: tuple | None = None):
    """Train a fresh model of `spec` on `data` for `steps` steps.

    callback(step, total, metrics, preview): after every step; `preview` is a tensor of samples every
    `preview_every` steps and at the last step, else None. should_stop(): checked before every step (the UI's Stop button).
    resume=(model, optimizers): go on training these instead of fresh ones (a live view that pauses and resumes).
    Returns (model, history); the model is the EMA of the weights when spec.ema_decay > 0.
    """
    _check(steps, data)
    device = torch.device(device or "cpu")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    if resume is not None:
        model, optimizers = resume
    else:
        model = spec.build().to(device)
        optimizers = spec.optimizers(model) if hasattr(spec, "train_step") else [torch.optim.Adam(model.parameters(), lr=spec.lr)]
    ema = copy.deepcopy(model).requires_grad_(False) if spec.ema_decay > 0 else None
    history = {"step": [], "wall_time_s": 0.0, "stopped_early": False}
    began = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            history["stopped_early"] = True
            break
        index = torch.randint(0, len(data), (spec.batch_size,), generator=generator)
        x, y = data.x[index].to(device), data.y[index].to(device)
        if hasattr(spec, "train_step"):
            loss, metrics = spec.train_step(model, optimizers, x, y, generator)
        else:
            loss, metrics = spec.loss(model, x, y, generator)
            optimizers[0].zero_grad(set_to_none=True)
            loss.backward()
            if spec.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
            optimizers[0].step()
        value = loss.item() if torch.is_tensor(loss) else float(loss)
        if not math.isfinite(value):
            raise FloatingPointError(f"the loss became {value} at step {step}; lower the learning rate")
        if ema is not None:
            # warm-up: early on the average follows the weights closely (as in many DDPM codebases)
            ema_update(ema, model, min(spec.ema_decay, (1 + step) / (10 + step)))
        history["step"].append(step)
        for key, value in metrics.items():
            history.setdefault(key, []).append(value)
        preview = None
        if preview_every and (step % preview_every == 0 or step == steps) and hasattr(spec, "preview"):
            shown = ema if ema is not None else model
            shown.eval()
            preview = spec.preview(shown, preview_n, torch.Generator().manual_seed(seed))
            model.train()
        if callback is not None:
            callback(step, steps, metrics, preview)
    history["wall_time_s"] = time.perf_counter() - began
    final = ema if ema is not None else model
    return final.eval(), history
