"""Improved DDPM (Nichol & Dhariwal 2021): a learned reverse variance Σ_θ, the hybrid loss that trains it, and the
variational bound that measures a model's log-likelihood in bits per dimension.

A `LearnedVariance` model's network outputs 2·C channels, ε and v; calling it returns ε alone (the denoiser
contract, so every sampler, guidance and page works unchanged), and `eps_and_v` gives both. The sampler uses v with
`variance="learned"` (`samplers.learned_log_variance`, their eq. 15).

All terms of the bound are per dimension (a mean over pixels or coordinates) and in bits (divided by ln 2), as
their code reports them; summed over t they give bits/dim.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from einops import reduce
from torch import nn

from ..nn import full_precision
from .samplers import learned_log_variance
from .schedules import Schedule, _extract

VLB_WEIGHT = 0.001  # λ of L_hybrid = L_simple + λ L_vlb   — Nichol & Dhariwal 2021, §3.1
FIXED = {"posterior": "σ² = β̃ (fixed)", "beta": "σ² = β (fixed)"}
LN2 = math.log(2.0)


class LearnedVariance(nn.Module):
    """A network with 2·C outputs read as (ε, v): the noise, and per dimension where the log-variance sits between
    log β̃_t (v = 0) and log β_t (v = 1)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.null_class = getattr(net, "null_class", None)

    def eps_and_v(self, x_t: torch.Tensor, t: torch.Tensor, y=None) -> tuple[torch.Tensor, torch.Tensor]:
        eps, raw = self.net(x_t, t, y).chunk(2, dim=1)
        # the network's second half is mapped from [−1, 1] to v = (out + 1)/2, as improved-diffusion's code does
        # (gaussian_diffusion.py, p_mean_variance); v is not clamped, so Σ_θ may leave [β̃, β] slightly
        return eps, (raw + 1) / 2

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        return self.eps_and_v(x_t, t, y)[0]


def normal_kl(mean1, log_var1, mean2, log_var2) -> torch.Tensor:
    """KL(N(mean1, e^log_var1) ‖ N(mean2, e^log_var2)) per dimension, in nats:
    ½ (−1 + log σ₂² − log σ₁² + σ₁²/σ₂² + (μ₁ − μ₂)²/σ₂²)."""
    return 0.5 * (-1.0 + log_var2 - log_var1 + torch.exp(log_var1 - log_var2) + (mean1 - mean2) ** 2 * torch.exp(-log_var2))


def discretized_gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log p(x) per pixel, in nats, for 8-bit pixels scaled to [−1, 1] (bins of width 2/255), under N(mean, e^log_var)
    integrated over each pixel's bin; the edge bins reach to ±∞   — Ho et al. 2020, eq. 13 (the decoder L_0)."""
    inv_std = torch.exp(-0.5 * log_var)
    upper, lower = inv_std * (x - mean + 1 / 255), inv_std * (x - mean - 1 / 255)
    log_cdf_upper = torch.special.log_ndtr(upper)  # log Φ(upper): the bin from −∞ (x = −1)
    log_one_minus_cdf_lower = torch.special.log_ndtr(-lower)  # log(1 − Φ(lower)): the bin to +∞ (x = 1)
    log_delta = torch.log((torch.special.ndtr(upper) - torch.special.ndtr(lower)).clamp(min=1e-12))
    return torch.where(x < -0.999, log_cdf_upper, torch.where(x > 0.999, log_one_minus_cdf_lower, log_delta))


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, e^log_var) per dimension, in nats: the decoder L_0 for continuous data (2D points)."""
    return -0.5 * (math.log(2 * math.pi) + log_var + (x - mean) ** 2 * torch.exp(-log_var))


def clipped_posterior_variance(schedule: Schedule) -> torch.Tensor:
    """β̃_t per index (T,), with β̃ of the second index standing in at the first, where β̃ is 0 (as Ho et al.'s and
    improved-diffusion's code do): the decoder's variance for σ² = β̃, and the learned range's lower end there."""
    return torch.cat([schedule.posterior_variance[1:2], schedule.posterior_variance[1:]])


def _log_variance(schedule: Schedule, t: torch.Tensor, like: torch.Tensor, variance: str, v=None) -> torch.Tensor:
    """log σ_t² of p_θ(x_{t−1} | x_t) at schedule indices t (B,): β̃ ("posterior"), β ("beta") or learned from v.
    β̃ at the first index is 0; as Ho et al.'s and improved-diffusion's code do, β̃ of the second index stands in
    for it (the decoder's variance for σ² = β̃, and the lower end of the learned range there). σ² = β keeps β_0 for
    the decoder, as its name says; their code's "fixed large" uses β̃_1 there (on the 2D Gaussian of the tests
    that bounds 0.17 bits/dim worse, as β̃_1 ≈ β_0 / 2 is narrower than the decoder's real error)."""
    beta_tilde = clipped_posterior_variance(schedule)
    if variance == "learned":
        beta = _extract(schedule.betas, t, like).expand_as(like)
        return learned_log_variance(v, beta, _extract(beta_tilde, t, like).expand_as(like))
    if variance == "beta":  # β_t at every index, the decoder's too (their code's "fixed large" puts β̃_1 there)
        return torch.log(_extract(schedule.betas, t, like).expand_as(like))
    return torch.log(_extract(beta_tilde, t, like).expand_as(like))


def vlb_term(schedule: Schedule, x0, x_t, t, eps, variance: str = "learned", v=None) -> torch.Tensor:
    """L_{t−1} of the variational bound for each example (B,), in bits per dimension: for t > 0 (index ≥ 1)
    KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)), at index 0 the decoder's −log p_θ(x_0 | x_1) (discretised for
    images, a Gaussian density for points)   — Ho et al. 2020, eq. 5; Nichol & Dhariwal 2021, eq. 4–6."""
    # the model's mean: μ̃(x_t, x̂_0) with x̂_0 from ε, unclipped (the bound is of the unclipped eq. 11)
    mean_p, _ = schedule.q_posterior(schedule.predict_x0(x_t, t, eps), x_t, t)
    log_var_p = _log_variance(schedule, t, x_t, variance, v)
    mean_q, var_q = schedule.q_posterior(x0, x_t, t)
    log_var_q = _log_variance(schedule, t, x_t, "posterior")  # log β̃ (the true posterior's variance)
    kl = normal_kl(mean_q, log_var_q, mean_p, log_var_p)
    decoder = -(discretized_gaussian_log_likelihood if x0.dim() == 4 else gaussian_log_likelihood)(x0, mean_p, log_var_p)
    per_dim = torch.where((t == 0).reshape(-1, *[1] * (x_t.dim() - 1)), decoder, kl)
    return reduce(per_dim, "b ... -> b", "mean") / LN2


def prior_term(schedule: Schedule, x0: torch.Tensor) -> torch.Tensor:
    """L_T = KL(q(x_T | x_0) ‖ N(0, I)) per example (B,), in bits per dimension: what the last noising step leaves
    of the data (no parameters; nearly 0 when ᾱ_T ≈ 0)."""
    t = torch.full((x0.shape[0],), schedule.num_steps - 1, dtype=torch.long, device=x0.device)
    mean = _extract(schedule.alphas_cumprod.sqrt(), t, x0) * x0
    log_var = torch.log(_extract(1 - schedule.alphas_cumprod, t, x0)).expand_as(x0)
    return reduce(normal_kl(mean, log_var, torch.zeros_like(x0), torch.zeros_like(x0)), "b ... -> b", "mean") / LN2


def hybrid_loss(model: LearnedVariance, schedule: Schedule, x0, condition, generator: torch.Generator,
                weight: float = VLB_WEIGHT) -> tuple[torch.Tensor, dict]:
    """L_hybrid = L_simple + λ L_vlb on one batch, with one random t per example   — Nichol & Dhariwal 2021, §3.1.

    L_vlb = Σ_t L_t is estimated by T · L_t at the drawn t (so λ T L_t; = L_t at T = 1000, as their code's
    rescaling). Its gradient reaches v alone: ε is detached in it ("a stop-gradient on μ_θ"), so L_simple still
    drives the mean."""
    t, noise, x_t = schedule.noised_batch(x0, generator)
    eps, v = model.eps_and_v(x_t, t, condition)
    # L_simple = E ‖ε − ε_θ(x_t, t)‖²   — Ho et al. 2020, eq. 14
    simple = reduce((eps - noise) ** 2, "b ... -> b", "mean").mean()
    vlb = vlb_term(schedule, x0, x_t, t, eps.detach(), "learned", v).mean()
    return simple + weight * schedule.num_steps * vlb, {"simple": simple.item(), "vlb_bits": vlb.item()}


@dataclass
class BoundReport:
    """The variational bound on −log p(x_0) of a batch of test data, per reverse variance, in bits per dimension;
    while it is being measured (done < T), the indices not reached yet are NaN and left out of the sums."""

    bits_per_dim: dict  # {variance: mean over the examples of L_T + Σ_t L_t}
    terms: dict  # {variance: (T,) mean L_t per schedule index t (index 0: the decoder)}
    prior: float  # mean L_T, the same for every variance
    n: int  # test examples
    v: torch.Tensor | None  # (T, 3): a learned-variance model's v per index, its 10th percentile, mean and 90th
    done: int  # indices measured so far; T when complete


def bound_steps(model, schedule: Schedule, x0: torch.Tensor, y=None, variances=("posterior", "beta"),
                generator: torch.Generator | None = None) -> Iterator[BoundReport]:
    """Measure the bound one index at a time, t = T−1 … 0 (one network call each, x_0 noised with fresh noise),
    yielding the report so far after each; close the generator to stop. "learned" needs a `LearnedVariance`."""
    learned = hasattr(model, "eps_and_v")
    if "learned" in variances and not learned:
        raise ValueError("the learned variance needs a model trained with learned variance")
    T = schedule.num_steps
    terms = {name: torch.full((T,), float("nan"), dtype=torch.float64) for name in variances}
    totals = {name: torch.zeros(x0.shape[0], dtype=torch.float64) for name in variances}
    v_stats = torch.full((T, 3), float("nan"), dtype=torch.float64) if learned else None
    prior = prior_term(schedule, x0).double().cpu()
    for done, t in enumerate(reversed(range(T)), start=1):
        t_batch = torch.full((x0.shape[0],), t, dtype=torch.long, device=x0.device)
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
        x_t = schedule.q_sample(x0, t_batch, noise)
        with torch.no_grad(), full_precision():  # the bound as measured for the cards: in float32
            eps, v = model.eps_and_v(x_t, t_batch, y) if learned else (model(x_t, t_batch, y), None)
            for name in variances:
                term = vlb_term(schedule, x0, x_t, t_batch, eps, name, v).double().cpu()
                terms[name][t], totals[name] = term.mean(), totals[name] + term
        if learned:
            flat = v.flatten().float().cpu()
            v_stats[t] = torch.stack([flat.quantile(0.1), flat.mean(), flat.quantile(0.9)]).double()
        yield BoundReport({name: float((totals[name] + prior).mean()) for name in variances},
                          {name: terms[name].clone() for name in variances}, float(prior.mean()), x0.shape[0],
                          None if v_stats is None else v_stats.clone(), done)


def bits_per_dim(model, schedule: Schedule, x0: torch.Tensor, y=None, variances=("posterior", "beta"),
                 generator: torch.Generator | None = None) -> BoundReport:
    """The full bound −log p(x_0) ≤ L_T + Σ_{t ≥ 1} L_{t−1} + L_0 in bits per dimension (T network calls)   — Ho et
    al. 2020, eq. 5; the paper's headline number, Nichol & Dhariwal 2021, Table 1–2. For 8-bit images it bounds the
    discrete likelihood; for points it is a bound on a density (it can be negative)."""
    return deque(bound_steps(model, schedule, x0, y, variances, generator), maxlen=1)[0]
