"""The page's models: the shipped trio most tabs compare, and the latent-space menu (shipped models plus the ones
this browser trained in the Train tab, kept in its `my_models` session state)."""
from __future__ import annotations

from playground.models import Loaded

from ..common import ModelMenu

TRIO = {"ae-fashion": "AE", "dae-fashion": "denoising AE", "vae-fashion": "VAE"}  # 16-D codes, same network
SHIPPED = {"ae2-fashion": "AE · 2-D latent", "vae2-fashion": "VAE β = 1 · 2-D latent",
           "ae-fashion": "AE · 16-D latent", "dae-fashion": "denoising AE · 16-D latent",
           "vae-fashion": "VAE β = 1 · 16-D latent", "vae-fashion-lowbeta": "VAE β = 0.1 · 16-D latent"}
MENU = ModelMenu(SHIPPED)


def model(name, my_models: dict | None = None) -> Loaded:
    """A shipped model, or one this browser trained ("user:ID")."""
    return MENU.get(name, my_models)
