"""Real image datasets: Fashion-MNIST (28×28 gray) and scikit-learn's digits (8×8 gray)."""
from __future__ import annotations

import functools
import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch

from .base import Dataset, take

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
ASSETS_DATA = Path(__file__).resolve().parents[2] / "assets" / "data"
FASHION_SUBSET = ASSETS_DATA / "fashion-mnist-subset"
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def fashion_search_path() -> list[Path]:
    """Folders searched for the full Fashion-MNIST IDX files, in order (DESIGN.md)."""
    folders = []
    if os.environ.get("PLAYGROUND_DATA"):
        root = Path(os.environ["PLAYGROUND_DATA"]).expanduser()
        folders += [root, root / "fashion-mnist", root / "FashionMNIST" / "raw"]
    folders += [Path("/usr/share/datasets/fashion-mnist"),
                Path("~/.keras/datasets/fashion-mnist").expanduser(),
                Path("data/FashionMNIST/raw"), Path("~/data/FashionMNIST/raw").expanduser()]
    return folders


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def fashion_source(search_path: list[Path] | None = None) -> tuple[Path, bool]:
    """(folder, is_full_dataset): the first folder holding all four IDX files, else the bundled subset."""
    for folder in fashion_search_path() if search_path is None else search_path:
        if all(_find(folder, stem) for pair in _FILES.values() for stem in pair):
            return folder, True
    return FASHION_SUBSET, False


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format), gzipped or not, into a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {data.size}")
    return data.reshape(shape)


@functools.lru_cache(maxsize=4)
def _fashion_arrays(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_stem, labels_stem = _FILES[split]
    return read_idx(_find(folder, images_stem)), read_idx(_find(folder, labels_stem))


def load_fashion(split: str = "train", n: int | None = None, seed: int = 0,
                 search_path: list[Path] | None = None) -> Dataset:
    folder, full = fashion_source(search_path)
    images, labels = _fashion_arrays(folder, split)
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)  # (N, 1, 28, 28)
    source = (f"Fashion-MNIST ({split}, {len(x):,} images) from {folder}" if full else
              f"bundled Fashion-MNIST subset ({split}, {len(x):,} images; the full set was not found)")
    ds = Dataset("fashion", x, torch.from_numpy(labels.astype(np.int64)), list(FASHION_CLASSES), source)
    return take(ds, n, seed)


def load_digits(split: str = "train", n: int | None = None, seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 real 8×8 handwritten digits (values 0–16); the last 297 are the test split."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images, labels = (bunch.images[:1500], bunch.target[:1500]) if split == "train" else (bunch.images[1500:], bunch.target[1500:])
    x = torch.as_tensor(images / 8.0 - 1.0, dtype=torch.float32).unsqueeze(1)  # (N, 1, 8, 8)
    ds = Dataset("digits", x, torch.as_tensor(labels, dtype=torch.long), [str(k) for k in range(10)],
                 f"scikit-learn handwritten digits ({split}, {len(x):,} images)")
    return take(ds, n, seed)
