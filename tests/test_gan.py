"""The GAN family: every loss on hand-made logits, the gradient penalty's closed form, D learning against a
fixed G, the mode-coverage count on hand-made point sets, shapes, bad settings refused, and a 2D run."""
import math

import numpy as np
import pytest
import torch

from playground import data, gan
from playground.gan import GANSpec
from playground.train import train

R, F_ = torch.tensor([2.0, 0.5]), torch.tensor([-1.0, 0.5])  # D's raw outputs on two real and two fake examples


def sp(x):
    return math.log1p(math.exp(x))


def test_discriminator_losses_on_hand_made_logits():
    minimax = (sp(-2) + sp(-0.5)) / 2 + (sp(-1) + sp(0.5)) / 2  # −log σ(r) − log(1 − σ(f)), averaged
    assert gan.d_loss("minimax", R, F_).item() == pytest.approx(minimax, rel=1e-6)
    assert gan.d_loss("nonsaturating", R, F_).item() == pytest.approx(minimax, rel=1e-6)
    assert gan.d_loss("hinge", R, F_).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1.5) / 2)
    assert gan.d_loss("wgan-gp", R, F_).item() == pytest.approx(-0.25 - 1.25)


def test_generator_losses_on_hand_made_logits():
    assert gan.g_loss("minimax", F_).item() == pytest.approx(-(sp(-1) + sp(0.5)) / 2, rel=1e-6)  # log(1 − σ(f))
    assert gan.g_loss("nonsaturating", F_).item() == pytest.approx((sp(1) + sp(-0.5)) / 2, rel=1e-6)  # −log σ(f)
    assert gan.g_loss("hinge", F_).item() == pytest.approx(0.25)
    assert gan.g_loss("wgan-gp", F_).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="loss must be one of"):
        gan.g_loss("lsgan", F_)


def test_minimax_saturates_where_nonsaturating_does_not():
    """When D confidently rejects a fake (f = −6), log(1 − σ(f)) is flat; −log σ(f) is steep (Goodfellow et al. §3)."""
    f = torch.tensor([-6.0], requires_grad=True)
    grads = {k: torch.autograd.grad(gan.g_loss(k, f), f)[0].abs().item() for k in ("minimax", "nonsaturating")}
    assert grads["minimax"] < 0.01 < 0.99 < grads["nonsaturating"]


def test_gradient_penalty_of_a_linear_critic_is_its_slope_minus_one_squared():
    critic = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))  # ‖∇D‖ = 5 everywhere
    gp = gan.gradient_penalty(critic, torch.randn(16, 2), torch.randn(16, 2))
    assert gp.item() == pytest.approx(16.0)


def test_a_few_d_steps_on_a_fixed_generator_raise_its_accuracy():
    spec = GANSpec(network="mlp", loss="nonsaturating", d_lr=3e-3)
    torch.manual_seed(0)
    model = spec.build()
    opt_d = spec.optimizers(model)[0]
    real, g = data.load("ring8", n=256).x, torch.Generator().manual_seed(0)
    first = spec.d_step(model, opt_d, real, g)["d_accuracy"]
    for _ in range(40):
        last = spec.d_step(model, opt_d, real, g)
    g_before = [p.clone() for p in model.generator.parameters()]
    assert last["d_accuracy"] > max(0.9, first) and last["d_real"] > last["d_fake"]
    assert all(torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))  # G untouched


def test_mode_coverage_counts_hand_made_point_sets():
    c = gan.RING8_CENTRES
    everywhere = np.repeat(c, 50, axis=0)
    assert gan.mode_coverage(everywhere) == {"modes_covered": 8, "modes": 8, "high_quality": 1.0, "per_mode": [50] * 8}
    one = gan.mode_coverage(np.repeat(c[3:4], 400, axis=0))
    assert one["modes_covered"] == 1 and one["per_mode"][3] == 400
    three = gan.mode_coverage(np.concatenate([np.repeat(c[:3], 100, axis=0), np.zeros((300, 2))]))
    assert three["modes_covered"] == 3 and three["high_quality"] == pytest.approx(0.5)  # the origin is no mode
    few = gan.mode_coverage(np.concatenate([np.repeat(c[:1], 200, axis=0), np.repeat(c[1:2], 2, axis=0)]))
    assert few["modes_covered"] == 1  # 2 samples of 202 are far below a quarter of a fair share (202 / 8)
    assert gan.mode_coverage(np.full((10, 2), 5.0))["modes_covered"] == 0


def test_dcgan_shapes_and_patch_map():
    spec = GANSpec(network="dcgan", latent_dim=16, width=8)
    model = spec.build().eval()
    x = model.sample(3, torch.Generator().manual_seed(0))
    assert x.shape == (3, 1, 28, 28) and x.abs().max() <= 1
    patches = model.discriminator.patches(x)
    assert patches.shape == (3, 7, 7)
    torch.testing.assert_close(model.discriminator(x), patches.mean((1, 2)))


@pytest.mark.parametrize("bad, match", [
    (dict(lr=0), "lr must be"), (dict(d_lr=float("nan")), "d_lr must be"), (dict(lr=1e6), "lr must be"),
    (dict(loss="lsgan"), "loss must be one of"), (dict(d_steps=0), "d_steps must be"), (dict(network="big"), "network"),
    (dict(latent_dim=2.5), "latent_dim must be"),
])
def test_bad_settings_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        GANSpec(**bad)


def test_a_2d_run_through_the_shared_loop_learns_the_ring():
    spec = GANSpec(network="mlp", loss="nonsaturating", batch_size=256, lr=1e-3, d_lr=1e-3)
    model, history = train(spec, data.load("ring8", n=4096), 800, seed=0)
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(history)
    coverage = gan.mode_coverage(model.sample(2000, torch.Generator().manual_seed(0)).numpy())
    assert coverage["modes_covered"] >= 6 and coverage["high_quality"] > 0.5, coverage


def test_a_live_run_pauses_steps_and_goes_on_from_where_it_stopped():
    spec = GANSpec(network="mlp", hidden=32, layers=2, batch_size=64, lr=1e-3, d_lr=1e-3, d_steps=2)
    run = gan.LiveRun.start(spec, data.load("ring8", n=512), seed=0, view_points=50, device="cpu")
    iterations = run.train(100)
    for _ in range(7):
        next(iterations)
    iterations.close()  # a pause: the counts are those of the 7 iterations done
    assert (run.iteration, run.d_updates, run.g_updates) == (7, 14, 7) and run.history["it"][-1] == 7
    g_before = [p.clone() for p in run.model.generator.parameters()]
    run.d_step()
    assert (run.iteration, run.d_updates, run.g_updates) == (7, 15, 7)
    assert all(torch.equal(a, b) for a, b in zip(g_before, run.model.generator.parameters()))  # G held fixed
    run.g_step()
    assert (run.iteration, run.d_updates, run.g_updates) == (8, 15, 8)
    for _ in run.train(2):
        pass
    assert (run.iteration, run.d_updates, run.g_updates) == (10, 19, 10) and len(run.history["d_loss"]) == 11
    view = run.view()
    assert view.values.shape == (60, 60) and view.zrange == (0.0, 1.0)
    assert 0 <= view.values.min() <= view.values.max() <= 1  # D(x) = P(real)
    assert view.points.shape == view.pull.shape == (50, 2)
    assert run.count_modes()["modes"] == 8 and run.history["cov_it"] == [10]


def test_a_live_run_does_one_thing_at_a_time():
    run = gan.LiveRun.start(GANSpec(network="mlp", hidden=16, layers=1, batch_size=16), data.load("moons", n=256), 0)
    iterations = run.train(5)
    next(iterations)
    with pytest.raises(ValueError, match="press Pause first"):
        with run.hold("step it", wait_s=0.01):
            pass
    iterations.close()
    run.d_step()
    assert run.d_updates == 2 and run.count_modes() is None  # modes are counted on the ring only


def test_latent_line_and_patch_probabilities():
    model = GANSpec(network="dcgan", latent_dim=4, width=8).build().eval()
    x, lambdas = gan.latent_line(model, 0, 1, 5)
    assert x.shape == (5, 1, 28, 28) and lambdas[0] == 0 and lambdas[-1] == 1
    z_a = model.noise(1, torch.Generator().manual_seed(0))
    torch.testing.assert_close(x[0], model(z_a)[0].detach())  # λ = 0 is G(z_a)
    p = gan.patch_probabilities(model, x[:2])
    assert p.shape == (2, 7, 7) and 0 < p.min() <= p.max() < 1


def test_the_ablation_counts_modes_for_every_setting_and_wgan_gp_takes_its_papers_optimiser():
    from playground import evaluate
    spec = evaluate.gan_spec_2d("wgan-gp", False, 1e-4)
    assert (spec.adam_beta1, spec.adam_beta2, spec.d_steps) == (0.0, 0.9, 5)
    assert (evaluate.gan_spec_2d("hinge", False, 1e-3).spectral_norm, evaluate.gan_spec_2d("hinge", True, 1e-3).d_steps) == (False, 1)
    rows = evaluate.gan_ablation(losses=("hinge",), spectral=(False, True), lrs=(1e-3,), seeds=(0, 1), iterations=5, n=200)
    assert [(r["spectral_norm"], r["seed"]) for r in rows] == [(False, 0), (False, 1), (True, 0), (True, 1)]
    assert all(0 <= r["modes_covered"] <= 8 and 0 <= r["high_quality"] <= 1 for r in rows)
    sn = gan.GANSpec(network="mlp", spectral_norm=True).build().discriminator
    plain = gan.GANSpec(network="mlp", loss="hinge").build().discriminator  # hinge no longer brings spectral norm
    assert any("parametrizations" in name for name, _ in sn.named_modules())
    assert not any("parametrizations" in name for name, _ in plain.named_modules())
