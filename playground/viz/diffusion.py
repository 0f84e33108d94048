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
