"""Noise schedules and the forward (noising) process q.

Index convention, used everywhere in `playground`: a schedule of length T has
arrays indexed 0 … T-1, and **index t means "t + 1 noising steps have been
applied"**. So `alphas_cumprod[0] = 1 - betas[0]` (one step of noise) and
`alphas_cumprod[T-1]` is the last, nearly pure-noise level. The clean image x_0
has no index; where a UI shows "t = 0 … T", UI t = k is schedule index k - 1
(see `Schedule.alpha_bar_at`).

Every schedule is computed in float64 and kept in float64; `_extract` casts the
one value it needs to the dtype of the tensor it multiplies.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

SCHEDULES = ("linear", "cosine", "sigmoid", "scaled_linear")
MAX_BETA = 0.999  # Nichol & Dhariwal 2021, §3.2: clip β to avoid a singularity at t = T
MIN_STEPS, MAX_STEPS = 2, 10_000


def linear_betas(num_steps: int) -> torch.Tensor:
    """Ho et al. 2020, §4: β from 1e-4 to 0.02 over T = 1000, scaled by 1000/T
    for other T so that ᾱ_T stays close to the T = 1000 value."""
    scale = 1000 / num_steps
    return torch.linspace(1e-4 * scale, 0.02 * scale, num_steps, dtype=torch.float64)


def scaled_linear_betas(num_steps: int) -> torch.Tensor:
    """Stable Diffusion (Rombach et al. 2022): linear in √β, from √0.00085 to
    √0.012 at T = 1000; scaled by 1000/T for other T like `linear_betas`."""
    scale = 1000 / num_steps
    return torch.linspace(math.sqrt(0.00085 * scale), math.sqrt(0.012 * scale), num_steps, dtype=torch.float64) ** 2


def betas_from_alpha_bar(alpha_bar: torch.Tensor) -> torch.Tensor:
    """β_t = 1 − ᾱ_t / ᾱ_{t−1}, for ᾱ given at t = 0 … T (ᾱ_0 = 1 is the clean image)."""
    return 1 - alpha_bar[1:] / alpha_bar[:-1]


def cosine_betas(num_steps: int, s: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal 2021, eq. 17: ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s)) · π/2)."""
    t = torch.linspace(0, num_steps, num_steps + 1, dtype=torch.float64) / num_steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return betas_from_alpha_bar(f / f[0])


def sigmoid_betas(num_steps: int, start: float = -3.0, end: float = 3.0, tau: float = 1.0) -> torch.Tensor:
    """Jabri, Fleet & Chen 2022 (RIN), §3.5: ᾱ follows a rescaled sigmoid,
    ᾱ(t) = (σ(end/τ) − σ((t(end − start) + start)/τ)) / (σ(end/τ) − σ(start/τ))."""
    t = torch.linspace(0, num_steps, num_steps + 1, dtype=torch.float64) / num_steps
    v_start, v_end = (torch.sigmoid(torch.tensor(v, dtype=torch.float64)) for v in (start / tau, end / tau))
    alpha_bar = (v_end - torch.sigmoid((t * (end - start) + start) / tau)) / (v_end - v_start)
    return betas_from_alpha_bar(alpha_bar / alpha_bar[0])


def rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    """The same schedule shifted and scaled so that ᾱ_T = 0 exactly (zero terminal SNR: x_T is pure noise) while
    √ᾱ at the first step is kept   — Lin et al. 2024, "Common diffusion noise schedules and sample steps are
    flawed", Algorithm 1. The last β becomes 1. A model trained on it must not predict ε alone (at SNR 0, ε = x_T
    says nothing about x_0): they use v-prediction."""
    root = torch.cumprod(1 - betas, dim=0).sqrt()  # √ᾱ_t
    first, last = root[0].clone(), root[-1].clone()
    # √ᾱ ← (√ᾱ − √ᾱ_T) · √ᾱ_1 / (√ᾱ_1 − √ᾱ_T): an affine map with √ᾱ_1 fixed and √ᾱ_T → 0
    root = (root - last) * first / (first - last)
    alpha_bar = root**2
    return betas_from_alpha_bar(torch.cat([torch.ones(1, dtype=alpha_bar.dtype), alpha_bar]))


_BETAS = {"linear": linear_betas, "cosine": cosine_betas, "sigmoid": sigmoid_betas, "scaled_linear": scaled_linear_betas}

SCHEDULE_CITATIONS = {
    "linear": "Ho et al. 2020 (DDPM)",
    "cosine": "Nichol & Dhariwal 2021 (Improved DDPM)",
    "sigmoid": "Jabri et al. 2022 (RIN)",
    "scaled_linear": "Rombach et al. 2022 (Stable Diffusion)",
}


def _extract(values: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """values[t] reshaped to broadcast over x: (B,) -> (B, 1, …, 1), in x's dtype and device."""
    out = values.to(x.device)[t.to(x.device).long()].to(x.dtype)
    return out.reshape(-1, *([1] * (x.dim() - 1)))


@dataclass(frozen=True)
class Schedule:
    """A discrete noise schedule. See the module docstring for the index convention."""

    kind: str  # one of SCHEDULES
    num_steps: int  # T
    betas: torch.Tensor  # (T,) float64, β_t: noise added by step t
    alphas: torch.Tensor  # (T,) α_t = 1 − β_t
    alphas_cumprod: torch.Tensor  # (T,) ᾱ_t = ∏_{s ≤ t} α_s, signal kept after t + 1 steps
    alphas_cumprod_prev: torch.Tensor  # (T,) ᾱ_{t−1}, with 1.0 for the first step; required for the posterior
    snr: torch.Tensor  # (T,) signal-to-noise ratio ᾱ_t / (1 − ᾱ_t)
    posterior_variance: torch.Tensor  # (T,) β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t   (Ho et al. eq. 7)
    posterior_mean_coef1: torch.Tensor  # (T,) multiplies x_0 in μ̃_t   (eq. 7)
    posterior_mean_coef2: torch.Tensor  # (T,) multiplies x_t in μ̃_t   (eq. 7)
    zero_terminal_snr: bool = False  # rescaled so that ᾱ_T = 0 (Lin et al. 2024, `rescale_zero_terminal_snr`)

    @property
    def name(self) -> str:
        """The kind, and the rescaling when there is one: "scaled_linear, zero terminal SNR"."""
        return self.kind + (", zero terminal SNR" if self.zero_terminal_snr else "")

    # ---- q: the forward process -------------------------------------------------
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Jump straight to x_t. t: integer tensor (B,), noise: like x0."""
        # q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)   — Ho et al. 2020, eq. 4
        return _extract(self.alphas_cumprod.sqrt(), t, x0) * x0 + _extract((1 - self.alphas_cumprod).sqrt(), t, x0) * noise

    def noised_batch(self, x0: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A training batch's (t, ε, x_t): a uniform random index t and noise ε per example (drawn on the CPU from
        `generator`, so every device sees the same), and x_0 noised to it."""
        t = torch.randint(0, self.num_steps, (x0.shape[0],), generator=generator).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        return t, noise, self.q_sample(x0, t, noise)

    def q_step(self, x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """One noising step from x_{t−1} to x_t."""
        # q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I)   — Ho et al. 2020, eq. 2
        return _extract(self.alphas.sqrt(), t, x_prev) * x_prev + _extract(self.betas.sqrt(), t, x_prev) * noise

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of q(x_{t−1} | x_t, x_0)."""
        # μ̃_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x_0 + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t   — Ho et al. 2020, eq. 7
        mean = _extract(self.posterior_mean_coef1, t, x_t) * x0 + _extract(self.posterior_mean_coef2, t, x_t) * x_t
        return mean, _extract(self.posterior_variance, t, x_t)

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x̂_0 from x_t and predicted noise: eq. 4 solved for x_0."""
        # x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t
        return (x_t - _extract((1 - self.alphas_cumprod).sqrt(), t, x_t) * eps) / _extract(self.alphas_cumprod.sqrt(), t, x_t)

    # ---- helpers for teaching views ----------------------------------------------
    def alpha_bar_at(self, ui_t: int) -> float:
        """ᾱ after `ui_t` noising steps, with ui_t = 0 meaning the clean image (ᾱ = 1)."""
        return 1.0 if ui_t == 0 else float(self.alphas_cumprod[ui_t - 1])

    def share_nearly_noise(self, threshold: float = 0.01) -> float:
        """Share of the T steps at which ᾱ_t < threshold: the signal is nearly gone."""
        return float((self.alphas_cumprod < threshold).double().mean())


def make_schedule(kind: str, num_steps: int, zero_terminal_snr: bool = False) -> Schedule:
    """Build a schedule by name ("linear", "cosine", "sigmoid", "scaled_linear") and T, optionally rescaled to zero
    terminal SNR (Lin et al. 2024).

    Schedules are cached: the same (kind, T) returns the same read-only object, so a training step or a page
    never rebuilds one."""
    if kind not in _BETAS:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or not MIN_STEPS <= num_steps <= MAX_STEPS:
        raise ValueError(f"num_steps must be an integer from {MIN_STEPS} to {MAX_STEPS}, got {num_steps!r}")
    if not isinstance(zero_terminal_snr, bool):
        raise ValueError(f"zero_terminal_snr must be True or False, got {zero_terminal_snr!r}")
    return _build(kind, num_steps, zero_terminal_snr)


@functools.lru_cache(maxsize=64)
def _build(kind: str, num_steps: int, zero_terminal_snr: bool = False) -> Schedule:
    betas = _BETAS[kind](num_steps).clamp(max=MAX_BETA)
    if zero_terminal_snr:
        betas = rescale_zero_terminal_snr(betas)
    alphas = 1 - betas
    alphas_cumprod = torch.cumprod(alphas, dim=0)
    alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
    return Schedule(
        kind=kind,
        num_steps=num_steps,
        betas=betas,
        alphas=alphas,
        alphas_cumprod=alphas_cumprod,
        alphas_cumprod_prev=alphas_cumprod_prev,
        snr=alphas_cumprod / (1 - alphas_cumprod),
        # β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t   — Ho et al. 2020, eq. 7
        posterior_variance=betas * (1 - alphas_cumprod_prev) / (1 - alphas_cumprod),
        posterior_mean_coef1=betas * alphas_cumprod_prev.sqrt() / (1 - alphas_cumprod),
        posterior_mean_coef2=(1 - alphas_cumprod_prev) * alphas.sqrt() / (1 - alphas_cumprod),
        zero_terminal_snr=zero_terminal_snr,
    )
