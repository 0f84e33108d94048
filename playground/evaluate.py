"""The figures a checkpoint card records, measured from samples (never from a table)."""
from __future__ import annotations

import torch

from . import data
from .diffusion import make_schedule
from .diffusion.samplers import sample
from .metrics import class_fidelity, diversity, features_and_probs, frechet_distance, sliced_wasserstein


def toy_quality(model, spec, dataset: str, n: int = 2000, seed: int = 0, sampler: str = "ddim", num_steps: int = 100) -> dict:
    """Sliced Wasserstein distance of n samples to fresh data, next to the same distance between two fresh draws."""
    g = torch.Generator().manual_seed(seed)
    samples = sample(model, make_schedule(spec.schedule, spec.num_steps), torch.randn(n, 2, generator=g), sampler,
                     num_steps if sampler == "ddim" else None, generator=g)
    fresh_a = data.load_toy2d(dataset, "test", n=n, seed=seed).x
    fresh_b = data.load_toy2d(dataset, "test", n=n, seed=seed + 1).x
    return {"sliced_wasserstein_to_data": sliced_wasserstein(samples, fresh_a),
            "sliced_wasserstein_data_vs_data": sliced_wasserstein(fresh_b, fresh_a),
            "eval_samples": n, "eval_sampler": f"{sampler}-{num_steps if sampler == 'ddim' else spec.num_steps}"}


def image_quality(samples: torch.Tensor, labels: torch.Tensor, classifier, real: data.Dataset) -> dict:
    """Class accuracy/confidence of the requested labels, Fréchet distance to real images, and diversity."""
    feats, probs = features_and_probs(classifier, samples)
    real_feats, _ = features_and_probs(classifier, real.x)
    return {**class_fidelity(probs, labels.numpy()),
            "frechet_distance": frechet_distance(feats, real_feats),
            "diversity": diversity(feats),
            "real_diversity": diversity(real_feats[: len(feats)])}


def fashion_quality(model, spec, classifier, n_per_class: int = 50, num_steps: int = 50, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat_interleave(n_per_class)
    x_T = torch.randn(len(labels), 1, 28, 28, generator=g)
    samples = torch.cat([sample(model, make_schedule(spec.schedule, spec.num_steps), xb, "ddim", num_steps, y=yb, generator=g)
                         for xb, yb in zip(x_T.split(100), labels.split(100))])
    real = data.load("fashion", "test", n=len(labels), seed=seed)
    return {**image_quality(samples, labels, classifier, real), "eval_samples": len(labels),
            "eval_sampler": f"ddim-{num_steps}, eta 0, own label, no guidance"}
