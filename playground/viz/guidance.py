"""Pictures and figures of /guidance: the two grids (rows: scales, columns: seeds), one cell's step, the 2D paths
and densities of every cell, and the measured trade-off. Everything is drawn on the CPU."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from . import guided_points_figure, labelled_grid, labelled_strip, points_frame, side_by_side, to_uint8, upscale
from . import tradeoff_figure as _tradeoff_figure
from ..data import Dataset
from ..diffusion.trajectory import Trajectory
from ..guidance import METHODS, SCALE_NAMES, CellStep

DISTANCES = {"frechet_distance": "Fréchet distance to the class (lower: closer)",
             "sliced_wasserstein": "sliced Wasserstein to the class (lower: closer)"}


def distance_key(rows: dict) -> str:
    """Which distance to the class a trade-off measured: Fréchet (images) or sliced Wasserstein (points)."""
    return next(key for key in DISTANCES if key in rows)


def _panel_name(method: str, scale: float) -> str:
    return f"{'CFG' if method == 'cfg' else 'classifier'} {SCALE_NAMES[method]} = {scale:g}"


def grid_picture(final: torch.Tensor, scales: list[float], seeds: list[int], method: str, label_name: str) -> np.ndarray:
    """A finished image grid with its scales, seeds and title: (H, W, 3) uint8."""
    return labelled_grid(final.float().cpu(), nrow=len(seeds), title=f"{METHODS[method]}: {label_name}",
                         row_labels=[f"{SCALE_NAMES[method]} = {w:g}" for w in scales],
                         col_labels=[f"seed {s}" for s in seeds])


def live_grid_picture(x0: torch.Tensor, scales: list[float], seeds: list[int], method: str, i: int, total: int):
    """The grid's predicted x̂₀ while it is being sampled."""
    return labelled_grid(x0.detach().float().cpu().clamp(-1, 1), nrow=len(seeds), scale=3,
                         row_labels=[f"{w:g}" for w in scales],
                         title=f"{METHODS[method]}: predicted x̂₀ at step {i} of {total}")


def both_grids_picture(trajectories: dict[str, Trajectory], scales, seeds, label_name: str) -> np.ndarray:
    """Both finished grids side by side (the PNG export)."""
    return side_by_side([grid_picture(tr.final, scales, seeds, method, label_name)
                         for method, tr in trajectories.items()])


def _real(real: Dataset, label: int) -> tuple[np.ndarray, np.ndarray]:
    return real.x.numpy(), real.x[real.y == label].numpy()


PANEL_HEIGHT = 230  # px per row of 2D panels (a little under the square panels' width at five scales)


def _titled(fig: go.Figure, title: str, height: int) -> go.Figure:
    """A title above the panels' own titles: the page shows no label over the figure, which would cover them."""
    return fig.update_layout(title=dict(text=title, x=0.01, xanchor="left", y=0.99, yanchor="top", font=dict(size=14)),
                             height=height, margin=dict(t=64))


def paths_figure(trajectories: dict[str, Trajectory], scales, seeds, real: Dataset, label: int) -> go.Figure:
    """2D: the path of every seed's point in every cell, a panel per method and scale, over the real data."""
    panels = {}
    for method, tr in trajectories.items():
        paths = tr.x_t.float().numpy()  # (F, rows · cols, 2)
        for r, w in enumerate(scales):
            panels[_panel_name(method, w)] = {"paths": paths[:, r * len(seeds):(r + 1) * len(seeds)]}
    return _titled(guided_points_figure(panels, *_real(real, label), ncols=len(scales)),
                   "The paths of the seeds' points in every cell (top: classifier-free, bottom: classifier)",
                   PANEL_HEIGHT * len(trajectories) + 110)


def densities_figure(samples: dict[str, torch.Tensor], scales, real: Dataset, label: int) -> go.Figure:
    """2D: where the samples of each scale land (samples[method]: (scales, n, 2)), a panel per method and scale."""
    panels = {_panel_name(method, w): {"density": x[r].float().cpu().numpy()}
              for method, x in samples.items() for r, w in enumerate(scales)}
    return _titled(guided_points_figure(panels, *_real(real, label), ncols=len(scales)),
                   "Where the samples of each scale land (top: classifier-free, bottom: classifier)",
                   PANEL_HEIGHT * len(samples) + 110)


def cell_points_figure(trajectory: Trajectory, cell: int, frame: int, reference: Dataset, title: str) -> go.Figure:
    """2D: one cell's point at a frame, its x̂₀ and its path so far, over real points."""
    x_t = trajectory.x_t[:, cell:cell + 1].float()
    return points_frame(x_t[frame].numpy(), trajectory.x0[frame, cell:cell + 1].float().numpy(),
                        trails=x_t[:frame + 1].numpy(), reference=reference.x[:1000].numpy(), title=title, limit=2.5)


def _small(x: torch.Tensor) -> np.ndarray:
    return upscale(to_uint8(x.clamp(-1, 1)), 5)


def cell_strip(step: CellStep, method: str) -> np.ndarray:
    """x_t, x̂₀ and the ε predictions of one image cell, captioned. ε is divided by 3 (±3σ fills the grey range);
    differences of ε are multiplied by 3 to be visible."""
    parts = {"x_t": step.x_t, "x̂₀ (predicted)": step.x0}
    if method == "cfg":
        parts |= {"ε_cond / 3": step.eps_cond / 3, "ε_uncond / 3": step.eps_uncond / 3,
                  "ε_cond − ε_uncond (×3)": step.class_direction * 3}
    else:
        parts |= {"guided ε̂ / 3": step.eps / 3, "ε_uncond / 3": step.eps_uncond / 3,
                  "ε̂ − ε_uncond (×3)": step.guided_shift * 3}
    if step.t < 0:  # the finished sample: no ε any more
        parts = {key: value if key.startswith(("x_t", "x̂")) else torch.zeros_like(value) for key, value in parts.items()}
    return labelled_strip({key: _small(value) for key, value in parts.items()})


def tradeoff_figure(scales: list[float], rows: dict[str, dict]) -> go.Figure:
    """Accuracy, diversity and the distance to the class over the scale, a line per method (rows[method] as
    `guidance.tradeoff` returns them), and dashed: the same figures for real data of the class."""
    distance = distance_key(next(iter(rows.values())))
    panels = {"accuracy": "accuracy on the requested class", "diversity": "diversity (mean pairwise distance)",
              distance: DISTANCES[distance]}
    curves = {METHODS[method]: r for method, r in rows.items()}
    return _titled(_tradeoff_figure(scales, curves, next(iter(rows.values()))["real"], panels),
                   "Fidelity, diversity and distance to real data, over the scale", 390)
