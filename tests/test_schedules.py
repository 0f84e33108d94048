import math

import pytest
import torch

from playground.diffusion import SCHEDULES, closed_form_vs_iterated, make_schedule


def test_linear_closed_form():
    s = make_schedule("linear", 1000)
    assert s.betas[0].item() == pytest.approx(1e-4)
    assert s.betas[-1].item() == pytest.approx(0.02)
    assert s.betas[499].item() == pytest.approx(1e-4 + (0.02 - 1e-4) * 499 / 999)
    assert s.alphas_cumprod[0].item() == pytest.approx(1 - 1e-4)
    assert s.alphas_cumprod[1].item() == pytest.approx((1 - 1e-4) * (1 - (1e-4 + (0.02 - 1e-4) / 999)))
    # other T: scaled by 1000/T (so T = 100 spans 1e-3 … 0.2)
    s100 = make_schedule("linear", 100)
    assert s100.betas[0].item() == pytest.approx(1e-3) and s100.betas[-1].item() == pytest.approx(0.2)


@pytest.mark.parametrize("T", [50, 1000])
def test_cosine_closed_form(T):
    s, eps = make_schedule("cosine", T), 0.008
    f = lambda t: math.cos((t / T + eps) / (1 + eps) * math.pi / 2) ** 2  # noqa: E731
    for k in (0, T // 4, T // 2, T - 2):  # index k = t of k + 1
        assert s.alphas_cumprod[k].item() == pytest.approx(f(k + 1) / f(0), rel=1e-9)
    assert s.betas[-1].item() == pytest.approx(0.999)  # clipped (Nichol & Dhariwal §3.2)


def test_sigmoid_and_scaled_linear_closed_form():
    s = make_schedule("sigmoid", 100)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    abar = lambda u: (sig(3) - sig(6 * u - 3)) / (sig(3) - sig(-3))  # noqa: E731
    assert s.alphas_cumprod[49].item() == pytest.approx(abar(0.5) / abar(0.0), rel=1e-9)
    sl = make_schedule("scaled_linear", 1000)
    assert sl.betas[0].item() == pytest.approx(0.00085) and sl.betas[-1].item() == pytest.approx(0.012)
    assert sl.betas[500].item() == pytest.approx((math.sqrt(0.00085) + (math.sqrt(0.012) - math.sqrt(0.00085)) * 500 / 999) ** 2)


@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("T", [2, 50, 100, 1000])
def test_schedule_invariants(kind, T):
    s = make_schedule(kind, T)
    for name in ("betas", "alphas", "alphas_cumprod", "alphas_cumprod_prev", "snr", "posterior_variance"):
        value = getattr(s, name)
        assert value.shape == (T,) and value.dtype == torch.float64, name
    assert ((s.betas > 0) & (s.betas < 1)).all()
    assert (s.alphas_cumprod[1:] < s.alphas_cumprod[:-1]).all(), "ᾱ must strictly decrease"
    assert torch.allclose(s.snr, s.alphas_cumprod / (1 - s.alphas_cumprod))
    assert s.alphas_cumprod_prev[0] == 1 and torch.equal(s.alphas_cumprod_prev[1:], s.alphas_cumprod[:-1])
    assert (s.posterior_variance <= s.betas + 1e-12).all()  # β̃_t ≤ β_t


def test_share_nearly_noise_linear_vs_cosine():
    # The figures: about 33% of steps vs about 6.5% at T = 1000.
    assert make_schedule("linear", 1000).share_nearly_noise() == pytest.approx(0.327, abs=0.005)
    assert make_schedule("cosine", 1000).share_nearly_noise() == pytest.approx(0.065, abs=0.002)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_q_sample_statistics(kind):
    s = make_schedule(kind, 1000)
    x0 = torch.full((4096, 1, 4, 4), 0.5)
    g = torch.Generator().manual_seed(0)
    for index in (0, 250, 999):
        t = torch.full((4096,), index)
        x_t = s.q_sample(x0, t, torch.randn(x0.shape, generator=g))
        abar = s.alphas_cumprod[index].item()
        assert x_t.mean().item() == pytest.approx(math.sqrt(abar) * 0.5, abs=0.01)
        assert x_t.var().item() == pytest.approx(1 - abar, rel=0.03, abs=1e-4)
        assert x_t.dtype == torch.float32


def test_posterior_matches_bayes_for_one_step():
    # For t = 0 (one step) the posterior of x_0 is exact: mean x_0, variance 0.
    s = make_schedule("linear", 10)
    x0, x1 = torch.randn(3, 2), torch.randn(3, 2)
    mean, var = s.q_posterior(x0, x1, torch.zeros(3, dtype=torch.long))
    assert torch.allclose(mean, x0) and torch.all(var == 0)


def test_closed_form_matches_iterated_steps():
    s = make_schedule("cosine", 100)
    r = closed_form_vs_iterated(s, torch.zeros(1, 8, 8) + 0.3, ui_t=60, num_draws=256,
                                generator=torch.Generator().manual_seed(1))
    assert r["sqrt_alpha_bar_iterated"] == pytest.approx(r["sqrt_alpha_bar_closed"], rel=1e-12)
    assert r["variance_iterated"] == pytest.approx(r["variance_closed"], rel=1e-12)
    assert r["residual_std_iterated"] == pytest.approx(r["residual_std_closed"], rel=0.05)
    assert r["per_pixel_mean_gap_mean"] == pytest.approx(r["per_pixel_mean_gap_expected"], rel=0.3)
    assert r["one_pair_diff_std"] == pytest.approx(r["one_pair_diff_std_expected"], rel=0.25)


@pytest.mark.parametrize("kind, T, message", [("nope", 100, "unknown schedule"), ("linear", 10**9, "num_steps"),
                                              ("linear", 1, "num_steps"), ("cosine", 2.5, "num_steps")])
def test_make_schedule_rejects_bad_arguments(kind, T, message):
    with pytest.raises(ValueError, match=message):
        make_schedule(kind, T)
