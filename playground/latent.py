"""The first stage of latent diffusion (Rombach et al. 2022, "High-Resolution Image Synthesis with Latent
Diffusion Models", §3.1): an autoencoder with a KL-regularised latent. It takes a 32×32×3 scene to an 8×8×4
latent (downsampling factor f = 4); a diffusion model then works on those 256 numbers instead of 3,072 pixels.

    L = ‖x − D(z)‖² + w · KL(q(z|x) ‖ N(0, I)),   z = μ + σ ε    (a small w, as the paper's "KL-reg", §3.1)

The KL weight is tiny, so the latent is not N(0, I): its spread is whatever the encoder likes. Diffusion wants
unit variance, so the latent is divided by its standard deviation measured on training data (`latent_std`,
the analogue of Stable Diffusion's scale factor 0.18215 = 1/5.49, Rombach et al. 2022 Appendix G):

    encode:  z = (μ + σ ε) / latent_std        decode:  x̂ = D(z · latent_std)

    >>> from playground import checkpoints, latent, data
    >>> ae = checkpoints.load("kl-scenes").model
    >>> z = latent.encode(ae, data.load("scenes", "test", n=8).x)     # (8, 4, 8, 8), std ≈ 1
    >>> x_hat = latent.decode(ae, z)                                  # (8, 3, 32, 32) in [-1, 1]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from einops import reduce
from torch import nn

from .autoencoders import reparameterise
from .nn import _group_norm


@dataclass
class KLAutoencoderSpec:
    """The first-stage autoencoder and how it is trained (saved in its checkpoint card)."""

    image_size: int = 32  # input side; images are (3, image_size, image_size) in [-1, 1]
    in_channels: int = 3
    latent_channels: int = 4  # channels of the latent (Stable Diffusion also uses 4)
    downsample: int = 4  # f: image side / latent side (4: 32×32 → 8×8)
    width: int = 32  # channels at full resolution; ×2 at every lower resolution
    kl_weight: float = 1e-3  # w: the KL term's weight (per image, summed over the latent)
    std_momentum: float = 0.01  # how fast `latent_std` follows the batches' latent spread
    dataset: str = "scenes"  # what the previews reconstruct
    batch_size: int = 64
    lr: float = 1e-3
    ema_decay: float = 0.0
    grad_clip: float = 1.0
    family: str = "kl-autoencoder"  # checkpoint family tag

    def __post_init__(self):
        if self.downsample not in (2, 4, 8) or self.image_size % self.downsample:
            raise ValueError(f"downsample must be 2, 4 or 8 and divide the image size, got {self.downsample!r}")
        if not 0 <= self.kl_weight <= 1:
            raise ValueError(f"kl_weight must be in [0, 1], got {self.kl_weight!r}")

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        side = self.image_size // self.downsample
        return (self.latent_channels, side, side)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One decoded image (C, H, W)."""
        return (self.in_channels, self.image_size, self.image_size)

    def to_dict(self) -> dict:
        return asdict(self)

    def build(self) -> "KLAutoencoder":
        return KLAutoencoder(self)

    def loss(self, model: "KLAutoencoder", x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        mu, logvar = model.moments(x)
        z = reparameterise(mu, logvar, generator)
        model.track_std(z)
        x_hat = model.decoder(z)
        recon = reduce((x_hat - x) ** 2, "b ... -> b", "sum").mean()  # ‖x − D(z)‖², per image
        # KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ (1 + log σ² − μ² − σ²), summed over the latent, per image
        kl = (-0.5 * reduce(1 + logvar - mu**2 - logvar.exp(), "b ... -> b", "sum")).mean()
        loss = recon + self.kl_weight * kl
        return loss, {"loss": loss.item(), "mse": recon.item() / x[0].numel(), "kl": kl.item(),
                      "latent_std": float(model.latent_std)}

    @torch.no_grad()
    def preview(self, model: "KLAutoencoder", n: int, generator: torch.Generator) -> torch.Tensor:
        """2n images: n fixed test scenes and their reconstructions."""
        from . import data
        x = data.load(self.dataset, "test", n=n, seed=0).x
        device = model.latent_std.device
        return torch.cat([x, reconstruct(model, x.to(device)).cpu()])


class _Res(nn.Module):
    """x + conv(SiLU(GN(conv(SiLU(GN(x)))))) — a ResBlock without a time embedding."""

    def __init__(self, c: int):
        super().__init__()
        self.net = nn.Sequential(_group_norm(c), nn.SiLU(), nn.Conv2d(c, c, 3, padding=1),
                                 _group_norm(c), nn.SiLU(), nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return x + self.net(x)


class KLAutoencoder(nn.Module):
    """Conv encoder to (μ, log σ²) of the latent, conv decoder back to the image; `latent_std` is the measured
    spread of z over training batches (a buffer, saved with the weights)."""

    def __init__(self, spec: KLAutoencoderSpec):
        super().__init__()
        self.spec = spec
        levels = {2: 1, 4: 2, 8: 3}[spec.downsample]
        widths = [spec.width * 2 ** min(i, 1) for i in range(levels + 1)]  # w, 2w, 2w, …
        enc: list[nn.Module] = [nn.Conv2d(spec.in_channels, widths[0], 3, padding=1), _Res(widths[0])]
        for i in range(levels):
            enc += [nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1), _Res(widths[i + 1])]
        enc += [_group_norm(widths[-1]), nn.SiLU(), nn.Conv2d(widths[-1], 2 * spec.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(spec.latent_channels, widths[-1], 3, padding=1), _Res(widths[-1])]
        for i in reversed(range(levels)):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(widths[i + 1], widths[i], 3, padding=1),
                    _Res(widths[i])]
        dec += [_group_norm(widths[0]), nn.SiLU(), nn.Conv2d(widths[0], spec.in_channels, 3, padding=1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)
        self.register_buffer("latent_std", torch.tensor(0.0))  # 0 until the first batch is seen

    def moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²) of q(z | x), each (B, latent_channels, h, w), unscaled."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    @torch.no_grad()
    def track_std(self, z: torch.Tensor) -> None:
        """latent_std ← the spread of z: the first batch's, then a moving average."""
        std = z.float().std()
        if float(self.latent_std) == 0.0:
            self.latent_std.copy_(std)
        else:
            self.latent_std.lerp_(std, self.spec.std_momentum)

    @property
    def scale(self) -> float:
        """The factor 1 / latent_std that brings the latent to unit variance (SD's 0.18215)."""
        return 1.0 / float(self.latent_std) if float(self.latent_std) > 0 else 1.0


def spread(model: KLAutoencoder) -> torch.Tensor:
    """latent_std, or 1 for a first stage that has seen no data yet."""
    return torch.where(model.latent_std > 0, model.latent_std, torch.ones_like(model.latent_std))


@torch.no_grad()
def encode(model: KLAutoencoder, x: torch.Tensor, generator: torch.Generator | None = None,
           sample: bool = False) -> torch.Tensor:
    """The scaled latent z / latent_std (B, 4, 8, 8) of images x (B, 3, 32, 32): the posterior mean μ, or with
    sample=True a draw μ + σ ε."""
    mu, logvar = model.moments(x)
    z = reparameterise(mu, logvar, generator) if sample else mu
    return z / spread(model)


@torch.no_grad()
def decode(model: KLAutoencoder, z: torch.Tensor) -> torch.Tensor:
    """Images (B, 3, 32, 32) in [-1, 1] from scaled latents z (B, 4, 8, 8)."""
    return model.decoder(z * spread(model))


@torch.no_grad()
def reconstruct(model: KLAutoencoder, x: torch.Tensor) -> torch.Tensor:
    """D(μ(x)): the image back through the posterior mean."""
    return decode(model, encode(model, x))


@torch.no_grad()
def moments_of(model: KLAutoencoder, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """(μ, log σ²) of many images, stacked on the channel axis (N, 2·latent_channels, h, w), on x's device:
    what a latent diffusion model trains on (it draws z = μ + σ ε afresh at every step)."""
    device = model.latent_std.device
    return torch.cat([torch.cat(model.moments(x[i:i + batch].to(device)), dim=1).to(x.device)
                      for i in range(0, len(x), batch)])


def quality(model: KLAutoencoder, n: int = 1000) -> dict:
    """The card's figures on n test scenes: per-pixel MSE and PSNR of D(μ(x)), the latent's measured scale, the
    spread of the scaled latent, and how often `scene_truth` reads the same scene from the reconstruction."""
    from . import data
    test = data.load("scenes", "test", n=n, seed=0)
    device = model.latent_std.device
    x = test.x.to(device)
    z = encode(model, x)
    x_hat = decode(model, z).cpu()
    mse = float(F.mse_loss(x_hat, test.x))
    same = sum(data.scene_truth(x_hat[i]) == data.scene_truth(test.x[i]) for i in range(n))
    return {"test_mse": mse, "test_psnr_db": float(10 * torch.log10(torch.tensor(4.0 / mse))),
            "latent_std": float(model.latent_std), "scale_factor": model.scale,
            "scaled_latent_std": float(z.std()), "scaled_latent_abs_p999": float(torch.quantile(z.abs().flatten().cpu(), 0.999)),
            "scene_truth_kept": same / n,
            "latent_shape": list(model.spec.latent_shape), "pixels_per_latent_number":
                model.spec.in_channels * model.spec.image_size ** 2 / (torch.tensor(model.spec.latent_shape).prod().item())}
