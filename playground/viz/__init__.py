"""Tensors -> pictures and plots. No model math here: only layout and colour."""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch
from einops import rearrange
from PIL import Image, ImageDraw, ImageFont
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
    fig.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", showlegend=False,
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
        fig.add_trace(go.Scatter(x=reference[:, 0], y=reference[:, 1], mode="markers", name="real data",
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
        fig.add_trace(go.Scatter(x=x0[:, 0], y=x0[:, 1], mode="markers", name="predicted x̂₀",
                                   marker=dict(size=3, color="#ff7f0e", opacity=0.5)))
    fig.add_trace(go.Scatter(x=x_t[:, 0], y=x_t[:, 1], mode="markers", name="x_t",
                               marker=dict(size=4, color="#1f77b4", opacity=0.8),
                               hovertemplate="(%{x:.2f}, %{y:.2f})<extra></extra>"))
    fig.update_xaxes(range=[-limit, limit], constrain="domain")
    fig.update_yaxes(range=[-limit, limit], scaleanchor="x", scaleratio=1)
    fig.update_layout(title=title, height=520, margin=dict(l=30, r=10, t=40, b=30), template="plotly_white",
                      legend=dict(orientation="h", y=-0.08))
    return fig


def loss_figure(steps: list[int], curves: dict[str, list[float]], title: str = "training loss", log: bool = True) -> go.Figure:
    fig = go.Figure()
    for k, (name, values) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=steps, y=values, name=name, line=dict(color=PALETTE[k % len(PALETTE)])))
    fig.update_layout(title=title, height=300, margin=dict(l=40, r=10, t=40, b=30), template="plotly_white",
                      xaxis_title="step", yaxis_type="log" if log else "linear")
    return fig


def scatter_row(clouds: dict[str, np.ndarray], limit: float = 1.5) -> go.Figure:
    """One small scatter panel per 2D point cloud, side by side, titled by its key."""
    fig = make_subplots(rows=1, cols=len(clouds), subplot_titles=list(clouds), horizontal_spacing=0.02)
    for c, points in enumerate(clouds.values(), start=1):
        fig.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", showlegend=False,
                                   marker=dict(size=2, color=PALETTE[0])), row=1, col=c)
        fig.update_xaxes(range=[-limit, limit], showticklabels=False, row=1, col=c)
        fig.update_yaxes(range=[-limit, limit], showticklabels=False, row=1, col=c)
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")
    return fig


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont:
    """DejaVu Sans from matplotlib's own files (it has ε, ₀, ‖…); nothing is fetched. Read from its place in
    matplotlib's data folder, found without importing matplotlib (0.24 s of the app's cold start) or starting its
    font manager (which indexes every font: a few tenths of a second more)."""
    spec = importlib.util.find_spec("matplotlib")
    bundled = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf" if spec and spec.origin else None
    for path in (bundled, None):
        try:
            if path is None:  # not where matplotlib keeps it: ask its font manager
                from matplotlib import font_manager
                path = font_manager.findfont("DejaVu Sans", fallback_to_default=True)
            return ImageFont.truetype(str(path), size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def labelled_grid(x: torch.Tensor | list[torch.Tensor], nrow: int, row_labels: list[str], title: str = "",
                  col_labels: list[str] | None = None, scale: int = 3, pad: int = 2) -> np.ndarray:
    """An image grid with a label left of each row and above each column, and a title: (H, W, 3) uint8.
    x: (N, C, H, W), or a list of such batches shown one after another."""
    x = torch.cat(list(x)) if isinstance(x, (list, tuple)) else x
    grid = image_grid(x, nrow=nrow, pad=pad, scale=scale)
    font, small = _font(15), _font(12)
    left = 12 + max((int(font.getlength(s)) for s in row_labels), default=0)
    top = (26 if title else 4) + (18 if col_labels else 0)
    canvas = Image.new("RGB", (grid.shape[1] + left + 4, grid.shape[0] + top + 4), "white")
    canvas.paste(Image.fromarray(grid), (left, top))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((left, 4), title, fill="black", font=font)
    cell = x.shape[-1] * scale + pad
    for r, text in enumerate(row_labels):
        draw.text((4, top + pad + r * cell + cell // 2 - 8), text, fill="black", font=font)
    for c, text in enumerate(col_labels or []):
        draw.text((left + pad + c * cell + 2, top - 16), text, fill="#555555", font=small)
    return np.asarray(canvas)


def captioned(image: np.ndarray, text: str) -> np.ndarray:
    """The picture with a one-line caption above it (PIL's built-in bitmap font: nothing is downloaded)."""
    canvas = Image.new("RGB", (image.shape[1], image.shape[0] + 16), "white")
    canvas.paste(Image.fromarray(image), (0, 16))
    ImageDraw.Draw(canvas).text((4, 2), text, fill="black")
    return np.asarray(canvas)


def labelled_strip(images: dict[str, np.ndarray], pad: int = 8) -> np.ndarray:
    """(H, W, 3) uint8 images side by side, each with its caption above: one (H', W', 3) uint8 picture."""
    font = _font(13)
    h = max(im.shape[0] for im in images.values())
    widths = [max(im.shape[1], int(font.getlength(caption)) + 4) for caption, im in images.items()]
    canvas = Image.new("RGB", (sum(widths) + pad * (len(images) + 1), h + 24), "white")
    draw, left = ImageDraw.Draw(canvas), pad
    for (caption, im), w in zip(images.items(), widths):
        draw.text((left, 2), caption, fill="black", font=font)
        canvas.paste(Image.fromarray(im), (left, 20))
        left += w + pad
    return np.asarray(canvas)


def side_by_side(images: list[np.ndarray], gap: int = 16) -> np.ndarray:
    """(H, W, 3) uint8 pictures next to each other, top-aligned, on white."""
    h = max(im.shape[0] for im in images)
    canvas = Image.new("RGB", (sum(im.shape[1] for im in images) + gap * (len(images) - 1), h), "white")
    left = 0
    for im in images:
        canvas.paste(Image.fromarray(im), (left, 0))
        left += im.shape[1] + gap
    return np.asarray(canvas)


def guided_points_figure(panels: dict[str, dict[str, np.ndarray]], real: np.ndarray, real_class: np.ndarray,
                         ncols: int, limit: float = 1.3) -> go.Figure:
    """2D guidance panels (one per method × scale). Each panel dict: "paths" (F, K, 2) the paths of K seeds,
    and/or "density" (N, 2) samples drawn as a 2D histogram. Grey: all real data; outlined: the requested class."""
    names = list(panels)
    rows = int(np.ceil(len(names) / ncols))
    fig = make_subplots(rows=rows, cols=ncols, subplot_titles=names, horizontal_spacing=0.02, vertical_spacing=0.08)
    for i, name in enumerate(names):
        r, c = divmod(i, ncols)
        r, c = r + 1, c + 1
        panel = panels[name]
        fig.add_trace(go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", marker=dict(size=2, color="#d0d0d0"),
                                   name="real data (all classes)", showlegend=i == 0, hoverinfo="skip"), row=r, col=c)
        fig.add_trace(go.Scatter(x=real_class[:, 0], y=real_class[:, 1], mode="markers",
                                   marker=dict(size=3, color="#a1d99b"),
                                   name="real data of the requested class", showlegend=i == 0, hoverinfo="skip"),
                      row=r, col=c)
        if "density" in panel:  # empty bins transparent, so the real data stays visible underneath
            fig.add_trace(go.Histogram2d(x=panel["density"][:, 0], y=panel["density"][:, 1], zmin=0,
                                         colorscale=[[0, "rgba(255,255,255,0)"], [1e-6, "rgba(107,174,214,0.75)"],
                                                     [1, "rgb(8,48,107)"]],
                                         xbins=dict(start=-limit, end=limit, size=2 * limit / 40),
                                         ybins=dict(start=-limit, end=limit, size=2 * limit / 40),
                                         showscale=False, hovertemplate="%{z} samples<extra></extra>",
                                         name="samples (density)"), row=r, col=c)
        if "paths" in panel:
            paths = panel["paths"]
            for k in range(paths.shape[1]):
                colour = PALETTE[k % len(PALETTE)]
                fig.add_trace(go.Scatter(x=paths[:, k, 0], y=paths[:, k, 1], mode="lines", line=dict(color=colour, width=1),
                                         opacity=0.5, showlegend=False, hoverinfo="skip"), row=r, col=c)
                fig.add_trace(go.Scatter(x=paths[-1:, k, 0], y=paths[-1:, k, 1], mode="markers",
                                         marker=dict(size=9, color=colour, line=dict(width=1, color="black")),
                                         name=f"seed column {k + 1}", showlegend=i == 0,
                                         hovertemplate="(%{x:.2f}, %{y:.2f})<extra></extra>"), row=r, col=c)
        fig.update_xaxes(range=[-limit, limit], showticklabels=False, row=r, col=c)
        fig.update_yaxes(range=[-limit, limit], showticklabels=False, scaleanchor=f"x{i + 1 if i else ''}",
                         row=r, col=c)
    fig.update_layout(height=260 * rows + 80, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white",
                      legend=dict(orientation="h", y=-0.02))
    return fig


def tradeoff_figure(scales: list[float], curves: dict[str, dict[str, list[float]]], reference: dict[str, float],
                    panels: dict[str, str]) -> go.Figure:
    """One panel per figure of merit (panels: key -> title), a line per method over the scale, and a dashed
    line for the same figure measured on real data."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels.values()), horizontal_spacing=0.08)
    for c, key in enumerate(panels, start=1):
        for k, (method, rows) in enumerate(curves.items()):
            fig.add_trace(go.Scatter(x=scales, y=rows[key], mode="lines+markers", name=method, showlegend=c == 1,
                                     line=dict(color=PALETTE[k])), row=1, col=c)
        if key in reference:
            fig.add_hline(y=reference[key], line=dict(color="#7f7f7f", dash="dash"), row=1, col=c)
        fig.update_xaxes(title_text="scale (CFG: w · classifier: s)", row=1, col=c)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color="#7f7f7f", dash="dash"),
                             name="real images / points of the class, same n"))
    fig.update_layout(height=360, margin=dict(l=40, r=10, t=40, b=40), template="plotly_white",
                      legend=dict(orientation="h", y=-0.25))
    return fig


def error_map(x: torch.Tensor, x_hat: torch.Tensor, scale: int = 1, vmax: float = 1.0) -> np.ndarray:
    """|x − x̂| averaged over channels, drawn with the magma colour map on a fixed range [0, vmax]
    (black: no error), so maps of different models compare: (H, W, 3) uint8 for one (C, H, W) pair."""
    from matplotlib import colormaps
    err = ((x - x_hat).abs().mean(0) / vmax).clamp(0, 1).cpu().numpy()
    return upscale((colormaps["magma"](err)[..., :3] * 255).astype(np.uint8), scale)


def stack(images: list[np.ndarray], gap: int = 6) -> np.ndarray:
    """(H, W, 3) uint8 pictures one above the other, left-aligned, on white."""
    w = max(im.shape[1] for im in images)
    canvas = Image.new("RGB", (w, sum(im.shape[0] for im in images) + gap * (len(images) - 1)), "white")
    top = 0
    for im in images:
        canvas.paste(Image.fromarray(im), (0, top))
        top += im.shape[0] + gap
    return np.asarray(canvas)


CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]  # matplotlib's tab10


class LatentMap:
    """A square picture of a 2-D (latent) plane: maps plane coordinates to pixels and back, so that a click on
    the picture (Gradio's Image.select gives pixels) becomes a point of the plane."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float], side: int = 440, margin: int = 40):
        self.x_range, self.y_range, self.side, self.margin = tuple(map(float, x_range)), tuple(map(float, y_range)), side, margin

    def to_pixel(self, x: float, y: float) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        return self.margin + (x - x0) / (x1 - x0) * self.side, 8 + (y1 - y) / (y1 - y0) * self.side

    def to_plane(self, px: float, py: float) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        return x0 + (px - self.margin) / self.side * (x1 - x0), y1 - (py - 8) / self.side * (y1 - y0)

    def draw(self, points: np.ndarray, labels: np.ndarray, class_names: list[str], axis_names=("z₁", "z₂"),
             marker: tuple[float, float] | None = None, thumbnails: np.ndarray | None = None, thumb: int = 28) -> np.ndarray:
        """Dots coloured by class (and, if given, (N, h, w, 3) uint8 thumbnails of some points drawn where they
        lie, none overlapping), axes ticks, a legend, and a cross at `marker`: (H, W, 3) uint8."""
        legend = 150
        canvas = Image.new("RGB", (self.margin + self.side + 12 + legend, self.side + self.margin + 8), "white")
        draw, font = ImageDraw.Draw(canvas), _font(12)
        draw.rectangle([self.margin, 8, self.margin + self.side, 8 + self.side], outline="#999999")
        for k in range(5):  # ticks: 5 per axis, with their values
            fx = self.x_range[0] + k / 4 * (self.x_range[1] - self.x_range[0])
            fy = self.y_range[0] + k / 4 * (self.y_range[1] - self.y_range[0])
            px, _ = self.to_pixel(fx, 0)
            _, py = self.to_pixel(0, fy)
            draw.line([px, 8 + self.side, px, 12 + self.side], fill="#666666")
            draw.text((px - 12, 14 + self.side), f"{fx:.1f}", fill="#444444", font=font)
            draw.line([self.margin - 4, py, self.margin, py], fill="#666666")
            draw.text((2, py - 7), f"{fy:.1f}", fill="#444444", font=font)
        draw.text((self.margin + self.side // 2 - 10, 26 + self.side), axis_names[0], fill="black", font=font)
        draw.text((self.margin + 4, 10), axis_names[1], fill="black", font=font)
        order = np.random.default_rng(0).permutation(len(points))  # no class is always drawn on top
        for i in order:
            px, py = self.to_pixel(*points[i])
            if self.margin <= px <= self.margin + self.side and 8 <= py <= 8 + self.side:
                draw.ellipse([px - 2.5, py - 2.5, px + 2.5, py + 2.5], fill=CLASS_COLOURS[int(labels[i]) % 10])
        if thumbnails is not None:
            taken: list[tuple[float, float]] = []
            for i in order:
                px, py = self.to_pixel(*points[i])
                inside = self.margin <= px - thumb / 2 and px + thumb / 2 <= self.margin + self.side \
                    and 8 <= py - thumb / 2 and py + thumb / 2 <= 8 + self.side
                if inside and all(abs(px - qx) > thumb + 2 or abs(py - qy) > thumb + 2 for qx, qy in taken):
                    taken.append((px, py))
                    tile = Image.fromarray(thumbnails[i]).resize((thumb, thumb), Image.Resampling.NEAREST)
                    canvas.paste(tile, (int(px - thumb / 2), int(py - thumb / 2)))
                    draw.rectangle([px - thumb / 2 - 1, py - thumb / 2 - 1, px + thumb / 2, py + thumb / 2],
                                   outline=CLASS_COLOURS[int(labels[i]) % 10], width=2)
        for k, name in enumerate(class_names):
            top = 12 + 18 * k
            left = self.margin + self.side + 12
            draw.rectangle([left, top + 3, left + 10, top + 13], fill=CLASS_COLOURS[k % 10])
            draw.text((left + 16, top), name, fill="black", font=font)
        if marker is not None:
            px, py = self.to_pixel(*marker)
            draw.line([px - 9, py, px + 9, py], fill="black", width=3)
            draw.line([px, py - 9, px, py + 9], fill="black", width=3)
        return np.asarray(canvas)


def patch_overlay(x: torch.Tensor, scores: torch.Tensor, scale: int = 8) -> np.ndarray:
    """One (C, H, W) image, upscaled, under a grid of per-patch probabilities (h, w) in [0, 1]: blue = "real",
    red = "fake", each cell printed with its value. (H·scale, W·scale, 3) uint8."""
    from matplotlib import colormaps
    base = Image.fromarray(upscale(to_uint8(x), scale)).convert("RGBA")
    h, w = scores.shape
    cell_h, cell_w = base.height / h, base.width / w
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw, font = ImageDraw.Draw(layer), _font(11)
    for i in range(h):
        for j in range(w):
            r, g, b, _ = colormaps["RdBu"](float(scores[i, j]))
            box = [j * cell_w, i * cell_h, (j + 1) * cell_w - 1, (i + 1) * cell_h - 1]
            draw.rectangle(box, fill=(int(255 * r), int(255 * g), int(255 * b), 110), outline=(255, 255, 255, 90))
            draw.text((box[0] + 3, box[1] + 2), f"{float(scores[i, j]):.2f}", fill=(255, 255, 0, 255), font=font)
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"))


# ---- token maps (VQ-VAE) -----------------------------------------------------------------------------------

def _ink(colour) -> str:
    """Black or white, whichever reads better on this background colour."""
    r, g, b = (int(v) for v in colour)
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"


def token_map_html(tokens: np.ndarray, colours: np.ndarray, selected: tuple[int, int] | None = None,
                   cell: int = 38, caption: str = "") -> str:
    """A token grid (H, W) of code indices as an HTML table: each cell is coloured by its code, shows the index,
    names it on hover, and carries data-r / data-c for a click handler. Cells holding −1 (not sampled yet) are
    blank; `selected` is outlined."""
    rows = []
    for r, row in enumerate(np.asarray(tokens)):
        cells = []
        for c, k in enumerate(row):
            k = int(k)
            ring = "outline:3px solid #ff2d55;outline-offset:-3px;" if selected is not None and (r, c) == tuple(selected) else ""
            if k < 0:
                cells.append(f'<td data-r="{r}" data-c="{c}" title="row {r}, column {c}: not sampled yet" '
                             f'style="background:#f1f1f1;{ring}"></td>')
                continue
            colour = colours[k]
            cells.append(f'<td data-r="{r}" data-c="{c}" title="row {r}, column {c}: code {k}" style="background:'
                         f'rgb({colour[0]},{colour[1]},{colour[2]});color:{_ink(colour)};{ring}">{k}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    style = (f"border-collapse:collapse;table-layout:fixed;font:600 {max(9, cell // 3)}px monospace;"
             "cursor:pointer;user-select:none")
    head = f'<div style="font-size:13px;margin:0 0 4px 0">{caption}</div>' if caption else ""
    return (f'{head}<table class="token-map" style="{style}">' + "".join(rows) + "</table>"
            f"<style>.token-map td{{width:{cell}px;height:{cell}px;padding:0;text-align:center;"
            "border:1px solid #fff}</style>")


def codebook_palette_html(colours: np.ndarray, chosen: int | None = None, counts: np.ndarray | None = None) -> str:
    """All K codes as small clickable swatches (data-code), in index order; the chosen one outlined. With usage
    counts, a code never used is crossed out."""
    cells = []
    for k, colour in enumerate(colours):
        ring = "outline:3px solid #ff2d55;outline-offset:-2px;" if chosen == k else ""
        dead = counts is not None and counts[k] == 0
        title = f"code {k}" + (f": used {int(counts[k])} times on the test set" if counts is not None else "")
        cells.append(f'<span data-code="{k}" title="{title}" style="display:inline-block;width:26px;height:20px;'
                     f'margin:1px;background:rgb({colour[0]},{colour[1]},{colour[2]});color:{_ink(colour)};'
                     f'font:10px monospace;text-align:center;line-height:20px;cursor:pointer;{ring}'
                     f'{"text-decoration:line-through;opacity:.45;" if dead else ""}">{k}</span>')
    return '<div class="codebook-palette" style="line-height:0">' + "".join(cells) + "</div>"


def token_map_image(tokens: np.ndarray, colours: np.ndarray, cell: int = 24) -> np.ndarray:
    """The same token map as a picture (H·cell, W·cell, 3) uint8, for GIFs: coloured cells with their index."""
    tokens = np.asarray(tokens)
    h, w = tokens.shape
    canvas = Image.new("RGB", (w * cell, h * cell), (241, 241, 241))
    draw, font = ImageDraw.Draw(canvas), _font(max(8, cell // 2 - 1))
    for r in range(h):
        for c in range(w):
            k = int(tokens[r, c])
            if k < 0:
                continue
            colour = tuple(int(v) for v in colours[k])
            draw.rectangle([c * cell, r * cell, (c + 1) * cell - 2, (r + 1) * cell - 2], fill=colour)
            draw.text((c * cell + cell // 2 - 1, r * cell + cell // 2 - 1), str(k), fill=_ink(colour), font=font, anchor="mm")
    return np.asarray(canvas)


def usage_figure(counts: dict[str, np.ndarray], title: str = "code usage") -> go.Figure:
    """Code-usage histograms, one bar per code sorted from most to least used, one panel per model; hover gives
    the code's index. Codes never used show as empty space at the right (the dead codes)."""
    fig = make_subplots(rows=1, cols=len(counts), subplot_titles=list(counts), horizontal_spacing=0.06)
    for c, values in enumerate(counts.values(), start=1):
        values = np.asarray(values)
        order = np.argsort(-values, kind="stable")
        share = values[order] / max(1, values.sum())
        fig.add_trace(go.Bar(x=np.arange(len(values)), y=share, customdata=order, showlegend=False,
                             marker_color=PALETTE[(c - 1) % len(PALETTE)],
                             hovertemplate="code %{customdata}: %{y:.2%} of tokens<extra></extra>"), row=1, col=c)
        fig.update_xaxes(title_text="codes, most used first", row=1, col=c)
    fig.update_yaxes(tickformat=".1%")
    fig.update_yaxes(title_text="share of tokens", col=1)
    fig.update_layout(title=title, height=320, margin=dict(l=50, r=10, t=60, b=40), template="plotly_white", bargap=0)
    return fig
