"""Pictures of the text-to-image page (/text-to-image): decoded images in a row, the 4 latent channels as grey
tiles, a step-through strip (x_t, ε̂, x̂₀), cross-attention maps over the image, and labelled grids.
Everything takes CPU tensors (`playground.text_to_image` computes them)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from . import captioned, fit_scale, image_grid, labelled_grid, labelled_strip, to_uint8, upscale


def row(x: torch.Tensor, side: int = 128, nrow: int | None = None) -> np.ndarray:
    """Images (N, 3, H, W) in [−1, 1] as one grid (one row of up to 8), each about `side` pixels."""
    x = x.detach().float().cpu().clamp(-1, 1)
    nrow = nrow or min(len(x), 8)
    return image_grid(x, nrow=nrow, scale=fit_scale(x.shape[-1], side), pad=2)


def latent_tiles(z: torch.Tensor, side: int = 64) -> np.ndarray:
    """Latents (N, C, h, w) as N rows of C grey tiles, each channel stretched to its own range (for a pixel model,
    pass its image: three colour channels in grey)."""
    z = z.detach().float().cpu()
    lo, hi = z.amin(dim=(2, 3), keepdim=True), z.amax(dim=(2, 3), keepdim=True)
    tiles = (2 * (z - lo) / (hi - lo).clamp(min=1e-6) - 1).reshape(-1, 1, *z.shape[2:])
    return image_grid(tiles, nrow=z.shape[1], scale=fit_scale(z.shape[-1], side), pad=2)


def step_strip(x_t: torch.Tensor, eps: torch.Tensor, x0_decoded: torch.Tensor, image_now: torch.Tensor,
               side: int = 64) -> np.ndarray:
    """One step of one sample, left to right: x_t's channels, ε̂'s channels, decoded x̂₀ and decoded x_t."""
    pictures = {"x_t (latent channels)": latent_tiles(x_t[None], side),
                "ε̂ (predicted noise)": latent_tiles(eps[None], side),
                "x̂₀ decoded": upscale(to_uint8(x0_decoded.clamp(-1, 1)), fit_scale(x0_decoded.shape[-1], 2 * side)),
                "x_t decoded": upscale(to_uint8(image_now.clamp(-1, 1)), fit_scale(image_now.shape[-1], 2 * side))}
    return labelled_strip(pictures)


def heat(weights: torch.Tensor) -> np.ndarray:
    """A map (h, w) of non-negative weights as an RGB heat map (black → red → yellow → white), scaled to its max."""
    w = (weights / weights.max().clamp(min=1e-9)).clamp(0, 1).numpy()
    rgb = np.stack([np.clip(3 * w, 0, 1), np.clip(3 * w - 1, 0, 1), np.clip(3 * w - 2, 0, 1)], axis=-1)
    return (rgb * 255).astype(np.uint8)


def attention_overlay(image: torch.Tensor, weights: torch.Tensor, side: int = 128) -> np.ndarray:
    """A token's attention map (h, w) blown up to the image's size and laid over it (half and half)."""
    base = to_uint8(image.clamp(-1, 1)).astype(np.float32)
    h = Image.fromarray(heat(weights)).resize(base.shape[:2][::-1], Image.Resampling.NEAREST)
    mixed = (0.45 * base + 0.55 * np.asarray(h, dtype=np.float32)).astype(np.uint8)
    return upscale(mixed, fit_scale(base.shape[0], side))


def attention_strip(image: torch.Tensor, tokens: list[str], maps: torch.Tensor, side: int = 128) -> np.ndarray:
    """The image, then one overlay per token, each captioned with its word and its share of the attention."""
    share = maps.flatten(1).mean(1)  # mean weight of each token over positions (they sum to 1)
    pictures = {"image": upscale(to_uint8(image.clamp(-1, 1)), fit_scale(image.shape[-1], side))}
    for k, (token, weights) in enumerate(zip(tokens, maps)):
        pictures[f"{k + 1}. “{token}” {share[k]:.0%}"] = attention_overlay(image, weights, side)
    return labelled_strip(pictures)


def scale_grid(rows: list[torch.Tensor], labels: list[str], title: str = "") -> np.ndarray:
    """Rows of images (one row per guidance scale), labelled on the left."""
    nrow = len(rows[0])
    return labelled_grid(rows, nrow, labels, title)


def titled(picture: np.ndarray, text: str) -> np.ndarray:
    return captioned(picture, text)
