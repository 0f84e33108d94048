"""Generative Models Playground: small, real PyTorch implementations of image
generators, for learning. Importable from a notebook; no Gradio inside.

    import playground
    from playground.diffusion import make_schedule
    ds = playground.data.load("fashion", split="test")
"""
from __future__ import annotations

import torch

from . import data, diffusion, viz

__version__ = "0.1.0"


def default_device() -> torch.device:
    """cuda, then mps, then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


__all__ = ["data", "diffusion", "viz", "default_device", "__version__"]
