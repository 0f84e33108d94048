"""The autoencoder family: a plain autoencoder (AE), a denoising autoencoder (DAE) and a variational
autoencoder (VAE). All three share one small conv encoder/decoder; they differ only in their loss:

    AE   ‖x − D(E(x))‖²                                   squeeze through a bottleneck, rebuild
    DAE  ‖x − D(E(x̃))‖²,  x̃ = corrupt(x)                  Vincent et al. 2008: undo the corruption
    VAE  ‖x − D(z)‖² + β·KL(q(z|x) ‖ N(0, I)),  z = μ + σ ⊙ ε   Kingma & Welling 2014 (β: Higgins et al. 2017)

    >>> from playground import autoencoders, data
    >>> spec = autoencoders.AutoencoderSpec(kind="vae", latent_dim=2)
    >>> model = spec.build(); x = data.load("fashion", "test", n=8).x
    >>> mu, logvar = model.encode(x); x_hat = model.decode(mu)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from einops import reduce
from einops.layers.torch import Rearrange
from torch import nn

from .devices import device_of

KINDS = ("ae", "dae", "vae")
KIND_TITLES = {"ae": "autoencoder", "dae": "denoising autoencoder", "vae": "variational autoencoder"}


@dataclass
class AutoencoderSpec:
    """Everything that defines an autoencoder and how it is trained (saved in its checkpoint card)."""

    kind: str = "ae"  # "ae", "dae" or "vae"
    latent_dim: int = 16  # size of the bottleneck z
    in_channels: int = 1  # 1 for grayscale
    image_size: int = 28  # input side; a multiple of 4 (28 Fashion-MNIST, 8 digits, 32 shapes)
    width: int = 16  # channels of the first conv; doubled once
    hidden: int = 128  # the fully connected layer between the conv features and z
    beta: float = 1.0  # VAE: weight of the KL term (β = 1 is the ELBO of a decoder N(x̂, ½ I), see `loss`)
    noise_std: float = 0.0  # DAE: each training image gets Gaussian noise with σ drawn from U(0, noise_std)
    mask_prob: float = 0.0  # DAE: ... and a share of its pixels, drawn from U(0, mask_prob), blacked out
    dataset: str = "fashion"  # what the previews reconstruct (playground.data name)
    batch_size: int = 128  # examples per training step
    lr: float = 1e-3  # Adam learning rate
    ema_decay: float = 0.0  # no weight averaging
    grad_clip: float = 0.0  # no gradient clipping
    family: str = "autoencoder"  # checkpoint family tag

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not 1 <= int(self.latent_dim) <= 256:
            raise ValueError(f"latent_dim must be from 1 to 256, got {self.latent_dim!r}")
        if self.image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4, got {self.image_size!r}")
        for name, lo, hi in (("beta", 0.0, 100.0), ("noise_std", 0.0, 2.0), ("mask_prob", 0.0, 1.0)):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
                raise ValueError(f"{name} must be from {lo} to {hi}, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One decoded image (C, H, W)."""
        return (self.in_channels, self.image_size, self.image_size)

    def build(self) -> "Autoencoder":
        return Autoencoder(self)

    def loss(self, model: "Autoencoder", x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        """Reconstruction error summed over pixels (+ β·KL for the VAE), averaged over the batch."""
        inputs = x
        if self.kind == "dae":
            levels = torch.rand(2, x.shape[0], generator=generator).to(x.device)
            inputs = corrupt(x, levels[0] * self.noise_std, levels[1] * self.mask_prob, generator)
        mu, logvar = model.encode(inputs)
        z = reparameterise(mu, logvar, generator) if self.kind == "vae" else mu
        # −log p(x | z) up to a constant for a Gaussian decoder of *fixed* variance ½ on the [-1, 1] scale:
        # Σ_pixels (x − x̂)². The real residual variance is far smaller (`residual_variance`), so β = 1 is the
        # plain ELBO only for that stated decoder; against the measured one it is β / (2 s²) (`effective_beta`).
        recon = reduce((model.decode(z) - x) ** 2, "b ... -> b", "sum").mean()
        metrics = {"recon": recon.item(), "mse": recon.item() / x[0].numel()}
        loss = recon
        if self.kind == "vae":
            kl = gaussian_kl(mu, logvar).mean()
            loss = recon + self.beta * kl  # −ELBO (β = 1), Kingma & Welling 2014 eq. 10; β-VAE, Higgins et al. 2017 eq. 4
            metrics["kl"] = kl.item()
        metrics["loss"] = loss.item()
        return loss, metrics

    @torch.no_grad()
    def preview(self, model: "Autoencoder", n: int, generator: torch.Generator) -> torch.Tensor:
        """3n images for the live view: n fixed test images, their reconstructions, n decodes of z ~ N(0, I)."""
        from . import data
        x = data.load(self.dataset, "test", n=n, seed=0).x
        inputs = corrupt(x, self.noise_std / 2, self.mask_prob / 2, generator) if self.kind == "dae" else x
        return torch.cat([inputs, reconstruct(model, inputs), prior_samples(model, n, generator)])


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) per example, summed over latent dimensions:
    −½ Σ_j (1 + log σ_j² − μ_j² − σ_j²)   — Kingma & Welling 2014, Appendix B."""
    return -0.5 * reduce(1 + logvar - mu**2 - logvar.exp(), "b d -> b", "sum")


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None,
                   eps: torch.Tensor | None = None) -> torch.Tensor:
    """z = μ + σ ⊙ ε with ε ~ N(0, I): the sample is a differentiable function of μ and σ
    (the reparameterisation trick, Kingma & Welling 2014, §2.4)."""
    if eps is None:
        eps = torch.randn(mu.shape, generator=generator).to(mu.device)
    return mu + (0.5 * logvar).exp() * eps


def corrupt(x: torch.Tensor, noise_std=0.0, mask_prob=0.0,
            generator: torch.Generator | int | None = None) -> torch.Tensor:
    """x̃ = x + σ ε, then each pixel blacked out (set to −1) with probability p — additive Gaussian noise and the
    "masking noise" of Vincent et al. 2008. σ and p are numbers or one value per image; an int generator is a seed."""
    generator = seeded(generator)
    b = x.shape[0]
    sigma = torch.as_tensor(noise_std, dtype=x.dtype).reshape(-1, *[1] * (x.dim() - 1)).expand(b, *[1] * (x.dim() - 1))
    p = torch.as_tensor(mask_prob, dtype=x.dtype).reshape(-1, *[1] * (x.dim() - 1)).expand(b, *[1] * (x.dim() - 1))
    noisy = x + sigma.to(x.device) * torch.randn(x.shape, generator=generator).to(x.device)
    masked = torch.rand((b, 1, *x.shape[2:]), generator=generator).to(x.device) < p.to(x.device)
    return torch.where(masked, torch.full_like(x, -1.0), noisy)


class Autoencoder(nn.Module):
    """Conv encoder (image → μ, and log σ² for the VAE) and a mirrored decoder (z → image in [-1, 1])."""

    def __init__(self, spec: AutoencoderSpec):
        super().__init__()
        self.kind, self.latent_dim = spec.kind, spec.latent_dim
        c, w, s, h = spec.in_channels, spec.width, spec.image_size // 4, spec.hidden
        self.encoder = nn.Sequential(
            nn.Conv2d(c, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, w, 4, stride=2, padding=1), nn.SiLU(),  # side / 2
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.SiLU(),  # side / 4
            nn.Flatten(), nn.Linear(2 * w * s * s, h), nn.SiLU(),
            nn.Linear(h, 2 * spec.latent_dim if spec.kind == "vae" else spec.latent_dim))
        self.decoder = nn.Sequential(
            nn.Linear(spec.latent_dim, h), nn.SiLU(), nn.Linear(h, 2 * w * s * s), nn.SiLU(),
            Rearrange("b (c h w) -> b c h w", c=2 * w, h=s, w=s),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.SiLU(),
            nn.ConvTranspose2d(w, w, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(w, c, 3, padding=1), nn.Tanh())

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(μ, log σ²) for the VAE; (z, None) for the AE and DAE, whose code is a point, not a distribution."""
        out = self.encoder(x)
        if self.kind != "vae":
            return out, None
        mu, logvar = out.chunk(2, dim=1)
        return mu, logvar.clamp(-12, 6)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction through the mean code."""
        return self.decode(self.encode(x)[0])


# ---- what the page and a notebook do with a trained model ---------------------------------------------------
# Inputs may live anywhere: they run on the model's device, and what comes back is on the CPU, ready to show.

def seeded(generator: torch.Generator | int | None) -> torch.Generator | None:
    """A CPU generator: `generator` itself, or a fresh one seeded with it when it is an int."""
    return torch.Generator().manual_seed(generator) if isinstance(generator, int) else generator


def mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error per pixel of each image, on the [-1, 1] scale: (B,) for (B, C, H, W); () for one image."""
    return reduce((x_hat.cpu() - x.cpu()) ** 2, "... c h w -> ...", "mean")


@torch.no_grad()
def reconstruct(model: Autoencoder, x: torch.Tensor) -> torch.Tensor:
    """x̂ = D(E(x)) through the mean code."""
    return model(x.to(device_of(model))).cpu()


@torch.no_grad()
def latents(model: Autoencoder, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """The mean code μ(x) of every image, (N, latent_dim)."""
    return torch.cat([model.encode(chunk.to(device_of(model)))[0].cpu() for chunk in x.split(batch)])


@torch.no_grad()
def decode(model: Autoencoder, z) -> torch.Tensor:
    """D(z) for codes z (a tensor or an array, (N, latent_dim))."""
    z = z if torch.is_tensor(z) else torch.as_tensor(np.asarray(z))
    return model.decode(z.float().to(device_of(model))).cpu()


@torch.no_grad()
def prior_samples(model: Autoencoder, n: int, generator: torch.Generator | int | None = None) -> torch.Tensor:
    """Decode z ~ N(0, I): the VAE's generative model. An AE was never asked to put its codes there."""
    return decode(model, torch.randn(n, model.latent_dim, generator=seeded(generator)))


def code_spread(model: Autoencoder, x: torch.Tensor) -> tuple[float, float]:
    """The smallest and largest standard deviation of the codes μ(x) over the images, per latent dimension.
    For a VAE this is *below* 1: its KL term pulls the draws z = μ + σ ⊙ ε, pooled over images (the aggregate
    posterior), towards N(0, I), so per dimension Var[μ] + E[σ²] ≈ 1, and a collapsed dimension has μ ≈ 0, σ ≈ 1.
    For an AE it is anything (see `aggregate_spread` for the spread of z itself)."""
    std = latents(model, x).std(0)
    return float(std.min()), float(std.max())


@torch.no_grad()
def aggregate_spread(model: Autoencoder, x: torch.Tensor, generator: torch.Generator | int | None = 0,
                     batch: int = 500) -> tuple[float, float]:
    """The smallest and largest standard deviation, per latent dimension, of one draw z = μ(x) + σ(x) ⊙ ε per
    image: the aggregate posterior q(z) = E_x q(z | x), which is what a VAE's KL term pulls towards N(0, I)
    (std near 1). For an AE, whose code is a point, it is the spread of μ(x)."""
    if model.kind != "vae":
        return code_spread(model, x)
    generator = seeded(generator)
    z = []
    for chunk in x.split(batch):
        mu, logvar = (v.cpu() for v in model.encode(chunk.to(device_of(model))))
        z.append(reparameterise(mu, logvar, generator))
    std = torch.cat(z).std(0)
    return float(std.min()), float(std.max())


# ---- what the VAE's loss assumes, measured ------------------------------------------------------------------

COLLAPSED_NATS = 0.15  # a latent dimension whose mean KL is below this carries (almost) no information
ASSUMED_DECODER_VARIANCE = 0.5  # Σ (x − x̂)² is −log N(x; x̂, s² I) up to a constant only for s² = ½


@torch.no_grad()
def kl_per_dimension(model: Autoencoder, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """KL(q(z_j | x) ‖ N(0, 1)) of each latent dimension j, averaged over the images x: (latent_dim,) in nats.
    They add up to the mean KL of the loss. A dimension near 0 is *collapsed*: q(z_j | x) ≈ N(0, 1) whatever
    the image, so the decoder cannot read anything from it (posterior collapse)."""
    if model.kind != "vae":
        raise ValueError("only a VAE has a KL term; choose a VAE")
    total = torch.zeros(model.latent_dim, dtype=torch.float64)
    for chunk in x.split(batch):
        mu, logvar = (v.cpu().double() for v in model.encode(chunk.to(device_of(model))))
        total += (-0.5 * (1 + logvar - mu**2 - logvar.exp())).sum(0)
    return (total / len(x)).float()


@torch.no_grad()
def posterior_sigma(model: Autoencoder, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """σ(x) of q(z | x) for every image, (N, latent_dim)."""
    if model.kind != "vae":
        raise ValueError("only a VAE has a σ; choose a VAE")
    return torch.cat([(0.5 * model.encode(chunk.to(device_of(model)))[1]).exp().cpu() for chunk in x.split(batch)])


def collapsed_dimensions(kl: torch.Tensor, threshold: float = COLLAPSED_NATS) -> list[int]:
    """The indices (from 0) of the latent dimensions whose mean KL is below `threshold` nats."""
    return [int(j) for j in torch.nonzero(kl < threshold).flatten()]


@torch.no_grad()
def residual_variance(model: Autoencoder, x: torch.Tensor, sample: bool = True,
                      generator: torch.Generator | int | None = 0, batch: int = 500) -> float:
    """The mean of (x − D(z))² over pixels and images, on the [-1, 1] scale: the maximum-likelihood variance s² of
    a Gaussian decoder N(x; D(z), s² I). With `sample`, z = μ + σ ⊙ ε is drawn from q(z | x), as in the ELBO's
    reconstruction term; without, z = μ. The loss Σ (x − x̂)² assumes s² = ½; with the measured s² the same
    loss is a β-VAE with β' = β / (2 s²) (see `effective_beta`)."""
    generator = seeded(generator)
    total, count = 0.0, 0
    for chunk in x.split(batch):
        mu, logvar = model.encode(chunk.to(device_of(model)))
        z = mu.cpu()
        if sample and logvar is not None:
            z = reparameterise(mu.cpu(), logvar.cpu(), generator)
        total += float(((model.decode(z.to(device_of(model))).cpu() - chunk.cpu()).double() ** 2).sum())
        count += chunk.numel()
    return total / count


def effective_beta(beta: float, decoder_variance: float) -> float:
    """β' such that Σ (x − x̂)² + β KL is proportional to −log N(x; x̂, s² I) + β' KL with s² = decoder_variance:
    dividing the loss by 2 s² gives β' = β / (2 s²) (β' = β exactly when s² = ½)."""
    return beta / (2 * decoder_variance)


@torch.no_grad()
def reparameterised_draws(model: Autoencoder, x: torch.Tensor, k: int,
                          generator: torch.Generator | int | None = None) -> dict:
    """For one image (1, C, H, W): μ, σ, k draws ε, the k codes z = μ + σ ⊙ ε, their decodes, decode(μ), and
    the spread: the mean |pixel difference| between the draws' decodes and decode(μ)."""
    if model.kind != "vae":
        raise ValueError("only a VAE has a σ to sample with; choose a VAE")
    mu, logvar = (v.cpu() for v in model.encode(x.to(device_of(model))))
    eps = torch.randn(k, model.latent_dim, generator=seeded(generator))
    z = reparameterise(mu.expand(k, -1), logvar.expand(k, -1), eps=eps)
    decoded, mean_decoded = decode(model, z), decode(model, mu)
    return {"mu": mu[0], "sigma": (0.5 * logvar[0]).exp(), "eps": eps, "z": z, "decoded": decoded,
            "mean_decoded": mean_decoded, "spread": float((decoded - mean_decoded).abs().mean())}


@torch.no_grad()
def interpolate(model: Autoencoder, x_a: torch.Tensor, x_b: torch.Tensor, steps: int) -> torch.Tensor:
    """Decodes of z = (1 − λ) μ(a) + λ μ(b) for `steps` values of λ from 0 to 1."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    z = latents(model, torch.stack([x_a, x_b]))
    lam = torch.linspace(0, 1, steps).unsqueeze(1)
    return decode(model, (1 - lam) * z[0] + lam * z[1])


def path_measures(path: torch.Tensor, classifier) -> dict:
    """How an interpolation path looks: the classifier's mean top-class confidence on the in-between images
    (does each look like *some* class?) and the largest jump between neighbours (mean |Δpixel|)."""
    from .metrics import features_and_probs
    probs = features_and_probs(classifier, path[1:-1])[1]
    jumps = reduce((path[1:] - path[:-1]).abs(), "b ... -> b", "mean")
    return {"confidence": float(probs.max(1).mean()), "largest_jump": float(jumps.max())}


@torch.no_grad()
def latent_grid(model: Autoencoder, x_range: tuple[float, float], y_range: tuple[float, float], n: int) -> torch.Tensor:
    """Decodes of an n × n grid over a 2-D latent plane, row 0 at the top (largest z₂): (n², C, H, W)."""
    if model.latent_dim != 2:
        raise ValueError(f"a latent grid needs a 2-D latent; this model has {model.latent_dim} dimensions")
    xs, ys = torch.linspace(*x_range, n), torch.linspace(*y_range, n).flip(0)
    z = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1).reshape(-1, 2)
    return decode(model, z)


def same_class_gap(ds, pairs: int = 20) -> float:
    """Mean |pixel difference| between two images of the same class (`pairs` pairs per class): how far apart
    two different images of one class are, as a yardstick."""
    return float(np.mean([(ds.of_class(k).x[:pairs] - ds.of_class(k).x[pairs:2 * pairs]).abs().mean().item()
                          for k in range(ds.num_classes)]))


def choose(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """n of the images x, picked at random by `seed`."""
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]


# ---- the latent map: codes of test images on a plane you can click ------------------------------------------

def project_2d(z: np.ndarray, method: str = "pca", seed: int = 0):
    """(N, 2) coordinates of latent codes, and the fitted projection (None for t-SNE, which has no inverse).
    A 2-D latent is returned as it is."""
    if z.shape[1] == 2:
        return z, None
    if method == "pca":
        from sklearn.decomposition import PCA
        pca = PCA(n_components=2, random_state=seed).fit(z)
        return pca.transform(z), pca
    if method == "tsne":
        from sklearn.manifold import TSNE
        return TSNE(n_components=2, init="pca", random_state=seed, perplexity=30).fit_transform(z), None
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")


@dataclass
class LatentView:
    """Test images' codes placed on a plane: the model's own 2-D code, or a 2-D projection of longer codes."""

    codes: np.ndarray  # (N, latent_dim) the mean codes μ(x)
    points: np.ndarray  # (N, 2) where each code sits on the plane
    labels: np.ndarray  # (N,) each image's class
    projector: object | None  # the fitted PCA (a point maps back to a code); None for 2-D codes and for t-SNE
    x_range: tuple[float, float]  # the plane's frame: the bulk of the points, padded
    y_range: tuple[float, float]

    @property
    def invertible(self) -> bool:
        """Does every point of the plane stand for a code? (Not for t-SNE, which has no way back.)"""
        return self.codes.shape[1] == 2 or self.projector is not None

    @property
    def explained_variance(self) -> float | None:
        """The share of the codes' variance the PCA plane holds (None without PCA)."""
        return float(self.projector.explained_variance_ratio_.sum()) if self.projector is not None else None

    def nearest(self, point) -> int:
        """The index of the image whose code sits nearest to `point` on the plane."""
        return int(np.argmin(((self.points - np.asarray(point, dtype=float)) ** 2).sum(1)))

    def code_at(self, point) -> np.ndarray:
        """The code a point stands for: itself (2-D codes), PCA's mean + offset, or (t-SNE) the nearest image's."""
        if self.codes.shape[1] == 2:
            return np.asarray(point, dtype=float)
        if self.projector is not None:
            return self.projector.inverse_transform(np.asarray([point], dtype=float))[0]
        return self.codes[self.nearest(point)]

    def plane(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """An n × n grid over the frame, row 0 at the top (largest y): (xs, ys, codes (n², latent_dim))."""
        if not self.invertible:
            raise ValueError("t-SNE has no inverse, so there is no plane to decode: choose PCA or a 2-D model.")
        xs, ys = np.linspace(*self.x_range, n), np.linspace(*self.y_range[::-1], n)
        plane = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
        return xs, ys, plane if self.codes.shape[1] == 2 else self.projector.inverse_transform(plane)


def latent_view(model: Autoencoder, x: torch.Tensor, labels: torch.Tensor, method: str = "pca") -> LatentView:
    """Encode images x and place their codes on a plane (see `project_2d`). The frame holds the middle 99 % of
    the points, padded by 8 %; a 2-D VAE's frame also holds ±3, the bulk of its prior N(0, I)."""
    codes = latents(model, x).numpy()
    points, projector = project_2d(codes, method)
    lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    lo, hi = lo - 0.08 * (hi - lo), hi + 0.08 * (hi - lo)
    if model.kind == "vae" and model.latent_dim == 2:
        lo, hi = np.minimum(lo, -3), np.maximum(hi, 3)
    return LatentView(codes, points, labels.numpy(), projector, (float(lo[0]), float(hi[0])),
                      (float(lo[1]), float(hi[1])))
