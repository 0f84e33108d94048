from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Dataset:
    """A whole dataset in memory."""

    name: str  # e.g. "fashion", "moons"
    x: torch.Tensor  # (N, C, H, W) images or (N, 2) points, float32 in [-1, 1]
    y: torch.Tensor  # (N,) int64 class labels
    class_names: list[str]  # class_names[k] names label k
    source: str  # where the data came from, in words (shown in the UI)
    captions: list[str] | None = None  # one caption per item, where the dataset has them

    def __len__(self) -> int:
        return len(self.x)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, index: torch.Tensor) -> "Dataset":
        captions = [self.captions[i] for i in index.tolist()] if self.captions is not None else None
        return Dataset(self.name, self.x[index], self.y[index], self.class_names, self.source, captions)

    def head(self, n: int) -> "Dataset":
        """The first n items (all of them if there are fewer)."""
        return self.subset(torch.arange(min(n, len(self))))

    def of_class(self, label: int) -> "Dataset":
        if not 0 <= label < self.num_classes:
            raise ValueError(f"class must be from 0 to {self.num_classes - 1}, got {label}")
        return self.subset(torch.nonzero(self.y == label).flatten())


def take(ds: Dataset, n: int | None, seed: int) -> Dataset:
    """A reproducible random subset of n items (all of them when n is None or ≥ len)."""
    if n is None or n >= len(ds):
        return ds
    index = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    return ds.subset(index.sort().values)
