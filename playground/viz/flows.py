"""Figures of the flows page: a flow's density as a heat map with its samples, the base space's grid deformed
layer by layer, ODE paths on the plane, and quality against the number of steps. CPU tensors in, figures out."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from . import PALETTE

LAYOUT = dict(template="plotly_white", font=dict(size=14))


def density_figure(axis: torch.Tensor, logp: torch.Tensor, samples: torch.Tensor | None, real: np.ndarray | None,
                   title: str) -> go.Figure:
    """The flow's density p(x) = exp(log p) as a heat map, with real data (grey) and samples x = f⁻¹(z) (red)."""
    a = axis.numpy()
    fig = go.Figure(go.Heatmap(x=a, y=a, z=logp.exp().numpy(), colorscale="Blues", colorbar=dict(title="p(x)"),
                               hovertemplate="(%{x:.2f}, %{y:.2f}) p = %{z:.3g}<extra></extra>"))
    if real is not None:
        fig.add_trace(go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", name="real data",
                                 marker=dict(size=3, color="#555555", opacity=0.5)))
    if samples is not None:
        s = samples.numpy()
        fig.add_trace(go.Scatter(x=s[:, 0], y=s[:, 1], mode="markers", name="samples f⁻¹(z)",
                                 marker=dict(size=3, color="#d62728", opacity=0.7)))
    lim = float(a[-1])
    fig.update_xaxes(range=[-lim, lim], constrain="domain")
    fig.update_yaxes(range=[-lim, lim], scaleanchor="x", scaleratio=1)
    fig.update_layout(title=title, height=480, margin=dict(l=40, r=10, t=50, b=30),
                      legend=dict(orientation="h", y=-0.08), **LAYOUT)
    return fig


def deformation_figure(frames: torch.Tensor, real: np.ndarray | None = None, per_row: int = 5) -> go.Figure:
    """One small panel per frame of `flows.deformation`: the z-space grid (first), then after each coupling layer
    on the way to x (the last over the real data, on the data's axes). Horizontal lines blue, vertical lines red;
    the panels in between are zoomed to their own extent."""
    count, lines = frames.shape[0], frames.shape[1] // 2
    rows = (count + per_row - 1) // per_row
    titles = ["z ~ N(0, I) grid"] + [f"after {k} layer{'s' if k > 1 else ''}" for k in range(1, count - 1)] + ["x = f⁻¹(z)"]
    fig = make_subplots(rows=rows, cols=per_row, subplot_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.08)
    for k, frame in enumerate(frames.numpy()):
        r, c = divmod(k, per_row)
        if k == count - 1 and real is not None:
            fig.add_trace(go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", showlegend=False, hoverinfo="skip",
                                     marker=dict(size=2, color="#999999")), row=r + 1, col=c + 1)
        xs = {0: [], 1: []}
        ys = {0: [], 1: []}
        for j, line in enumerate(frame):
            xs[j >= lines] += [*line[:, 0], None]
            ys[j >= lines] += [*line[:, 1], None]
        for kind, colour in ((0, "#1f77b4"), (1, "#d62728")):
            fig.add_trace(go.Scatter(x=xs[kind], y=ys[kind], mode="lines", showlegend=False, hoverinfo="skip",
                                     line=dict(color=colour, width=1)), row=r + 1, col=c + 1)
        limit = 3.2 if k == 0 else 1.25 if k == count - 1 else 1.05 * float(np.quantile(np.abs(frame), 0.98))
        fig.update_xaxes(range=[-limit, limit], showticklabels=False, row=r + 1, col=c + 1)
        fig.update_yaxes(range=[-limit, limit], showticklabels=False, row=r + 1, col=c + 1)
    fig.update_layout(height=250 * rows + 40, margin=dict(l=10, r=10, t=50, b=10), **LAYOUT)
    return fig


def paths_figure(path: np.ndarray, frame: int, reference: np.ndarray | None, x0: np.ndarray | None, title: str,
                 shown: int = 60, limit: float = 2.5) -> go.Figure:
    """ODE paths on the plane: the first `shown` points' whole paths (thin), the path so far up to `frame` (thick),
    x at that frame, and x̂_0, where the straight line through x with the current velocity lands at t = 0."""
    fig = go.Figure()
    if reference is not None:
        fig.add_trace(go.Scatter(x=reference[:, 0], y=reference[:, 1], mode="markers", name="real data",
                                 marker=dict(size=3, color="#bbbbbb")))
    xs, ys, xs_done, ys_done = [], [], [], []
    for k in range(min(shown, path.shape[1])):
        xs += [*path[:, k, 0], None]
        ys += [*path[:, k, 1], None]
        xs_done += [*path[: frame + 1, k, 0], None]
        ys_done += [*path[: frame + 1, k, 1], None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="whole path", hoverinfo="skip",
                             line=dict(color="#9467bd", width=1), opacity=0.25))
    fig.add_trace(go.Scatter(x=xs_done, y=ys_done, mode="lines", name="path so far", hoverinfo="skip",
                             line=dict(color="#9467bd", width=2)))
    if x0 is not None:
        fig.add_trace(go.Scatter(x=x0[:, 0], y=x0[:, 1], mode="markers", name="x̂₀ = x − t v",
                                 marker=dict(size=3, color="#ff7f0e", opacity=0.6)))
    fig.add_trace(go.Scatter(x=path[frame, :, 0], y=path[frame, :, 1], mode="markers", name="x at this step",
                             marker=dict(size=4, color="#1f77b4", opacity=0.8)))
    fig.update_xaxes(range=[-limit, limit], constrain="domain")
    fig.update_yaxes(range=[-limit, limit], scaleanchor="x", scaleratio=1)
    fig.update_layout(title=title, height=520, margin=dict(l=30, r=10, t=50, b=30),
                      legend=dict(orientation="h", y=-0.08), **LAYOUT)
    return fig


def steps_figure(rows: list[dict], metric: str, label: str, reference: float | None = None) -> go.Figure:
    """`metric` against the number of network evaluations, one line per method (from `evaluate.steps_comparison`),
    with a dashed reference (e.g. real data against real data)."""
    fig = go.Figure()
    for k, method in enumerate(dict.fromkeys(r["method"] for r in rows)):
        mine = [r for r in rows if r["method"] == method and metric in r]
        fig.add_trace(go.Scatter(x=[r["nfe"] for r in mine], y=[r[metric] for r in mine], mode="lines+markers",
                                 name=method, line=dict(color=PALETTE[k % len(PALETTE)]),
                                 text=[f"K = {r['steps']}" for r in mine],
                                 hovertemplate="%{text}, NFE %{x}: %{y:.4g}<extra></extra>"))
    if reference is not None:
        fig.add_hline(y=reference, line=dict(color="#444444", dash="dash"), annotation_text="real vs real")
    ticks = sorted({r["nfe"] for r in rows})
    fig.update_xaxes(type="log", title="network evaluations per sample (NFE)", tickvals=ticks, ticktext=[str(t) for t in ticks])
    fig.update_layout(title=label, height=380, margin=dict(l=50, r=10, t=50, b=40),
                      legend=dict(orientation="h", y=-0.25), **LAYOUT)
    return fig
