"""Samplers and guidance, checked with formula dummy models on tiny schedules."""
import math

import pytest
import torch

from playground.diffusion import make_schedule
from playground.diffusion.samplers import (
    ClassifierFree,
    ClassifierGuidance,
    DynamicThreshold,
    Step,
    _clip,
    ddim_timesteps,
    denoise_steps,
    sample,
)


def scaled_model(x_t, t, y=None):
    """Formula dummy: ε = 0.1 x_t."""
    return 0.1 * x_t


def oracle_model(schedule, x0):
    """The true ε for a known x_0: ε = (x_t − √ᾱ_t x_0) / √(1 − ᾱ_t)."""
    def model(x_t, t, y=None):
        a = schedule.alphas_cumprod[t].reshape(-1, *[1] * (x_t.dim() - 1))
        return (x_t - a.sqrt() * x0) / (1 - a).sqrt()
    return model


def test_ddpm_two_steps_by_hand():
    s = make_schedule("linear", 2)  # β = (0.05, 0.999)
    b, a, ab = s.betas.tolist(), s.alphas.tolist(), s.alphas_cumprod.tolist()
    x = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=torch.float64)
    for variance in ("posterior", "beta"):
        steps = list(denoise_steps(scaled_model, s, x, "ddpm", clip_x0=False, variance=variance,
                                   generator=torch.Generator().manual_seed(0)))
        z = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        # t = 1: μ = (x − β/√(1 − ᾱ) ε)/√α (eq. 11), σ² = β̃ or β
        sigma2 = (1 - ab[0]) / (1 - ab[1]) * b[1] if variance == "posterior" else b[1]
        x1 = (x - b[1] / math.sqrt(1 - ab[1]) * 0.1 * x) / math.sqrt(a[1]) + math.sqrt(sigma2) * z
        # t = 0: mean only
        x0 = (x1 - b[0] / math.sqrt(1 - ab[0]) * 0.1 * x1) / math.sqrt(a[0])
        assert [st.t for st in steps] == [1, 0]
        torch.testing.assert_close(steps[0].x_t, x1)
        torch.testing.assert_close(steps[1].x_t, x0)
        torch.testing.assert_close(steps[1].eps, 0.1 * x1)


def test_ddim_two_steps_by_hand():
    s = make_schedule("cosine", 2)
    ab = s.alphas_cumprod.tolist()
    x = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=torch.float64)
    steps = list(denoise_steps(scaled_model, s, x, "ddim", num_steps=2, clip_x0=False))
    eps = 0.1 * x
    x0_hat = (x - math.sqrt(1 - ab[1]) * eps) / math.sqrt(ab[1])
    x1 = math.sqrt(ab[0]) * x0_hat + math.sqrt(1 - ab[0]) * eps  # eq. 12 with σ = 0
    final = (x1 - math.sqrt(1 - ab[0]) * 0.1 * x1) / math.sqrt(ab[0])  # ᾱ_prev = 1: the final sample is x̂_0
    torch.testing.assert_close(steps[0].x0, x0_hat)
    torch.testing.assert_close(steps[0].x_t, x1)
    torch.testing.assert_close(steps[1].x_t, final)
    torch.testing.assert_close(steps[1].x0, final)


@pytest.mark.parametrize("num_steps", [10, 4, 1])
def test_ddim_eta0_reconstructs_x0_with_true_eps(num_steps):
    s = make_schedule("cosine", 10)
    x0 = torch.rand(3, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 1.8 - 0.9
    noise = torch.randn(x0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x_T = s.q_sample(x0, torch.full((3,), 9), noise)
    out = sample(oracle_model(s, x0), s, x_T, "ddim", num_steps=num_steps, eta=0.0)
    torch.testing.assert_close(out, x0, rtol=0, atol=1e-10)
    # DDPM with the true ε also ends exactly at x_0 (its last step returns the posterior mean = x̂_0)
    torch.testing.assert_close(sample(oracle_model(s, x0), s, x_T, "ddpm"), x0, rtol=0, atol=1e-10)


def test_ddim_eta1_all_steps_equals_ddpm_posterior():
    s = make_schedule("linear", 6)
    x = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    ddpm = sample(scaled_model, s, x, "ddpm", generator=torch.Generator().manual_seed(5))
    ddim = sample(scaled_model, s, x, "ddim", eta=1.0, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(ddim, ddpm)


def test_determinism():
    s = make_schedule("cosine", 8)
    x = torch.randn(2, 1, 3, 3)
    a = sample(scaled_model, s, x, "ddim", num_steps=4, generator=torch.Generator().manual_seed(0))
    b = sample(scaled_model, s, x, "ddim", num_steps=4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)  # eta = 0 draws no noise
    c = sample(scaled_model, s, x, "ddpm", generator=torch.Generator().manual_seed(0))
    d = sample(scaled_model, s, x, "ddpm", generator=torch.Generator().manual_seed(0))
    e = sample(scaled_model, s, x, "ddpm", generator=torch.Generator().manual_seed(1))
    assert torch.equal(c, d) and not torch.equal(c, e)


@pytest.mark.parametrize("shape", [(2, 1, 4, 4), (3, 2)])
def test_shapes_and_decreasing_t(shape):
    s = make_schedule("linear", 5)
    x = torch.randn(shape)
    ddpm = list(denoise_steps(scaled_model, s, x, "ddpm"))
    assert [st.t for st in ddpm] == [4, 3, 2, 1, 0]
    ddim = list(denoise_steps(scaled_model, s, x, "ddim", num_steps=3, eta=0.5))
    assert [st.t for st in ddim] == [4, 2, 0]
    for st in ddpm + ddim:
        assert isinstance(st, Step) and st.x_t.shape == st.eps.shape == st.x0.shape == shape
        assert st.eps_cond is None and st.eps_uncond is None
        assert st.x0.abs().max() <= 1  # clip_x0 defaults on
    assert sample(scaled_model, s, x, "ddim", num_steps=3).shape == shape


def test_ddim_timesteps():
    assert ddim_timesteps(10, 1) == [9]
    assert ddim_timesteps(10, 10) == list(range(9, -1, -1))
    ts = ddim_timesteps(1000, 50)
    assert len(ts) == 50 and ts[0] == 999 and ts[-1] == 0 and all(a > b for a, b in zip(ts, ts[1:]))


class CountingModel:
    """ε = x_t · (y + 1), with null class 3; counts forward passes."""

    null_class = 3

    def __init__(self):
        self.calls, self.batch_sizes = 0, []

    def __call__(self, x_t, t, y=None):
        self.calls += 1
        self.batch_sizes.append(x_t.shape[0])
        y = torch.full((x_t.shape[0],), self.null_class) if y is None else y
        return x_t * (y + 1).to(x_t.dtype)[:, None]


def test_classifier_free_guidance():
    s = make_schedule("linear", 4)
    x, y = torch.randn(2, 2), torch.tensor([0, 2])
    t = torch.full((2,), 3)
    model = CountingModel()
    cond, uncond = model(x, t, y), model(x, t, None)
    for w, expected in [(1.0, cond), (0.0, uncond), (3.0, uncond + 3 * (cond - uncond))]:
        model.calls = 0
        eps, extras = ClassifierFree(w)(model, x, t, y, s)
        assert model.calls == 1 and model.batch_sizes[-1] == 4  # one batched forward pass
        torch.testing.assert_close(eps, expected)
        torch.testing.assert_close(extras["eps_cond"], cond)
        torch.testing.assert_close(extras["eps_uncond"], uncond)
    model.calls = 0
    steps = list(denoise_steps(model, s, x, "ddim", num_steps=3, y=y, guidance=ClassifierFree(2.0)))
    assert model.calls == 3 and steps[0].eps_cond is not None and steps[0].eps_uncond is not None
    # explicit null label
    torch.testing.assert_close(ClassifierFree(0.0, null=1)(model, x, t, y, s)[0], model(x, t, torch.tensor([1, 1])))
    with pytest.raises(ValueError, match="null condition"):
        ClassifierFree(2.0)(scaled_model, x, t, y, s)


def test_classifier_guidance_formula():
    s = make_schedule("cosine", 4)
    W = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.7, -1.0]])  # linear classifier, logits = x W
    seen_y = []

    def model(x_t, t, y=None):
        seen_y.append(y)
        return 0.1 * x_t

    x, y, t = torch.randn(2, 2), torch.tensor([1, 2]), torch.full((2,), 2)
    eps, extras = ClassifierGuidance(lambda x_t, t: x_t @ W, scale=2.5)(model, x, t, y, s)
    # ∇_x log softmax(xW)_y = W[:, y] − W softmax(xW)
    grad = W[:, y].T - torch.softmax(x @ W, -1) @ W.T
    expected = 0.1 * x - 2.5 * math.sqrt(1 - s.alphas_cumprod[2].item()) * grad
    torch.testing.assert_close(eps, expected)
    torch.testing.assert_close(extras["eps_uncond"], 0.1 * x)
    assert seen_y == [None]  # the denoiser is used unconditionally
    # through the sampler, even under an outer no_grad, and without leaking grad mode between steps
    with torch.no_grad():
        steps = denoise_steps(model, s, x, "ddpm", y=y, guidance=ClassifierGuidance(lambda x_t, t: x_t @ W, 2.5))
        first = next(steps)
    torch.testing.assert_close(first.eps, 0.1 * x - 2.5 * math.sqrt(1 - s.alphas_cumprod[3].item()) * grad)
    assert torch.is_grad_enabled()
    for st in steps:
        assert torch.is_grad_enabled() and not st.x_t.requires_grad


def test_no_grad_during_sampling():
    net = torch.nn.Linear(2, 2)
    steps = list(denoise_steps(lambda x_t, t, y=None: net(x_t), make_schedule("linear", 3), torch.randn(2, 2)))
    assert not any(st.eps.requires_grad or st.x_t.requires_grad for st in steps)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(sampler="euler"), "unknown sampler"),
        (dict(sampler="ddim", num_steps=0), "num_steps"),
        (dict(sampler="ddim", num_steps=6), "num_steps"),
        (dict(variance="learned"), "learned variance"),
        (dict(sampler="ddim", num_steps=3, variance="learned"), "learned variance"),
        (dict(sampler="ddim", eta=-0.1), "eta"),
        (dict(sampler="ddim", eta=1.5), "eta"),
        (dict(sampler="ddim", eta=float("nan")), "eta"),
        (dict(x_T=[[0.0, 1.0]]), "x_T"),
        (dict(y=torch.tensor([0, 1, 2])), "y must"),
        (dict(variance="fixed"), "variance"),
        (dict(guidance=ClassifierFree(2.0)), "labels"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = dict(model=scaled_model, schedule=make_schedule("linear", 5), x_T=torch.randn(2, 2)) | kwargs
    with pytest.raises(ValueError, match=message):
        denoise_steps(**args)  # raised on the call, before the first step


def test_per_example_scales_match_the_formula_row_by_row():
    """A grid passes one scale per example; each row must equal the scalar formula at its own w."""
    s = make_schedule("linear", 4)
    x, y, t = torch.randn(4, 2), torch.tensor([0, 2, 1, 2]), torch.full((4,), 3)
    model = CountingModel()
    cond, uncond = model(x, t, y), model(x, t, None)
    w = torch.tensor([0.0, 1.0, 3.0, -2.0])
    eps, _ = ClassifierFree(w)(model, x, t, y, s)
    for i, wi in enumerate(w.tolist()):
        torch.testing.assert_close(eps[i], uncond[i] + wi * (cond[i] - uncond[i]))
    W = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.7, -1.0]])
    per_row, _ = ClassifierGuidance(lambda x_t, t: x_t @ W, w)(scaled_model, x, t, y, s)
    for i, wi in enumerate(w.tolist()):
        alone, _ = ClassifierGuidance(lambda x_t, t: x_t @ W, wi)(scaled_model, x[i:i + 1], t[:1], y[i:i + 1], s)
        torch.testing.assert_close(per_row[i:i + 1], alone)
    with pytest.raises(ValueError, match="3 guidance scales for a batch of 4"):
        ClassifierFree(torch.tensor([1.0, 2.0, 3.0]))(model, x, t, y, s)


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), "2", True, torch.tensor([1.0, float("nan")]),
                                   torch.ones(2, 2)])
def test_bad_guidance_scales(scale):
    with pytest.raises(ValueError, match="scale"):
        ClassifierFree(scale)
    with pytest.raises(ValueError, match="scale"):
        ClassifierGuidance(lambda x_t, t: x_t, scale)


# ---- clipping x̂_0: static, dynamic (Imagen), and how often it acts ------------------------------------------


def test_dynamic_threshold_closed_form():
    """Example 0: |x̂_0| = 0.04, 0.08, …, 4 (100 values), so its 0.5 quantile is (2 + 2.04)/2 = 2.02 = s and
    x̂_0 ← clamp(x̂_0, −s, s)/s; example 1 lies within [−1, 1], so s = max(1, q) = 1 and nothing changes."""
    big = torch.linspace(0.04, 4, 100) * torch.tensor([1.0, -1.0]).repeat(50)
    small = torch.linspace(-0.9, 0.9, 100)
    x0 = torch.stack([big, small])
    out = _clip(x0, DynamicThreshold(0.5))
    torch.testing.assert_close(out[0], big.clamp(-2.02, 2.02) / 2.02)
    assert torch.equal(out[1], small)
    assert out[0].abs().max() == 1.0  # the saturated values land exactly on ±1
    # p = 1: s is the largest |x̂_0|, so dynamic thresholding only rescales, it never saturates
    torch.testing.assert_close(_clip(x0, DynamicThreshold(1.0))[0], big / 4)


def _known_x0(share_out: float, B: int = 2, D: int = 40):
    """x_0 with `share_out` of its values at ±3 (outside [−1, 1]) and the rest at ±0.5."""
    n_out = round(share_out * D)
    row = torch.cat([torch.full((n_out,), 3.0), torch.full((D - n_out,), 0.5)]) * torch.tensor([1.0, -1.0]).repeat(D // 2)
    return row.repeat(B, 1)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_static_clipping_share_is_reported_per_step(sampler):
    """With the oracle ε the sampler's x̂_0 is the known x_0 at every step: a quarter of its values lie at ±3, so
    static clipping changes exactly 1/4 of them at every step; off, nothing is reported."""
    s = make_schedule("linear", 6)
    x0 = _known_x0(0.25)
    x_T = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    steps = list(denoise_steps(oracle_model(s, x0), s, x_T, sampler, num_steps=6 if sampler == "ddpm" else 3))
    for st in steps:
        assert st.clipped.shape == (2,)
        torch.testing.assert_close(st.clipped, torch.full((2,), 0.25))
        assert st.x0.abs().max() <= 1
    off = list(denoise_steps(oracle_model(s, x0), s, x_T, sampler, num_steps=6 if sampler == "ddpm" else 3,
                             clip_x0=False))
    assert all(st.clipped is None for st in off)
    assert off[-1].x_t.abs().max() > 2.9  # unclipped, the oracle returns x_0 itself, ±3 included


def test_dynamic_threshold_within_range_changes_nothing():
    """All |x̂_0| ≤ 1: s = 1 at every step, so dynamic thresholding is the identity; the run equals the unclipped
    one and the share is 0 (this run follows eq. 11 exactly)."""
    s = make_schedule("cosine", 8)
    x0 = _known_x0(0.0) * 1.6  # ±0.8
    x_T = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    for sampler, k in (("ddpm", None), ("ddim", 4)):
        dynamic = list(denoise_steps(oracle_model(s, x0), s, x_T, sampler, k, generator=torch.Generator().manual_seed(2),
                                     clip_x0=DynamicThreshold(0.995)))
        off = list(denoise_steps(oracle_model(s, x0), s, x_T, sampler, k, generator=torch.Generator().manual_seed(2),
                                 clip_x0=False))
        for a, b in zip(dynamic, off):
            assert torch.equal(a.x_t, b.x_t) and torch.equal(a.x0, b.x0)
            assert torch.equal(a.clipped, torch.zeros(2))


def test_dynamic_threshold_acts_where_static_saturates():
    """Values at ±3: static clipping saturates a quarter of them at ±1; dynamic (p = 0.995: s = 3) rescales every
    value by 1/3, so the pattern survives (0.5 → 1/6) and the share it changed is all of them."""
    s = make_schedule("linear", 6)
    x0 = _known_x0(0.25)
    x_T = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    step = next(denoise_steps(oracle_model(s, x0), s, x_T, "ddim", 3, clip_x0=DynamicThreshold()))
    torch.testing.assert_close(step.x0.float(), x0 / 3, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(step.clipped, torch.ones(2))


@pytest.mark.parametrize("clip_x0", ["dynamic", -1.0, 0, None, float("nan")])
def test_bad_clip_x0(clip_x0):
    with pytest.raises(ValueError, match="clip_x0 must be"):
        list(denoise_steps(scaled_model, make_schedule("linear", 4), torch.randn(2, 2), "ddpm", clip_x0=clip_x0))


def test_dynamic_threshold_within_a_latent_range_b():
    """With a range [−B, B] (a latent space's), s = max(B, quantile); values clip to ±s and scale by B/s: the same
    as thresholding x̂_0 / B on [−1, 1] and multiplying back by B."""
    big = torch.linspace(0.04, 4, 100) * torch.tensor([1.0, -1.0]).repeat(50)
    x0 = torch.stack([big * 4.5, torch.linspace(-4, 4, 100)])
    out = _clip(x0, DynamicThreshold(0.5, bound=4.5))
    torch.testing.assert_close(out, _clip(x0 / 4.5, DynamicThreshold(0.5)) * 4.5)
    assert torch.equal(out[1], x0[1])  # within ±B: untouched
    with pytest.raises(ValueError, match="bound"):
        DynamicThreshold(0.9, bound=0)


@pytest.mark.parametrize("p", [0, 1.5, -0.1, float("nan"), True, "0.9"])
def test_bad_dynamic_percentile(p):
    with pytest.raises(ValueError, match="percentile"):
        DynamicThreshold(p)
