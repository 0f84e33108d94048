"""The figures a checkpoint card records, measured from samples (never from a table)."""
from __future__ import annotations

import math

import torch

from . import autoencoders, data, prior, vq
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


@torch.no_grad()
def autoencoder_quality(model, spec, classifier=None, n: int = 1000, seed: int = 0) -> dict:
    """Reconstruction error on n test images (per pixel, on the [-1, 1] scale), the VAE's mean KL, and — with the
    metric classifier — how garment-like n decodes of z ~ N(0, I) are: the classifier's mean top-class confidence,
    the Fréchet distance to real test images, and diversity (real images' figures alongside)."""
    real = data.load(spec.dataset, "test", n=n, seed=seed)
    mu, logvar = model.encode(real.x)
    out = {"test_mse_per_pixel": float(((model.decode(mu) - real.x) ** 2).mean()), "eval_images": n}
    if logvar is not None:
        out["test_kl_nats"] = float(autoencoders.gaussian_kl(mu, logvar).mean())
    if classifier is not None and spec.dataset == "fashion":
        out.update({f"prior_{k}": v for k, v in prior_quality(model, classifier, real, seed).items()})
    return out


def prior_quality(model, classifier, real: data.Dataset, seed: int = 0) -> dict:
    """Decode len(real) codes z ~ N(0, I); measure them against `real` with the metric classifier."""
    return unconditional_quality(autoencoders.prior_samples(model, len(real), torch.Generator().manual_seed(seed)),
                                 classifier, real)


def unconditional_quality(samples: torch.Tensor, classifier, real: data.Dataset) -> dict:
    """Samples of no requested class against real images: the classifier's mean top-class confidence (does it look
    like *some* class?), the Fréchet distance of their features, and the diversity of each set."""
    feats, probs = features_and_probs(classifier, samples)
    real_feats, real_probs = features_and_probs(classifier, real.x)
    return {"confidence": float(probs.max(1).mean()), "real_confidence": float(real_probs.max(1).mean()),
            "frechet_distance": frechet_distance(feats, real_feats),
            "diversity": diversity(feats), "real_diversity": diversity(real_feats)}


@torch.no_grad()
def gan_quality(model, spec, classifier=None, n: int = 1000, seed: int = 0) -> dict:
    """2D: mode coverage on the ring and the sliced Wasserstein distance; images: unconditional_quality of n samples."""
    g = torch.Generator().manual_seed(seed)
    samples = model.sample(n, g)
    if spec.network == "mlp":
        from .gan import mode_coverage
        return {"sliced_wasserstein_to_data": sliced_wasserstein(samples, data.load_toy2d("ring8", "test", n=n, seed=seed).x),
                **mode_coverage(samples.numpy()), "eval_samples": n}
    if classifier is None:
        return {}
    return {**unconditional_quality(samples, classifier, data.load("fashion", "test", n=n, seed=seed)), "eval_samples": n}


@torch.no_grad()
def vq_quality(model, spec, classifier=None, seed: int = 0) -> dict:
    """Codebook health and reconstruction on the whole test set: perplexity of code usage, dead codes (never
    used), mean squared error per pixel through the tokens; and how far k-means gets on the same z_e."""
    test = data.load(spec.dataset, "test")
    use = vq.usage(model, test.x)
    out = {"test_perplexity": use["perplexity"], "test_dead_codes": use["dead_codes"],
           "test_mse_per_pixel": use["test_mse_per_pixel"], "eval_images": len(test)}
    out.update({f"distortion_{k}": v for k, v in vq.kmeans_distortion(model, test.x[:200], seed).items()})
    return out


@torch.no_grad()
def token_prior_quality(model, spec, tokenizer, classifier=None, n: int = 1000, seed: int = 0) -> dict:
    """Test negative log-likelihood of the true tokens (nats per token, and bits per image next to the uniform
    log₂K bits per token), and — with the metric classifier — n samples of "any class" (T = 1, all tokens)
    against real images, and the class accuracy of 50 samples per class. `tokenizer`: the VQ-VAE spec.vq."""
    test = data.load(spec.dataset, "test", n=n, seed=seed)
    t = vq.tokens(tokenizer, test.x)
    nats = prior.nll(model, t, test.y)
    out = {"test_nll_nats_per_token": nats, "test_nll_any_class": prior.nll(model, t),
           "test_bits_per_image": nats * spec.length / math.log(2), "uniform_bits_per_image": spec.length * math.log2(spec.codebook_size),
           "eval_images": n}
    if classifier is None:
        return out
    g = torch.Generator().manual_seed(seed)
    samples = vq.decode_tokens(tokenizer, prior.sample(model, n, generator=g))
    out.update({f"samples_{k}": v for k, v in unconditional_quality(samples, classifier, test).items()})
    labels = torch.arange(10).repeat_interleave(50)
    cond = torch.cat([vq.decode_tokens(tokenizer, prior.sample(model, 50, label=k, generator=g)) for k in range(10)])
    out["class_accuracy"] = float((features_and_probs(classifier, cond)[1].argmax(1) == labels).float().mean())
    return out
