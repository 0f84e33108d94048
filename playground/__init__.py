"""Generative Models Playground: small, real PyTorch implementations of image
generators, for learning. Importable from a notebook; no Gradio inside.

    import playground
    from playground.diffusion import make_schedule
    ds = playground.data.load("fashion", split="test")
"""
from __future__ import annotations

from . import data, diffusion, viz
from .devices import default_device

__version__ = "0.2.0"

__all__ = ["data", "diffusion", "viz", "default_device", "__version__"]
