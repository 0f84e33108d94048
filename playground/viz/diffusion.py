"""Pictures and figures of a reverse-diffusion run: a recorded frame (images: x_t, ε̂, x̂₀; 2D: points, paths and
the score field), the schedule with the current step marked, rows of samples, and the frames of a GIF.
Everything is drawn on the CPU from a `Trajectory` (frames already on the CPU)."""
from __future__ import annotations

import functools

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw

from ..diffusion import make_schedule
from . import fit_scale, image_grid, points_frame, scatter_row, schedule_figure

TRAILS = 40  # points whose paths a 2D frame draws


def grid(x: torch.Tensor, target_px: int = 300) -> np.ndarray:
    """A batch of images (B, C, H, W) in [-1, 1] as a square grid about `target_px` wide."""
    x = x.detach().float().cpu().clamp(-1, 1)
    nrow = int(np.ceil(np.sqrt(x.shape[0])))
    return image_grid(x, nrow=nrow, scale=fit_scale(x.shape[-1] * nrow, target_px), pad=1)


def step_images(trajectory, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame k of an image run: (x_t, ε̂, x̂₀) as grids. ε̂ ~ N(0, I) is shown as ε̂/3, so ±3σ fills the grey range."""
    return grid(trajectory.x_t[k]), grid(trajectory.eps[k].float() / 3), grid(trajectory.x0[k])


def step_points(trajectory, k: int, field: tuple[torch.Tensor, torch.Tensor] | None = None) -> go.Figure:
    """Frame k of a 2D run: x_t, its x̂₀ (not on the finished frame), the paths of the first TRAILS points so far,
    and the score direction on a grid (field: (grid (m, 2), score (m, 2)), or None)."""
    t = trajectory.ts[k]
    x0 = trajectory.x0[k].float().numpy() if t >= 0 else None
    arrows = None if field is None else (field[0].numpy(), field[1].numpy())
    return points_frame(trajectory.x_t[k].float().numpy(), x0, trails=trajectory.x_t[: k + 1, :TRAILS].float().numpy(),
                        field=arrows, title=f"frame {k}: t = {t + 1 if t >= 0 else 0}")


def schedule_marked(schedule, t: int) -> go.Figure:
    """The schedule's ᾱ_t, its coefficients and log-SNR, with schedule index t marked (t < 0: no marker).
    Cached: every browser scrubbing a run of the same schedule shares these (read-only) figures."""
    return _schedule_marked(schedule.kind, schedule.num_steps, t if t >= 0 else -1)


@functools.lru_cache(maxsize=1024)
def _schedule_marked(kind: str, num_steps: int, t: int) -> go.Figure:
    schedule = make_schedule(kind, num_steps)
    curves = {kind: {"alpha_bar": schedule.alphas_cumprod.numpy(), "log_snr": schedule.snr.log().numpy()}}
    return schedule_figure(curves, ui_t=t + 1 if t >= 0 else None)


def sample_rows(rows: dict[str, torch.Tensor], modality: str, per_row: int = 8) -> tuple:
    """(picture, figure) of several batches: images, one row of the first `per_row` samples each; 2D points, one
    panel each."""
    if modality == "points":
        return None, scatter_row({name: x.float().numpy() for name, x in rows.items()})
    images = torch.cat([x[:per_row].float() for x in rows.values()])
    return image_grid(images, nrow=per_row, scale=3, pad=2), None


def dots(points: np.ndarray, side: int = 256, limit: float = 2.5) -> np.ndarray:
    """2D points as blue dots on a white square picture spanning [−limit, limit]² (y up): a cheap GIF frame."""
    canvas = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(canvas)
    for x, y in (points + limit) / (2 * limit) * side:
        draw.ellipse([x - 1.5, side - y - 1.5, x + 1.5, side - y + 1.5], fill=(31, 119, 180))
    return np.asarray(canvas)


def gif_frames(trajectory, modality: str, count: int = 60) -> list[np.ndarray]:
    """At most `count` evenly spaced frames of a run: images as x_t beside x̂₀, 2D points as dots."""
    frames = []
    for k in np.linspace(0, len(trajectory) - 1, min(count, len(trajectory))).round().astype(int):
        if modality == "points":
            frames.append(dots(trajectory.x_t[k].float().numpy()))
        else:
            frames.append(np.concatenate([grid(trajectory.x_t[k]), grid(trajectory.x0[k])], axis=1))
    return frames


# ---- improved DDPM: the learned variance ------------------------------------------------------------------------
VARIANCE_NAMES = {"posterior": "σ² = β̃ (fixed)", "beta": "σ² = β (fixed)", "learned": "Σ_θ learned"}


def variance_steps_figure(rows: list[dict], metric: str, label: str, reference: float | None = None) -> go.Figure:
    """`metric` against respaced DDPM steps K, one line per reverse variance (rows of `evaluate.variance_rows`), with
    a dashed reference (two draws of real data against each other)."""
    from .flows import steps_figure

    fig = steps_figure([{**r, "method": VARIANCE_NAMES[r["variance"]], "nfe": r["steps"]} for r in rows], metric, label,
                       reference)
    fig.update_xaxes(title="respaced DDPM steps K (network calls per sample)")
    return fig


def variance_over_t(schedule, v_by_t: np.ndarray) -> go.Figure:
    """Left: σ_t² against t for β_t, β̃_t and the learned Σ_θ (its mean v, with the 10–90 % band of v over pixels
    and examples), log scale. Right: v itself (0: β̃, 1: β). t is the UI's t = index + 1. v_by_t: (T, 3) per index
    (10th percentile, mean, 90th percentile), NaN where not measured."""
    from plotly.subplots import make_subplots

    from ..diffusion.samplers import learned_log_variance
    from ..diffusion.variance import clipped_posterior_variance

    t = np.arange(1, schedule.num_steps + 1)
    beta = schedule.betas.numpy()
    beta_tilde = clipped_posterior_variance(schedule).numpy()
    sigma2 = learned_log_variance(torch.from_numpy(np.asarray(v_by_t, dtype=np.float64)),
                                  torch.from_numpy(beta)[:, None], torch.from_numpy(beta_tilde)[:, None]).exp().numpy()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("reverse variance σ_t² (log scale)", "learned v (0 = β̃, 1 = β)"))
    fig.add_trace(go.Scatter(x=t, y=beta, name="β_t", line=dict(color="#d62728", dash="dash")), 1, 1)
    fig.add_trace(go.Scatter(x=t, y=beta_tilde, name="β̃_t", line=dict(color="#1f77b4", dash="dash")), 1, 1)
    fig.add_trace(go.Scatter(x=t, y=sigma2[:, 1], name="Σ_θ at the mean v (left)", line=dict(color="#2ca02c", width=3)),
                  1, 1)
    lo, mid, hi = (np.asarray(v_by_t, dtype=np.float64)[:, k] for k in range(3))
    fig.add_trace(go.Scatter(x=np.concatenate([t, t[::-1]]), y=np.concatenate([hi, lo[::-1]]), fill="toself",
                             fillcolor="rgba(44,160,44,0.2)", line=dict(width=0), name="v, 10th–90th percentile (right)",
                             hoverinfo="skip"), 1, 2)
    fig.add_trace(go.Scatter(x=t, y=mid, name="v, mean (right)", line=dict(color="#98df8a", width=3)), 1, 2)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title="t (noising steps)", type="log", exponentformat="power")
    fig.update_layout(height=380, margin=dict(l=50, r=10, t=50, b=40), legend=dict(orientation="h", y=-0.3),
                      template="plotly_white", font=dict(size=14))
    return fig


def bound_terms_figure(terms: dict[str, np.ndarray]) -> go.Figure:
    """Each term L_{t−1} of the bound (bits/dim) against t = index + 1 for t ≥ 2 (the KL terms; t = 1 is the
    decoder, in the table), log–log: where the bits of the likelihood are   — Nichol & Dhariwal 2021, Figure 2."""
    fig = go.Figure()
    for k, (variance, values) in enumerate(terms.items()):
        values = np.asarray(values, dtype=np.float64)
        t = np.arange(1, len(values) + 1)
        keep = (t >= 2) & np.isfinite(values) & (values > 0)
        fig.add_trace(go.Scatter(x=t[keep], y=values[keep], name=VARIANCE_NAMES[variance], mode="lines",
                                 line=dict(color=["#1f77b4", "#d62728", "#2ca02c"][k % 3])))
    fig.update_xaxes(title="t (noising steps)", type="log", exponentformat="power")
    fig.update_yaxes(title="L<sub>t−1</sub>, bits per dimension", type="log", exponentformat="power")
    fig.update_layout(title="terms of the bound", height=380, margin=dict(l=60, r=10, t=50, b=40),
                      legend=dict(orientation="h", y=-0.3), template="plotly_white", font=dict(size=14))
    return fig
