"""A noise-aware classifier p_φ(y | x_t, t) for classifier guidance (Dhariwal & Nichol 2021, §4).

It is trained on x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε with t drawn uniformly, with the same schedule as the
denoiser it will guide, so that its gradient ∇_x log p_φ(y | x_t) means something at every noise level.
The contract used by `ClassifierGuidance` is `classifier(x_t, t) -> logits` (B, num_classes).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..nn import MLPConfig, MLPDenoiser, ResBlock, _group_norm, sinusoidal_embedding
from .schedules import make_schedule


@dataclass
class NoisyClassifierSpec:
    """Everything that defines a noisy classifier and how it is trained (saved in its checkpoint card)."""

    network: str = "cnn"  # "cnn" for images, "mlp" for 2D points
    num_classes: int = 10  # outputs
    in_channels: int = 1  # cnn: image channels
    image_size: int = 28  # cnn: image side (informative; the network pools globally)
    width: int = 32  # cnn: channels at full resolution, doubled after the first downsampling
    mlp: MLPConfig = field(default_factory=MLPConfig)  # mlp: trunk config (out_dim is set to num_classes)
    schedule: str = "cosine"  # the noise schedule of the denoiser it guides
    num_steps: int = 1000  # T of that schedule
    batch_size: int = 128  # examples per training step
    lr: float = 1e-3  # Adam learning rate
    ema_decay: float = 0.0  # no weight averaging
    grad_clip: float = 1.0  # clip the gradient norm to this
    family: str = "noisy-classifier"  # checkpoint family tag

    def __post_init__(self):
        if isinstance(self.mlp, dict):
            self.mlp = MLPConfig(**self.mlp)
        if self.network not in ("cnn", "mlp"):
            raise ValueError(f"network must be 'cnn' or 'mlp', got {self.network!r}")
        make_schedule(self.schedule, self.num_steps)  # validates both

    def to_dict(self) -> dict:
        return asdict(self)

    sample_shape = None  # a classifier makes no samples

    def build(self) -> nn.Module:
        if self.network == "mlp":
            return MLPDenoiser(MLPConfig(**{**asdict(self.mlp), "num_classes": None, "out_dim": self.num_classes}))
        return NoisyCNN(self.in_channels, self.width, self.num_classes)

    def loss(self, model, x0: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        schedule = make_schedule(self.schedule, self.num_steps)
        t = torch.randint(0, self.num_steps, (x0.shape[0],), generator=generator).to(x0.device)
        x_t = schedule.q_sample(x0, t, torch.randn(x0.shape, generator=generator).to(x0.device))
        logits = model(x_t, t)
        # −log p_φ(y | x_t, t), t ~ U{0 … T−1}   — Dhariwal & Nichol 2021, §4.1
        loss = F.cross_entropy(logits, y)
        return loss, {"loss": loss.item(), "accuracy": float((logits.argmax(1) == y).float().mean())}


class NoisyCNN(nn.Module):
    """The downsampling half of a UNet (as Dhariwal & Nichol's classifier), with global average pooling:
    28×28 → 14 → 7, ResBlocks conditioned on t."""

    def __init__(self, in_channels: int, width: int, num_classes: int):
        super().__init__()
        self.width = width
        emb_dim = 4 * width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.conv_in = nn.Conv2d(in_channels, width, 3, padding=1)
        self.blocks = nn.ModuleList([ResBlock(width, width, emb_dim), ResBlock(width, 2 * width, emb_dim),
                                     ResBlock(2 * width, 2 * width, emb_dim)])
        self.down = nn.ModuleList([nn.Conv2d(width, width, 3, stride=2, padding=1),
                                   nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.Identity()])
        self.head = nn.Sequential(_group_norm(2 * width), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(2 * width, num_classes))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t (B, C, H, W), t (B,) -> logits (B, num_classes)."""
        emb = self.time_mlp(sinusoidal_embedding(t, self.width))
        h = self.conv_in(x_t)
        for block, down in zip(self.blocks, self.down):
            h = down(block(h, emb))
        return self.head(h)


@torch.no_grad()
def accuracy_by_noise(model, spec: NoisyClassifierSpec, x0: torch.Tensor, y: torch.Tensor,
                      ts=(0, 250, 500, 750, 999), seed: int = 0) -> dict[str, float]:
    """Test accuracy at a few schedule indices: how much class information is left in x_t."""
    schedule = make_schedule(spec.schedule, spec.num_steps)
    g = torch.Generator().manual_seed(seed)
    out = {}
    for t in ts:
        t = min(int(t), spec.num_steps - 1)
        t_batch = torch.full((len(x0),), t, dtype=torch.long)
        x_t = schedule.q_sample(x0, t_batch, torch.randn(x0.shape, generator=g))
        pred = torch.cat([model(xb, tb).argmax(1) for xb, tb in zip(x_t.split(500), t_batch.split(500))])
        out[f"test_accuracy_t{t}"] = float((pred == y).float().mean())
    out["chance"] = float(1 / spec.num_classes)
    return out


__all__ = ["NoisyClassifierSpec", "NoisyCNN", "accuracy_by_noise"]
