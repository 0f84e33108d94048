"""Sampling requests of a class, batched: when many people ask the same model for samples with the same
deterministic sampler at the same time, one batched run serves them all. On a CPU one batch of 480 images costs
far less than 30 interleaved batches of 16, and on a GPU it is the only way to fill the device.

    sampler = SharedSampler()
    for event in sampler.steps(key, model, schedule, x_T, y, num_steps=50):
        ...   # Waiting(position, batches_ahead, requests_in_batch) while the batch forms, then this request's Steps

Only deterministic runs are shared (DDIM with η = 0): a request's result depends on its own x_T alone, so it is the
same picture, to float rounding, as a run on its own, and a seed still reproduces it. A batch runs in a worker
thread of this object (one batch at a time); each request reads its own slice of every step from its own queue.
Closing a request's generator leaves the batch; a batch that everyone left stops at its next step.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from .samplers import Step, denoise_steps
from .schedules import Schedule


@dataclass
class Waiting:
    """A request is waiting: for its batch to form, or for the batches ahead of it to finish."""

    batches_ahead: int  # batches that run before this request's
    requests_in_batch: int  # requests sharing this request's batch so far (this one included)
    images_in_batch: int  # images in it so far


@dataclass
class _Request:
    x_T: torch.Tensor
    y: torch.Tensor | None
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    gone: bool = False  # the requester closed its generator


@dataclass
class _Batch:
    key: tuple
    model: Callable
    schedule: Schedule
    num_steps: int | None
    sampler: str = "ddim"
    eta: float = 0.0
    generator: torch.Generator | None = None
    clip_x0: object = True  # as `denoise_steps` takes it: True, False, a bound B or a DynamicThreshold
    requests: list[_Request] = field(default_factory=list)
    closed: bool = False  # no request may join any more

    @property
    def images(self) -> int:
        return sum(len(r.x_T) for r in self.requests)


class SharedSampler:
    """Batches concurrent DDIM (η = 0) requests with the same key (for example the model's name and the step count)."""

    def __init__(self, window_s: float = 0.3, max_images: int = 1024):
        self.window_s = window_s  # a batch waits this long after its last joiner before it starts (at most 4×)
        self.max_images = max_images  # a full batch starts at once
        self._lock = threading.Lock()
        self._forming: dict[tuple, _Batch] = {}
        self._queue: list[_Batch] = []  # batches formed or running, in order
        self._turn = threading.Lock()  # one batch computes at a time

    def steps(self, key: tuple, model: Callable, schedule: Schedule, x_T: torch.Tensor, y: torch.Tensor | None,
              num_steps: int | None, sampler: str = "ddim", eta: float = 0.0,
              generator: torch.Generator | None = None, clip_x0=True) -> Iterator[Waiting | Step]:
        """Join (or start) the batch for `key`; yield `Waiting` while it forms and waits, then this request's `Step`s.

        clip_x0 (as in `denoise_steps`) joins the key here, so requests that clip x̂_0 differently never share a
        batch, whatever key the caller gave.

        A stochastic request (DDPM, or DDIM with η > 0) gets a batch of its own, sampled with its own generator, so
        its seed still reproduces it; it waits its turn like the others, so the sampler never runs two batches at once."""
        if y is not None and (not isinstance(y, torch.Tensor) or y.shape != (len(x_T),)):
            raise ValueError(f"y must be a condition tensor of shape ({len(x_T)},), one per sample")
        request = _Request(x_T, y)
        shared = sampler == "ddim" and eta == 0
        # the type too: True == 1 == 1.0 clip alike, but keep the key exact (a DynamicThreshold is hashable: frozen)
        key = (key, type(clip_x0).__name__, clip_x0)
        key = key if shared else (key, id(request))
        with self._lock:
            batch = self._forming.get(key)
            if batch is None or batch.closed or batch.images + len(x_T) > self.max_images:
                batch = _Batch(key, model, schedule, num_steps, sampler, eta, generator, clip_x0)
                self._forming[key] = batch
                self._queue.append(batch)
                threading.Thread(target=self._run, args=(batch,), daemon=True).start()
            batch.requests.append(request)
        try:
            while True:
                try:
                    item = request.out.get(timeout=0.25)
                except queue.Empty:
                    with self._lock:
                        ahead = self._queue.index(batch) if batch in self._queue else 0
                        yield Waiting(ahead, len(batch.requests), batch.images)
                    continue
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            request.gone = True

    def _run(self, batch: _Batch) -> None:
        began = time.perf_counter()
        last_size = -1
        shared = batch.sampler == "ddim" and batch.eta == 0
        while shared and time.perf_counter() - began < 4 * self.window_s and batch.images < self.max_images:
            with self._lock:
                size = len(batch.requests)
            if size == last_size:
                break
            last_size = size
            time.sleep(self.window_s)
        with self._lock:
            batch.closed = True
            if self._forming.get(batch.key) is batch:
                del self._forming[batch.key]
        try:
            with self._turn:
                self._sample(batch)
        finally:
            with self._lock:
                self._queue.remove(batch)

    def _sample(self, batch: _Batch) -> None:
        live = [r for r in batch.requests if not r.gone]
        try:
            if not live:
                return
            sizes = [len(r.x_T) for r in live]
            x_T = torch.cat([r.x_T for r in live])
            ys = [r.y for r in live]
            y = torch.cat(ys) if all(v is not None for v in ys) else None
            for step in denoise_steps(batch.model, batch.schedule, x_T, batch.sampler, batch.num_steps, batch.eta, y,
                                      generator=batch.generator, clip_x0=batch.clip_x0):
                parts = [torch.split(v, sizes) if v is not None else [None] * len(sizes)
                         for v in (step.x_t, step.eps, step.x0, step.clipped)]
                for k, request in enumerate(live):
                    if not request.gone:
                        request.out.put(Step(step.t, parts[0][k], parts[1][k], parts[2][k], clipped=parts[3][k]))
                if all(r.gone for r in live):
                    return  # everyone left: stop at this step
        except Exception as err:  # noqa: BLE001 - handed to every request, which raises it
            for request in live:
                request.out.put(err)
        finally:
            for request in live:
                request.out.put(None)
