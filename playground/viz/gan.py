"""Pictures and figures of the GAN page: the live 2D view, its loss and mode-coverage curves, the mode-collapse
comparison, DCGAN sample grids, the patch discriminator's verdicts and the families side by side.
Everything takes CPU tensors or numpy arrays (the library's `playground.gan` computes the numbers)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw

from . import PALETTE, _font, labelled_grid, labelled_strip, patch_overlay, side_by_side

# Plot text at 14 px or more: read from the back of a classroom off a projector.
LAYOUT = dict(height=300, margin=dict(l=50, r=10, t=40, b=40), template="plotly_white", font=dict(size=14))
FIELD_TEXT = 15  # px of the live picture's ticks and legend (at the picture's own size, which the page shows 1:1)
REAL, FAKE, PUSH = "#444444", "#e01010", "#1a9e1a"  # real points, generated points, the force −∇ₓ L_G on them
# What the green arrows are: −∇ₓ L_G, the force on a generated point x = G(z). The point moves only through G's
# weights θ, which every point's force moves at once: to first order a plain SGD step gives
# Δxᵢ = −η J_G(zᵢ) Σⱼ J_G(zⱼ)ᵀ ∇ₓ L_G(xⱼ), and Adam rescales Δθ further, so the motion can differ from the arrow
# in direction and length.
PUSH_LEGEND = "−∇ₓ L_G at G(z): the force on a point, not its motion"


def live_field(view, real: np.ndarray, title: str, side: int = 440, arrow: float = 0.15) -> np.ndarray:
    """A `playground.gan.FieldView` as a picture, cheap to redraw several times a second: D over the plane as a
    heat map (blue: high, red: low, on the view's fixed range), real points (grey), generated points (red), and
    arrows for −∇ₓ L_G at each generated point, the force on it and not its motion (see PUSH_LEGEND; all scaled by
    one factor, the longest arrow `arrow` long); under it the title, a colour bar for the heat map and a legend of the
    marks, all in FIELD_TEXT-px type."""
    from matplotlib import colormaps
    (lo, hi), limit = view.zrange, float(view.axis[-1])
    left, up = 48, 34  # the plane's top-left corner, below the label the page lays over the picture
    font, line = _font(FIELD_TEXT), FIELD_TEXT + 9  # the text, and its line height

    def to_pixel(x, y):  # the plane [-limit, limit]² onto the square of `side` pixels at (left, up), y upwards
        return left + (x + limit) / (2 * limit) * side, up + (limit - y) / (2 * limit) * side

    top = up + side + FIELD_TEXT + 20  # the first line of text, under the plane and its x ticks
    canvas = Image.new("RGB", (left + side + 16, top + 4 * line + 8), "white")
    draw = ImageDraw.Draw(canvas)
    colours = colormaps["RdBu"](np.clip((view.values - lo) / (hi - lo), 0, 1))[::-1, :, :3]  # row 0 = largest y
    heat = Image.fromarray((colours * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BILINEAR)
    canvas.paste(heat, (left, up))
    for x, y in real:
        px, py = to_pixel(x, y)
        draw.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=REAL)
    points, pull = view.points, view.pull
    tips = points + pull * (arrow / max(float(np.linalg.norm(pull, axis=1).max()), 1e-12))
    shown = (np.abs(points) <= limit).all(1)  # points off the plane are not drawn (the title counts them)
    for (x, y), (tx, ty) in zip(points[shown], np.clip(tips[shown], -limit, limit)):
        draw.line([to_pixel(x, y), to_pixel(tx, ty)], fill=PUSH, width=2)
    for x, y in points[shown]:
        px, py = to_pixel(x, y)
        draw.ellipse([px - 2.5, py - 2.5, px + 2.5, py + 2.5], fill=FAKE)
    for k in range(5):  # ticks: 5 per axis
        v = -limit + k * limit / 2
        px, py = to_pixel(v, v)
        draw.line([px, up + side, px, up + side + 5], fill=REAL)
        draw.line([left - 5, py, left, py], fill=REAL)
        draw.text((px, up + side + 10), f"{v:g}", fill=REAL, font=font, anchor="ma")
        draw.text((left - 8, py), f"{v:g}", fill=REAL, font=font, anchor="rm")
    off = int((~shown).sum())
    draw.text((8, top), title + (f" · {off} off the plane" if off else ""), fill="black", font=font)
    # the heat map's colour bar: lo (red) … hi (blue), named
    x, y = 8, top + line
    words = f"heat map, {view.name}:  {lo:.3g}"
    draw.text((x, y), words, fill=REAL, font=font)
    x += draw.textlength(words, font=font) + 6
    bar = (colormaps["RdBu"](np.linspace(0, 1, 120))[None, :, :3] * 255).astype(np.uint8).repeat(FIELD_TEXT, 0)
    canvas.paste(Image.fromarray(bar), (int(x), y + 2))
    draw.text((x + 126, y), f"{hi:.3g}", fill=REAL, font=font)
    # the marks: a grey dot and a red dot on one line, the green arrow and what it is (a long label) on the next
    y, mid = top + 2 * line, top + 2 * line + FIELD_TEXT // 2 + 2
    x = 8
    for words, colour in (("real data", REAL), ("generated G(z)", FAKE)):
        draw.ellipse([x + 4, mid - 4, x + 12, mid + 4], fill=colour)
        draw.text((x + 22, y), words, fill=REAL, font=font)
        x += 22 + draw.textlength(words, font=font) + 18
    draw.line([8, mid + line, 24, mid + line], fill=PUSH, width=3)
    draw.text((30, y + line), f"{PUSH_LEGEND} (scaled)", fill=REAL, font=font)
    return np.asarray(canvas)


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
