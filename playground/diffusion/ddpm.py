"""The diffusion family: a denoiser + a schedule, trained with the DDPM simple loss (an SNR-weighted form of it
for x0- and v-prediction: see `simple_loss`).

The family contributes its config, how to build its network, and its loss; the
one training loop (train.py) does the rest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from einops import reduce

from .schedules import make_schedule
from .schedules import _extract
from .samplers import sample
from .variance import VLB_WEIGHT, LearnedVariance, hybrid_loss
from ..nn import NetworkSpec

PREDICTIONS = ("eps", "x0", "v")
LR_DECAYS = ("constant", "cosine")


@dataclass
class DiffusionSpec(NetworkSpec):
    """Everything that defines a diffusion model and how it is trained (saved in its checkpoint card): the network
    (`NetworkSpec`: a UNet for images, an MLP for points), the schedule, the prediction target and the recipe."""

    schedule: str = "linear"  # noise schedule the model is trained with (see diffusion.make_schedule)
    num_steps: int = 1000  # T
    prediction: str = "eps"  # what the network outputs: ε (Ho et al. 2020), x0, or v (Salimans & Ho 2022)
    label_dropout: float = 0.1  # share of labels replaced by the null class, so CFG works (Ho & Salimans 2022)
    batch_size: int = 128  # examples per training step
    lr: float = 2e-4  # Adam learning rate
    lr_warmup: int = 0  # steps of linear learning-rate warm-up from 0 (see train.lr_factor)
    lr_decay: str = "constant"  # "constant", or "cosine": from lr down to 0 at the last step (Loshchilov & Hutter 2017)
    ema_decay: float = 0.999  # decay of the exponential moving average of the weights (0: no EMA)
    grad_clip: float = 1.0  # clip the gradient norm to this
    # improved DDPM (Nichol & Dhariwal 2021): also learn the reverse variance Σ_θ, trained with L_hybrid
    learn_variance: bool = False
    min_snr_gamma: float = 0.0  # > 0: min-SNR-γ loss weighting (Hang et al. 2023; they use γ = 5); 0: L_simple as is
    vlb_weight: float = VLB_WEIGHT  # λ of L_hybrid = L_simple + λ L_vlb (used with learn_variance)
    family: str = "ddpm"  # checkpoint family tag

    def __post_init__(self):
        super().__post_init__()
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {self.prediction!r}")
        if not isinstance(self.learn_variance, bool):
            raise ValueError(f"learn_variance must be True or False, got {self.learn_variance!r}")
        if isinstance(self.vlb_weight, bool) or not isinstance(self.vlb_weight, (int, float)) \
                or not 0 <= self.vlb_weight <= 1:
            raise ValueError(f"vlb_weight (λ) must be a number from 0 to 1, got {self.vlb_weight!r}")
        if isinstance(self.min_snr_gamma, bool) or not isinstance(self.min_snr_gamma, (int, float)) \
                or not 0 <= self.min_snr_gamma <= 1000:
            raise ValueError(f"min_snr_gamma must be a number from 0 (off) to 1000, got {self.min_snr_gamma!r}")
        if isinstance(self.lr_warmup, bool) or not isinstance(self.lr_warmup, int) or not 0 <= self.lr_warmup <= 10 ** 6:
            raise ValueError(f"lr_warmup must be a whole number of steps from 0 to 1,000,000, got {self.lr_warmup!r}")
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(f"lr_decay must be one of {LR_DECAYS}, got {self.lr_decay!r}")
        if self.learn_variance and self.min_snr_gamma:
            raise ValueError("a learned variance is trained with L_hybrid; min-SNR weighting is not combined with it")
        if self.learn_variance and self.prediction != "eps":
            raise ValueError("a learned variance is trained with ε-prediction (as Nichol & Dhariwal); "
                             f"got prediction={self.prediction!r}")
        make_schedule(self.schedule, self.num_steps)  # validates both

    def to_dict(self) -> dict:
        return asdict(self)

    def build(self) -> torch.nn.Module:
        if self.learn_variance:  # the network outputs ε and v: twice the channels (or coordinates)
            return LearnedVariance(self.build_network(outputs=2))
        model = self.build_network()
        return EpsModel(model, self) if self.prediction != "eps" else model

    def loss(self, model, x0: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        """`simple_loss` on one batch (L_simple for ε-prediction, an SNR-weighted form of it for x0 and v).
        Returns (loss, metrics for the history)."""
        labels = drop_labels(y, self.num_classes, self.label_dropout, generator)
        schedule = make_schedule(self.schedule, self.num_steps)
        if self.learn_variance:
            loss, parts = hybrid_loss(model, schedule, x0, labels, generator, self.vlb_weight)
            return loss, {"loss": loss.item(), **parts}
        net = model.net if isinstance(model, EpsModel) else model
        loss = simple_loss(net, schedule, x0, labels, generator, self.prediction, self.min_snr_gamma)
        return loss, {"loss": loss.item()}

    def preview(self, model, n: int, generator: torch.Generator, num_steps: int = 25) -> torch.Tensor:
        """A few samples with DDIM, for the live preview."""
        device = next(model.parameters()).device
        x_T = torch.randn((n, *self.sample_shape), generator=generator).to(device)
        y = (torch.arange(n, device=device) % self.num_classes) if self.num_classes else None
        return sample(model, make_schedule(self.schedule, self.num_steps), x_T, "ddim", min(num_steps, self.num_steps),
                      y=y, generator=generator)


def drop_labels(y: torch.Tensor, num_classes: int | None, p: float, generator: torch.Generator) -> torch.Tensor | None:
    """Labels with a share p replaced by the null class `num_classes` (so the model also learns the unconditional
    case, for classifier-free guidance); None for an unconditional model."""
    if num_classes is None:
        return None
    drop = torch.rand(y.shape[0], generator=generator).to(y.device) < p
    return torch.where(drop, torch.full_like(y, num_classes), y)


def simple_loss(net, schedule, x0: torch.Tensor, condition, generator: torch.Generator,
                prediction: str = "eps", min_snr_gamma: float = 0.0) -> torch.Tensor:
    """The squared error of a network's output against the target of `prediction` (ε, x0 or v) on clean samples
    x0 with a condition (labels, token ids, or None), a random t and ε per example. For ε it is Ho et al.'s
    L_simple; for x0 and v it is L_simple re-weighted per t (the weights are stated at the loss below).
    min_snr_gamma γ > 0 re-weights each example to the min-SNR-γ weighting (Hang et al. 2023)."""
    t, noise, x_t = schedule.noised_batch(x0, generator)
    target = {"eps": noise, "x0": x0, "v": _v_target(schedule, x0, t, noise)}[prediction]
    # L_simple = E_{t, x_0, ε} ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖²   — Ho et al. 2020, eq. 14
    # Only ε-prediction is L_simple itself. With ε̂ the ε the x0 or v output implies (as EpsModel converts it), the
    # other targets are L_simple weighted per t by a function of SNR(t) = ᾱ_t / (1 − ᾱ_t)   — Salimans & Ho 2022, §4:
    #   x0: ‖x_0 − x̂_0‖² = ‖ε − ε̂‖² / SNR(t)                    (weight 1/SNR: low-noise t count far less)
    #   v:  ‖v − v̂‖²     = ‖ε − ε̂‖² / ᾱ_t = (1 + 1/SNR(t)) ‖ε − ε̂‖² = (1 + SNR(t)) ‖x_0 − x̂_0‖²
    # e.g. linear schedule, T = 1000: x0's weight is 1e-4 at t = 1 and 2.5e4 at t = T; v's is 1.0001 and 2.5e4.
    per_example = reduce((net(x_t, t, condition) - target) ** 2, "b ... -> b", "mean")
    if min_snr_gamma:
        # min-SNR-γ: x̂_0's error weighted by min(SNR(t), γ), so the many nearly clean t stop dominating — Hang et
        # al. 2023, eq. 9; in each target's own units: ε × min(SNR, γ)/SNR, x0 × min(SNR, γ), v × min(SNR, γ)/(SNR + 1)
        snr = schedule.snr.to(x0.device)[t]
        per_example = per_example * (snr.clamp(max=min_snr_gamma) / {"eps": snr, "x0": 1.0, "v": snr + 1}[prediction]).to(
            per_example.dtype)
    return per_example.mean()


def _v_target(schedule, x0, t, noise):
    # v = √ᾱ_t ε − √(1 − ᾱ_t) x_0   — Salimans & Ho 2022, §4
    return _extract(schedule.alphas_cumprod.sqrt(), t, x0) * noise - _extract((1 - schedule.alphas_cumprod).sqrt(), t, x0) * x0


class EpsModel(torch.nn.Module):
    """Wraps an x0- or v-predicting network so that samplers always receive ε (the denoiser contract)."""

    def __init__(self, net: torch.nn.Module, spec: DiffusionSpec):
        super().__init__()
        self.net, self.prediction = net, spec.prediction
        self.schedule = make_schedule(spec.schedule, spec.num_steps)
        self.null_class = getattr(net, "null_class", None)

    def forward(self, x_t, t, y=None):
        out = self.net(x_t, t, y)
        sqrt_abar = _extract(self.schedule.alphas_cumprod.sqrt(), t, x_t)
        sqrt_1m = _extract((1 - self.schedule.alphas_cumprod).sqrt(), t, x_t)
        if self.prediction == "x0":
            # ε = (x_t − √ᾱ_t x̂_0) / √(1 − ᾱ_t)
            return (x_t - sqrt_abar * out) / sqrt_1m
        # ε = √ᾱ_t v + √(1 − ᾱ_t) x_t   (from v = √ᾱ ε − √(1−ᾱ) x_0 and x_t = √ᾱ x_0 + √(1−ᾱ) ε)
        return sqrt_abar * out + sqrt_1m * x_t
