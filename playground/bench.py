"""`python -m playground bench`: speed figures measured on this machine (not timed tests)."""
from __future__ import annotations

import platform
import time

import torch

from . import data, viz
from .diffusion import closed_form_vs_iterated, make_schedule
from .diffusion.forward import noise_at


def _best_ms(fn, repeat: int = 20) -> float:
    """The best of `repeat` runs, in milliseconds (best-of filters out the other processes' noise)."""
    fn()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return 1000 * min(times)


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def forward_figures() -> dict[str, float]:
    x0 = data.example("fashion", 7, 0)[0][None]
    noise = torch.randn_like(x0)
    linear, cosine = make_schedule("linear", 1000), make_schedule("cosine", 1000)

    def one_frame():  # what the /forward slider and Play compute per frame: two schedules, upscaled to 224 px
        for s in (linear, cosine):
            viz.image_grid(noise_at(s, x0, 500, noise), pad=0, scale=8)

    frame_ms = _best_ms(one_frame)
    return {
        "forward frame, both schedules (ms)": frame_ms,
        "forward frames per second the server can render": 1000 / frame_ms,
        "make_schedule cosine T=1000 (ms)": _best_ms(lambda: make_schedule("cosine", 1000)),
        "closed form vs 500 iterated steps, 64 draws of 28x28 (ms)":
            _best_ms(lambda: closed_form_vs_iterated(linear, x0[0], 500, num_draws=64), repeat=3),
    }


def run() -> None:
    print(f"machine: {machine()}")
    for name, value in forward_figures().items():
        print(f"{name:62s} {value:10.2f}")
