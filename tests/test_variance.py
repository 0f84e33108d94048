"""Improved DDPM: the learned variance, respaced DDPM, L_hybrid and the variational bound in bits/dim, checked
against closed forms."""
import math

import pytest
import torch

from playground import data
from playground.diffusion import make_schedule
from playground.diffusion.ddpm import DiffusionSpec
from playground.diffusion.samplers import ClassifierFree, ddim_timesteps, denoise_steps, learned_log_variance, respaced_step, sample
from playground.diffusion.variance import (LearnedVariance, bits_per_dim, discretized_gaussian_log_likelihood,
                                           hybrid_loss, normal_kl, prior_term, vlb_term)
from playground.nn import MLPConfig
from playground.train import train


class FixedV(torch.nn.Module):
    """A learned-variance stand-in: ε = 0.1 x_t and a constant v; with a label y, ε is scaled by (y + 1)."""

    null_class = 3

    def __init__(self, v: float):
        super().__init__()
        self.v = v

    def eps_and_v(self, x_t, t, y=None):
        scale = 1.0 if y is None else (y + 1).to(x_t.dtype).reshape(-1, *[1] * (x_t.dim() - 1))
        return 0.1 * x_t * scale, torch.full_like(x_t, self.v) * (1 if y is None else scale)

    def forward(self, x_t, t, y=None):
        return self.eps_and_v(x_t, t, y)[0]


def gaussian_oracle(schedule, s: float):
    """For data x_0 ~ N(0, s² I): E[ε | x_t] = √(1 − ᾱ_t) x_t / (ᾱ_t s² + 1 − ᾱ_t), the best ε-predictor."""
    def model(x_t, t, y=None):
        a = schedule.alphas_cumprod[t].to(x_t.dtype).reshape(-1, *[1] * (x_t.dim() - 1))
        return (1 - a).sqrt() * x_t / (a * s**2 + 1 - a)
    return model


def test_normal_kl_matches_torch():
    m1, m2 = torch.randn(50, dtype=torch.float64), torch.randn(50, dtype=torch.float64)
    lv1, lv2 = torch.randn(50, dtype=torch.float64), torch.randn(50, dtype=torch.float64)
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(m1, (0.5 * lv1).exp()),
                                                 torch.distributions.Normal(m2, (0.5 * lv2).exp()))
    torch.testing.assert_close(normal_kl(m1, lv1, m2, lv2), expected)
    assert float(normal_kl(torch.tensor(1.0), torch.tensor(0.0), torch.tensor(0.0), torch.tensor(0.0))) == 0.5


@pytest.mark.parametrize("mean, std", [(0.0, 0.3), (0.9, 0.05), (-1.0, 2.0), (0.2, 1e-3)])
def test_discretised_decoder_is_a_distribution_over_the_256_levels(mean, std):
    x = torch.arange(256, dtype=torch.float64) / 127.5 - 1  # every 8-bit level on [−1, 1]
    log_p = discretized_gaussian_log_likelihood(x, torch.full_like(x, mean), torch.full_like(x, 2 * math.log(std)))
    assert abs(float(log_p.exp().sum()) - 1) < 1e-6
    if std < 0.01:  # a narrow Gaussian puts (nearly) all its mass on the level nearest its mean
        assert float(log_p.exp().max()) > 0.99


def test_learned_log_variance_interpolates_between_beta_tilde_and_beta():
    beta, beta_tilde = 0.02, 0.005
    v = torch.tensor([0.0, 1.0, 0.5])
    got = learned_log_variance(v, beta, beta_tilde).exp()
    torch.testing.assert_close(got, torch.tensor([beta_tilde, beta, math.sqrt(beta * beta_tilde)]))


def test_respacing_keeps_the_schedule_on_consecutive_steps_and_composes_on_skips():
    s = make_schedule("cosine", 50)
    for t in (49, 20, 1):
        _, _, beta, beta_tilde = respaced_step(s, t, t - 1)
        assert math.isclose(beta, float(s.betas[t]), rel_tol=1e-9)
        assert math.isclose(beta_tilde, float(s.posterior_variance[t]), rel_tol=1e-9)
    # skipping from 30 to 10: the new step's α is the product of the skipped α's
    alpha_bar, alpha_bar_prev, beta, _ = respaced_step(s, 30, 10)
    assert math.isclose(1 - beta, float(s.alphas[11:31].prod()), rel_tol=1e-9)
    assert respaced_step(s, 0, None)[1] == 1.0


@pytest.mark.parametrize("num_steps", [50, 7])
def test_respaced_ddpm_with_beta_tilde_is_ddim_with_eta_1(num_steps):
    """DDIM's σ(η = 1) is exactly the respaced β̃ (Song et al. eq. 16), so the two samplers are the same process."""
    s = make_schedule("linear", 50)
    x = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    model = gaussian_oracle(s, 0.7)
    ddpm = sample(model, s, x, "ddpm", num_steps=num_steps, clip_x0=False, generator=torch.Generator().manual_seed(4))
    ddim = sample(model, s, x, "ddim", num_steps=num_steps, eta=1.0, clip_x0=False,
                  generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(ddpm, ddim, rtol=0, atol=1e-10)
    steps = list(denoise_steps(model, s, x, "ddpm", num_steps=num_steps))
    assert [st.t for st in steps] == ddim_timesteps(50, num_steps)


def test_learned_variance_at_v_0_and_1_is_beta_tilde_and_beta():
    s = make_schedule("cosine", 20)
    x = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for v, fixed in ((0.0, "posterior"), (1.0, "beta")):
        for k in (20, 6):
            learned = sample(FixedV(v), s, x, "ddpm", k, variance="learned", generator=torch.Generator().manual_seed(2))
            same = sample(FixedV(v), s, x, "ddpm", k, variance=fixed, generator=torch.Generator().manual_seed(2))
            torch.testing.assert_close(learned, same)
    steps = list(denoise_steps(FixedV(0.25), s, x, "ddpm", 5, variance="learned"))
    assert all(torch.equal(st.v, torch.full_like(x, 0.25)) for st in steps)


def test_guided_learned_variance_takes_v_from_the_conditional_half():
    s = make_schedule("linear", 10)
    x, y = torch.randn(2, 3), torch.tensor([0, 1])
    step = next(iter(denoise_steps(FixedV(0.5), s, x, "ddpm", 5, y=y, guidance=ClassifierFree(2.0), variance="learned")))
    torch.testing.assert_close(step.v, FixedV(0.5).eps_and_v(x, None, y)[1])  # v × (y + 1) of the labels, not the null


def test_bound_of_the_optimal_denoiser_is_close_to_the_exact_likelihood():
    """Data N(0, s² I) in 2D with its exact ε: the bound on −log p_θ(x_0) must lie above the data's own −log p(x_0)
    (up to the sampling noise of 2,000 points) and, with σ² = β, close to it at T = 1000. β̃ is the variance of
    q(x_{t−1} | x_t, x_0) for one known x_0; the true reverse step is wider by the spread of x_0 given x_t, so β̃
    bounds worse."""
    s, std = make_schedule("cosine", 1000), 0.5
    x0 = torch.randn(2000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * std
    exact_bits = float(-torch.distributions.Normal(0.0, std).log_prob(x0).mean() / math.log(2))
    report = bits_per_dim(gaussian_oracle(s, std), s, x0, generator=torch.Generator().manual_seed(1))
    assert report.bits_per_dim["posterior"] > report.bits_per_dim["beta"] > exact_bits - 0.03
    assert report.bits_per_dim["beta"] < exact_bits + 0.05, (report.bits_per_dim, exact_bits)
    assert report.terms["posterior"].shape == (1000,) and report.prior < 1e-6


def test_oracle_mean_makes_every_kl_term_zero():
    """With x̂_0 = x_0 exactly, μ_θ = μ̃ and Σ = β̃: every KL term is 0, only the decoder and prior remain."""
    s = make_schedule("linear", 30)
    x0 = torch.rand(4, 1, 3, 3, dtype=torch.float64) * 2 - 1
    for t in (29, 10, 1):
        t_b = torch.full((4,), t)
        noise = torch.randn(x0.shape, dtype=torch.float64)
        x_t = s.q_sample(x0, t_b, noise)
        assert float(vlb_term(s, x0, x_t, t_b, noise, "posterior").abs().max()) < 1e-9
    assert float(prior_term(s, x0).min()) > 0


def test_hybrid_loss_trains_v_only_through_the_bound():
    """The ε half of the output layer gets the same gradient from L_hybrid as from L_simple alone (stop-gradient on
    the mean); the v half gets a gradient from the bound only."""
    spec = DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=16, num_layers=2), schedule="cosine", num_steps=100,
                         learn_variance=True, label_dropout=0.0)
    model, s = spec.build(), make_schedule("cosine", 100)
    x0 = torch.randn(64, 2)
    grads = []
    for weight in (0.001, 0.0):
        model.zero_grad()
        hybrid_loss(model, s, x0, None, torch.Generator().manual_seed(0), weight)[0].backward()
        grads.append(model.net.out.weight.grad.clone())
    torch.testing.assert_close(grads[0][:2], grads[1][:2])  # ε rows: L_simple's gradient alone
    assert grads[1][2:].abs().max() == 0 and grads[0][2:].abs().max() > 0  # v rows: only the bound moves them


def test_learned_variance_spec_trains_and_samples():
    spec = DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=32, num_layers=2, input_features=8), schedule="cosine",
                         num_steps=50, batch_size=128, lr=2e-3, label_dropout=0.0, learn_variance=True)
    model, history = train(spec, data.load("moons", "train", n=1024), 150)
    assert isinstance(model, LearnedVariance) and model.net.out.out_features == 4
    assert sum(history["simple"][-20:]) < sum(history["simple"][:20])
    x = sample(model, make_schedule("cosine", 50), torch.randn(8, 2), "ddpm", 10, variance="learned")
    assert x.shape == (8, 2) and torch.isfinite(x).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(learn_variance=True, prediction="v"), "ε-prediction"),
    (dict(learn_variance="yes"), "learn_variance"),
    (dict(vlb_weight=2.0), "vlb_weight"),
    (dict(vlb_weight=float("nan")), "vlb_weight"),
])
def test_bad_specs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DiffusionSpec(network="mlp", **kwargs)


def test_bound_refuses_a_learned_variance_for_a_fixed_model():
    with pytest.raises(ValueError, match="learned variance"):
        bits_per_dim(lambda x, t, y=None: x, make_schedule("linear", 5), torch.zeros(2, 2), variances=("learned",))


def test_min_snr_weighting_is_the_same_loss_in_every_parametrisation():
    """min-SNR-γ weights x̂_0's error by min(SNR, γ) (Hang et al. 2023): with ε̂ and the x̂_0 and v̂ it implies, the
    ε, x0 and v losses must agree, and at γ = ∞ the ε loss is plain L_simple."""
    from playground.diffusion.ddpm import simple_loss
    from playground.diffusion.schedules import _extract

    s = make_schedule("cosine", 100)
    x0 = torch.randn(256, 2, dtype=torch.float64)

    def eps_hat(x_t, t):
        return 0.3 * x_t + 0.1

    def as_target(prediction):
        def net(x_t, t, y=None):
            a = _extract(s.alphas_cumprod, t, x_t)
            e = eps_hat(x_t, t)
            x0_hat = (x_t - (1 - a).sqrt() * e) / a.sqrt()
            return {"eps": e, "x0": x0_hat, "v": a.sqrt() * e - (1 - a).sqrt() * x0_hat}[prediction]
        return net

    losses = {p: simple_loss(as_target(p), s, x0, None, torch.Generator().manual_seed(3), p, min_snr_gamma=5.0)
              for p in ("eps", "x0", "v")}
    torch.testing.assert_close(losses["x0"], losses["eps"])
    torch.testing.assert_close(losses["v"], losses["eps"])
    plain = simple_loss(as_target("eps"), s, x0, None, torch.Generator().manual_seed(3), "eps")
    huge = simple_loss(as_target("eps"), s, x0, None, torch.Generator().manual_seed(3), "eps", min_snr_gamma=1000.0)
    assert float(losses["eps"]) < float(plain)  # weights ≤ 1 on ε: the nearly clean t count less
    assert abs(float(huge) - float(plain)) < 0.05 * float(plain)
    with pytest.raises(ValueError, match="min_snr_gamma"):
        DiffusionSpec(min_snr_gamma=-1)


def test_each_learned_variance_recipe_is_compared_with_its_own_fixed_variance_recipe():
    """The card's baseline differs from the learned model only in the variance: same network, batch, rate, steps and
    seed, ε-prediction and L_simple (so the Fashion baseline is ddpm-fashion-simple, not the longer v recipe)."""
    from dataclasses import replace
    from playground.recipes import LEARNED_BASELINES, RECIPES
    assert LEARNED_BASELINES["ddpm-fashion-learned"] == "ddpm-fashion-simple"
    for learned, fixed in LEARNED_BASELINES.items():
        a, b = RECIPES[learned], RECIPES[fixed]
        assert replace(a.spec, learn_variance=False) == b.spec and b.spec.prediction == "eps", learned
        assert (a.steps, a.seed, a.n, a.dataset) == (b.steps, b.seed, b.n, b.dataset), learned
