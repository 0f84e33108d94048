"""Reverse process: DDPM and DDIM samplers as generators, and guidance.

`denoise_steps` yields one `Step` per reverse step, so the UI's step-through,
GIF export and benchmarks all share this one loop; `sample` runs it to the end.
Index convention as in schedules.py: index t means t + 1 noising steps, so a
full DDPM run denoises t = T−1, …, 0 and the last step returns the clean sample.

A denoiser is any callable `model(x_t, t, y=None) -> eps` with t a long tensor
(B,) and y long labels (B,) or None. Guidance is an object with
`__call__(model, x_t, t, y, schedule) -> (eps, extras)`; it is the one place
where ε is adjusted, the same for every sampler.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .schedules import Schedule, _extract

SAMPLERS = ("ddpm", "ddim")
VARIANCES = ("posterior", "beta", "learned")  # DDPM's σ_t²: β̃_t, β_t, or the model's own Σ_θ (improved DDPM)


@dataclass
class Step:
    """One reverse step, as yielded by `denoise_steps`."""

    t: int  # schedule index just denoised (T−1 first, 0 last for DDPM)
    x_t: torch.Tensor  # the new sample after this step, x_{t−1} (the clean sample at the last step)
    eps: torch.Tensor  # predicted noise ε at index t, after guidance
    x0: torch.Tensor  # predicted clean sample x̂_0 (after clipping, as clip_x0 says)
    eps_cond: torch.Tensor | None = None  # conditional ε, when classifier-free guidance computes it
    eps_uncond: torch.Tensor | None = None  # unconditional / unguided ε, when guidance computes it
    # (B,) per example, the share of its x̂_0 values that clipping changed at this step (0: clipping did not act,
    # so the step is the unclipped eq. 11 / eq. 12); None when clipping is off
    clipped: torch.Tensor | None = None
    v: torch.Tensor | None = None  # a learned-variance model's interpolation v ∈ [0, 1] (like x_t), else None


@dataclass(frozen=True)
class DynamicThreshold:
    """Dynamic thresholding of x̂_0 (Saharia et al. 2022, Imagen, §2.3), passed as `clip_x0`.

    Per example, s = max(1, the `percentile` quantile of |x̂_0|); x̂_0 is clipped to [−s, s] and divided by s. When
    |x̂_0| ≤ 1 almost everywhere (s = 1) it is static clipping to [−1, 1]; when guidance pushes x̂_0 far out, it
    shrinks the whole prediction back instead of saturating the pixels at ±1."""

    percentile: float = 0.995  # p in (0, 1]: Imagen uses 0.995 (they call it a percentile of |x̂_0|)
    bound: float = 1.0  # B: the data's range [−B, B]; 1 for pixels (Imagen), a latent space's measured range for latents

    def __post_init__(self):
        p, b = self.percentile, self.bound
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or not 0 < p <= 1:
            raise ValueError(f"the dynamic-thresholding percentile must be a number in (0, 1], e.g. 0.995; got {p!r}")
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) or not 0 < b < 100:
            raise ValueError(f"the dynamic-thresholding bound must be a positive number, got {b!r}")


# ---- guidance: turns (model, x_t, t, y) into a guided ε ------------------------------


def _check_scale(scale) -> float | torch.Tensor:
    """A guidance scale: a finite number, or a 1-D tensor of finite numbers (one per example, for grids)."""
    if isinstance(scale, torch.Tensor) and scale.dim() > 0:
        if scale.dim() != 1 or not torch.isfinite(scale).all():
            raise ValueError(f"a per-example guidance scale must be a 1-D tensor of finite numbers, got {tuple(scale.shape)}")
        return scale.double()
    if isinstance(scale, bool) or not isinstance(scale, (int, float, torch.Tensor)) or not math.isfinite(float(scale)):
        raise ValueError(f"guidance scale must be a finite number, got {scale!r}")
    return float(scale)


def _per_example(scale: float | torch.Tensor, x: torch.Tensor) -> float | torch.Tensor:
    """A scalar as is; a (B,) scale reshaped to broadcast over x (B, …)."""
    if isinstance(scale, float):
        return scale
    if scale.shape[0] != x.shape[0]:
        raise ValueError(f"{scale.shape[0]} guidance scales for a batch of {x.shape[0]}")
    return scale.to(x.device, x.dtype).reshape(-1, *[1] * (x.dim() - 1))


def cat_conditions(a, b):
    """Two condition batches as one: labels (B,) are concatenated, and so is each part of a tuple or dict
    (a text condition: token states and their mask)."""
    if isinstance(a, torch.Tensor):
        return torch.cat([a, b.to(a.device)])
    if isinstance(a, dict):
        return {key: cat_conditions(a[key], b[key]) for key in a}
    return type(a)(cat_conditions(u, v) for u, v in zip(a, b))


class ClassifierFree:
    """Classifier-free guidance (Ho & Salimans 2022) for a model trained with label dropout.

    scale w = 1 is the plain conditional model, w = 0 the unconditional one, w > 1
    pushes further towards the class. (Ho & Salimans write ε̃ = (1 + w')ε_c − w'ε_u,
    eq. 6; our w is their 1 + w', the convention of Imagen and diffusers.)
    The unconditional input is `null`: a label (int), or a condition batch like y (for example
    `Loaded.null_condition(B)`, so labels, prompts and embeddings all work); by default the model's `null_class`.
    """

    def __init__(self, scale: float | torch.Tensor, null=None):
        self.scale = _check_scale(scale)  # guidance weight w: a number, or one per example (B,)
        self.null = null  # the "no condition" input: an int label or a condition batch; None: model.null_class

    def __call__(self, model, x_t, t, y, schedule):
        null = self.null if self.null is not None else getattr(model, "null_class", None)
        if null is None:
            raise ValueError("classifier-free guidance needs a null condition: pass null or use a model with `null_class`")
        if y is None:
            raise ValueError("classifier-free guidance needs a condition y")
        if isinstance(null, int):
            null = torch.full_like(y, null)
        # conditional and unconditional inputs in ONE forward pass: (2B, …)
        eps_cond, eps_uncond = model(torch.cat([x_t, x_t]), torch.cat([t, t]), cat_conditions(y, null)).chunk(2)
        # ε̃ = ε_uncond + w (ε_cond − ε_uncond)   — Ho & Salimans 2022, eq. 6
        eps = eps_uncond + _per_example(self.scale, x_t) * (eps_cond - eps_uncond)
        return eps, {"eps_cond": eps_cond, "eps_uncond": eps_uncond}


class ClassifierGuidance:
    """Classifier guidance (Dhariwal & Nichol 2021) of an unconditional denoiser.

    `classifier(x_t, t) -> logits` (B, num_classes) is trained on noisy x_t. The
    denoiser is called with y=None (for a conditional model with a null class,
    that is the null class, i.e. its unconditional mode).
    """

    def __init__(self, classifier: Callable, scale: float | torch.Tensor):
        self.classifier = classifier  # noisy classifier, (x_t, t) -> logits
        self.scale = _check_scale(scale)  # gradient scale s: a number, or one per example (B,)

    def __call__(self, model, x_t, t, y, schedule):
        if y is None:
            raise ValueError("classifier guidance needs class labels y")
        eps = model(x_t, t, None)
        with torch.enable_grad():  # the sampler runs under no_grad; the gradient w.r.t. x_t is needed here
            x = x_t.detach().requires_grad_(True)
            log_probs = F.log_softmax(self.classifier(x, t), dim=-1)  # (B, num_classes)
            # ∇_x log p_φ(y | x_t): each example's log p depends only on its own x, so one sum gives all B gradients
            grad = torch.autograd.grad(log_probs.gather(1, y[:, None]).sum(), x)[0]
        # ε̂ = ε_θ(x_t) − s √(1 − ᾱ_t) ∇_x log p_φ(y | x_t)   — Dhariwal & Nichol 2021, eq. 14 / Algorithm 2.
        # For DDPM this shifts the mean by s β_t/√α_t · ∇ ≈ s Σ ∇, the mean shift of their Algorithm 1.
        guided = eps - _per_example(self.scale, x_t) * _extract((1 - schedule.alphas_cumprod).sqrt(), t, x_t) * grad
        return guided, {"eps_uncond": eps}


# ---- samplers -------------------------------------------------------------------


def ddim_timesteps(num_train_steps: int, num_steps: int, start: int | None = None) -> list[int]:
    """`num_steps` evenly spaced schedule indices from `start` (default T−1) down to 0 (`start` only, for one step)."""
    first = num_train_steps - 1 if start is None else start
    ts = torch.linspace(first, 0, num_steps, dtype=torch.float64).round().long()
    return torch.unique_consecutive(ts).tolist()


def _check_args(model, schedule, x_T, sampler, num_steps, eta, y, variance, guidance, start=None, inpaint=None,
                clip_x0=True):
    """Validate the arguments of `denoise_steps`; returns (number of steps, the condition as a tensor or None)."""
    T = schedule.num_steps
    if (not isinstance(clip_x0, (bool, DynamicThreshold))
            and not (isinstance(clip_x0, (int, float)) and math.isfinite(clip_x0) and clip_x0 > 0)):
        raise ValueError(f"clip_x0 must be True, False, a positive bound B (clip x̂_0 to [−B, B]) or "
                         f"DynamicThreshold(percentile), got {clip_x0!r}")
    if start is not None and (isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < T):
        raise ValueError(f"start must be a schedule index from 0 to T − 1 = {T - 1}, got {start!r}")
    if inpaint is not None:
        known, mask = inpaint if isinstance(inpaint, tuple) and len(inpaint) == 2 else (None, None)
        if not isinstance(known, torch.Tensor) or not isinstance(mask, torch.Tensor) or known.shape != x_T.shape:
            raise ValueError(f"inpaint must be (known x_0 shaped like x_T {tuple(x_T.shape)}, mask), got "
                             f"{type(inpaint).__name__}")
        try:
            torch.broadcast_shapes(mask.shape, x_T.shape)
        except RuntimeError:
            raise ValueError(f"the inpainting mask {tuple(mask.shape)} does not fit x_T {tuple(x_T.shape)}") from None
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if variance not in VARIANCES:
        raise ValueError(f"unknown variance {variance!r}; choose one of {', '.join(VARIANCES)}")
    if not isinstance(x_T, torch.Tensor) or not x_T.is_floating_point() or x_T.dim() < 2:
        raise ValueError(f"x_T must be a float tensor (B, C, H, W) or (B, D), got {type(x_T).__name__}")
    if num_steps is None:
        num_steps = T if start is None or sampler == "ddim" else start + 1
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or not 1 <= num_steps <= T:
        raise ValueError(f"num_steps must be an integer from 1 to T = {T}, got {num_steps!r}")
    if variance == "learned" and (sampler != "ddpm" or not hasattr(model, "eps_and_v")):
        raise ValueError("variance='learned' needs sampler='ddpm' and a model trained with learned variance "
                         "(DiffusionSpec(learn_variance=True)); use 'posterior' (β̃) or 'beta' (β)")
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0.0 <= eta <= 1.0:  # NaN fails the range test
        raise ValueError(f"eta must be a number in [0, 1], got {eta!r}")
    if isinstance(y, int) and not isinstance(y, bool):
        y = torch.full((x_T.shape[0],), y, dtype=torch.long, device=x_T.device)
    if y is not None and (not isinstance(y, torch.Tensor) or y.dim() == 0 or y.shape[0] != x_T.shape[0]
                          or (y.is_floating_point() and not y.is_meta and not torch.isfinite(y).all())):
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y must be an int, labels ({x_T.shape[0]},), token ids ({x_T.shape[0]}, L) or finite "
                         f"embeddings or images ({x_T.shape[0]}, ...) to match x_T, got {shape}")
    if guidance is not None and y is None:
        raise ValueError("guidance needs a condition y (labels, a prompt's token ids or an embedding)")
    if y is not None:  # whole numbers are labels or token ids; floats an embedding or an image
        y = y.to(x_T.device) if y.is_floating_point() else y.to(x_T.device).long()
    return num_steps, y


def denoise_steps(
    model: Callable,
    schedule: Schedule,
    x_T: torch.Tensor,
    sampler: str = "ddpm",
    num_steps: int | None = None,
    eta: float = 0.0,
    y: torch.Tensor | int | None = None,
    guidance: Callable | None = None,
    generator: torch.Generator | None = None,
    clip_x0: bool | float | DynamicThreshold = True,
    variance: str = "posterior",
    start: int | None = None,
    inpaint: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Iterator[Step]:
    """Run the reverse process from x_T, yielding one `Step` per reverse step.

    sampler "ddpm": ancestral sampling over all T steps (num_steps None or T), or respaced over `num_steps` evenly
    spaced indices (Nichol & Dhariwal 2021, §4), with variance β̃_t ("posterior"), β_t ("beta") or the model's
    learned Σ_θ ("learned", for a `LearnedVariance` model); eta is ignored.
    sampler "ddim": `num_steps` evenly spaced indices (None: all T), stochasticity eta ∈ [0, 1].
    start: begin at this schedule index instead of T − 1, with x_T a sample noised to it (img2img, SDEdit:
    Meng et al. 2022); DDPM then runs start + 1 steps and DDIM spreads its num_steps over [start, 0].
    inpaint=(x_0 known, mask): regenerate only where mask is 1; after every step the rest is replaced by the
    known x_0 noised to the new index (RePaint's simple form, Lugmayr et al. 2022, eq. 8–9 without resampling).
    clip_x0: True clips x̂_0 to [−1, 1], a number B to [−B, B], `DynamicThreshold(p)` thresholds it dynamically
    (Imagen); False leaves it alone. Only unclipped (or where clipping never acts: Step.clipped == 0) is a step
    exactly Ho et al.'s eq. 11 (DDPM) or Song et al.'s eq. 12 (DDIM) with the network's ε.
    Arguments are checked when called, before the first step.
    """
    num_steps, y = _check_args(model, schedule, x_T, sampler, num_steps, eta, y, variance, guidance, start, inpaint,
                               clip_x0)
    timesteps = ddim_timesteps(schedule.num_steps, num_steps, start)
    if sampler == "ddpm":
        return _ddpm(model, schedule, x_T, timesteps, y, guidance, generator, clip_x0, variance, inpaint)
    return _ddim(model, schedule, x_T, timesteps, float(eta), y, guidance, generator, clip_x0, inpaint)


def sample(
    model: Callable,
    schedule: Schedule,
    x_T: torch.Tensor,
    sampler: str = "ddpm",
    num_steps: int | None = None,
    eta: float = 0.0,
    y: torch.Tensor | int | None = None,
    guidance: Callable | None = None,
    generator: torch.Generator | None = None,
    clip_x0: bool | float | DynamicThreshold = True,
    variance: str = "posterior",
    start: int | None = None,
    inpaint: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Run `denoise_steps` to the end and return the final sample x_0."""
    return deque(denoise_steps(model, schedule, x_T, sampler, num_steps, eta, y, guidance, generator, clip_x0, variance,
                               start, inpaint), maxlen=1)[0].x_t


def _clip(x0: torch.Tensor, clip_x0) -> torch.Tensor:
    """x̂_0 clipped as `clip_x0` says (never False here)."""
    if isinstance(clip_x0, DynamicThreshold):
        q = torch.quantile(x0.detach().flatten(1).abs().float(), clip_x0.percentile, dim=1)  # (B,) per example
        b = clip_x0.bound
        s = q.clamp(min=b).to(x0.dtype).reshape(-1, *[1] * (x0.dim() - 1))
        # x̂_0 ← clip(x̂_0, −s, s) / s, s = max(1, percentile(|x̂_0|, p))   — Saharia et al. 2022 (Imagen), §2.3
        # (for a range [−B, B]: the same on x̂_0 / B, i.e. s = max(B, percentile), clip to ±s, then × B / s)
        return torch.maximum(torch.minimum(x0, s), -s) * (b / s)
    bound = 1.0 if clip_x0 is True else float(clip_x0)  # True: the data's range [−1, 1]; B: a latent space's range
    return x0.clamp(-bound, bound)


def _keeping_v(model) -> tuple[Callable, dict]:
    """A denoiser that returns a learned-variance model's ε (so guidance works on it unchanged) and keeps the v of
    its last call in the dict returned alongside: local to one run, never shared between users."""
    kept = {}

    def eps_only(x_t, t, y=None):
        eps, kept["v"] = model.eps_and_v(x_t, t, y)
        return eps
    eps_only.null_class = getattr(model, "null_class", None)
    return eps_only, kept


def _predict(model, schedule, x_t, t, y, guidance, clip_x0) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """ε (guided, if guidance is given) and x̂_0 at the integer index t, for every sampler alike; the extras carry
    `clipped`, each example's share of x̂_0 values that clipping changed, when clipping is on, and a learned-variance
    model's `v` (B, …) (with classifier-free guidance: the conditional half's, as GLIDE does)."""
    t_batch = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)  # (B,)
    net, kept = _keeping_v(model) if hasattr(model, "eps_and_v") else (model, {})
    with torch.no_grad():  # only around the call, never around a yield: grad mode must not leak to the caller
        eps, extras = guidance(net, x_t, t_batch, y, schedule) if guidance is not None else (net(x_t, t_batch, y), {})
    if "v" in kept:
        extras = {**extras, "v": kept["v"][:x_t.shape[0]]}
    # x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t   — Ho et al. 2020, eq. 4 solved for x_0
    x0 = schedule.predict_x0(x_t, t_batch, eps)
    if clip_x0 is not False:
        raw, x0 = x0, _clip(x0, clip_x0)
        extras = {**extras, "clipped": (x0 != raw).flatten(1).float().mean(1)}  # (B,)
    return eps, x0, extras


def _noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """z ~ N(0, I) like x: drawn on the CPU from the (CPU) generator, so a seed gives the same run on every
    device, then moved to x's device."""
    return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


def _paste(inpaint, x: torch.Tensor, x0: torch.Tensor, schedule: Schedule, t_next: int | None, generator):
    """Inpainting: keep x (and x̂_0) where the mask is 1; elsewhere the known x_0, noised to index t_next
    (x_0 itself after the last step): x ← m ⊙ x + (1 − m) ⊙ q(x_{t_next} | x_0_known)."""
    if inpaint is None:
        return x, x0
    known, mask = inpaint
    mask = mask.to(x.device, x.dtype)
    if t_next is None:
        noisy = known
    else:
        t_batch = torch.full((x.shape[0],), t_next, dtype=torch.long, device=x.device)
        noisy = schedule.q_sample(known, t_batch, _noise(known, generator))
    return mask * x + (1 - mask) * noisy, mask * x0 + (1 - mask) * known


def respaced_step(schedule: Schedule, t: int, t_next: int | None) -> tuple[float, float, float, float]:
    """(ᾱ_t, ᾱ_prev, β, β̃) of one reverse step from index t to t_next (None: to the clean sample, ᾱ = 1).

    For consecutive indices these are the schedule's own β_t and β̃_t; for a subsequence they are those of the
    shorter process that visits only those indices   — Nichol & Dhariwal 2021, §4 ("respacing")."""
    alpha_bar = float(schedule.alphas_cumprod[t])
    alpha_bar_prev = 1.0 if t_next is None else float(schedule.alphas_cumprod[t_next])
    # β_t = 1 − ᾱ_t / ᾱ_{t_prev}   (their §4: the betas of the subsequence, from its ᾱ)
    beta = 1 - alpha_bar / alpha_bar_prev
    # β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t   — Ho et al. 2020, eq. 7
    return alpha_bar, alpha_bar_prev, beta, (1 - alpha_bar_prev) / (1 - alpha_bar) * beta


def learned_log_variance(v: torch.Tensor, beta: float | torch.Tensor, beta_tilde: float | torch.Tensor) -> torch.Tensor:
    """log Σ_θ = v log β_t + (1 − v) log β̃_t   — Nichol & Dhariwal 2021, eq. 15 (v per dimension, in [0, 1] when
    the network keeps to its range). β̃ must be > 0: at the last step pass β̃ of the first noising step instead."""
    log_beta = torch.log(torch.as_tensor(beta, dtype=torch.float64)).to(v)
    log_beta_tilde = torch.log(torch.as_tensor(beta_tilde, dtype=torch.float64)).to(v)
    return v * log_beta + (1 - v) * log_beta_tilde


def _ddpm(model, schedule, x_t, timesteps, y, guidance, generator, clip_x0, variance, inpaint=None) -> Iterator[Step]:
    """Ho et al. 2020, Algorithm 2, written through x̂_0 and the posterior mean so that x̂_0 can be clipped; over all
    T indices, or respaced over a subsequence (Nichol & Dhariwal 2021, §4)."""
    for i, t in enumerate(timesteps):
        t_next = timesteps[i + 1] if i + 1 < len(timesteps) else None
        eps, x0, extras = _predict(model, schedule, x_t, t, y, guidance, clip_x0)
        alpha_bar, alpha_bar_prev, beta, beta_tilde = respaced_step(schedule, t, t_next)
        # μ̃_t(x_t, x̂_0) = √ᾱ_{t−1} β_t/(1 − ᾱ_t) x̂_0 + √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) x_t   — eq. 7;
        # unclipped, this equals eq. 11: μ_θ = (x_t − β_t/√(1 − ᾱ_t) ε) / √α_t
        mean = (math.sqrt(alpha_bar_prev) * beta / (1 - alpha_bar)) * x0 \
            + (math.sqrt(1 - beta) * (1 - alpha_bar_prev) / (1 - alpha_bar)) * x_t
        if t_next is not None:
            # σ_t² = β̃_t or β_t (Ho et al. 2020, §3.2), or the learned Σ_θ (Nichol & Dhariwal 2021, eq. 15)
            if variance == "learned":
                sigma = learned_log_variance(extras["v"], beta, beta_tilde).mul(0.5).exp()
            else:
                sigma = math.sqrt(beta_tilde if variance == "posterior" else beta)
            # x_{t−1} = μ_θ(x_t, t) + σ_t z, z ~ N(0, I); no noise at the last step   — Algorithm 2, line 4
            x_t = mean + sigma * _noise(x_t, generator)
        else:
            x_t = mean
        x_t, x0 = _paste(inpaint, x_t, x0, schedule, t_next, generator)
        yield Step(t=t, x_t=x_t, eps=eps, x0=x0, **extras)


def _ddim(model, schedule, x_t, timesteps, eta, y, guidance, generator, clip_x0, inpaint=None) -> Iterator[Step]:
    """Song et al. 2021 (DDIM), eq. 12 over a subsequence of indices; eta = 0 is deterministic, eta = 1 is DDPM-like."""
    for i, t in enumerate(timesteps):
        eps, x0, extras = _predict(model, schedule, x_t, t, y, guidance, clip_x0)
        last = i == len(timesteps) - 1
        alpha_bar = float(schedule.alphas_cumprod[t])
        alpha_bar_prev = 1.0 if last else float(schedule.alphas_cumprod[timesteps[i + 1]])  # ᾱ of the clean sample is 1
        # ε implied by the (clipped) x̂_0, so that x̂_0 and the direction agree (as improved-diffusion's ddim_sample)
        eps_dir = (x_t - math.sqrt(alpha_bar) * x0) / math.sqrt(1 - alpha_bar)
        # σ_t(η) = η √((1 − ᾱ_{t−1})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t−1})   — Song et al. 2021, eq. 16
        sigma = eta * math.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar)) * math.sqrt(1 - alpha_bar / alpha_bar_prev)
        # x_{t−1} = √ᾱ_{t−1} x̂_0 + √(1 − ᾱ_{t−1} − σ_t²) ε + σ_t z   — Song et al. 2021, eq. 12
        x_t = math.sqrt(alpha_bar_prev) * x0 + math.sqrt(max(1 - alpha_bar_prev - sigma**2, 0.0)) * eps_dir
        if sigma > 0:
            x_t = x_t + sigma * _noise(x_t, generator)
        x_t, x0 = _paste(inpaint, x_t, x0, schedule, None if last else timesteps[i + 1], generator)
        yield Step(t=t, x_t=x_t, eps=eps, x0=x0, **extras)
