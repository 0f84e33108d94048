"""Toy 2D distributions: a whole distribution can be seen at once, which makes
them the best teaching view for diffusion, GANs and guidance. All labelled, all
scaled into [-1, 1], all deterministic given a seed (train and test use
different draws)."""
from __future__ import annotations

import numpy as np
import torch

from .base import Dataset

TOY2D = ("moons", "swissroll", "ring8", "checkerboard", "spirals", "circles")
TOY2D_TITLES = {
    "moons": "two moons", "swissroll": "swiss roll", "ring8": "ring of 8 Gaussians",
    "checkerboard": "checkerboard", "spirals": "two spirals", "circles": "two circles",
}
_TEST_SEED_OFFSET = 10_000


def _sklearn():
    """scikit-learn's dataset generators, imported when first used (the import takes about a second, and the app's
    cold start should not wait for it)."""
    from sklearn import datasets
    return datasets


def _moons(n, rng):
    xy, y = _sklearn().make_moons(n, noise=0.06, random_state=int(rng.integers(2**31)))
    return (xy - [0.5, 0.25]) / 1.7, y, ["upper moon", "lower moon"]


def _circles(n, rng):
    xy, y = _sklearn().make_circles(n, noise=0.04, factor=0.5, random_state=int(rng.integers(2**31)))
    return xy / 1.15, y, ["outer circle", "inner circle"]


def _swissroll(n, rng):
    xyz, position = _sklearn().make_swiss_roll(n, noise=0.3, random_state=int(rng.integers(2**31)))
    # label = which quarter of the roll's length a point lies on, from the centre outwards
    y = np.digitize(position, np.quantile(np.linspace(1.5 * np.pi, 4.5 * np.pi, 1001), [0.25, 0.5, 0.75]))
    return xyz[:, [0, 2]] / 14.0, y, ["innermost quarter", "second quarter", "third quarter", "outer quarter"]


def _ring8(n, rng):
    y = rng.integers(0, 8, n)
    angle = y * (2 * np.pi / 8)
    centres = 0.75 * np.stack([np.cos(angle), np.sin(angle)], 1)
    return centres + 0.05 * rng.standard_normal((n, 2)), y, [f"mode {k} ({45 * k}°)" for k in range(8)]


def _checkerboard(n, rng):
    cells = [(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0]  # 8 of 16 squares
    y = rng.integers(0, len(cells), n)
    ij = np.array(cells)[y]
    xy = (ij + rng.random((n, 2))) * 0.5 - 1.0  # each cell is 0.5 wide, the board spans [-1, 1]
    return xy * 0.95, y, [f"square row {i}, col {j}" for i, j in cells]


def _spirals(n, rng):
    y = rng.integers(0, 2, n)
    s = np.sqrt(rng.random(n))  # more points where the arm is longer
    theta = s * 3 * np.pi
    r = 0.9 * s
    xy = np.stack([r * np.cos(theta + np.pi * y), r * np.sin(theta + np.pi * y)], 1)
    return xy + 0.02 * rng.standard_normal((n, 2)), y, ["spiral A", "spiral B"]


_MAKERS = {"moons": _moons, "swissroll": _swissroll, "ring8": _ring8,
           "checkerboard": _checkerboard, "spirals": _spirals, "circles": _circles}


def load_toy2d(name: str, split: str = "train", n: int = 2048, seed: int = 0) -> Dataset:
    if name not in _MAKERS:
        raise ValueError(f"unknown toy 2D set {name!r}; choose one of {', '.join(TOY2D)}")
    rng = np.random.default_rng(seed + (_TEST_SEED_OFFSET if split == "test" else 0))
    xy, y, class_names = _MAKERS[name](n, rng)
    x = torch.as_tensor(np.clip(xy, -1, 1), dtype=torch.float32)
    return Dataset(name, x, torch.as_tensor(y, dtype=torch.long), class_names,
                   source=f"{TOY2D_TITLES[name]}, generated (scikit-learn / numpy), seed {seed}")
