"""Guidance experiments: grids share x_T down each column, classifier guidance pulls toward the class,
the trade-off figures come from the samples, and bad requests are refused."""
import math

import pytest
import torch

from playground import data, guidance
from playground.diffusion import make_schedule
from playground.diffusion.classifier import NoisyClassifierSpec, accuracy_by_noise
from playground.nn import MLPConfig
from playground.train import train


class GaussianOracle:
    """The exact ε-predictor for data x_0 ~ N(0, I): then x_t ~ N(0, I) and E[ε | x_t] = √(1 − ᾱ_t) x_t.
    Labels shift nothing (ε_cond = ε_uncond), except through `shift`: ε_cond = ε_uncond − shift_y."""

    null_class = 2

    def __init__(self, schedule, shift=None):
        self.schedule, self.shift = schedule, shift

    def __call__(self, x_t, t, y=None):
        eps = (1 - self.schedule.alphas_cumprod[t]).sqrt().to(x_t.dtype)[:, None] * x_t
        if y is not None and self.shift is not None:
            eps = eps - torch.where((y < self.null_class)[:, None], self.shift[y.clamp(max=1)], torch.zeros_like(x_t))
        return eps


def two_class_classifier(x_t, t):
    """p(y | x) for two classes with means ±(2, 0): logits = ±2 x₁."""
    return torch.stack([2 * x_t[:, 0], -2 * x_t[:, 0]], dim=1)


def test_classifier_guidance_moves_2d_samples_toward_the_class_mean():
    s = make_schedule("cosine", 100)
    model = GaussianOracle(s)
    means = []
    for scale in (0.0, 1.0, 3.0):
        x = guidance.sample_per_scale(model, s, (2,), label=0, scales=[scale], n=400, method="classifier",
                                      classifier=two_class_classifier, num_steps=25, seed=0)[0]
        means.append(x[:, 0].mean().item())
    assert abs(means[0]) < 0.15  # unguided: the data mean, 0
    assert means[0] + 0.3 < means[1] < means[2]  # pulled further toward class 0's mean (+2, 0) as s grows
    x = guidance.sample_per_scale(model, s, (2,), label=1, scales=[3.0], n=400, method="classifier",
                                  classifier=two_class_classifier, num_steps=25, seed=0)[0]
    assert x[:, 0].mean() < -0.6  # and toward (−2, 0) for class 1
    # negative guidance pushes away from the class
    x = guidance.sample_per_scale(model, s, (2,), label=0, scales=[-3.0], n=400, method="classifier",
                                  classifier=two_class_classifier, num_steps=25, seed=0)[0]
    assert x[:, 0].mean() < -0.6


def test_grid_shares_x_T_down_each_column_and_rows_follow_their_scale():
    s = make_schedule("linear", 50)
    model = GaussianOracle(s, shift=torch.tensor([[0.05, 0.0], [-0.05, 0.0]]))
    scales, seeds = [0.0, 1.0, 4.0], [7, 8, 9, 10]
    traj = guidance.grid(model, s, (2,), label=0, scales=scales, seeds=seeds, method="cfg", num_steps=10)
    x_T = traj.x_t[0].float().reshape(len(scales), len(seeds), 2)
    for row in range(1, len(scales)):
        torch.testing.assert_close(x_T[row], x_T[0])  # same starting noise down each column
    assert not torch.allclose(x_T[0, 0], x_T[0, 1])  # and different noise across columns
    torch.testing.assert_close(x_T[0], guidance.column_noise((2,), seeds), atol=2e-3, rtol=2e-3)  # float16 frames
    final = traj.final.reshape(len(scales), len(seeds), 2)
    assert (final[2, :, 0] >= final[1, :, 0]).all() and (final[1, :, 0] >= final[0, :, 0]).all()  # w pushes along +x
    assert final[2, :, 0].mean() > final[1, :, 0].mean() + 0.05 > final[0, :, 0].mean() + 0.1  # (x̂_0 is clipped at 1)
    assert traj.eps_cond is not None and traj.eps_uncond is not None  # both ε are recorded for step-through
    assert traj.eps_cond.shape == traj.eps.shape
    # a seed reproduces its column in any grid
    again = guidance.grid(model, s, (2,), label=0, scales=[4.0], seeds=[9], method="cfg", num_steps=10)
    torch.testing.assert_close(again.final[0], final[2, 2], atol=1e-3, rtol=1e-3)  # float16 frames


def test_cell_step_reads_one_cell_and_its_guidance_terms():
    s = make_schedule("linear", 50)
    model = GaussianOracle(s, shift=torch.tensor([[0.5, 0.0], [-0.5, 0.0]]))
    traj = guidance.grid(model, s, (2,), label=0, scales=[0.0, 2.0], seeds=[3, 4], method="cfg", num_steps=5)
    step = guidance.cell_step(traj, cell=3, frame=2)  # row 1 (w = 2), column 1 (seed 4)
    assert step.t == traj.ts[2] and step.alpha_bar == traj.alpha_bar[2] and step.x_t.dtype == torch.float32
    torch.testing.assert_close(step.x_t, traj.x_t[2, 3].float())
    # ε̃ − ε_uncond = w (ε_cond − ε_uncond), and here ε_cond − ε_uncond = −shift_0
    torch.testing.assert_close(step.guided_shift, 2 * step.class_direction, atol=2e-3, rtol=0)
    torch.testing.assert_close(step.class_direction, torch.tensor([-0.5, 0.0]), atol=2e-3, rtol=0)
    assert guidance.rms(step.class_direction) == pytest.approx(0.5 / math.sqrt(2), abs=2e-3)
    finished = guidance.cell_step(traj, 3, len(traj) - 1)
    assert finished.t == -1 and finished.eps.abs().max() == 0 and torch.equal(finished.x_t, finished.x0)


@pytest.mark.parametrize("scales, message", [
    ([], "1 to 9"), (list(range(10)), "1 to 9"), ([1.0, float("nan")], "finite"),
    ([1e6], "within"), (["2"], "finite"), ([True], "finite")])
def test_bad_scales(scales, message):
    with pytest.raises(ValueError, match=message):
        guidance.check_scales(scales)


def test_bad_grid_requests():
    s = make_schedule("linear", 10)
    model = GaussianOracle(s)
    with pytest.raises(ValueError, match="1 to 8 seeds"):
        guidance.grid(model, s, (2,), 0, [1.0], list(range(9)), "cfg")
    with pytest.raises(ValueError, match="unknown guidance method"):
        guidance.grid(model, s, (2,), 0, [1.0], [0], "magic")
    with pytest.raises(ValueError, match="noise-aware classifier"):
        guidance.grid(model, s, (2,), 0, [1.0], [0], "classifier")


def test_sample_per_scale_shape_progress_and_stop():
    s = make_schedule("linear", 20)
    model = GaussianOracle(s)
    events = list(guidance.sample_per_scale_steps(model, s, (2,), 0, [0.0, 2.0], n=5, method="cfg", num_steps=4, batch=4))
    assert [(e.done, e.total) for e in events] == [(k, 12) for k in range(1, 13)]  # 10 samples in batches of 4: 3 runs × 4 steps
    assert all(e.samples is None for e in events[:-1]) and events[-1].samples.shape == (2, 5, 2)
    stopped = guidance.sample_per_scale_steps(model, s, (2,), 0, [0.0], n=5, method="cfg", num_steps=4)
    next(stopped)
    stopped.close()  # closing the generator is how a caller stops it
    with pytest.raises(StopIteration):
        next(stopped)


def test_point_tradeoff_scores_real_points_as_real():
    train_set, test_set = data.load("ring8", n=4000, seed=0), data.load("ring8", "test", n=4000, seed=0)
    right = test_set.x[test_set.y == 3][:200]
    wrong = test_set.x[test_set.y == 5][:200]
    rows = guidance.point_tradeoff(torch.stack([right, wrong]), 3, train_set, test_set)
    assert rows["accuracy"][0] > 0.98 and rows["accuracy"][1] < 0.02
    assert rows["sliced_wasserstein"][0] < 0.03 < rows["sliced_wasserstein"][1]
    assert rows["real"]["accuracy"] > 0.98 and rows["real"]["n"] == 200
    assert guidance.tradeoff(torch.stack([right]), 3, train_set, test_set)["accuracy"] == rows["accuracy"][:1]
    with pytest.raises(ValueError, match="metric classifier"):
        guidance.tradeoff(torch.zeros(1, 4, 1, 8, 8), 3, train_set, test_set)


def test_noisy_classifier_learns_and_knows_less_at_high_noise():
    spec = NoisyClassifierSpec(network="mlp", num_classes=8, mlp=MLPConfig(hidden_dim=64, num_layers=2, input_features=8),
                               schedule="cosine", num_steps=100, batch_size=256, lr=3e-3)
    ring = data.load("ring8", n=4096)
    model, history = train(spec, ring, 300, seed=0)
    first, last = sum(history["loss"][:30]) / 30, sum(history["loss"][-30:]) / 30
    assert first > 0.9 * math.log(8) and last < first - 0.4  # from chance (log 8) down; at large t, chance is the best
    test = data.load("ring8", "test", n=2000)
    acc = accuracy_by_noise(model, spec, test.x, test.y, ts=(0, 99))
    assert acc["test_accuracy_t0"] > 0.95 and acc["test_accuracy_t99"] < 0.3  # pure noise: near chance (1/8)
    logits = model(test.x[:5], torch.zeros(5, dtype=torch.long))
    assert logits.shape == (5, 8)


def test_grid_threads_clip_x0_and_reports_it_per_row():
    """clip_x0 reaches the sampler: off, the trajectory holds no shares; static and dynamic, one share per cell,
    averaged per scale row by `clipped_per_row`."""
    from playground.diffusion.samplers import DynamicThreshold

    schedule = make_schedule("cosine", 20)
    model = GaussianOracle(schedule, shift=torch.tensor([[1.5, 0.0], [-1.5, 0.0]]))  # w = 4 pushes x̂_0 past ±1

    off = guidance.grid(model, schedule, (2,), 1, [0.0, 4.0], [0, 1, 2], "cfg", sampler="ddim", num_steps=5,
                        clip_x0=False)
    assert off.clipped is None and off.clipped_mean is None and guidance.clipped_per_row(off, 2) is None
    for clip in (True, DynamicThreshold(0.9)):
        tr = guidance.grid(model, schedule, (2,), 1, [0.0, 4.0], [0, 1, 2], "cfg", sampler="ddim", num_steps=5,
                           clip_x0=clip)
        rows = guidance.clipped_per_row(tr, 2)
        assert tr.clipped_mean.shape == (6,) and len(rows) == 2 and all(0 <= v <= 1 for v in rows)
        assert abs(rows[0] - float(tr.clipped_mean[:3].mean())) < 1e-6
        assert rows[1] > 0  # at w = 4 clipping acts
    # the share a sample_per_scale run reports is the library's too: the threaded clip_x0 changes the samples
    a, b = (guidance.sample_per_scale(model, schedule, (2,), 1, [4.0], 50, "cfg", num_steps=5, clip_x0=c)
            for c in (False, True))
    assert not torch.allclose(a, b)
