"""Procedural 32×32 RGB scenes: one coloured shape on a dark background, with a
class label (the shape) and a caption (size, colour, shape, position). Fully
deterministic given the seed, so class- and text-conditional models have a
dataset whose every factor is known."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from .base import Dataset

SHAPE_CLASSES = ["circle", "square", "triangle", "diamond"]
COLOURS = {"red": (230, 50, 50), "green": (60, 200, 70), "blue": (60, 110, 240),
           "yellow": (240, 220, 60), "magenta": (220, 70, 220), "cyan": (70, 220, 230)}
SIZES = {"small": 0.22, "large": 0.36}  # half-width as a share of the image side
ROWS, COLS = ("top", "middle", "bottom"), ("left", "centre", "right")
_TEST_SEED_OFFSET = 10_000
_SUPERSAMPLE = 4  # draw at 4× and downsample: anti-aliased edges


def _position_words(row: int, col: int) -> str:
    if row == 1 and col == 1:
        return "in the centre"
    if row == 1:
        return f"on the {COLS[col]}"
    if col == 1:
        return f"at the {ROWS[row]}"
    return f"at the {ROWS[row]} {COLS[col]}"


def draw_shape(shape: str, colour: str, size: str, row: int, col: int, side: int = 32,
               jitter: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """One scene as a (side, side, 3) uint8 array."""
    big = side * _SUPERSAMPLE
    image = Image.new("RGB", (big, big), (20, 20, 28))
    draw = ImageDraw.Draw(image)
    r = SIZES[size] * big / 2
    cx = big * (0.5 + (col - 1) * 0.27 + jitter[0])
    cy = big * (0.5 + (row - 1) * 0.27 + jitter[1])
    fill = COLOURS[colour]
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        draw.rectangle([cx - 0.85 * r, cy - 0.85 * r, cx + 0.85 * r, cy + 0.85 * r], fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return np.asarray(image.resize((side, side), Image.Resampling.BOX))


def load_shapes(split: str = "train", n: int = 2048, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed + (_TEST_SEED_OFFSET if split == "test" else 0))
    images, labels, captions = [], [], []
    for _ in range(n):
        label = int(rng.integers(len(SHAPE_CLASSES)))
        colour = list(COLOURS)[rng.integers(len(COLOURS))]
        size = list(SIZES)[rng.integers(len(SIZES))]
        row, col = int(rng.integers(3)), int(rng.integers(3))
        jitter = tuple(rng.uniform(-0.03, 0.03, 2))
        images.append(draw_shape(SHAPE_CLASSES[label], colour, size, row, col, jitter=jitter))
        labels.append(label)
        captions.append(f"a {size} {colour} {SHAPE_CLASSES[label]} {_position_words(row, col)}")
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (N, 3, 32, 32)
    return Dataset("shapes", x, torch.tensor(labels, dtype=torch.long), list(SHAPE_CLASSES),
                   f"procedural shapes scenes ({split}, {n:,} images, seed {seed})", captions)
