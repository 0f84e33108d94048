"""The figures a checkpoint card records, measured from samples (never from a table)."""
from __future__ import annotations

import math
import time
from collections import deque

import torch

from . import autoencoders, data, flows, gan, prior, vq
from .diffusion import make_schedule
from .diffusion.samplers import ClassifierFree, denoise_steps, sample
from .metrics import class_fidelity, diversity, features_and_probs, frechet_distance, sliced_wasserstein


def generate(model, spec, x_T: torch.Tensor, sampler: str, num_steps: int, y=None, generator=None,
             guidance=None) -> torch.Tensor:
    """Samples from x_T: a diffusion model with "ddim" (num_steps) or "ddpm" (all T), a flow-matching model with an
    ODE solver ("euler" or "heun", num_steps); `guidance` as the samplers take it (ClassifierFree)."""
    if spec.family == "flow-matching":
        return flows.flow_sample(model, x_T, sampler, num_steps, y=y, guidance=guidance)
    return sample(model, make_schedule(spec.schedule, spec.num_steps), x_T, sampler,
                  num_steps if sampler == "ddim" else None, y=y, generator=generator, guidance=guidance)


def sampling_path(model, spec, x_T: torch.Tensor, sampler: str, num_steps: int, y=None) -> torch.Tensor:
    """x_T and the state after every step, (K + 1, B, …): a flow-matching model's ODE path ("euler", "heun") or a
    diffusion model's deterministic DDIM path (eta 0)."""
    if spec.family == "flow-matching":
        steps = flows.flow_steps(model, x_T, sampler, num_steps, y=y)
    else:
        steps = denoise_steps(model, make_schedule(spec.schedule, spec.num_steps), x_T, "ddim", num_steps, y=y)
    return torch.stack([x_T, *(step.x_t for step in steps)])


def steps_comparison(entries: dict, dataset: str, steps=(5, 10, 20, 50), n: int = 1000, seed: int = 0,
                     classifier=None) -> list[dict]:
    """Quality against the number of steps, for each entry `label: (model, spec, sampler)` ("euler"/"heun" for flow
    matching, "ddim" for diffusion), all from the same x_T: per row the method, K, network evaluations (NFE), the
    sliced distance to test data (points) or class accuracy, Fréchet distance and diversity (images, own labels,
    classes in turn), the median straightness of the paths (length ÷ distance between the ends; the median, as a path
    that ends near where it began makes the ratio blow up) and the wall time."""
    rows = []
    for label, (model, spec, sampler) in entries.items():
        shape = spec.sample_shape
        x_T = torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))
        y = torch.arange(n) % spec.num_classes if getattr(spec, "num_classes", None) else None
        device = next(model.parameters()).device
        for k in steps:
            began = time.perf_counter()
            paths = [sampling_path(model, spec, xb.to(device), sampler, k, None if yb is None else yb.to(device)).cpu()
                     for xb, yb in zip(x_T.split(250), (y.split(250) if y is not None else [None] * n))]
            seconds = time.perf_counter() - began
            x = torch.cat([p[-1] for p in paths])
            row = {"method": label, "steps": k, "nfe": k * flows.SOLVERS.get(sampler, 1), "seconds": seconds,
                   "straightness": float(torch.cat([flows.straightness(p) for p in paths]).median())}
            if len(shape) == 1:
                row["sliced_wasserstein"] = sliced_wasserstein(x, data.load_toy2d(dataset, "test", n=n, seed=seed).x)
            elif classifier is not None:
                quality = image_quality(x.clamp(-1, 1), y, classifier, data.load(dataset, "test", n=n, seed=seed))
                row.update(accuracy=quality["accuracy"], frechet_distance=quality["frechet_distance"],
                           diversity=quality["diversity"], real_diversity=quality["real_diversity"])
            rows.append(row)
    return rows


VARIANCE_STEPS = (25, 50, 100, 1000)  # respaced DDPM steps of Nichol & Dhariwal's Figure 8 that fit a CPU


def variance_rows(model, spec, dataset: str, steps=VARIANCE_STEPS, variances=("posterior", "beta", "learned"),
                  n: int = 1000, seed: int = 0, classifier=None):
    """Quality against respaced DDPM steps for each reverse variance (β̃, β, the learned Σ_θ), all from the same
    x_T and with the same noise   — Nichol & Dhariwal 2021, Figure 8. Yields (rows so far, network calls so far)
    after every call; a row per (K, variance) holds the sliced distance to test data (points) or class accuracy,
    Fréchet distance and diversity (images, own labels, classes in turn), and the wall time. Close it to stop."""
    schedule = make_schedule(spec.schedule, spec.num_steps)
    device = next(model.parameters()).device
    x_T = torch.randn((n, *spec.sample_shape), generator=torch.Generator().manual_seed(seed)).to(device)
    y = (torch.arange(n) % spec.num_classes).to(device) if spec.num_classes else None
    test = data.load(dataset, "test", n=n, seed=seed)
    rows, calls = [], 0
    for k in steps:
        for variance in variances:
            began = time.perf_counter()
            for step in denoise_steps(model, schedule, x_T, "ddpm", k, y=y, variance=variance,
                                      generator=torch.Generator().manual_seed(seed + 1)):
                calls += 1
                yield rows, calls
            x, row = step.x_t.cpu(), {"variance": variance, "steps": k, "seconds": time.perf_counter() - began}
            if len(spec.sample_shape) == 1:
                row["sliced_wasserstein"] = sliced_wasserstein(x, test.x)
            elif classifier is not None:
                quality = image_quality(x.clamp(-1, 1), y.cpu(), classifier, test)
                row.update(accuracy=quality["accuracy"], frechet_distance=quality["frechet_distance"],
                           diversity=quality["diversity"], real_diversity=quality["real_diversity"])
            rows = rows + [row]
            yield rows, calls


def likelihood_steps(model, spec, dataset: str, n: int = 1000, seed: int = 0, variances=("posterior", "beta")):
    """The variational bound on n test examples' −log p(x_0 | label) per reverse variance, one index t at a time
    (`variance.bound_steps`: yields the report so far after each of the T network calls; close it to stop)."""
    from .diffusion.variance import bound_steps

    test = data.load(dataset, "test", n=n, seed=seed)
    device = next(model.parameters()).device
    y = test.y.to(device) if spec.num_classes else None
    return bound_steps(model, make_schedule(spec.schedule, spec.num_steps), test.x.to(device), y, variances,
                       torch.Generator().manual_seed(seed))


def likelihood(model, spec, dataset: str, n: int = 1000, seed: int = 0, variances=("posterior", "beta")) -> dict:
    """`likelihood_steps` run to the end: bits per dimension per reverse variance, with each variance's L_t per
    index and a learned model's v per index (rounded, for the card's plots)."""
    report = deque(likelihood_steps(model, spec, dataset, n, seed, variances), maxlen=1)[0]

    def rounded(values):
        return [float(f"{v:.4g}") for v in values]
    out = {"bits_per_dim": report.bits_per_dim, "prior_bits_per_dim": report.prior, "eval_examples": report.n,
           "terms_bits_per_dim": {k: rounded(terms.tolist()) for k, terms in report.terms.items()}}
    if report.v is not None:  # the learned v per index: 10th percentile, mean, 90th percentile
        out["v_by_t"] = [rounded(row) for row in report.v.tolist()]
    return out


def learned_variance_quality(model, spec, dataset: str, baseline=None, n: int | None = None, n_bound: int | None = None,
                             seed: int = 0, classifier=None) -> dict:
    """The card of an improved-DDPM model: the bound in bits/dim with β̃, β and its learned Σ_θ on n_bound test
    examples, the same for the fixed-variance model it is compared with (`baseline`: (model, spec) trained with
    L_simple), and quality against respaced DDPM steps per variance on n samples. Defaults: 1,000 of each for
    points; 200 samples and 128 test images for images (the bound is a mean over 784 pixels each, so it settles on
    fewer images; a CPU spends about a quarter of an hour on the whole card)."""
    points = len(spec.sample_shape) == 1
    n, n_bound = n or (1000 if points else 200), n_bound or (1000 if points else 128)
    out = {"likelihood": likelihood(model, spec, dataset, n_bound, seed, ("posterior", "beta", "learned")),
           "steps_by_variance": deque(variance_rows(model, spec, dataset, n=n, seed=seed, classifier=classifier),
                                      maxlen=1)[0][0], "steps_samples": n}
    if baseline is not None:
        out["baseline_likelihood"] = likelihood(*baseline, dataset, n_bound, seed)
    return out


def toy_quality(model, spec, dataset: str, n: int = 2000, seed: int = 0, sampler: str | None = None,
                num_steps: int = 100) -> dict:
    """Sliced Wasserstein distance of n samples to fresh data, next to the same distance between two fresh draws.
    sampler: default DDIM for diffusion, Euler for flow matching."""
    sampler = sampler or ("euler" if spec.family == "flow-matching" else "ddim")
    g = torch.Generator().manual_seed(seed)
    samples = generate(model, spec, torch.randn(n, 2, generator=g), sampler, num_steps, generator=g)
    fresh_a = data.load_toy2d(dataset, "test", n=n, seed=seed).x
    fresh_b = data.load_toy2d(dataset, "test", n=n, seed=seed + 1).x
    out = {"sliced_wasserstein_to_data": sliced_wasserstein(samples, fresh_a),
           "sliced_wasserstein_data_vs_data": sliced_wasserstein(fresh_b, fresh_a),
           "eval_samples": n, "eval_sampler": f"{sampler}-{spec.num_steps if sampler == 'ddpm' else num_steps}"}
    if spec.family == "flow-matching":  # how few steps it needs, and how straight its paths are (Euler-50, median)
        x_1 = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed + 1))
        out["sliced_wasserstein_euler_k"] = {k: sliced_wasserstein(flows.flow_sample(model, x_1, "euler", k), fresh_a)
                                             for k in (1, 2, 5)}
        out["straightness_median_euler_50"] = float(flows.record_path(model, x_1, "euler", 50).straightness.median())
    return out


def image_quality(samples: torch.Tensor, labels: torch.Tensor, classifier, real: data.Dataset) -> dict:
    """Class accuracy/confidence of the requested labels, Fréchet distance to real images, and diversity."""
    feats, probs = features_and_probs(classifier, samples)
    real_feats, _ = features_and_probs(classifier, real.x)
    return {**class_fidelity(probs, labels.numpy()),
            "frechet_distance": frechet_distance(feats, real_feats),
            "diversity": diversity(feats),
            "real_diversity": diversity(real_feats[: len(feats)])}


def fashion_quality(model, spec, classifier, n_per_class: int = 50, num_steps: int = 50, seed: int = 0,
                    sampler: str | None = None, guidance_scale: float = 1.0) -> dict:
    """Class accuracy, Fréchet distance and diversity of n_per_class samples of each class, own label (DDIM, eta 0,
    for diffusion; Euler for flow matching), with classifier-free guidance at `guidance_scale` (1: none)."""
    sampler = sampler or ("euler" if spec.family == "flow-matching" else "ddim")
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat_interleave(n_per_class)
    x_T = torch.randn(len(labels), 1, 28, 28, generator=g)
    guided = guidance_scale != 1.0
    guidance = ClassifierFree(guidance_scale, null=spec.num_classes) if guided else None
    samples = torch.cat([generate(model, spec, xb, sampler, num_steps, y=yb, generator=g, guidance=guidance)
                         for xb, yb in zip(x_T.split(100), labels.split(100))])
    real = data.load("fashion", "test", n=len(labels), seed=seed)
    return {**image_quality(samples, labels, classifier, real), "eval_samples": len(labels),
            "eval_sampler": f"{sampler}-{num_steps}{', eta 0' if sampler == 'ddim' else ''}, own label, "
                            + (f"classifier-free guidance w = {guidance_scale:g}" if guided else "no guidance")}


def gan_spec_2d(loss: str, spectral_norm: bool, lr: float, latent_dim: int = 8, paper_wgan: bool = True):
    """The 2D MLP GAN of the /gan page. With paper_wgan, WGAN-GP takes its paper's optimiser and critic steps (Adam
    β = (0, 0.9), n_critic = 5; Gulrajani et al. 2017, Algorithm 1); every other loss DCGAN's β = (0.5, 0.999) and
    one D step per G step."""
    wgan = loss == "wgan-gp" and paper_wgan
    beta1, beta2 = gan.paper_betas(loss if paper_wgan else "nonsaturating")
    return gan.GANSpec(network="mlp", loss=loss, spectral_norm=spectral_norm, lr=lr, d_lr=lr, latent_dim=latent_dim,
                       batch_size=256, adam_beta1=beta1, adam_beta2=beta2, d_steps=5 if wgan else 1)


def gan_ablation(losses=gan.LOSSES, spectral=(False, True), lrs=(1e-3, 2e-4), seeds=(0, 1, 2), iterations: int = 2000,
                 n: int = 2000) -> list[dict]:
    """Mode collapse on the ring of 8 Gaussians, counted for every loss × spectral norm on D × learning rate over
    several seeds: per run the modes covered and the share of high-quality samples (`gan.mode_coverage`) of n
    samples after `iterations` G updates."""
    from .train import train

    ring = data.load("ring8", "train", n=4096, seed=0)
    rows = []
    for loss in losses:
        for sn in spectral:
            for lr in lrs:
                for seed in seeds:
                    model, _ = train(gan_spec_2d(loss, sn, lr), ring, iterations, seed=seed, device="cpu")
                    coverage = gan.mode_coverage(model.sample(n, torch.Generator().manual_seed(seed)).numpy())
                    rows.append({"loss": loss, "spectral_norm": sn, "lr": lr, "seed": seed,
                                 "modes_covered": coverage["modes_covered"], "high_quality": coverage["high_quality"]})
    return rows


def realnvp_quality(model, spec, dataset: str, n: int = 2000, seed: int = 0) -> dict:
    """A RealNVP's card: test log-likelihood in nats against a kernel density estimate (and the true density where
    the set has one), samples' sliced distance to data, the layers' log-det against a brute-force Jacobian, and how
    Gaussian the test data is once pushed to z."""
    train = data.load_toy2d(dataset, "train", n=n, seed=seed).x
    test = data.load_toy2d(dataset, "test", n=n, seed=seed).x
    fresh = data.load_toy2d(dataset, "test", n=n, seed=seed + 1).x
    likelihood = flows.log_likelihood_check(model, test, train, flows.TRUE_LOG_PROB.get(dataset))
    with torch.no_grad():
        samples = model.sample(n, torch.Generator().manual_seed(seed))
        pushed = model(test)[0]
    logdet, brute = flows.logdet_check(model, test[:16])
    return {"test_nats": -likelihood["flow_nats"], **{f"loglik_{k}": v for k, v in likelihood.items()},
            "sliced_wasserstein_to_data": sliced_wasserstein(samples, test),
            "sliced_wasserstein_data_vs_data": sliced_wasserstein(fresh, test),
            "logdet_max_abs_error_vs_brute_force": float((logdet - brute).abs().max()),
            "z_gaussianity": flows.gaussianity(pushed), "parameters": flows.parameter_count(model), "eval_points": n}


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
           "test_mse_per_pixel": use["test_mse_per_pixel"], "eval_images": len(test),
           "test_code_counts": use["counts"].tolist()}  # how often each code is used: what /vq's codebook shows
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
