"""Teaching views of the forward process: noising trajectories and the check that
the closed form q(x_t | x_0) equals t iterated single steps q(x_t | x_{t−1}).

UI time convention: ui_t = 0 is the clean image, ui_t = k applies k noising
steps (schedule index k − 1; see schedules.py).
"""
from __future__ import annotations

import math

import torch

from .schedules import Schedule


def _check_ui_t(schedule: Schedule, ui_t: int) -> None:
    if not 0 <= ui_t <= schedule.num_steps:
        raise ValueError(f"t must be between 0 and T = {schedule.num_steps}, got {ui_t}")


def noise_at(schedule: Schedule, x0: torch.Tensor, ui_t: int, noise: torch.Tensor) -> torch.Tensor:
    """x_t for one UI time, with the given noise (the same noise gives matched views across schedules)."""
    _check_ui_t(schedule, ui_t)
    if ui_t == 0:
        return x0
    t = torch.full((x0.shape[0],), ui_t - 1, dtype=torch.long)
    return schedule.q_sample(x0, t, noise)


def noising_trajectory(schedule: Schedule, x0: torch.Tensor, ui_ts: list[int], noise: torch.Tensor) -> torch.Tensor:
    """x_t at each UI time in `ui_ts`, all from one noise draw: (len(ui_ts), *x0.shape)."""
    return torch.stack([noise_at(schedule, x0, ui_t, noise) for ui_t in ui_ts])


def closed_form_vs_iterated(
    schedule: Schedule, x0: torch.Tensor, ui_t: int, num_draws: int = 128, generator: torch.Generator | None = None
) -> dict[str, float]:
    """Compare x_t drawn in one jump (eq. 4) with x_t reached by `ui_t` single steps (eq. 2).

    x0: one example, (C, H, W) or (2,). The two routes draw different noise, so
    single draws differ; what must agree is the distribution. We report the exact
    coefficients both ways and the statistics over `num_draws` draws of each.
    """
    _check_ui_t(schedule, ui_t)
    if ui_t == 0:
        raise ValueError("pick t ≥ 1: at t = 0 both routes return x_0 itself")
    steps = range(ui_t)
    x0 = x0.double()
    # Exact: ∏ √α_s must equal √ᾱ_t, and the variance recursion v_t = α_t v_{t−1} + β_t must give 1 − ᾱ_t.
    coef, var = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    for s in steps:
        coef, var = coef * schedule.alphas[s].sqrt(), schedule.alphas[s] * var + schedule.betas[s]
    alpha_bar = schedule.alphas_cumprod[ui_t - 1]

    batch = x0.expand(num_draws, *x0.shape)
    t = torch.full((num_draws,), ui_t - 1, dtype=torch.long)
    closed = schedule.q_sample(batch, t, torch.randn(batch.shape, generator=generator, dtype=torch.float64))
    iterated = batch
    for s in steps:
        noise = torch.randn(batch.shape, generator=generator, dtype=torch.float64)
        iterated = schedule.q_step(iterated, torch.full((num_draws,), s, dtype=torch.long), noise)

    mean_gap = (closed.mean(0) - iterated.mean(0)).abs()  # per pixel, over draws
    one_pair = closed[0] - iterated[0]
    return {
        "t": ui_t,
        "alpha_bar": float(alpha_bar),
        "sqrt_alpha_bar_closed": float(alpha_bar.sqrt()),
        "sqrt_alpha_bar_iterated": float(coef),
        "variance_closed": float(1 - alpha_bar),
        "variance_iterated": float(var),
        "num_draws": num_draws,
        "residual_std_closed": float((closed - alpha_bar.sqrt() * batch).std()),
        "residual_std_iterated": float((iterated - alpha_bar.sqrt() * batch).std()),
        "per_pixel_mean_gap_mean": float(mean_gap.mean()),
        "per_pixel_mean_gap_max": float(mean_gap.max()),
        # With no error at all, each per-pixel gap is N(0, 2(1 − ᾱ_t)/draws), so E|gap| = √(2(1 − ᾱ_t)/draws) · √(2/π).
        "per_pixel_mean_gap_expected": float((2 * (1 - alpha_bar) / num_draws).sqrt() * math.sqrt(2 / math.pi)),
        # Two independent draws differ by N(0, 2(1 − ᾱ_t)): this is noise, not error.
        "one_pair_diff_mean": float(one_pair.mean()),
        "one_pair_diff_std": float(one_pair.std()),
        "one_pair_diff_std_expected": float((2 * (1 - alpha_bar)).sqrt()),
    }


def matched_noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """ε ~ N(0, I) of `shape` from `seed`: the one noise draw that every schedule of a comparison shares."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def schedule_summary(schedule: Schedule, nearly_noise: float = 0.01) -> dict:
    """What a schedule does to the signal: the share of steps with ᾱ_t < `nearly_noise`, the first UI t at which
    ᾱ_t < 0.5 (half the signal's variance gone), and at t = T: ᾱ_T, the signal coefficient √ᾱ_T left in x_T, and
    the terminal SNR ᾱ_T / (1 − ᾱ_T). A terminal SNR above 0 means x_T is not pure noise, so sampling from
    x_T ~ N(0, I) starts from a mismatch (Lin et al. 2024, "Common diffusion noise schedules and sample steps are
    flawed")."""
    below_half = torch.nonzero(schedule.alphas_cumprod < 0.5)
    alpha_bar_T = float(schedule.alphas_cumprod[-1])
    return {"share_nearly_noise": schedule.share_nearly_noise(nearly_noise),
            "first_t_below_half": int(below_half[0]) + 1 if len(below_half) else None,
            "alpha_bar_T": alpha_bar_T, "sqrt_alpha_bar_T": math.sqrt(alpha_bar_T),
            "terminal_snr": alpha_bar_T / (1 - alpha_bar_T)}


def cloud_moments(x0: torch.Tensor, x_t: torch.Tensor, alpha_bar: float) -> dict:
    """Per axis, the measured mean and variance of a noised cloud x_t (N, D) against what eq. 4 predicts from its
    clean cloud x0 with independent noise: mean_t = √ᾱ E[x_0], var_t = ᾱ Var[x_0] + (1 − ᾱ)."""
    return {"mean": x_t.mean(0).tolist(), "var": x_t.var(0).tolist(),
            "predicted_mean": (math.sqrt(alpha_bar) * x0.mean(0)).tolist(),
            "predicted_var": (alpha_bar * x0.var(0) + (1 - alpha_bar)).tolist()}


def film(schedules, x0: torch.Tensor, noise: torch.Tensor, decimals: int = 4) -> dict:
    """What a browser needs to draw x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε itself for every t of each schedule (eq. 4): the
    clean image and the noise, flattened (C·H·W, rounded), and per schedule its name and ᾱ, √ᾱ and √(1 − ᾱ) at
    UI t = 0 … T (t = 0: the clean image). A slider then needs no request per frame."""
    def rounded(values) -> list[float]:
        return [round(float(v), decimals) for v in values]

    channels, height, width = x0.shape
    curves = []
    for schedule in schedules:
        alpha_bar = torch.cat([torch.ones(1, dtype=torch.float64), schedule.alphas_cumprod])
        curves.append({"name": schedule.name, "alpha_bar": [float(f"{v:.6g}") for v in alpha_bar.tolist()],
                       "signal": rounded(alpha_bar.sqrt()), "noise": rounded((1 - alpha_bar).sqrt())})
    return {"channels": channels, "height": height, "width": width, "x0": rounded(x0.flatten()),
            "noise": rounded(noise.flatten()), "schedules": curves}

