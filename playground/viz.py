"""Tensors -> pictures and plots. No model math here: only layout and colour."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch
from einops import rearrange
from PIL import Image
from plotly.subplots import make_subplots

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) or (N, C, H, W) in [-1, 1] -> (H, W, 3) or (N, H, W, 3) uint8; values outside are clipped."""
    x = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if x.shape[-3] == 1:
        x = x.expand(*x.shape[:-3], 3, *x.shape[-2:])
    return rearrange(x, "... c h w -> ... h w c").cpu().numpy()


def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling of an (H, W, C) image, so that each pixel stays a visible square."""
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def image_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 1, scale: int = 1, pad_value: int = 255) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> one (H', W', 3) uint8 grid, `nrow` images per row."""
    images = to_uint8(x)  # (N, H, W, 3)
    n, h, w, _ = images.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / nrow))
    grid = np.full((rows * (h * scale + pad) + pad, nrow * (w * scale + pad) + pad, 3), pad_value, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, nrow)
        top, left = pad + r * (h * scale + pad), pad + c * (w * scale + pad)
        grid[top:top + h * scale, left:left + w * scale] = upscale(image, scale)
    return grid


def fit_scale(side: int, target: int = 224) -> int:
    """The integer upscaling that brings a `side`-pixel image close to `target` pixels."""
    return max(1, round(target / side))


def save_gif(frames: list[np.ndarray], path: str | Path, fps: float = 10.0, hold_last: float = 1.0) -> Path:
    """Write (H, W, 3) uint8 frames as a looping GIF; the last frame is held for `hold_last` seconds."""
    if not frames:
        raise ValueError("no frames to write")
    path = Path(path)
    duration = [int(1000 / fps)] * len(frames)
    duration[-1] = int(1000 * hold_last)
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=False)
    return path


def schedule_figure(curves: dict[str, dict[str, np.ndarray]], ui_t: int | None = None) -> go.Figure:
    """Plot ᾱ_t, √ᾱ_t, √(1−ᾱ_t) and log-SNR over t for several schedules, with a marker at ui_t.

    curves: {schedule name: {"alpha_bar": (T,), "log_snr": (T,)}}, index k = UI t k + 1.
    """
    panels = [("ᾱ_t (signal fraction kept)", lambda c: c["alpha_bar"]),
              ("√ᾱ_t (signal coefficient)", lambda c: np.sqrt(c["alpha_bar"])),
              ("√(1−ᾱ_t) (noise coefficient)", lambda c: np.sqrt(1 - c["alpha_bar"])),
              ("log SNR = log(ᾱ_t / (1−ᾱ_t))", lambda c: c["log_snr"])]
    fig = make_subplots(rows=2, cols=2, subplot_titles=[title for title, _ in panels],
                        horizontal_spacing=0.08, vertical_spacing=0.2)
    for k, (name, curve) in enumerate(curves.items()):
        t = np.arange(1, len(curve["alpha_bar"]) + 1)
        colour = PALETTE[k % len(PALETTE)]
        for p, (title, value) in enumerate(panels):
            row, col = divmod(p, 2)
            y = value(curve)
            fig.add_trace(go.Scatter(x=t, y=y, name=name, legendgroup=name, showlegend=p == 0,
                                     line=dict(color=colour, width=2),
                                     hovertemplate=f"{name}<br>t=%{{x}}<br>{title.split(' ')[0]}=%{{y:.4g}}<extra></extra>"),
                          row=row + 1, col=col + 1)
            if ui_t is not None and ui_t >= 1:
                fig.add_trace(go.Scatter(x=[ui_t], y=[y[ui_t - 1]], mode="markers", showlegend=False,
                                         marker=dict(color=colour, size=10, line=dict(color="black", width=1)),
                                         hovertemplate=f"{name} at t=%{{x}}: %{{y:.4g}}<extra></extra>"),
                              row=row + 1, col=col + 1)
    if ui_t is not None:
        for p in range(4):
            fig.add_vline(x=ui_t, line=dict(color="gray", dash="dot", width=1), row=p // 2 + 1, col=p % 2 + 1)
    fig.update_xaxes(title_text="t (noising steps applied)", row=2)
    fig.update_layout(height=520, margin=dict(l=40, r=20, t=50, b=40), legend=dict(orientation="h", y=-0.15),
                      template="plotly_white")
    return fig


def scatter_with_marginals(points: np.ndarray, labels: np.ndarray | None = None, title: str = "",
                           reference_normal: bool = True, limit: float = 3.5) -> go.Figure:
    """A 2D scatter with the x and y marginal histograms, each against the N(0, 1) density."""
    fig = make_subplots(rows=2, cols=2, column_widths=[0.8, 0.2], row_heights=[0.2, 0.8],
                        shared_xaxes=True, shared_yaxes=True, horizontal_spacing=0.02, vertical_spacing=0.02)
    colours = [PALETTE[int(k) % len(PALETTE)] for k in labels] if labels is not None else PALETTE[0]
    fig.add_trace(go.Scattergl(x=points[:, 0], y=points[:, 1], mode="markers", showlegend=False,
                               marker=dict(size=4, color=colours, opacity=0.6),
                               hovertemplate="(%{x:.2f}, %{y:.2f})<extra></extra>"), row=2, col=1)
    bins = dict(start=-limit, end=limit, size=2 * limit / 60)
    fig.add_trace(go.Histogram(x=points[:, 0], xbins=bins, histnorm="probability density", name="x marginal",
                               marker_color="#7f7f7f", showlegend=False), row=1, col=1)
    fig.add_trace(go.Histogram(y=points[:, 1], ybins=bins, histnorm="probability density", name="y marginal",
                               marker_color="#7f7f7f", showlegend=False), row=2, col=2)
    if reference_normal:
        grid = np.linspace(-limit, limit, 200)
        pdf = np.exp(-grid ** 2 / 2) / np.sqrt(2 * np.pi)
        fig.add_trace(go.Scatter(x=grid, y=pdf, line=dict(color="black", dash="dash"), name="N(0, 1) density"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=pdf, y=grid, line=dict(color="black", dash="dash"), showlegend=False),
                      row=2, col=2)
    fig.update_xaxes(range=[-limit, limit], row=2, col=1)
    fig.update_yaxes(range=[-limit, limit], row=2, col=1)
    fig.update_layout(title=title, height=560, margin=dict(l=40, r=20, t=50, b=40), template="plotly_white",
                      bargap=0.02, legend=dict(orientation="h", y=-0.08))
    return fig


def points_frame(x_t: np.ndarray, x0: np.ndarray | None = None, trails: np.ndarray | None = None,
                 field: tuple[np.ndarray, np.ndarray] | None = None, reference: np.ndarray | None = None,
                 title: str = "", limit: float = 2.5) -> go.Figure:
    """One frame of a 2D reverse process: the points x_t, their predicted x̂_0, the paths of a few
    points so far (trails: (steps, k, 2)), and arrows of a vector field (grid (m, 2), vectors (m, 2))."""
    fig = go.Figure()
    if reference is not None:
        fig.add_trace(go.Scattergl(x=reference[:, 0], y=reference[:, 1], mode="markers", name="real data",
                                   marker=dict(size=3, color="#bbbbbb")))
    if field is not None:
        grid, vectors = field
        length = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.maximum(length, 1e-8) * (2 * limit / 17) * 0.8  # equal-length arrows, direction only
        xs, ys = [], []
        for (gx, gy), (ux, uy) in zip(grid, unit):
            xs += [gx, gx + ux, None]
            ys += [gy, gy + uy, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="score direction −ε̂ (model)",
                                 line=dict(color="#2ca02c", width=1), hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=grid[:, 0] + unit[:, 0], y=grid[:, 1] + unit[:, 1], mode="markers",
                                 marker=dict(size=3, color="#2ca02c"), showlegend=False, hoverinfo="skip"))
    if trails is not None:
        for k in range(trails.shape[1]):
            fig.add_trace(go.Scatter(x=trails[:, k, 0], y=trails[:, k, 1], mode="lines", showlegend=k == 0,
                                     name="paths so far", line=dict(color="#9467bd", width=1), opacity=0.6,
                                     hoverinfo="skip"))
    if x0 is not None:
        fig.add_trace(go.Scattergl(x=x0[:, 0], y=x0[:, 1], mode="markers", name="predicted x̂₀",
                                   marker=dict(size=3, color="#ff7f0e", opacity=0.5)))
    fig.add_trace(go.Scattergl(x=x_t[:, 0], y=x_t[:, 1], mode="markers", name="x_t",
                               marker=dict(size=4, color="#1f77b4", opacity=0.8),
                               hovertemplate="(%{x:.2f}, %{y:.2f})<extra></extra>"))
    fig.update_xaxes(range=[-limit, limit], constrain="domain")
    fig.update_yaxes(range=[-limit, limit], scaleanchor="x", scaleratio=1)
    fig.update_layout(title=title, height=520, margin=dict(l=30, r=10, t=40, b=30), template="plotly_white",
                      legend=dict(orientation="h", y=-0.08))
    return fig


def loss_figure(steps: list[int], curves: dict[str, list[float]], title: str = "training loss") -> go.Figure:
    fig = go.Figure()
    for k, (name, values) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=steps, y=values, name=name, line=dict(color=PALETTE[k % len(PALETTE)])))
    fig.update_layout(title=title, height=300, margin=dict(l=40, r=10, t=40, b=30), template="plotly_white",
                      xaxis_title="step", yaxis_type="log")
    return fig


def scatter_row(clouds: dict[str, np.ndarray], limit: float = 1.5) -> go.Figure:
    """One small scatter panel per 2D point cloud, side by side, titled by its key."""
    fig = make_subplots(rows=1, cols=len(clouds), subplot_titles=list(clouds), horizontal_spacing=0.02)
    for c, points in enumerate(clouds.values(), start=1):
        fig.add_trace(go.Scattergl(x=points[:, 0], y=points[:, 1], mode="markers", showlegend=False,
                                   marker=dict(size=2, color=PALETTE[0])), row=1, col=c)
        fig.update_xaxes(range=[-limit, limit], showticklabels=False, row=1, col=c)
        fig.update_yaxes(range=[-limit, limit], showticklabels=False, row=1, col=c)
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")
    return fig
