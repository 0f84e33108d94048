"""Where models run: picked once, `PLAYGROUND_DEVICE` (or `--device` on the CLI and the app) first, then
cuda → mps → cpu. Models and samplers run there; pictures are made on the CPU."""
from __future__ import annotations

import os

import torch


def default_device() -> torch.device:
    """$PLAYGROUND_DEVICE if set (cpu, cuda, cuda:1, mps, meta), else cuda, then mps, then cpu."""
    asked = os.environ.get("PLAYGROUND_DEVICE", "").strip()
    if asked:
        return check_device(asked)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_device(name: str | torch.device) -> torch.device:
    """A torch.device that exists on this machine, or a ValueError that says why not."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {str(name)[:40]!r}: use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("the device cuda was asked for, but this machine has no CUDA GPU that torch can use")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("the device mps was asked for, but this machine has no Apple GPU that torch can use")
    return device


def device_of(model) -> torch.device:
    """The device of a module's first parameter (the CPU for a module without parameters or a plain function)."""
    parameters = getattr(model, "parameters", None)
    first = next(iter(parameters()), None) if callable(parameters) else None
    return first.device if first is not None else torch.device("cpu")


def cpu_budget() -> tuple[int, int, int]:
    """(cores, expensive jobs at once, torch threads per job) for a server that runs expensive jobs (training,
    measuring) beside one shared sampling batch: torch threads × (expensive jobs + 1) ≤ cores. Many threads per
    job on few cores lose more to waiting for each other than they gain, worst of all when the machine is busy.
    $PLAYGROUND_EXPENSIVE_JOBS overrides the number of expensive jobs."""
    cores = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    jobs = max(1, int(os.environ.get("PLAYGROUND_EXPENSIVE_JOBS", max(1, cores // 4))))
    return cores, jobs, max(1, cores // (jobs + 1))
