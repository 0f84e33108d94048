"""Pictures of the text-to-image page (/text-to-image): decoded images in a row, the 4 latent channels as grey
tiles, a step-through strip (x_t, ε̂, x̂₀), cross-attention maps over the image, and labelled grids.
Everything takes CPU tensors (`playground.text_to_image` computes them)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..text_to_image import stretch_channels
from . import fit_scale, image_grid, labelled_grid, labelled_strip, to_uint8, upscale


def row(x: torch.Tensor, side: int = 128, nrow: int | None = None) -> np.ndarray:
    """Images (N, 3, H, W) in [−1, 1] as one grid (one row of up to 8), each about `side` pixels."""
    x = x.detach().float().cpu().clamp(-1, 1)
    nrow = nrow or min(len(x), 8)
    return image_grid(x, nrow=nrow, scale=fit_scale(x.shape[-1], side), pad=2)


def latent_tiles(z: torch.Tensor, side: int = 64) -> np.ndarray:
    """Latents (N, C, h, w) as N rows of C grey tiles, each channel stretched to its own range (for a pixel model,
    pass its image: three colour channels in grey)."""
    z = z.detach().float().cpu()
    tiles = stretch_channels(z).reshape(-1, 1, *z.shape[2:])
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


# ---- img2img and inpainting (tabs 5 and 6) --------------------------------------------------------------------


def big(x: torch.Tensor, side: int = 128) -> np.ndarray:
    """One image (3, H, W) in [−1, 1], blown up with square pixels to about `side`."""
    return upscale(to_uint8(x.detach().float().cpu().clamp(-1, 1)), fit_scale(x.shape[-1], side))


def before_after(pictures: dict[str, torch.Tensor], side: int = 160) -> np.ndarray:
    """Captioned images (3, H, W) side by side: the input, the noised start, the result …"""
    return labelled_strip({caption: big(x, side) for caption, x in pictures.items()})


def mask_overlay(image: torch.Tensor, mask: torch.Tensor, cells: torch.Tensor | None = None,
                 side: int = 160) -> np.ndarray:
    """The image with the 32×32 mask tinted magenta (half and half), and, when `cells` (32×32, the region a
    latent model regenerates) covers more, those extra pixels tinted lightly."""
    base = to_uint8(image.detach().float().cpu().clamp(-1, 1)).astype(np.float32)
    tint = np.array([255, 0, 255], dtype=np.float32)
    painted = mask.cpu().numpy().astype(bool)[..., None]
    extra = (cells.cpu().numpy().astype(bool)[..., None] & ~painted) if cells is not None else np.zeros_like(painted)
    out = np.where(painted, 0.45 * base + 0.55 * tint, base)
    out = np.where(extra, 0.75 * out + 0.25 * tint, out)
    return upscale(out.astype(np.uint8), fit_scale(base.shape[0], side))


def strength_figure(strengths: list[float], distance: list[float], follows: list[float], floor: float | None = None):
    """img2img's trade-off, measured: the mean |pixel change| from the input (left axis) and the share of images
    showing the prompt's shape and colour (right axis), against the strength."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=strengths, y=distance, mode="lines+markers", name="mean |pixel change| from the input",
                             line=dict(color="#1f77b4"), hovertemplate="strength %{x:.2f}: %{y:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=strengths, y=follows, mode="lines+markers", name="share showing the prompt's shape "
                             "and colour (scene truth)", yaxis="y2", line=dict(color="#d62728"),
                             hovertemplate="strength %{x:.2f}: %{y:.0%}<extra></extra>"))
    if floor is not None:
        fig.add_hline(y=floor, line=dict(color="#7f7f7f", dash="dash"))
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color="#7f7f7f", dash="dash"),
                                 name="the autoencoder alone (encode → decode)"))
    fig.update_layout(height=340, margin=dict(l=50, r=50, t=30, b=40), template="plotly_white",
                      xaxis=dict(title="strength (t = strength · T)", range=[0, 1.05]),
                      yaxis=dict(title="mean |change| ([−1, 1] scale)", rangemode="tozero", color="#1f77b4"),
                      yaxis2=dict(title="share following the prompt", overlaying="y", side="right", range=[0, 1.05],
                                  tickformat=".0%", color="#d62728"),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def guidance_figure(scales: list[float], measured: list[dict], card: dict | None = None):
    """The guidance-scale tab's figures against w: scene-truth shares (left) and the mean CLIP score (right) of a
    grid's rows (`text_to_image.measure` of each), solid; the card's `single_object_by_scale` ({w: figures}), dashed."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=["scene truth: share of images", "mean CLIP score (0–2.5)"],
                        horizontal_spacing=0.12)
    shares = (("shape_colour", "shape + colour right", "#1f77b4"), ("correct", "exactly right", "#ff7f0e"))
    done = sorted(zip(scales, measured), key=lambda pair: pair[0])
    xs = [w for w, _ in done]
    for key, name, colour in shares if done else ():
        fig.add_trace(go.Scatter(x=xs, y=[m[key] for _, m in done], mode="lines+markers", name=f"{name} (here)",
                                 line=dict(color=colour)), row=1, col=1)
    if done and "clip_score" in done[0][1]:
        fig.add_trace(go.Scatter(x=xs, y=[m["clip_score"] for _, m in done], mode="lines+markers",
                                 name="CLIP score (here)", line=dict(color="#2ca02c")), row=1, col=2)
    if card:
        ws = sorted(card, key=float)
        cx, n = [float(w) for w in ws], card[ws[0]].get("n", 256)
        for key, name, colour in shares:
            fig.add_trace(go.Scatter(x=cx, y=[card[w][key] for w in ws], mode="lines+markers",
                                     name=f"{name} (card, {n} prompts)", line=dict(color=colour, dash="dash")),
                          row=1, col=1)
        if all("clip_score" in card[w] for w in ws):
            fig.add_trace(go.Scatter(x=cx, y=[card[w]["clip_score"] for w in ws], mode="lines+markers",
                                     name="CLIP score (card)", line=dict(color="#2ca02c", dash="dash")), row=1, col=2)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(range=[0, 2.5], row=1, col=2)
    fig.update_xaxes(title_text="guidance scale w")
    fig.update_layout(height=330, margin=dict(l=40, r=10, t=40, b=40), template="plotly_white",
                      legend=dict(orientation="h", y=-0.3))
    return fig


def sweep_grid(image: torch.Tensor, rows: list[torch.Tensor], labels: list[str], seeds: int) -> np.ndarray:
    """The strength sweep: the input alone on the first row (the rest of it white), then one row of `seeds`
    results per strength, labelled."""
    first = torch.cat([image[None], torch.ones(seeds - 1, *image.shape)])
    return labelled_grid([first, *rows], seeds, ["input", *labels], title="rows = strengths, columns = seeds",
                         col_labels=[f"seed {k}" for k in range(seeds)])
