"""Pictures and figures of the GAN page: the live 2D view, its loss and mode-coverage curves, the mode-collapse
comparison, DCGAN sample grids, the patch discriminator's verdicts and the families side by side.
Everything takes CPU tensors or numpy arrays (the library's `playground.gan` computes the numbers)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from . import PALETTE, gan_field_image, labelled_grid, labelled_strip, patch_overlay, side_by_side

LAYOUT = dict(height=300, margin=dict(l=40, r=10, t=40, b=30), template="plotly_white")


def live_field(view, real: np.ndarray, title: str) -> np.ndarray:
    """A `playground.gan.FieldView` as a picture: D as a heat map, real (grey) and generated (red) points, and
    G's next push (green arrows)."""
    return gan_field_image(view.axis, view.values, real, view.points, view.pull, title, view.name, view.zrange)


def losses_figure(history: dict) -> go.Figure:
    """D's and G's loss per iteration; with no iterations yet, the empty axes with their titles."""
    fig = go.Figure([go.Scatter(x=history["it"], y=history[key], name=name, line=dict(color=PALETTE[k]))
                     for k, (key, name) in enumerate((("d_loss", "D loss"), ("g_loss", "G loss")))])
    fig.update_layout(title="Losses" if history["it"] else "Losses (train or step to draw them)",
                      xaxis_title="iteration", yaxis_title="loss", **LAYOUT)
    if not history["it"]:
        fig.update_xaxes(range=[0, 100])
        fig.update_yaxes(range=[0, 2])
    return fig


def coverage_figure(history: dict) -> go.Figure:
    """Modes of the ring covered (of 8) and the high-quality share (× 8), at each redraw of the live run."""
    fig = go.Figure([go.Scatter(x=history["cov_it"], y=history["covered"], name="modes covered (of 8)",
                                mode="lines+markers"),
                     go.Scatter(x=history["cov_it"], y=[8 * q for q in history["quality"]],
                                name="high-quality share × 8", mode="lines", line=dict(dash="dot"))])
    fig.update_layout(title="Mode collapse, counted (2000 samples at each redraw)", xaxis_title="iteration",
                      yaxis=dict(range=[0, 8.5]), **LAYOUT)
    return fig


def collapse_figure(curves: dict[str, dict]) -> go.Figure:
    """Modes covered over training, one line per run: {legend: {"it": [...], "covered": [...]}}."""
    fig = go.Figure([go.Scatter(x=c["it"], y=c["covered"], name=name, mode="lines+markers")
                     for name, c in curves.items()])
    fig.update_layout(title="Modes covered (of 8), 2000 samples at each count", xaxis_title="iteration",
                      yaxis=dict(range=[0, 8.5]), **{**LAYOUT, "height": 320})
    return fig


def sample_grid(x: torch.Tensor, n_cols: int, title: str = "", scale: int = 3) -> np.ndarray:
    """Generated images in rows of `n_cols`, under a title."""
    rows = int(np.ceil(len(x) / n_cols))
    return labelled_grid(x, n_cols, [""] * rows, title, scale=scale)


def interpolation_strip(x: torch.Tensor, lambdas: list[float], title: str) -> np.ndarray:
    """G along a line in z: one row, each image labelled with its λ."""
    return labelled_grid(x, len(x), [""], title, [f"λ={v:.2f}" for v in lambdas], scale=3)


def patch_verdicts(images: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> np.ndarray:
    """{caption: (image (C, H, W), P(real) per patch (h, w))}: each image under its grid of patch verdicts."""
    return labelled_strip({caption: patch_overlay(x, scores) for caption, (x, scores) in images.items()})


def family_grids(samples: dict[str, torch.Tensor], diversity: dict[str, float], n: int = 24) -> np.ndarray:
    """Each family's first n samples as a grid titled with its name and diversity, side by side."""
    return side_by_side([sample_grid(x[:n], 6, f"{name} · diversity {diversity[name]:.2f}", scale=2)
                         for name, x in samples.items()])
