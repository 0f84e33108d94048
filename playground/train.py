"""One training loop for every family, written as a generator of events.

`train_steps(...)` yields a `TrainEvent` after every step; `train(...)` drains it, as `sample()` drains
`denoise_steps()`. A page iterates the events and shows them; cancelling a run is closing the generator
(Gradio does that when its Stop button cancels the event), and the model so far is in the last event.

The loop knows nothing about the model beyond the family protocol (`playground.families`): a
`LossFamily` gives `loss(model, x, y, generator)`, a `SteppedFamily` gives `optimizers(model)` and
`train_step(...)`, and a `Previewing` family gives `preview(model, n, generator)`.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .data import Dataset
from .devices import check_device, default_device
from .families import Pretrained, Previewing, SteppedFamily


@dataclass
class TrainEvent:
    """What one training step reports."""

    step: int  # steps done so far in this run (1 … total)
    total: int  # steps asked for
    losses: dict  # this step's metrics: {"loss": …} and the family's own
    preview: torch.Tensor | None  # preview samples (on the CPU) every `preview_every` steps and at the last step
    model: torch.nn.Module  # the model to show and keep: the weights' moving average if the spec has one
    history: dict  # {"step": [...], metric: [...], "wall_time_s"}: the run so far
    trainer: tuple  # (raw model, optimizers): pass as `resume=` to go on training exactly where this stopped


def _check(steps, data) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if len(data) == 0:
        raise ValueError("the dataset is empty")


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """Average the weights, and the floating-point buffers too (BatchNorm's running mean and variance, so the
    averaged DCGAN generator normalises with statistics that match its averaged weights); integer buffers
    (BatchNorm's step counter) are copied."""
    # θ_ema ← d θ_ema + (1 − d) θ
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.lerp_(p, 1 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        if b.is_floating_point():
            b_ema.lerp_(b, 1 - decay)
        else:
            b_ema.copy_(b)


def lr_factor(spec, step: int, steps: int) -> float:
    """The learning rate at `step` (1-based) of `steps`, as a share of spec.lr: a linear warm-up over
    spec.lr_warmup steps, then constant or a cosine decay to 0 at the last step (Loshchilov & Hutter 2017,
    η_t = ½ η (1 + cos(π t / T)) with t counted after the warm-up). Specs without these fields train at spec.lr."""
    warmup, decay = getattr(spec, "lr_warmup", 0), getattr(spec, "lr_decay", "constant")
    factor = min(1.0, step / warmup) if warmup else 1.0
    if decay == "cosine" and steps > warmup:
        factor *= 0.5 * (1 + math.cos(math.pi * max(0, step - warmup) / (steps - warmup)))
    return factor


def load_pretrained(model: torch.nn.Module, spec) -> None:
    """Copy the frozen parts a `Pretrained` spec names from their checkpoints into a fresh model."""
    from . import checkpoints
    for part, (name, inner) in spec.pretrained().items():
        source = checkpoints.load(name, device="cpu").model
        getattr(model, part).load_state_dict((source.get_submodule(inner) if inner else source).state_dict())


def train_steps(spec, data: Dataset, steps: int, *, seed: int = 0, device: torch.device | str | None = None,
                preview_every: int = 0, preview_n: int = 16, resume: tuple | None = None) -> Iterator[TrainEvent]:
    """Train a fresh model of `spec` on `data` for `steps` steps, yielding a `TrainEvent` after each.

    device: where it trains (default `default_device()`); batches are moved there, previews come back to the CPU.
    resume=(model, optimizers): go on training these (a live view that pauses and resumes, or `train --resume`);
    the learning-rate schedule (`lr_factor`) starts again over the new `steps`.
    """
    _check(steps, data)
    device = default_device() if device is None else check_device(device)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same batches and noise on every device
    stepped = isinstance(spec, SteppedFamily)
    if resume is not None:
        model, optimizers = resume
    else:
        model = spec.build()
        if isinstance(spec, Pretrained):
            load_pretrained(model, spec)
        model = model.to(device)
        optimizers = spec.optimizers(model) if stepped else [torch.optim.Adam(model.parameters(), lr=spec.lr)]
    ema = copy.deepcopy(model).requires_grad_(False) if spec.ema_decay > 0 else None
    shown = ema if ema is not None else model
    history = {"step": [], "wall_time_s": 0.0}
    began = time.perf_counter()
    model.train()
    groups = [group for optimizer in optimizers for group in optimizer.param_groups]
    for group in groups:  # the unscaled rate, kept on the group (as torch's schedulers do): a resume starts from it
        if resume is None or "initial_lr" not in group:
            group["initial_lr"] = group["lr"]
    for step in range(1, steps + 1):
        for group in groups:
            group["lr"] = group["initial_lr"] * lr_factor(spec, step, steps)
        index = torch.randint(0, len(data), (spec.batch_size,), generator=generator)
        x, y = data.x[index].to(device), data.y[index].to(device)
        if stepped:
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
        for key, metric in metrics.items():
            history.setdefault(key, []).append(metric)
        history["wall_time_s"] = time.perf_counter() - began
        preview = None
        if preview_every and (step % preview_every == 0 or step == steps) and isinstance(spec, Previewing):
            shown.eval()
            with torch.no_grad():
                preview = spec.preview(shown, preview_n, torch.Generator().manual_seed(seed)).cpu()
            model.train()
        shown.eval()
        yield TrainEvent(step, steps, metrics, preview, shown, history, (model, optimizers))
        model.train()


def train(spec, data: Dataset, steps: int, *, seed: int = 0, device: torch.device | str | None = None,
          resume: tuple | None = None) -> tuple[torch.nn.Module, dict]:
    """Run `train_steps` to the end. Returns (model in eval mode, history); the model is the moving average
    of the weights when spec.ema_decay > 0."""
    event = None
    for event in train_steps(spec, data, steps, seed=seed, device=device, resume=resume):
        pass
    return event.model.eval(), event.history
