"""Pictures and figures of the VQ family (/vq): images at a readable size, quantisation as nearest-code snapping
in a plane, codebook health during training, the dVAE's certainty and τ sweep, and a token-by-token frame.
The token maps and codebook palettes themselves are in `playground.viz` (token_map_html, usage_figure, ...).
Everything here is made on the CPU."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from . import PALETTE, fit_scale, loss_figure, side_by_side, to_uint8, token_map_image, upscale

SIDE = 224  # on-screen size of one image, in pixels


def big(x: torch.Tensor, side: int = SIDE) -> np.ndarray:
    """One image (C, H, W) in [−1, 1], upscaled by a whole factor to about `side` pixels."""
    return upscale(to_uint8(x.detach().cpu()), fit_scale(x.shape[-1], side))


def _rgb(colour) -> str:
    return f"rgb{tuple(int(v) for v in colour)}"


def nearest_code_figure(plane: dict, colours: np.ndarray, title: str, axes: tuple[str, str]) -> go.Figure:
    """The z_e of `vq.nearest_code_plane` as dots coloured by their code, the codes as diamonds (a cross for
    codes these images do not use), and a grey line from each z_e to the code that replaces it."""
    z, codes, index = plane["z"], plane["codes"], plane["index"]
    lines = np.full((3 * len(z), 2), np.nan)  # z_e, its code, a gap
    lines[0::3], lines[1::3] = z, codes[index]
    used = np.unique(index)
    unused = np.setdiff1d(np.arange(len(codes)), used)
    fig = go.Figure([
        go.Scatter(x=lines[:, 0], y=lines[:, 1], mode="lines", line=dict(color="rgba(120,120,120,0.35)", width=1),
                     name="z_e → its code", hoverinfo="skip"),
        go.Scatter(x=z[:, 0], y=z[:, 1], mode="markers", name=f"z_e: {len(z)} encoder outputs",
                     marker=dict(size=5, color=[_rgb(colours[k]) for k in index], line=dict(width=0.5, color="#333")),
                     customdata=index, hovertemplate="z_e → code %{customdata}<extra></extra>"),
        go.Scatter(x=codes[used, 0], y=codes[used, 1], mode="markers+text", name="codes used here",
                   text=[str(k) for k in used], textposition="top center", textfont=dict(size=9),
                   marker=dict(symbol="diamond", size=11, color=[_rgb(colours[k]) for k in used],
                               line=dict(width=1.5, color="black")),
                   customdata=used, hovertemplate="code %{customdata}<extra></extra>"),
        go.Scatter(x=codes[unused, 0], y=codes[unused, 1], mode="markers", name="codes not used by these images",
                   marker=dict(symbol="x", size=6, color="#bbbbbb"), customdata=unused,
                   hovertemplate="code %{customdata} (unused here)<extra></extra>")])
    fig.update_layout(title=title, height=520, template="plotly_white", margin=dict(l=40, r=10, t=50, b=40),
                      xaxis_title=axes[0], yaxis_title=axes[1], legend=dict(orientation="h", y=-0.12))
    return fig


def health_curves_figure(curves: dict[str, dict], title: str) -> go.Figure:
    """Perplexity and codes used per batch during training, one colour per model (curves from checkpoint cards:
    {"step", "perplexity", "codes_used"})."""
    fig = go.Figure()
    for k, (label, c) in enumerate(curves.items()):
        colour = PALETTE[k % len(PALETTE)]
        fig.add_trace(go.Scatter(x=c["step"], y=c["perplexity"], name=f"{label}: perplexity (batch)",
                                 line=dict(color=colour)))
        fig.add_trace(go.Scatter(x=c["step"], y=c["codes_used"], name=f"{label}: codes used (batch)",
                                 line=dict(color=colour, dash="dot")))
    fig.update_layout(title=title, height=340, template="plotly_white", margin=dict(l=50, r=10, t=40, b=40),
                      xaxis_title="step", yaxis_title="codes", legend=dict(orientation="h", y=-0.25))
    return fig


def usage_shares(usage: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Each code's share of the running usage at each snapshot, (K, snapshots), and the top of the colour scale:
    3× a uniform share (or the 99th percentile), so one early spike does not wash out the rest."""
    z = np.stack(usage, axis=1)
    z = z / np.maximum(z.sum(0, keepdims=True), 1e-12)
    return z, max(3.0 / len(z), float(np.percentile(z, 99)))


def training_health_figure(history: dict, usage_steps: list[int], usage: list[np.ndarray]) -> go.Figure:
    """A live run's codebook health: perplexity, codes used and dead codes per step (top), and each code's share
    of the running usage at the recorded steps (bottom: a dark row is a dead code)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.45, 0.55],
                        subplot_titles=["codebook health (number of codes)", "each code's share of recent tokens"])
    for k, (key, name) in enumerate((("perplexity", "perplexity (this batch)"), ("codes_used", "codes used (this batch)"),
                                     ("dead_codes", "dead codes (running usage below threshold)"))):
        if key in history:
            fig.add_trace(go.Scatter(x=history["step"], y=history[key], name=name, line=dict(color=PALETTE[k])),
                          row=1, col=1)
    if usage:
        z, top = usage_shares(usage)
        fig.add_trace(go.Heatmap(x=usage_steps, z=z, colorscale="Viridis", zmin=0, zmax=top, showscale=False,
                                 hovertemplate="step %{x}, code %{y}: %{z:.2%}<extra></extra>"), row=2, col=1)
    fig.update_yaxes(title_text="codes", row=1, col=1)
    fig.update_yaxes(title_text="code", row=2, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    fig.update_layout(height=560, template="plotly_white", margin=dict(l=50, r=10, t=40, b=40),
                      legend=dict(orientation="h", y=-0.12))
    return fig


def certainty_picture(confidence: torch.Tensor, side: int = SIDE) -> np.ndarray:
    """The dVAE encoder's top probability per cell (grid, grid) in [0, 1] as a gray picture (white = sure)."""
    gray = (confidence.detach().cpu().numpy() * 255).round().astype(np.uint8)
    return upscale(np.repeat(gray[..., None], 3, -1), max(1, side // confidence.shape[-1]))


def relaxation_figure(taus: list[float], sweep: dict, n: int) -> go.Figure:
    """`vq.relaxation_sweep` against τ, on log scales, next to the errors of the argmax codes (the tokens) and of
    the Gumbel-max codes argmax(logits + g) that the noisy mixture tends to as τ → 0."""
    fig = loss_figure(list(taus), {f"relaxed decode, {n} test images": sweep["relaxed"],
                                   "argmax codes (tokens; τ → 0 without noise)": [sweep["argmax"]] * len(taus),
                                   "argmax(logits + g) (τ → 0 with noise)": [sweep["gumbel_max"]] * len(taus)},
                      "MSE of the dVAE's decode against τ (log scales)")
    fig.update_layout(xaxis_type="log", xaxis_title="τ (relaxation temperature)")
    return fig


def temperature_figure(temperatures: list[float], curves: dict[str, list[float]], n: int) -> go.Figure:
    """Measured sample quality against the prior's sampling temperature."""
    fig = loss_figure(list(temperatures), curves, f"measured, {n} samples each", log=False)
    fig.update_layout(xaxis_title="temperature T")
    return fig


def token_frame(tokens: np.ndarray, colours: np.ndarray, image: torch.Tensor) -> np.ndarray:
    """One frame of a token-by-token sample for a GIF: the token map next to its decode."""
    return side_by_side([token_map_image(tokens, colours, cell=32), big(image)])
