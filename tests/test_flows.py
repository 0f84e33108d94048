"""Flows: RealNVP's exact likelihood (invertibility, the log-det against a brute-force Jacobian, a density that
integrates to 1, ActNorm's initialisation), flow matching's loss and ODE solvers against a closed-form velocity
field, straightness, guidance on the velocity, bad input, and the comparison with DDIM."""
import math

import pytest
import torch

from playground import data, evaluate, flows
from playground.diffusion.samplers import ClassifierFree
from playground.nn import MLPConfig
from playground.train import train


def random_flow(layers: int = 4, actnorm: bool = True, seed: int = 0) -> flows.RealNVP:
    """A RealNVP with random (not identity) coupling nets and ActNorms, in double precision."""
    torch.manual_seed(seed)
    model = flows.RealNVPSpec(num_layers=layers, hidden_dim=16, actnorm=actnorm).build().double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def test_coupling_flow_is_invertible_and_its_logdet_matches_a_brute_force_jacobian():
    model = random_flow()
    x = torch.randn(16, 2, dtype=torch.float64)
    z, logdet = model(x)
    assert torch.allclose(model.inverse(z), x, atol=1e-10)
    assert torch.allclose(flows.brute_force_logdet(model, x), logdet, atol=1e-9)
    assert logdet.abs().max() > 0.1  # the check is not trivially 0 = 0


def test_an_identity_flow_has_the_standard_normal_density():
    model = flows.RealNVPSpec(num_layers=3, actnorm=False).build()  # zero-initialised last layers: the identity
    x = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    expected = torch.tensor([-math.log(2 * math.pi), -math.log(2 * math.pi) - 2.5])
    assert torch.allclose(model.log_prob(x), expected, atol=1e-6)


def test_a_flows_density_integrates_to_one():
    model = random_flow(layers=3)
    axis = torch.linspace(-12, 12, 801, dtype=torch.float64)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    with torch.no_grad():
        p = model.log_prob(torch.stack([xx.flatten(), yy.flatten()], 1)).exp()
    assert float(p.sum() * (axis[1] - axis[0]) ** 2) == pytest.approx(1.0, abs=0.01)


def test_samples_come_from_the_inverse_of_the_same_map():
    model = random_flow()
    g = torch.Generator().manual_seed(3)
    x = model.sample(8, g)
    z = torch.randn(8, 2, generator=torch.Generator().manual_seed(3)).double()
    assert torch.allclose(model(x)[0], z, atol=1e-9)


def test_actnorm_initialises_from_the_first_batch_and_keeps_its_values():
    layer = flows.ActNorm(2)
    h = torch.randn(512, 2) * torch.tensor([3.0, 0.5]) + torch.tensor([1.0, -2.0])
    z, logdet = layer(h)
    assert torch.allclose(z.mean(0), torch.zeros(2), atol=1e-5) and torch.allclose(z.std(0), torch.ones(2), atol=1e-4)
    assert torch.allclose(logdet, -(h.std(0).log().sum()).expand(512), atol=1e-5)
    bias = layer.bias.detach().clone()
    layer(h * 10)  # a second batch does not re-initialise
    assert torch.equal(layer.bias.detach(), bias) and float(layer.initialised) == 1.0


def test_inverse_trace_walks_from_z_to_x_one_coupling_layer_at_a_time():
    model = random_flow(layers=5)
    z = torch.randn(7, 2, dtype=torch.float64)
    trace = model.inverse_trace(z)
    assert len(trace) == 6 and torch.equal(trace[0], z)
    assert torch.allclose(trace[-1], model.inverse(z))
    frames = flows.deformation(model.float(), lines=5, points=9)
    assert frames.shape == (6, 10, 9, 2)


def test_ring8_true_density_integrates_to_one_and_peaks_at_the_modes():
    axis = torch.linspace(-1.5, 1.5, 1201, dtype=torch.float64)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    p = flows.ring8_log_prob(torch.stack([xx.flatten(), yy.flatten()], 1)).exp()
    assert float(p.sum() * (axis[1] - axis[0]) ** 2) == pytest.approx(1.0, abs=1e-3)
    centre, between = torch.tensor([[0.75, 0.0]], dtype=torch.float64), torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    # at a mode: (1/8) N(0; 0, σ²I) = 1 / (8 · 2π σ²)
    assert float(flows.ring8_log_prob(centre)) == pytest.approx(-math.log(8 * 2 * math.pi * 0.05**2), abs=1e-6)
    assert flows.ring8_log_prob(between) < -50


def test_realnvp_learns_by_maximum_likelihood_and_beats_its_start():
    ds = data.load("ring8", n=1024)
    spec = flows.RealNVPSpec(num_layers=4, hidden_dim=32, batch_size=128, lr=3e-3)
    model, history = train(spec, ds, 150)
    assert sum(history["loss"][-20:]) / 20 < history["loss"][0] - 0.8
    test = data.load("ring8", "test", n=500).x
    check = flows.log_likelihood_check(model, test, ds.x, flows.ring8_log_prob)
    assert check["kl_true_to_flow"] >= -0.05  # KL ≥ 0, up to the estimate's noise on 500 points
    assert set(check) >= {"flow_nats", "kde_nats", "true_nats", "kl_true_to_kde", "flow_vs_true_correlation"}


def test_bad_realnvp_specs_are_refused():
    with pytest.raises(ValueError, match="num_layers"):
        flows.RealNVPSpec(num_layers=0)
    with pytest.raises(ValueError, match="hidden_dim"):
        flows.RealNVPSpec(hidden_dim=2.5)


# ---- flow matching ------------------------------------------------------------------------------

MU, SIGMA = 0.7, 0.3  # data N(μ, σ²) per coordinate: the marginal velocity field is known in closed form


def gaussian_velocity(x, t_scaled, y=None):
    """E[ε − x_0 | x_t] for x_0 ~ N(μ, σ²), ε ~ N(0, 1), x_t = (1 − t) x_0 + t ε (per coordinate)."""
    t = (t_scaled / flows.TIME_SCALE).reshape(-1, *[1] * (x.dim() - 1)).to(x.dtype)
    a, b = 1 - t, t
    var = a**2 * SIGMA**2 + b**2
    return (b - a * SIGMA**2) / var * (x - a * MU) - MU


def test_interpolation_and_loss_use_the_straight_path():
    x0, noise = torch.full((3, 2), 2.0), torch.full((3, 2), -1.0)
    assert torch.equal(flows.interpolate(x0, noise, torch.tensor([0.0, 0.5, 1.0])),
                       torch.tensor([[2.0, 2.0], [0.5, 0.5], [-1.0, -1.0]]))

    def exact(x_t, t, y):  # the velocity of these pairs' straight line, whatever t is
        return noise[: len(x_t)] - x0[: len(x_t)]
    assert float(flows.flow_matching_loss(exact, x0, None, torch.Generator().manual_seed(0), noise=noise)) == 0.0


def test_ode_solvers_carry_noise_to_the_data_distribution_and_heun_is_more_accurate():
    x_1 = torch.randn(20000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def error(solver, k):
        x = flows.flow_sample(gaussian_velocity, x_1, solver, k)
        return abs(float(x.mean()) - MU) + abs(float(x.std()) - SIGMA)

    assert error("euler", 200) < 0.02 and error("heun", 20) < 0.02
    assert error("heun", 5) < error("euler", 5) / 3  # second order: far smaller error for the same steps
    assert error("euler", 50) < error("euler", 5)


def test_each_step_reports_the_straight_lines_predictions():
    x_1 = torch.randn(4, 2, dtype=torch.float64)
    step = next(flows.flow_steps(gaussian_velocity, x_1, "euler", 4))
    v = gaussian_velocity(x_1, torch.full((4,), flows.TIME_SCALE, dtype=torch.float64))
    assert step.t == 1.0
    assert torch.allclose(step.x0, x_1 - v) and torch.allclose(step.eps, x_1)  # at t = 1: ε̂ = x, x̂₀ = x − v
    assert torch.allclose(step.x_t, x_1 - 0.25 * v)


def test_classifier_free_guidance_on_the_velocity_is_guidance_on_the_implied_noise():
    def model(x, t, y):  # a "conditional" velocity: the class shifts it
        return gaussian_velocity(x, t) + (y != 9).to(x.dtype)[:, None] * 0.5

    y = torch.tensor([1, 2, 3])
    step = next(iter(list(flows.flow_steps(model, torch.randn(3, 2, dtype=torch.float64), "heun", 3, y=y,
                                           guidance=ClassifierFree(3.0, null=9)))[1:]))
    assert torch.allclose(step.eps, step.eps_uncond + 3.0 * (step.eps_cond - step.eps_uncond))


def test_straightness_of_known_paths():
    line = torch.linspace(0, 1, 5)[:, None, None] * torch.tensor([[3.0, 4.0]])  # (5, 1, 2)
    corner = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 1.0]]])
    assert float(flows.straightness(line)) == pytest.approx(1.0)
    assert float(flows.straightness(corner)) == pytest.approx(math.sqrt(2))


@pytest.mark.parametrize("kwargs, match", [
    (dict(solver="rk4"), "unknown ODE solver"), (dict(num_steps=0), "num_steps"), (dict(num_steps=2.5), "num_steps"),
    (dict(y=torch.zeros(5, dtype=torch.long)), "y must be"), (dict(x_1=torch.zeros(3, 2, dtype=torch.long)), "x_1"),
])
def test_bad_ode_arguments_are_refused_before_the_first_step(kwargs, match):
    args = dict(model=gaussian_velocity, x_1=torch.zeros(3, 2), solver="euler", num_steps=4, y=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        flows.flow_steps(**args)


def test_flow_matching_loss_falls_and_the_record_keeps_every_state():
    ds = data.load("moons", n=1024)
    spec = flows.FlowMatchingSpec(network="mlp", mlp=MLPConfig(hidden_dim=32, num_layers=2), batch_size=128, lr=3e-3,
                                  label_dropout=0.0, ema_decay=0.0)
    model, history = train(spec, ds, 120)
    assert sum(history["loss"][-20:]) / 20 < 0.85 * history["loss"][0]
    path = flows.record_path(model, torch.randn(10, 2), "heun", 6)
    assert path.states.shape == (7, 10, 2) and path.x0.shape == (6, 10, 2) and path.nfe == 12
    assert path.times[0] == 1.0 and path.times[-1] == 0.0 and (path.straightness >= 1 - 1e-6).all()


def test_steps_comparison_rows_from_the_same_noise():
    ds = data.load("moons", n=256)
    fm_spec = flows.FlowMatchingSpec(network="mlp", mlp=MLPConfig(hidden_dim=16, num_layers=2), batch_size=64,
                                     label_dropout=0.0, ema_decay=0.0)
    from playground.diffusion.ddpm import DiffusionSpec
    dd_spec = DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=16, num_layers=2), num_steps=100, batch_size=64,
                            label_dropout=0.0, ema_decay=0.0)
    fm, _ = train(fm_spec, ds, 5)
    dd, _ = train(dd_spec, ds, 5)
    rows = evaluate.steps_comparison({"fm": (fm, fm_spec, "heun"), "ddim": (dd, dd_spec, "ddim")}, "moons",
                                     steps=(2, 5), n=64)
    assert [(r["method"], r["steps"], r["nfe"]) for r in rows] == [("fm", 2, 4), ("fm", 5, 10), ("ddim", 2, 2),
                                                                    ("ddim", 5, 5)]
    assert all(r["straightness"] >= 1 - 1e-6 and r["sliced_wasserstein"] > 0 for r in rows)


class Teacher(torch.nn.Module):
    """The closed-form Gaussian velocity field as a module (reflow asks a teacher for its device)."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t, y=None):
        return gaussian_velocity(x, t)


def test_reflow_pairs_each_noise_with_the_sample_its_ode_reached():
    pairs = flows.reflow_set(Teacher().double(), 256, (2,), "heun", 100, seed=5, batch=100)
    noise = torch.randn(256, 2, generator=torch.Generator().manual_seed(5))
    assert pairs.shape == (256, 2, 2) and torch.equal(pairs[:, 1], noise)
    # the Gaussian teacher's flow map is affine: x_0 = μ + σ ε exactly
    assert torch.allclose(pairs[:, 0], MU + SIGMA * noise, atol=1e-3)


def test_a_reflow_model_learns_the_straight_line_of_each_pair():
    spec = flows.FlowMatchingSpec(network="mlp", reflow_from="fm-moons", label_dropout=0.0)
    pairs = torch.stack([torch.full((8, 2), 0.5), torch.full((8, 2), -1.0)], 1)  # every pair: x_0 = 0.5, ε = −1

    def constant(x_t, t, y):
        return torch.full_like(x_t, -1.5)  # ε − x_0
    assert float(spec.loss(constant, pairs, torch.zeros(8, dtype=torch.long), torch.Generator().manual_seed(0))[0]) == 0.0


def test_a_guided_flow_grid_shares_noise_down_columns_and_w_0_is_unconditional():
    from playground.guidance import flow_grid_steps

    class Conditional(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x, t, y):
            return gaussian_velocity(x, t) + (y != 9).to(x.dtype)[:, None] * 0.5 * (y[:, None].to(x.dtype) + 1)

    null = lambda n: torch.full((n,), 9)  # noqa: E731
    steps = list(flow_grid_steps(Conditional(), (2,), 3, [0.0, 1.0, 1.0], [4, 5], null, "euler", 5))
    x = steps[-1].x_t  # (3 rows · 2 seeds, 2)
    assert torch.equal(x[2:4], x[4:6])  # the same scale and noise: the same cell
    x_1 = torch.stack([torch.randn(2, generator=torch.Generator().manual_seed(s)) for s in (4, 5)])
    assert torch.allclose(x[0:2], flows.flow_sample(Conditional(), x_1, "euler", 5, y=torch.full((2,), 9)), atol=1e-6)
