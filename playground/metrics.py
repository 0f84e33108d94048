"""Measuring samples: a small classifier/feature net trained on real data, the Fréchet
distance between feature statistics, class accuracy and confidence, a diversity
figure, and a sliced Wasserstein distance for 2D point clouds."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ClassifierSpec:
    """A small CNN classifier whose penultimate layer is the feature space of the metrics."""

    in_channels: int = 1  # 1 for grayscale
    image_size: int = 28  # input side (28 for Fashion-MNIST)
    num_classes: int = 10  # outputs
    width: int = 32  # channels of the first conv; doubled after each pooling
    feature_dim: int = 128  # size of the feature vector used by the Fréchet distance and diversity
    batch_size: int = 128  # examples per training step
    lr: float = 1e-3  # Adam learning rate
    ema_decay: float = 0.0  # no weight averaging
    grad_clip: float = 0.0  # no gradient clipping
    family: str = "classifier"  # checkpoint family tag

    def to_dict(self) -> dict:
        return asdict(self)

    sample_shape = None  # a classifier makes no samples

    def build(self) -> "Classifier":
        return Classifier(self)

    def loss(self, model, x, y, generator):
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        return loss, {"loss": loss.item(), "accuracy": float((logits.argmax(1) == y).float().mean())}


class Classifier(nn.Module):
    def __init__(self, spec: ClassifierSpec):
        super().__init__()
        w = spec.width
        self.body = nn.Sequential(
            nn.Conv2d(spec.in_channels, w, 3, padding=1), nn.GroupNorm(8, w), nn.SiLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.GroupNorm(8, 2 * w), nn.SiLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.GroupNorm(8, 2 * w), nn.SiLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * w, spec.feature_dim), nn.SiLU())
        self.head = nn.Linear(spec.feature_dim, spec.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (B, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, num_classes) logits


@torch.no_grad()
def features_and_probs(classifier: Classifier, x: torch.Tensor, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    feats, probs = [], []
    for chunk in x.split(batch):
        f = classifier.features(chunk)
        feats.append(f)
        probs.append(F.softmax(classifier.head(f), dim=1))
    return torch.cat(feats).double().numpy(), torch.cat(probs).double().numpy()


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½)   — Heusel et al. 2017 (FID), eq. 6, on our feature net."""
    from scipy import linalg  # here, not at import: scipy is a tenth of a second of the app's cold start
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(feats_a, rowvar=False)), np.atleast_2d(np.cov(feats_b, rowvar=False))
    covmean = linalg.sqrtm(cov_a @ cov_b)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def diversity(feats: np.ndarray) -> float:
    """Mean pairwise Euclidean distance between feature vectors (higher = more varied)."""
    if len(feats) < 2:
        raise ValueError("diversity needs at least two samples")
    from scipy.spatial.distance import pdist
    return float(pdist(feats).mean())


def class_fidelity(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """accuracy: share classified as the requested label; confidence: mean probability of that label."""
    labels = np.asarray(labels)
    return {"accuracy": float((probs.argmax(1) == labels).mean()),
            "confidence": float(probs[np.arange(len(labels)), labels].mean())}


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, num_projections: int = 256, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between two equal-size point clouds (Rabin et al. 2011): the mean,
    over random directions, of the 1D Wasserstein distance between the projected points."""
    if a.shape != b.shape:
        raise ValueError(f"point clouds must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    g = torch.Generator().manual_seed(seed)
    directions = F.normalize(torch.randn(a.shape[1], num_projections, generator=g, dtype=torch.float64), dim=0)
    pa, _ = (a.double() @ directions).sort(0)
    pb, _ = (b.double() @ directions).sort(0)
    return float((pa - pb).abs().mean())
