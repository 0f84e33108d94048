"""Pictures and figures of the /autoencoders page: images over their error maps, the latent map with its decoded
point, labelled grids of reconstructions and prior samples, and the reparameterisation's bar chart.
Everything takes CPU tensors or arrays and returns (H, W, 3) uint8 pictures or Plotly figures."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from . import PALETTE, LatentMap, error_map, fit_scale, labelled_grid, labelled_strip, stack, to_uint8, upscale

SIDE = 168  # on-screen pixels of one big image (28 × 6)


def big(x: torch.Tensor) -> np.ndarray:
    """One (C, H, W) image as an upscaled (H', W', 3) uint8 picture about SIDE pixels across."""
    return upscale(to_uint8(x), fit_scale(x.shape[-1], SIDE))


def over_error(x: torch.Tensor, reference: torch.Tensor | None) -> np.ndarray:
    """An image over its error map |x − reference| (or over blank space when there is no reference)."""
    top = big(x)
    if reference is None:
        return stack([top, np.full_like(top, 255)])
    return stack([top, error_map(reference, x, scale=top.shape[0] // x.shape[-1])])


def error_strip(columns: dict[str, tuple[torch.Tensor, torch.Tensor | None]]) -> np.ndarray:
    """Captioned columns side by side: caption -> (image, the reference its error map is against, or None)."""
    return labelled_strip({caption: over_error(x, reference) for caption, (x, reference) in columns.items()})


def big_strip(images: dict[str, torch.Tensor]) -> np.ndarray:
    """Captioned big images side by side: caption -> one (C, H, W) image."""
    return labelled_strip({caption: big(x) for caption, x in images.items()})


def rows_grid(rows: list[torch.Tensor], nrow: int, row_labels: list[str], title: str = "",
              col_labels: list[str] | None = None, scale: int = 3) -> np.ndarray:
    """Batches of images, one row each (or several rows of nrow), with a label left of each row."""
    return labelled_grid(torch.cat(rows), nrow, row_labels, title, col_labels, scale=scale)


def training_preview(preview: torch.Tensor, kind: str, step: int) -> np.ndarray:
    """The live preview of a training run: (3n, C, H, W) = inputs, reconstructions, decodes of z ~ N(0, I)."""
    n = len(preview) // 3
    scale = 3 if preview.shape[-1] >= 28 else 8
    return labelled_grid(preview, n, ["corrupted" if kind == "dae" else "input", "reconstruction",
                                      "decode(z ~ N(0, I))"], f"step {step}", scale=scale)


def latent_map(view, names: list[str], axes: tuple[str, str], marker=None, thumbnails: np.ndarray | None = None,
               plane: LatentMap | None = None) -> np.ndarray:
    """The codes of a `LatentView` as coloured dots on its plane, a cross at `marker`, and some thumbnails."""
    plane = plane or LatentMap(view.x_range, view.y_range)
    return plane.draw(view.points, view.labels, names, axes, marker, thumbnails)


def decoded_and_nearest(decoded: torch.Tensor, nearest: np.ndarray, nearest_name: str) -> np.ndarray:
    """The decode of a point next to the test image nearest to it ((h, w, 3) uint8 thumbnail)."""
    return labelled_strip({"decoded": big(decoded),
                           f"nearest: {nearest_name}": upscale(nearest, SIDE // nearest.shape[0])})


def reparam_figure(mu: np.ndarray, sigma: np.ndarray, z: np.ndarray, shown: int = 3) -> go.Figure:
    """μ ± σ of q(z | x) per latent dimension as bars with whiskers, and the first `shown` draws z as crosses."""
    dims = [f"z{j + 1}" for j in range(len(mu))]
    fig = go.Figure(go.Bar(x=dims, y=mu, error_y=dict(type="data", array=sigma, thickness=1.5), name="μ ± σ",
                           marker_color=PALETTE[0]))
    for i in range(min(len(z), shown)):
        fig.add_trace(go.Scatter(x=dims, y=z[i], mode="markers", name=f"z⁽{i + 1}⁾ = μ + σ ⊙ ε⁽{i + 1}⁾",
                                 marker=dict(size=8, symbol="x", color=PALETTE[(i + 1) % len(PALETTE)])))
    fig.update_layout(title="q(z | x) = N(μ, σ²) per latent dimension (bars: μ, whiskers: ±σ; crosses: draws)",
                      height=320, margin=dict(l=40, r=10, t=40, b=30), template="plotly_white")
    return fig


def kl_per_dimension_figure(kls: dict[str, np.ndarray], threshold: float) -> go.Figure:
    """Mean KL(q(z_j | x) ‖ N(0, 1)) per latent dimension j as bars, one series per model (caption -> (D,) nats),
    a dashed line at `threshold`, and the dimensions below it (collapsed) drawn hatched and grey."""
    fig = go.Figure()
    for i, (caption, kl) in enumerate(kls.items()):
        kl = np.asarray(kl, dtype=float)
        dims = [f"z{j + 1}" for j in range(len(kl))]
        collapsed = kl < threshold
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Bar(
            x=dims, y=kl, name=f"{caption} ({int(collapsed.sum())} collapsed)",
            marker=dict(color=["#bbbbbb" if c else colour for c in collapsed], line=dict(color=colour, width=1.5),
                        pattern=dict(shape=["/" if c else "" for c in collapsed])),
            text=["collapsed" if c else "" for c in collapsed], textposition="outside",
            hovertemplate="%{x}: %{y:.3f} nats<extra>" + caption + "</extra>"))
    fig.add_hline(y=threshold, line_dash="dash", line_color="#c0392b",
                  annotation_text=f"{threshold:g} nats: collapsed below", annotation_position="top left")
    fig.update_layout(title="KL(q(z_j | x) ‖ N(0, 1)) per latent dimension, mean over test images (nats)",
                      barmode="group", height=340, margin=dict(l=40, r=10, t=40, b=30), template="plotly_white",
                      yaxis_title="nats", legend=dict(orientation="h", y=-0.15))
    return fig
