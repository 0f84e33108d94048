"""The GAN family: a generator G(z) and a discriminator D(x) trained against each other.

MLP G and D for 2D points, DCGAN-style conv G and D for 28×28 images. The DCGAN's D is a patch
discriminator (Isola et al. 2017, the idea VQGAN uses): it scores every receptive-field patch, and the image's
score is the mean of its patch scores. Losses, on D's raw output (logit) r for real and f for fake:

    minimax        D: −log σ(r) − log(1 − σ(f))     G: log(1 − σ(f))       Goodfellow et al. 2014, eq. 1
    nonsaturating  D: as minimax                    G: −log σ(f)           Goodfellow et al. 2014, §3
    hinge          D: max(0, 1 − r) + max(0, 1 + f) G: −f                  Lim & Ye 2017; Miyato et al. 2018
    wgan-gp        D: f − r + λ (‖∇ₓD(x̂)‖ − 1)²     G: −f                  Gulrajani et al. 2017, Alg. 1

    >>> from playground import gan, data
    >>> spec = gan.GANSpec(network="mlp", loss="nonsaturating")
    >>> model, history = train(spec, data.load("ring8", n=4096), 2000)
    >>> points = model.sample(500)

A `LiveRun` is a 2D GAN trained a little at a time (the /gan page's live view): `train(n)` yields after every
iteration and can be closed to pause; `d_step()` / `g_step()` then go on from exactly that model. `latent_line`
and `patch_probabilities` look inside the DCGAN.
"""
from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from einops import reduce
from einops.layers.torch import Rearrange
from torch import nn

from .data import Dataset
from .devices import default_device, device_of

LOSSES = ("minimax", "nonsaturating", "hinge", "wgan-gp")


def paper_betas(loss: str) -> tuple[float, float]:
    """Adam's (β₁, β₂) as each loss's paper trains it: WGAN-GP (0, 0.9) (Gulrajani et al. 2017, Algorithm 1); the
    others DCGAN's (0.5, 0.999) (Radford et al. 2016)."""
    return (0.0, 0.9) if loss == "wgan-gp" else (0.5, 0.999)
LOSS_TITLES = {"minimax": "original minimax", "nonsaturating": "non-saturating",
               "hinge": "hinge", "wgan-gp": "WGAN-GP"}


@dataclass
class GANSpec:
    """Everything that defines a GAN and how it is trained (saved in its checkpoint card)."""

    network: str = "mlp"  # "mlp" for 2D points, "dcgan" for images
    loss: str = "nonsaturating"  # one of LOSSES
    latent_dim: int = 8  # size of z ~ N(0, I)
    hidden: int = 128  # MLP: width of G and D
    layers: int = 3  # MLP: hidden layers of G and D
    width: int = 32  # DCGAN: channels of D's first conv (G mirrors it)
    image_size: int = 28  # DCGAN: output side, a multiple of 4
    in_channels: int = 1  # DCGAN: image channels
    spectral_norm: bool = False  # spectral normalisation of D's layers (Miyato et al. 2018)
    gp_weight: float = 10.0  # λ of the WGAN-GP gradient penalty
    d_steps: int = 1  # D updates per G update
    lr: float = 2e-4  # G's Adam learning rate
    d_lr: float = 2e-4  # D's Adam learning rate
    adam_beta1: float = 0.5  # Adam β₁ (0.5 as in DCGAN, Radford et al. 2016; WGAN-GP's paper uses 0)
    adam_beta2: float = 0.999  # Adam β₂ (WGAN-GP's paper uses 0.9)
    batch_size: int = 128  # real examples per D step
    ema_decay: float = 0.0  # no weight averaging
    grad_clip: float = 0.0  # no gradient clipping
    family: str = "gan"  # checkpoint family tag

    def __post_init__(self):
        if self.network not in ("mlp", "dcgan"):
            raise ValueError(f"network must be 'mlp' or 'dcgan', got {self.network!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        for name, lo, hi in (("lr", 1e-6, 1.0), ("d_lr", 1e-6, 1.0), ("gp_weight", 0.0, 1000.0), ("adam_beta1", 0.0, 0.999),
                             ("adam_beta2", 0.0, 0.9999)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not lo <= value <= hi:
                raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}; got {value!r}")
        for name, lo, hi in (("d_steps", 1, 20), ("latent_dim", 1, 512)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{name} must be a whole number from {lo} to {hi}; got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample: (2,) for the 2D MLP GAN, (C, H, W) for the DCGAN."""
        return (2,) if self.network == "mlp" else (self.in_channels, self.image_size, self.image_size)

    def build(self) -> "GAN":
        return GAN(self)

    def optimizers(self, model: "GAN") -> list[torch.optim.Optimizer]:
        betas = (self.adam_beta1, self.adam_beta2)
        return [torch.optim.Adam(model.discriminator.parameters(), lr=self.d_lr, betas=betas),
                torch.optim.Adam(model.generator.parameters(), lr=self.lr, betas=betas)]

    def train_step(self, model: "GAN", optimizers, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        """One iteration: `d_steps` D updates on this batch, then one G update. Returns (G's loss, metrics)."""
        metrics = {}
        for _ in range(self.d_steps):
            metrics.update(self.d_step(model, optimizers[0], x, generator))
        metrics.update(self.g_step(model, optimizers[1], x.shape[0], generator))
        return metrics["g_loss"], metrics

    def d_step(self, model: "GAN", optimizer, x: torch.Tensor, generator: torch.Generator) -> dict:
        """One update of D on a real batch and as many fakes (G is held fixed)."""
        with torch.no_grad():
            fake = model.generator(model.noise(x.shape[0], generator).to(x.device))
        real_logits, fake_logits = model.discriminator(x), model.discriminator(fake)
        loss = d_loss(self.loss, real_logits, fake_logits)
        if self.loss == "wgan-gp":
            loss = loss + self.gp_weight * gradient_penalty(model.discriminator, x, fake, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"d_loss": loss.item(), "d_real": _score(self.loss, real_logits), "d_fake": _score(self.loss, fake_logits),
                "d_accuracy": float(((real_logits > 0).float().mean() + (fake_logits < 0).float().mean()) / 2)}

    def g_step(self, model: "GAN", optimizer, n: int, generator: torch.Generator) -> dict:
        """One update of G through D (D's weights get gradients too, but only G's optimizer steps)."""
        device = next(model.parameters()).device
        fake_logits = model.discriminator(model.generator(model.noise(n, generator).to(device)))
        loss = g_loss(self.loss, fake_logits)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.discriminator.zero_grad(set_to_none=True)
        return {"g_loss": loss.item()}

    @torch.no_grad()
    def preview(self, model: "GAN", n: int, generator: torch.Generator) -> torch.Tensor:
        return model.sample(n, generator)


def _score(kind: str, logits: torch.Tensor) -> float:
    """D's mean output as a probability σ(logit) — or, for the WGAN critic, its raw mean score."""
    logits = logits.detach()
    return float(logits.mean() if kind == "wgan-gp" else torch.sigmoid(logits).mean())


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D's loss on its raw outputs for a real and a fake batch (without WGAN-GP's penalty)."""
    if kind in ("minimax", "nonsaturating"):
        # −log σ(r) − log(1 − σ(f)) = softplus(−r) + softplus(f)
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind == "wgan-gp":
        return fake.mean() - real.mean()
    raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {kind!r}")


def g_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """G's loss on D's raw outputs for a fake batch."""
    if kind == "minimax":
        return -F.softplus(fake).mean()  # log(1 − σ(f)) = −softplus(f): flat when D easily spots the fakes
    if kind == "nonsaturating":
        return F.softplus(-fake).mean()  # −log σ(f): steep exactly when D spots the fakes
    if kind in ("hinge", "wgan-gp"):
        return -fake.mean()
    raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {kind!r}")


def gradient_penalty(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, generator=None) -> torch.Tensor:
    """(‖∇ₓD(x̂)‖₂ − 1)² at x̂ = ε x + (1 − ε) x̃, ε ~ U(0, 1) — Gulrajani et al. 2017, Alg. 1."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator).to(real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(discriminator(mixed).sum(), mixed, create_graph=True)
    return ((reduce(grad**2, "b ... -> b", "sum").sqrt() - 1) ** 2).mean()


class GAN(nn.Module):
    def __init__(self, spec: GANSpec):
        super().__init__()
        self.latent_dim = spec.latent_dim
        sn = nn.utils.parametrizations.spectral_norm if spec.spectral_norm else (lambda m: m)
        if spec.network == "mlp":
            self.generator = _mlp(spec.latent_dim, spec.hidden, spec.layers, 2, lambda m: m)
            self.discriminator = _mlp(2, spec.hidden, spec.layers, 1, sn)
        else:
            self.generator = DCGenerator(spec)
            self.discriminator = PatchDiscriminator(spec, sn)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.generator(self.noise(n, generator).to(next(self.parameters()).device))


def _mlp(d_in: int, hidden: int, layers: int, d_out: int, wrap) -> nn.Sequential:
    dims = [d_in] + [hidden] * layers
    body = [m for a, b in zip(dims, dims[1:]) for m in (wrap(nn.Linear(a, b)), nn.LeakyReLU(0.2))]
    return nn.Sequential(*body, wrap(nn.Linear(hidden, d_out)), Rearrange("b 1 -> b") if d_out == 1 else nn.Identity())


class DCGenerator(nn.Module):
    """z -> a linear layer -> (2w, s/4, s/4) -> two stride-2 transposed convs -> image in [-1, 1] (Radford et al. 2016)."""

    def __init__(self, spec: GANSpec):
        super().__init__()
        w, s = spec.width, spec.image_size // 4
        self.net = nn.Sequential(
            nn.Linear(spec.latent_dim, 4 * w * s * s), Rearrange("b (c h w) -> b c h w", c=4 * w, h=s, w=s),
            nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, spec.in_channels, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class PatchDiscriminator(nn.Module):
    """Fully convolutional: (B, C, H, W) -> a (B, H/4, W/4) map of logits, one per patch of the image (each sees a
    26×26 window centred on its own 4×4 cell); the image's logit is their mean (PatchGAN, Isola et al. 2017 §3.2.2).
    A smaller window (10×10 was tried) lets G fool D with locally plausible texture and no garment shape."""

    def __init__(self, spec: GANSpec, wrap):
        super().__init__()
        w = spec.width
        self.net = nn.Sequential(
            wrap(nn.Conv2d(spec.in_channels, w, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
            wrap(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
            wrap(nn.Conv2d(2 * w, 2 * w, 3, padding=1)), nn.LeakyReLU(0.2),
            wrap(nn.Conv2d(2 * w, 2 * w, 3, padding=1)), nn.LeakyReLU(0.2),
            wrap(nn.Conv2d(2 * w, 1, 1)), Rearrange("b 1 h w -> b h w"))

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return reduce(self.patches(x), "b h w -> b", "mean")


# ---- looking inside a 2D GAN ------------------------------------------------------------------------------

def discriminator_field(model: GAN, limit: float = 1.5, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """D's raw output on an n × n grid over [−limit, limit]²: (axis values (n,), outputs (n, n), row = y)."""
    axis = torch.linspace(-limit, limit, n)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1).to(device_of(model))
    with torch.no_grad():
        out = model.discriminator(grid).reshape(n, n)
    return axis.numpy(), out.cpu().numpy()


def generator_pull(model: GAN, spec: GANSpec, z: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The points G(z) and −∇ₓ of G's loss at them: the direction each fake point is pushed by the next G step."""
    with torch.no_grad():
        points = model.generator(z.to(device_of(model)))
    x = points.clone().requires_grad_(True)
    grad, = torch.autograd.grad(g_loss(spec.loss, model.discriminator(x)) * len(x), x)
    model.discriminator.zero_grad(set_to_none=True)
    return points.cpu().numpy(), (-grad).cpu().numpy()


class FieldView(NamedTuple):
    """A 2D GAN at one moment, as the live view draws it."""

    axis: np.ndarray  # (n,) grid values along x and along y
    values: np.ndarray  # (n, n) D's verdict over the plane (row = y): P(real) = σ(logit), or the WGAN critic's score
    zrange: tuple[float, float]  # the fixed colour range of `values`
    name: str  # what `values` is, in words
    points: np.ndarray  # (V, 2) G(z) at the run's fixed view z
    pull: np.ndarray  # (V, 2) −∇ₓ of G's loss there: the force on each point (it moves only through G's weights)


@dataclass(eq=False)
class LiveRun:
    """A 2D GAN trained a little at a time: some iterations, a pause, single D or G updates, more iterations.
    It owns its model, optimizers, random stream and counts, so every action goes on from the last one.
    A run does one thing at a time: while `train` is open (not yet finished or closed), `d_step` and `g_step`
    wait for it briefly and then refuse.

        >>> run = LiveRun.start(GANSpec(network="mlp"), data.load("ring8", n=4096), seed=0)
        >>> for _ in run.train(500): pass
        >>> run.d_step(); run.iteration, run.d_updates   # (500, 501)
    """

    spec: GANSpec  # its settings (an MLP GAN)
    data: Dataset  # the 2D points it learns
    seed: int  # the seed it started from
    model: GAN  # G and D, trained in place
    optimizers: list  # [D's Adam, G's Adam], their moments kept across pauses
    view_z: torch.Tensor  # (V, latent) fixed z of the points drawn, so they move smoothly
    generator: torch.Generator  # batches and noise of every update
    iteration: int = 0  # G updates so far: an iteration is d_steps D updates, then one G update
    d_updates: int = 0
    g_updates: int = 0
    history: dict = field(default_factory=lambda: {"it": [], "d_loss": [], "g_loss": [], "cov_it": [], "covered": [],
                                                   "quality": []})
    busy: threading.Lock = field(default_factory=threading.Lock)  # held while an update or a `train` runs

    @classmethod
    def start(cls, spec: GANSpec, data: Dataset, seed: int, view_points: int = 400,
              device: torch.device | str | None = None) -> "LiveRun":
        torch.manual_seed(seed)
        model = spec.build().to(default_device() if device is None else device)
        return cls(spec, data, seed, model, spec.optimizers(model),
                   torch.randn(view_points, spec.latent_dim, generator=torch.Generator().manual_seed(seed + 1)),
                   torch.Generator().manual_seed(seed + 2))

    @contextlib.contextmanager
    def hold(self, what: str, wait_s: float = 2.0):
        """Keep the run to oneself: wait up to `wait_s` for a `train` being closed (Pause) to let go, else refuse."""
        if not self.busy.acquire(timeout=wait_s):
            raise ValueError(f"The run is training: press Pause first, then {what}.")
        try:
            yield
        finally:
            self.busy.release()

    def _batch(self) -> torch.Tensor:
        index = torch.randint(0, len(self.data), (self.spec.batch_size,), generator=self.generator)
        return self.data.x[index].to(device_of(self.model))

    def _count(self, metrics: dict, d: int, g: int) -> dict:
        for key in ("d_loss", "g_loss"):
            if not math.isfinite(metrics.get(key, 0.0)):
                raise ValueError(f"the {key.replace('_', ' ')} became {metrics[key]} at iteration {self.iteration}; "
                                 f"lower the learning rate and press Reset")
        self.d_updates, self.g_updates, self.iteration = self.d_updates + d, self.g_updates + g, self.iteration + g
        h = self.history
        h["it"].append(self.iteration)
        for key in ("d_loss", "g_loss"):
            h[key].append(metrics.get(key, h[key][-1] if h[key] else float("nan")))
        return metrics

    def train(self, iterations: int) -> Iterator["LiveRun"]:
        """`iterations` more iterations (Goodfellow et al. 2014, Alg. 1), yielding the run after each; close the
        generator to pause (the model and counts stay as they were after the last iteration)."""
        with self.hold("train again"):
            self.model.train()
            for _ in range(iterations):
                _, metrics = self.spec.train_step(self.model, self.optimizers, self._batch(), None, self.generator)
                self._count(metrics, self.spec.d_steps, 1)
                yield self

    def d_step(self) -> dict:
        """One update of D on a real batch and as many fakes (G held fixed)."""
        with self.hold("step it one update at a time"):
            self.model.train()
            return self._count(self.spec.d_step(self.model, self.optimizers[0], self._batch(), self.generator), 1, 0)

    def g_step(self) -> dict:
        """One update of G through D (D held fixed); it ends an iteration."""
        with self.hold("step it one update at a time"):
            self.model.train()
            return self._count(self.spec.g_step(self.model, self.optimizers[1], self.spec.batch_size, self.generator),
                               0, 1)

    def view(self) -> FieldView:
        """D over the plane, G(z) at the fixed view z, and the force −∇ₓ L_G on each of those points."""
        self.model.eval()
        axis, logits = discriminator_field(self.model)
        points, pull = generator_pull(self.model, self.spec, self.view_z)
        if self.spec.loss == "wgan-gp":  # a critic's score has no fixed scale: colour it symmetrically around 0
            reach = max(float(np.abs(logits).max()), 1e-6)
            return FieldView(axis, logits, (-reach, reach), "D's score (WGAN critic)", points, pull)
        # D(x) = σ(logit) = P(real)
        return FieldView(axis, 1 / (1 + np.exp(-logits)), (0.0, 1.0), "D(x) = P(real)", points, pull)

    def count_modes(self, n: int = 2000) -> dict | None:
        """`mode_coverage` of n samples (a fixed z) on the ring of 8 Gaussians, kept in the history once per
        iteration; None for other data."""
        if self.data.name != "ring8":
            return None
        coverage = mode_coverage(self.model.sample(n, torch.Generator().manual_seed(0)).cpu().numpy())
        h = self.history
        if not h["cov_it"] or h["cov_it"][-1] != self.iteration:
            h["cov_it"].append(self.iteration)
            h["covered"].append(coverage["modes_covered"])
            h["quality"].append(coverage["high_quality"])
        return coverage


# ---- looking inside the DCGAN -----------------------------------------------------------------------------

@torch.no_grad()
def latent_line(model: GAN, seed_a: int, seed_b: int, steps: int) -> tuple[torch.Tensor, list[float]]:
    """G((1 − λ) z_a + λ z_b) for `steps` values of λ from 0 to 1, z_a and z_b drawn from their seeds:
    (images on the CPU, the λs). A GAN's latent space is smooth too (Radford et al. 2016, §6.1)."""
    z_a, z_b = (model.noise(1, torch.Generator().manual_seed(s)) for s in (seed_a, seed_b))
    lam = torch.linspace(0, 1, steps).unsqueeze(1)
    z = (1 - lam) * z_a + lam * z_b  # (steps, latent)
    return model(z.to(device_of(model))).cpu(), lam[:, 0].tolist()


@torch.no_grad()
def patch_probabilities(model: GAN, x: torch.Tensor) -> torch.Tensor:
    """P(real) of every patch, σ(D's patch logits): (B, H/4, W/4) on the CPU (PatchGAN, Isola et al. 2017 §3.2.2)."""
    return torch.sigmoid(model.discriminator.patches(x.to(device_of(model)))).cpu()


RING8_CENTRES = 0.75 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)
RING8_STD = 0.05


def mode_coverage(points: np.ndarray, centres: np.ndarray = RING8_CENTRES, std: float = RING8_STD,
                  min_share: float = 0.25) -> dict:
    """Mode collapse, counted: a sample is *high quality* if it lies within 3σ of its nearest mode's centre
    (as in Srivastava et al. 2017, VEEGAN); a mode is *covered* if it holds at least `min_share` of its fair share
    (1/K) of the high-quality samples."""
    points = np.asarray(points, dtype=float)
    dist = np.linalg.norm(points[:, None, :] - centres[None], axis=2)
    nearest, good = dist.argmin(1), dist.min(1) <= 3 * std
    counts = np.bincount(nearest[good], minlength=len(centres))
    covered = counts >= max(1, min_share * good.sum() / len(centres))
    return {"modes_covered": int(covered.sum()), "modes": len(centres), "high_quality": float(good.mean()),
            "per_mode": counts.tolist()}
