"""The autoencoder family: the VAE's KL against its closed form, the reparameterisation's moments and
gradients, the corruption, the loss falling for AE / DAE / VAE, and the helpers the page uses."""
import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from playground import autoencoders as ae
from playground import data
from playground.autoencoders import AutoencoderSpec
from playground.train import train


def tiny(kind="vae", latent_dim=2, **kw):
    return AutoencoderSpec(kind=kind, latent_dim=latent_dim, image_size=8, width=8, hidden=32, dataset="digits",
                           batch_size=64, lr=3e-3, **kw)


def test_kl_matches_the_closed_form_for_known_mu_and_sigma():
    mu = torch.tensor([[1.0, -2.0, 0.0], [0.0, 0.0, 0.0]])
    sigma = torch.tensor([[0.5, 2.0, 1.0], [1.0, 1.0, 1.0]])
    kl = ae.gaussian_kl(mu, 2 * sigma.log())
    # ½ Σ (σ² + μ² − 1 − ln σ²), worked by hand for the first row: ½[(0.25+1−1−ln 0.25) + (4+4−1−ln 4) + 0]
    by_hand = 0.5 * ((0.25 + 1 - 1 - math.log(0.25)) + (4 + 4 - 1 - math.log(4)))
    assert kl[0].item() == pytest.approx(by_hand, rel=1e-6)
    assert kl[1].item() == pytest.approx(0.0, abs=1e-7)  # q = prior: no divergence
    torch.testing.assert_close(kl, kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)).sum(1))


def test_reparameterised_z_has_mean_mu_and_variance_sigma_squared_and_passes_gradients():
    mu = torch.tensor([[1.5, -0.5]], requires_grad=True)
    logvar = torch.tensor([[math.log(0.25), math.log(4.0)]], requires_grad=True)
    z = ae.reparameterise(mu.expand(200_000, -1), logvar.expand(200_000, -1), torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), torch.tensor([1.5, -0.5]), atol=0.02, rtol=0)
    torch.testing.assert_close(z.var(0), torch.tensor([0.25, 4.0]), atol=0, rtol=0.02)
    z.sum().backward()  # ∂z/∂μ = 1 per draw; ∂z/∂logvar = ½ σ ε, which sums to about 0
    torch.testing.assert_close(mu.grad, torch.full((1, 2), 200_000.0))
    assert logvar.grad is not None and torch.isfinite(logvar.grad).all()


def test_corrupt_noise_level_and_masking():
    x = torch.zeros(64, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(ae.corrupt(x, 0.0, 0.0, g), x)
    assert ae.corrupt(x, 0.5, 0.0, g).std().item() == pytest.approx(0.5, rel=0.02)
    assert torch.equal(ae.corrupt(x, 0.3, 1.0, g), torch.full_like(x, -1.0))  # every pixel masked
    masked = (ae.corrupt(x, 0.0, 0.3, g) == -1).float().mean().item()
    assert masked == pytest.approx(0.3, abs=0.01)
    per_image = ae.corrupt(x[:2], torch.tensor([0.0, 1.0]), 0.0, g)  # one σ per image
    assert per_image[0].abs().max() == 0 and per_image[1].std().item() == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("kind", ae.KINDS)
def test_a_few_steps_lower_the_loss(kind):
    spec = tiny(kind, latent_dim=4, noise_std=0.5 if kind == "dae" else 0.0, mask_prob=0.3 if kind == "dae" else 0.0)
    _, history = train(spec, data.load("digits", "train"), 80, seed=0)
    first, last = np.mean(history["loss"][:10]), np.mean(history["loss"][-10:])
    assert last < 0.7 * first, (first, last)
    assert ("kl" in history) == (kind == "vae")


def test_shapes_and_helpers():
    spec = tiny("vae")
    model = spec.build().eval()
    x = data.load("digits", "test", n=5).x
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 2) and model(x).shape == x.shape
    assert ae.latents(model, x).shape == (5, 2)
    path = ae.interpolate(model, x[0], x[1], 4)
    assert path.shape == (4, 1, 8, 8)
    torch.testing.assert_close(path[0], model.decode(mu[:1])[0].detach())
    torch.testing.assert_close(path[-1], model.decode(mu[1:2])[0].detach())
    draws = ae.reparameterised_draws(model, x[:1], 3, torch.Generator().manual_seed(0))
    torch.testing.assert_close(draws["z"], draws["mu"] + draws["sigma"] * draws["eps"])
    assert draws["decoded"].shape == (3, 1, 8, 8)
    preview = spec.preview(model, 4, torch.Generator().manual_seed(0))
    assert preview.shape == (12, 1, 8, 8)  # inputs, reconstructions, prior decodes


def test_latent_grid_puts_the_largest_z2_on_top():
    model = tiny("ae").build()
    model.decoder = torch.nn.Identity()  # decode(z) = z, so the grid shows its own coordinates
    grid = ae.latent_grid(model, (-1, 1), (-2, 2), 3)
    assert grid.tolist()[:3] == [[-1, 2], [0, 2], [1, 2]] and grid.tolist()[-1] == [1, -2]
    with pytest.raises(ValueError, match="2-D latent"):
        ae.latent_grid(tiny("ae", latent_dim=4).build(), (-1, 1), (-1, 1), 3)


def test_project_2d():
    z = np.random.default_rng(0).normal(size=(50, 6))
    points, pca = ae.project_2d(z, "pca")
    assert points.shape == (50, 2) and pca is not None
    same, none = ae.project_2d(z[:, :2], "tsne")
    assert np.array_equal(same, z[:, :2]) and none is None
    with pytest.raises(ValueError, match="pca"):
        ae.project_2d(z, "umap")


@pytest.mark.parametrize("bad, match", [
    (dict(kind="gan"), "kind must be"), (dict(beta=float("nan")), "beta must be"), (dict(beta=-1.0), "beta must be"),
    (dict(image_size=30), "multiple of 4"), (dict(latent_dim=0), "latent_dim"), (dict(mask_prob=1.5), "mask_prob"),
])
def test_bad_specs_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        AutoencoderSpec(**bad)


def test_only_a_vae_has_draws():
    with pytest.raises(ValueError, match="VAE"):
        ae.reparameterised_draws(tiny("ae").build(), torch.zeros(1, 1, 8, 8), 2)


def test_mse_is_per_image_and_per_pixel():
    x, x_hat = torch.zeros(3, 1, 4, 4), torch.zeros(3, 1, 4, 4)
    x_hat[1] = 0.5
    x_hat[2, 0, 0, 0] = 4.0
    torch.testing.assert_close(ae.mse(x_hat, x), torch.tensor([0.0, 0.25, 1.0]))
    assert float(ae.mse(x_hat[1], x[1])) == pytest.approx(0.25)  # one image: a number


def test_seeded_helpers_repeat_and_return_cpu_tensors():
    model = tiny("vae").build().eval()
    torch.testing.assert_close(ae.prior_samples(model, 3, 7), ae.prior_samples(model, 3, torch.Generator().manual_seed(7)))
    x = data.load("digits", "test", n=4).x
    draws = ae.reparameterised_draws(model, x[:1], 5, 0)
    assert draws["spread"] == pytest.approx(float((draws["decoded"] - draws["mean_decoded"]).abs().mean()))
    assert all(v.device.type == "cpu" for v in draws.values() if torch.is_tensor(v))
    torch.testing.assert_close(ae.decode(model, np.zeros((2, 2))), model.decode(torch.zeros(2, 2)).detach())
    assert torch.equal(ae.choose(x, 2, 0), ae.choose(x, 2, 0)) and ae.choose(x, 2, 0).shape == (2, 1, 8, 8)
    low, high = ae.code_spread(model, x)
    assert 0 <= low <= high


def test_latent_view_frames_the_codes_and_maps_points_back():
    ds = data.load("digits", "test", n=200)
    vae2 = tiny("vae").build().eval()
    view = ae.latent_view(vae2, ds.x, ds.y)
    assert view.points.shape == (200, 2) and view.projector is None and view.invertible
    assert view.x_range[0] <= -3 and view.x_range[1] >= 3  # a 2-D VAE's frame holds its prior's bulk
    assert view.nearest(view.points[17]) == 17 and np.allclose(view.code_at((0.3, -0.2)), [0.3, -0.2])
    xs, ys, codes = view.plane(3)
    assert ys[0] > ys[-1] and codes.shape == (9, 2) and np.allclose(codes[0], [xs[0], ys[0]])

    long = tiny("ae", latent_dim=6).build().eval()
    pca = ae.latent_view(long, ds.x, ds.y, "pca")
    assert pca.codes.shape == (200, 6) and 0 < pca.explained_variance <= 1
    np.testing.assert_allclose(pca.projector.transform(pca.code_at((0.1, 0.2))[None])[0], [0.1, 0.2], atol=1e-4)
    assert pca.plane(4)[2].shape == (16, 6)
    tsne = ae.latent_view(long, ds.x[:60], ds.y[:60], "tsne")
    assert not tsne.invertible and tsne.explained_variance is None
    assert np.array_equal(tsne.code_at(tsne.points[5]), tsne.codes[5])
    with pytest.raises(ValueError, match="t-SNE has no inverse"):
        tsne.plane(3)


def test_same_class_gap_and_path_measures():
    ds = data.load("digits", "test")
    assert 0 < ae.same_class_gap(ds, pairs=5) < 2

    class Uniform(torch.nn.Module):  # a stand-in classifier: features = the image, equal odds for 10 classes
        def features(self, x):
            return x.flatten(1)

        def head(self, f):
            return torch.zeros(len(f), 10)

    path = torch.stack([torch.full((1, 2, 2), v) for v in (0.0, 0.1, 0.5, 0.6)])
    measured = ae.path_measures(path, Uniform())
    assert measured["confidence"] == pytest.approx(0.1) and measured["largest_jump"] == pytest.approx(0.4)


def test_kl_per_dimension_residual_variance_and_collapse_match_an_independent_computation():
    model = tiny("vae", latent_dim=3).build().eval()
    x = data.load("digits", "test", n=6).x
    with torch.no_grad():
        out = model.encoder(x)
    mu, logvar = out[:, :3], out[:, 3:].clamp(-12, 6)
    q = Normal(mu, (0.5 * logvar).exp())
    kl = ae.kl_per_dimension(model, x, batch=4)  # batches of 4 and 2: the mean is over all 6
    torch.testing.assert_close(kl, kl_divergence(q, Normal(0.0, 1.0)).mean(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(kl.sum(), ae.gaussian_kl(mu, logvar).mean(), atol=1e-5, rtol=1e-5)
    assert ae.collapsed_dimensions(torch.tensor([0.01, 0.2, 0.149, 3.0])) == [0, 2]
    with torch.no_grad():  # z = μ: the plain per-pixel MSE of decode(μ); z drawn: the same draws by hand
        by_hand_mean = ((model.decode(mu) - x) ** 2).mean().item()
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
        by_hand_drawn = ((model.decode(z) - x) ** 2).mean().item()
    assert ae.residual_variance(model, x, sample=False) == pytest.approx(by_hand_mean, rel=1e-5)
    assert ae.residual_variance(model, x, generator=3) == pytest.approx(by_hand_drawn, rel=1e-5)
    assert ae.effective_beta(1.0, 0.5) == 1.0 and ae.effective_beta(1.0, 0.05) == pytest.approx(10.0)
    torch.testing.assert_close(ae.posterior_sigma(model, x), (0.5 * logvar).exp())
    with pytest.raises(ValueError, match="VAE"):
        ae.kl_per_dimension(tiny("ae").build(), x)


def test_aggregate_spread_is_the_spread_of_mu_plus_sigma_eps():
    model = tiny("vae", latent_dim=3).build().eval()
    x = data.load("digits", "test", n=300).x
    with torch.no_grad():
        mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
    low, high = ae.aggregate_spread(model, x, 0)
    assert (low, high) == pytest.approx((float(z.std(0).min()), float(z.std(0).max())), rel=1e-5)
    plain = tiny("ae").build().eval()
    assert ae.aggregate_spread(plain, x) == ae.code_spread(plain, x)  # a point code: z is μ
