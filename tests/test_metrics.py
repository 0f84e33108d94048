"""Sample-quality metrics against closed forms: Fréchet distance of Gaussians, diversity of two points,
class fidelity of hand-made probabilities, and the sliced Wasserstein distance of a shifted cloud."""
import math

import numpy as np
import pytest
import torch

from playground.metrics import (
    Classifier,
    ClassifierSpec,
    class_fidelity,
    diversity,
    features_and_probs,
    frechet_distance,
    sliced_wasserstein,
)


def gaussian(n, dim, seed, mean=0.0):
    rng = np.random.default_rng(seed)
    scale = np.diag(np.linspace(0.5, 2.0, dim))  # a non-isotropic covariance
    return rng.standard_normal((n, dim)) @ scale + mean


# ---- Fréchet distance ------------------------------------------------------------------


def test_frechet_distance_of_a_sample_with_itself_is_zero():
    feats = gaussian(500, 6, seed=0)
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_a_shifted_copy_is_the_squared_shift():
    """Identical covariance: the trace term vanishes, FD = ‖μ_a − μ_b‖² = ‖m‖² exactly."""
    feats = gaussian(400, 5, seed=1)
    m = np.array([1.0, -2.0, 0.5, 0.0, 3.0])  # ‖m‖² = 14.25
    assert frechet_distance(feats, feats + m) == pytest.approx(14.25, rel=1e-8)


def test_frechet_distance_of_two_gaussian_samples_differing_by_a_mean_shift():
    """Two independent samples of N(0, Σ) and N(m, Σ): FD → ‖m‖² as n grows."""
    m = np.array([1.0, 1.0, -1.0, 0.0])  # ‖m‖² = 3
    fd = frechet_distance(gaussian(20_000, 4, seed=2), gaussian(20_000, 4, seed=3, mean=m))
    assert fd == pytest.approx(3.0, abs=0.1)


def test_frechet_distance_of_different_spreads():
    """1D-per-axis closed form: for Σ_a = I, Σ_b = s² I, FD = d (1 − s)² (zero mean shift)."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal((20_000, 3))
    b = 3.0 * rng.standard_normal((20_000, 3))
    assert frechet_distance(a, b) == pytest.approx(3 * (1 - 3.0) ** 2, rel=0.05)


# ---- diversity -----------------------------------------------------------------------


def test_diversity_of_two_points_is_their_distance():
    assert diversity(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)


def test_diversity_of_identical_points_is_zero():
    assert diversity(np.ones((5, 3))) == 0.0


def test_diversity_is_the_mean_over_distinct_pairs():
    # corners of a unit square: 4 sides of length 1 and 2 diagonals of √2 over 6 pairs
    square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert diversity(square) == pytest.approx((4 + 2 * math.sqrt(2)) / 6)


@pytest.mark.parametrize("n", [0, 1])
def test_diversity_needs_two_points(n):
    with pytest.raises(ValueError, match="two"):
        diversity(np.zeros((n, 3)))


# ---- class fidelity ---------------------------------------------------------------------


def test_class_fidelity_by_hand():
    probs = np.array([[0.7, 0.2, 0.1],   # asked 0, argmax 0 ✓, p = 0.7
                      [0.1, 0.3, 0.6],   # asked 1, argmax 2 ✗, p = 0.3
                      [0.2, 0.2, 0.6],   # asked 2, argmax 2 ✓, p = 0.6
                      [0.5, 0.4, 0.1]])  # asked 1, argmax 0 ✗, p = 0.4
    result = class_fidelity(probs, [0, 1, 2, 1])
    assert result == {"accuracy": pytest.approx(0.5), "confidence": pytest.approx((0.7 + 0.3 + 0.6 + 0.4) / 4)}


def test_class_fidelity_perfect_and_wrong():
    eye = np.eye(4)
    assert class_fidelity(eye, np.arange(4)) == {"accuracy": 1.0, "confidence": 1.0}
    assert class_fidelity(eye, np.array([1, 2, 3, 0])) == {"accuracy": 0.0, "confidence": 0.0}


# ---- sliced Wasserstein -----------------------------------------------------------------


def cloud(n=300, seed=0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))


def test_sliced_wasserstein_of_a_cloud_with_itself_is_zero():
    a = cloud()
    assert sliced_wasserstein(a, a) == 0.0
    assert sliced_wasserstein(a, a[torch.randperm(len(a))]) == pytest.approx(0.0, abs=1e-12)  # order does not matter


@pytest.mark.parametrize("shift", [(3.0, 0.0), (1.0, -2.0), (0.0, 0.5)])
def test_sliced_wasserstein_of_a_shifted_cloud(shift):
    """Shifting by d moves every projection onto θ by d·θ, so SW₁ = |d| E|cos φ| = |d| · 2/π for uniform θ in 2D."""
    a = cloud(100)
    d = torch.tensor(shift)
    sw = sliced_wasserstein(a, a + d, num_projections=8_000)
    assert sw == pytest.approx(float(d.norm()) * 2 / math.pi, rel=0.02)


def test_sliced_wasserstein_is_symmetric_and_seeded():
    a, b = cloud(seed=1), 0.5 * cloud(seed=2) + 1
    assert sliced_wasserstein(a, b) == pytest.approx(sliced_wasserstein(b, a), abs=1e-12)
    assert sliced_wasserstein(a, b, seed=3) == sliced_wasserstein(a, b, seed=3)
    assert sliced_wasserstein(a, b, seed=3) != sliced_wasserstein(a, b, seed=4)


def test_sliced_wasserstein_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        sliced_wasserstein(cloud(300), cloud(200))
    with pytest.raises(ValueError, match="same shape"):
        sliced_wasserstein(cloud(10), torch.zeros(10, 3))


# ---- features and probabilities of the classifier ---------------------------------------


def test_features_and_probs_shapes_and_batching():
    spec = ClassifierSpec(in_channels=1, image_size=8, width=8, feature_dim=16)
    torch.manual_seed(0)
    classifier = Classifier(spec).eval()
    x = torch.randn(7, 1, 8, 8)
    feats, probs = features_and_probs(classifier, x, batch=3)  # 3 + 3 + 1
    assert feats.shape == (7, 16) and probs.shape == (7, 10)
    assert feats.dtype == np.float64 and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    whole_feats, whole_probs = features_and_probs(classifier, x, batch=100)
    np.testing.assert_allclose(feats, whole_feats, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, whole_probs, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(probs, torch.softmax(classifier(x), 1).double().numpy(), rtol=1e-5, atol=1e-6)


def test_fashion_quality_measures_guided_samples_apart_from_unguided():
    """The cards' w = 3 figure: classifier-free guidance reaches the samples, and the card says which it measured."""
    from playground.diffusion.ddpm import DiffusionSpec
    from playground.evaluate import fashion_quality
    from playground.nn import UNetConfig
    spec = DiffusionSpec(network="unet", num_steps=20, unet=UNetConfig(base_channels=8, channel_mults=(1, 2),
                                                                       num_res_blocks=1, num_classes=10))
    torch.manual_seed(0)
    model, classifier = spec.build().eval(), Classifier(ClassifierSpec(width=8, feature_dim=16)).eval()
    plain = fashion_quality(model, spec, classifier, n_per_class=2, num_steps=2)
    guided = fashion_quality(model, spec, classifier, n_per_class=2, num_steps=2, guidance_scale=3.0)
    assert plain["eval_sampler"] == "ddim-2, eta 0, own label, no guidance" and plain["eval_samples"] == 20
    assert guided["eval_sampler"] == "ddim-2, eta 0, own label, classifier-free guidance w = 3"
    assert guided["frechet_distance"] != pytest.approx(plain["frechet_distance"])  # other samples, same noise
