"""Datasets. Every loader returns a `Dataset`: float tensors in [-1, 1], integer
labels, class names and a human-readable `source` (shown in the UI).

    >>> from playground import data
    >>> ds = data.load("moons", n=512, seed=0)      # (512, 2)
    >>> ds = data.load("fashion", split="test")     # (10000, 1, 28, 28)
    >>> ds = data.load("scenes", "heldout", n=500)  # captioned scenes with scene graphs (see data.shapes)
"""
from __future__ import annotations

import functools

import torch

from .base import Dataset
from .images import FASHION_CLASSES, fashion_source, load_digits, load_fashion
from .shapes import (COLOURS, HELD_OUT, RELATIONS, SHAPE_CLASSES, SIZES, VOCABULARY, Scene, SceneDataset, SceneObject,
                     captions, load_scenes, load_shapes, render, swap_colours)
from .truth import scene_truth
from .toy2d import TOY2D, load_toy2d
from .uploads import ImageError, load_image

IMAGE_DATASETS = ("fashion", "digits", "shapes", "scenes")
DATASETS = IMAGE_DATASETS + TOY2D


def load(name: str, split: str = "train", n: int | None = None, seed: int = 0) -> Dataset:
    """Load a dataset by name. `n` caps (toy 2D: sets) the size; `seed` makes it reproducible.
    "scenes" also has the split "heldout" (the held-out colour–shape pairs) and returns a `SceneDataset`."""
    if name == "scenes" and split == "heldout":
        return load_scenes(split, n=n or 4096, seed=seed)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if name == "fashion":
        return load_fashion(split, n=n, seed=seed)
    if name == "digits":
        return load_digits(split, n=n, seed=seed)
    if name == "shapes":
        return load_shapes(split, n=n or 2048, seed=seed)
    if name == "scenes":
        return load_scenes(split, n=n or 4096, seed=seed)
    if name in TOY2D:
        return load_toy2d(name, split, n=n or 2048, seed=seed)
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


@functools.lru_cache(maxsize=8)
def _cached(name: str, split: str) -> Dataset:
    return load(name, split, n=512 if name in ("shapes", "scenes") else None)


def example(name: str, label: int, index: int, split: str = "test") -> tuple[torch.Tensor, str]:
    """Item `index` of class `label` of an image dataset: ((C, H, W) tensor, a description)."""
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown image dataset {name!r}; choose one of {', '.join(IMAGE_DATASETS)}")
    ds = _cached(name, split)
    of_class = ds.of_class(label)
    if not 0 <= index < len(of_class):
        raise ValueError(f"index must be from 0 to {len(of_class) - 1} for class {ds.class_names[label]!r}, got {index}")
    caption = of_class.captions[index] if of_class.captions else ds.class_names[label]
    return of_class.x[index], f"{caption} — item {index} of {len(of_class)} in its class; {ds.source}"


@functools.lru_cache(maxsize=None)
def class_names(name: str) -> list[str]:
    """The class names of a dataset, without loading all of it."""
    if name == "fashion":
        return list(FASHION_CLASSES)
    if name in ("shapes", "scenes"):
        return list(SHAPE_CLASSES)
    return load(name, "test", n=16).class_names


def class_count(name: str, label: int, split: str = "test") -> int:
    """How many items of class `label` an image dataset's split holds."""
    return len(_cached(name, split).of_class(label))


__all__ = [
    "DATASETS", "IMAGE_DATASETS", "TOY2D", "FASHION_CLASSES", "SHAPE_CLASSES", "Dataset", "ImageError",
    "load", "example", "class_count", "class_names", "load_fashion", "load_digits", "load_shapes", "load_toy2d", "load_image", "fashion_source",
    "COLOURS", "HELD_OUT", "RELATIONS", "SIZES", "VOCABULARY", "Scene", "SceneDataset", "SceneObject", "captions",
    "load_scenes", "render", "scene_truth", "swap_colours",
]
