"""The one training loop: it lowers the loss for every family, yields its events, stops when closed,
is reproducible; and the diffusion family's ε/x0/v conversion and label dropout."""
import numpy as np
import pytest
import torch

from playground import data
from playground.diffusion.ddpm import DiffusionSpec, EpsModel
from playground.diffusion import make_schedule
from playground.metrics import ClassifierSpec
from playground.nn import MLPConfig, UNetConfig
from playground.train import train, train_steps


def mlp_spec(**kw):
    return DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=32), batch_size=128, lr=5e-3, ema_decay=0.0,
                         label_dropout=0.0, **kw)


def unet_spec(**kw):
    unet = UNetConfig(image_size=8, base_channels=8, num_res_blocks=1, channel_mults=(1, 2), num_classes=10)
    return DiffusionSpec(network="unet", unet=unet, batch_size=32, lr=5e-3, ema_decay=0.0, label_dropout=0.1, **kw)


def classifier_spec():
    return ClassifierSpec(in_channels=1, image_size=8, width=8, feature_dim=16, batch_size=64, lr=1e-2)


@pytest.fixture(scope="module")
def moons():
    return data.load("moons", n=512)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", n=256)


# ---- the loop learns -------------------------------------------------------------------


def test_mlp_diffusion_loss_falls(moons):
    model, history = train(mlp_spec(), moons, 150)
    loss = history["loss"]
    assert history["step"] == list(range(1, 151)) and len(loss) == 150
    assert np.mean(loss[-20:]) < 0.5 * np.mean(loss[:20])
    assert not model.training  # returned in eval mode
    assert history["wall_time_s"] > 0


def test_unet_diffusion_loss_falls(digits):
    model, history = train(unet_spec(), digits, 30)
    loss = history["loss"]
    assert np.mean(loss[-10:]) < 0.7 * np.mean(loss[:10])
    eps = model(digits.x[:3], torch.tensor([0, 500, 999]), digits.y[:3])
    assert eps.shape == (3, 1, 8, 8) and torch.isfinite(eps).all()


def test_classifier_accuracy_rises(digits):
    model, history = train(classifier_spec(), digits, 40)
    accuracy = history["accuracy"]
    assert np.mean(accuracy[:10]) < 0.3  # about chance (10 classes) at the start
    assert np.mean(accuracy[-10:]) > np.mean(accuracy[:10]) + 0.3
    with torch.no_grad():
        trained = (model(digits.x).argmax(1) == digits.y).float().mean()
    assert trained > 0.5


def test_ema_model_is_returned_and_differs_from_raw_weights(moons):
    spec = mlp_spec()
    spec.ema_decay = 0.9
    ema_model, _ = train(spec, moons, 20)
    raw_model, _ = train(mlp_spec(), moons, 20)  # same seed, same data, same steps: the raw weights
    ema, raw = ema_model.state_dict(), raw_model.state_dict()
    assert ema.keys() == raw.keys()
    assert any(not torch.equal(ema[k], raw[k]) for k in ema)


# ---- the callback, stopping, reproducibility, argument checks ------------------------------


def test_events_carry_step_total_losses_and_previews(moons):
    events = list(train_steps(mlp_spec(), moons, 9, preview_every=3, preview_n=5))
    assert [e.step for e in events] == list(range(1, 10))
    assert all(e.total == 9 for e in events)
    assert all(set(e.losses) == {"loss"} and np.isfinite(e.losses["loss"]) for e in events)
    assert [e.step for e in events if e.preview is not None] == [3, 6, 9]
    for e in events:
        if e.preview is not None:
            assert isinstance(e.preview, torch.Tensor) and e.preview.shape == (5, 2) and torch.isfinite(e.preview).all()
    assert events[-1].history["step"] == list(range(1, 10)) and len(events[-1].history["loss"]) == 9


def test_a_preview_is_also_sent_at_the_last_step(moons):
    """The docstring says "every preview_every steps"; the loop also previews the final step."""
    steps = [e.step for e in train_steps(mlp_spec(), moons, 7, preview_every=3, preview_n=2) if e.preview is not None]
    assert steps == [3, 6, 7]


def test_no_previews_without_preview_every(moons):
    assert [e.preview for e in train_steps(mlp_spec(), moons, 4)] == [None] * 4


def test_unet_preview_is_an_image_batch(digits):
    previews = [e.preview for e in train_steps(unet_spec(), digits, 2, preview_every=2, preview_n=3) if e.preview is not None]
    assert len(previews) == 1 and previews[0].shape == (3, 1, 8, 8)


def test_closing_the_generator_stops_and_keeps_the_model_so_far(moons):
    run = train_steps(mlp_spec(), moons, 100)
    events = [next(run) for _ in range(5)]
    run.close()  # what Gradio's cancel does to a handler iterating it
    with pytest.raises(StopIteration):
        next(run)
    last = events[-1]
    assert last.history["step"] == [1, 2, 3, 4, 5] and len(last.history["loss"]) == 5
    x = moons.x[:4]
    assert torch.isfinite(last.model(x, torch.zeros(4, dtype=torch.long))).all()


def test_resume_goes_on_from_the_same_weights_and_optimizer(moons):
    """Resuming from an event's trainer trains the same network further, with the same Adam state."""
    first = list(train_steps(mlp_spec(), moons, 5, seed=1))[-1]
    assert first.trainer[0] is first.model  # no EMA: the shown model is the trained one
    before = [p.detach().clone() for p in first.model.parameters()]
    resumed = list(train_steps(mlp_spec(), moons, 5, seed=2, resume=first.trainer))[-1]
    assert resumed.model is first.model  # the same network, trained further in place
    assert any(not torch.equal(a, b) for a, b in zip(before, resumed.model.parameters()))
    adam = resumed.trainer[1][0]
    assert all(int(adam.state[p]["step"]) == 10 for p in resumed.model.parameters())  # 5 + 5 Adam steps


def test_ema_averages_buffers_too():
    """BatchNorm's running statistics in the averaged model follow the trained model's (issue: DCGAN G)."""
    from playground.train import ema_update
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    ema = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    model[1].running_mean.fill_(4.0)
    model[1].num_batches_tracked.fill_(7)
    ema_update(ema, model, decay=0.75)
    torch.testing.assert_close(ema[1].running_mean, torch.full((2,), 1.0))  # 0.75·0 + 0.25·4
    assert int(ema[1].num_batches_tracked) == 7  # integer buffers are copied


def test_same_seed_gives_identical_weights(moons):
    a, history_a = train(mlp_spec(), moons, 10, seed=3)
    b, history_b = train(mlp_spec(), moons, 10, seed=3)
    c, _ = train(mlp_spec(), moons, 10, seed=4)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert history_a["loss"] == history_b["loss"]
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())


@pytest.mark.parametrize("steps", [0, -1, 2.5, True, "10", None])
def test_bad_steps_raise(moons, steps):
    with pytest.raises(ValueError, match="steps"):
        train(mlp_spec(), moons, steps)


def test_empty_dataset_raises(moons):
    with pytest.raises(ValueError, match="empty"):
        train(mlp_spec(), moons.subset(torch.tensor([], dtype=torch.long)), 5)


def test_non_finite_loss_raises(moons):
    broken = data.Dataset("moons", torch.full_like(moons.x, float("nan")), moons.y, moons.class_names, "NaN points")
    with pytest.raises(FloatingPointError, match="step 1"):
        train(mlp_spec(), broken, 3)


# ---- x0- and v-prediction -----------------------------------------------------------


@pytest.mark.parametrize("prediction", ["x0", "v"])
def test_x0_and_v_prediction_train(moons, prediction):
    model, history = train(mlp_spec(prediction=prediction), moons, 60)
    assert isinstance(model, EpsModel) and model.prediction == prediction
    assert np.all(np.isfinite(history["loss"]))
    assert np.mean(history["loss"][-15:]) < np.mean(history["loss"][:15])
    eps = model(moons.x[:4], torch.tensor([0, 10, 500, 999]))
    assert eps.shape == (4, 2) and torch.isfinite(eps).all()


class Constant(torch.nn.Module):
    """Stub network: always outputs `value` (and records its calls)."""

    def __init__(self, value, null_class=None):
        super().__init__()
        self.value, self.null_class, self.calls = value, null_class, []

    def forward(self, x_t, t, y=None):
        self.calls.append((x_t, t, y))
        return self.value


def test_eps_model_converts_x0_by_hand():
    spec = DiffusionSpec(network="mlp", schedule="cosine", num_steps=10, prediction="x0")
    abar = make_schedule("cosine", 10).alphas_cumprod
    x_t = torch.tensor([[0.5, -1.0], [2.0, 0.25]])
    x0_hat = torch.tensor([[0.1, 0.2], [-0.3, 0.4]])
    t = torch.tensor([2, 7])
    out = EpsModel(Constant(x0_hat), spec)(x_t, t)
    for i in range(2):
        a = float(abar[t[i]])
        # ε = (x_t − √ᾱ x̂_0) / √(1 − ᾱ)
        torch.testing.assert_close(out[i], (x_t[i] - a ** 0.5 * x0_hat[i]) / (1 - a) ** 0.5)


def test_eps_model_converts_v_by_hand():
    spec = DiffusionSpec(network="mlp", schedule="linear", num_steps=10, prediction="v")
    abar = make_schedule("linear", 10).alphas_cumprod
    x_t = torch.tensor([[0.5, -1.0], [2.0, 0.25]])
    v_hat = torch.tensor([[0.1, 0.2], [-0.3, 0.4]])
    t = torch.tensor([0, 9])
    out = EpsModel(Constant(v_hat), spec)(x_t, t)
    for i in range(2):
        a = float(abar[t[i]])
        # ε = √ᾱ v + √(1 − ᾱ) x_t
        torch.testing.assert_close(out[i], a ** 0.5 * v_hat[i] + (1 - a) ** 0.5 * x_t[i])


@pytest.mark.parametrize("prediction", ["x0", "v"])
def test_eps_model_recovers_the_true_noise_from_a_perfect_prediction(prediction):
    """A network that predicts the exact x0 (or v) target must give back the exact ε it was noised with."""
    schedule = make_schedule("cosine", 50)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64), torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 5, 20, 30, 45, 49])
    a = schedule.alphas_cumprod[t].reshape(-1, 1, 1, 1)
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    # v = √ᾱ ε − √(1 − ᾱ) x_0   — Salimans & Ho 2022
    target = x0 if prediction == "x0" else a.sqrt() * noise - (1 - a).sqrt() * x0
    spec = DiffusionSpec(network="unet", schedule="cosine", num_steps=50, prediction=prediction)
    torch.testing.assert_close(EpsModel(Constant(target, null_class=10), spec)(x_t, t), noise)


def test_eps_model_keeps_the_null_class_for_guidance():
    spec = unet_spec(prediction="v")
    assert spec.build().null_class == 10


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_loss_target_matches_prediction(prediction):
    """With a stub that outputs the right target, the DDPM loss is exactly 0; with zeros it is E‖target‖²."""
    spec = DiffusionSpec(network="mlp", schedule="linear", num_steps=20, prediction=prediction, label_dropout=0.0)
    x0 = torch.randn(8, 2, generator=torch.Generator().manual_seed(1))
    # replay the loss's random draws: t, then ε
    g = torch.Generator().manual_seed(5)
    t = torch.randint(0, 20, (8,), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    a = make_schedule("linear", 20).alphas_cumprod[t].float()[:, None]
    target = {"eps": noise, "x0": x0, "v": a.sqrt() * noise - (1 - a).sqrt() * x0}[prediction]
    stub = Constant(target)
    loss, metrics = spec.loss(stub, x0, torch.zeros(8, dtype=torch.long), torch.Generator().manual_seed(5))
    assert float(loss) == pytest.approx(0.0, abs=1e-10)
    _, t_seen, y_seen = stub.calls[0]
    assert torch.equal(t_seen, t) and y_seen is None  # unconditional: no labels passed
    loss, metrics = spec.loss(Constant(torch.zeros_like(x0)), x0, torch.zeros(8, dtype=torch.long),
                              torch.Generator().manual_seed(5))
    assert metrics["loss"] == pytest.approx(float((target ** 2).mean()), rel=1e-5)


# ---- label dropout -----------------------------------------------------------------


@pytest.mark.parametrize("label_dropout", [0.0, 0.25, 1.0])
def test_label_dropout_replaces_that_share_with_the_null_class(label_dropout):
    spec = DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=8, num_classes=3), num_steps=10,
                         label_dropout=label_dropout)
    n = 8000
    y = torch.arange(n) % 3
    stub = Constant(torch.zeros(n, 2))
    spec.loss(stub, torch.zeros(n, 2), y, torch.Generator().manual_seed(0))
    _, _, y_seen = stub.calls[0]
    dropped = y_seen == 3  # the null class is index num_classes
    assert dropped.float().mean().item() == pytest.approx(label_dropout, abs=0.02)
    assert torch.equal(y_seen[~dropped], y[~dropped])  # kept labels are untouched
    assert set(y_seen.tolist()) <= {0, 1, 2, 3}


# ---- the learning-rate schedule --------------------------------------------------------


def test_lr_factor_warms_up_linearly_then_follows_the_cosine_to_zero():
    from playground.train import lr_factor
    spec = mlp_spec(lr_warmup=10, lr_decay="cosine")
    assert lr_factor(spec, 5, 110) == pytest.approx(0.5)  # halfway through the warm-up
    assert lr_factor(spec, 10, 110) == pytest.approx(1.0)  # warmed up, the cosine at its start
    assert lr_factor(spec, 60, 110) == pytest.approx(0.5)  # η_t = ½ η (1 + cos(π · 50/100))
    assert lr_factor(spec, 85, 110) == pytest.approx(0.5 * (1 + np.cos(np.pi * 0.75)))
    assert lr_factor(spec, 110, 110) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(mlp_spec(), 7, 110) == 1.0  # the default: constant
    assert lr_factor(classifier_spec(), 7, 110) == 1.0  # specs without the fields train at their lr


def test_the_loop_sets_the_optimizers_rate_from_the_schedule(moons):
    spec = mlp_spec(lr_warmup=4, lr_decay="cosine")
    rates = [event.trainer[1][0].param_groups[0]["lr"] for event in train_steps(spec, moons, 12)]
    assert rates[1] == pytest.approx(spec.lr * 0.5) and rates[3] == pytest.approx(spec.lr)
    assert rates[7] == pytest.approx(spec.lr * 0.5) and rates[-1] == pytest.approx(0.0, abs=1e-12)
    # a resume starts the schedule again from the unscaled rate, not from the last (≈ 0) one
    first = list(train_steps(spec, moons, 12))[-1]
    resumed = [e.trainer[1][0].param_groups[0]["lr"] for e in train_steps(spec, moons, 4, resume=first.trainer)]
    assert resumed[-1] == pytest.approx(spec.lr)


@pytest.mark.parametrize("bad, message", [({"lr_warmup": -1}, "lr_warmup"), ({"lr_warmup": 2.5}, "lr_warmup"),
                                          ({"lr_decay": "linear"}, "lr_decay")])
def test_bad_schedule_fields_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        mlp_spec(**bad)
