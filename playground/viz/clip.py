"""Pictures and figures of the CLIP page (/clip): a scene at a readable size, the zero-shot softmax as bars, the
training preview's similarity matrix as a heat map with the scenes along its edges, image and text embeddings in
one plane with their pairs joined, the attribute-binding test, and CLIPScore distributions.
Everything takes CPU tensors, numpy arrays or floats (`playground.clip` computes the numbers)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw

from ..data import COLOURS
from . import PALETTE, _font, fit_scale, to_uint8, upscale

# Plot text at 14 px or more: read from the back of a classroom off a projector.
LAYOUT = dict(template="plotly_white", font=dict(size=14), margin=dict(l=50, r=20, t=50, b=45))
IMAGE, TEXT = "#1f77b4", "#d62728"  # image embeddings, text embeddings
TRUE, WRONG = "#1a9e1a", "#d62728"  # the true caption won / lost


def big(x: torch.Tensor, side: int = 192) -> np.ndarray:
    """One image (3, H, W) in [−1, 1], upscaled by a whole factor to about `side` pixels (pixels stay squares)."""
    return upscale(to_uint8(x.detach().cpu()), fit_scale(x.shape[-1], side))


def thumbnails(x: torch.Tensor, side: int = 96) -> list[np.ndarray]:
    """(N, 3, H, W) in [−1, 1] -> N pictures of about `side` pixels, for a gallery."""
    return [big(image, side) for image in x]


def zero_shot_bars(prompts: list[str], probs: list[float], truth: str = "") -> go.Figure:
    """p(prompt | image) as one horizontal bar per prompt, in the order typed (the first at the top); the most
    likely one is drawn darker."""
    best = int(np.argmax(probs))
    colours = [PALETTE[0] if k == best else "#9ecae1" for k in range(len(probs))]
    labels = [p if len(p) <= 42 else p[:41] + "…" for p in prompts]
    fig = go.Figure(go.Bar(x=probs, y=labels, orientation="h", marker_color=colours,
                           text=[f"{p:.1%}" for p in probs], textposition="outside", cliponaxis=False,
                           hovertext=prompts, hovertemplate="%{hovertext}: %{x:.2%}<extra></extra>"))
    fig.update_layout(**LAYOUT, height=max(300, 60 + 24 * len(prompts)),
                      title=dict(text="p(prompt | image): softmax over the prompts" +
                                 (f"<br><sup>the scene: “{truth}”</sup>" if truth else ""), font=dict(size=15)),
                      xaxis=dict(range=[0, 1.15], tickformat=".0%", title="probability"),
                      yaxis=dict(autorange="reversed", automargin=True))
    return fig


def similarity_heatmap(matrix: torch.Tensor, scenes: torch.Tensor, step: int, cell: int = 26) -> np.ndarray:
    """The preview's cosine similarity matrix (n, n) as a picture: row i is scene i's image, column j scene j's
    caption, the scenes drawn along the left and top edges, the diagonal (the true pairs) outlined, and a colour
    bar from 0 (and below) to 1. Training is working when the diagonal lights up and the rest stays dark."""
    from matplotlib import colormaps
    n = len(matrix)
    font, small = _font(15), _font(13)
    thumb = cell - 2
    left, up = thumb + 8, 30 + thumb + 6  # the matrix's top-left corner
    width = left + n * cell + 70
    canvas = Image.new("RGB", (width, up + n * cell + 58), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 4), f"step {step}: cos(image i, caption j)", fill="black", font=font)
    values = matrix.detach().float().clamp(0, 1).numpy()  # negative cosines are as dark as 0: contrast where it counts
    colours = (colormaps["magma"](values)[:, :, :3] * 255).astype(np.uint8)  # (n, n, 3)
    heat = Image.fromarray(colours).resize((n * cell, n * cell), Image.Resampling.NEAREST)
    canvas.paste(heat, (left, up))
    pictures = to_uint8(scenes.detach().cpu())
    for k in range(n):
        picture = Image.fromarray(pictures[k]).resize((thumb, thumb), Image.Resampling.NEAREST)
        canvas.paste(picture, (4, up + k * cell + 1))  # the image of row k
        canvas.paste(picture, (left + k * cell + 1, 30))  # the caption of column k is that scene's caption
        x, y = left + k * cell, up + k * cell
        draw.rectangle([x, y, x + cell - 1, y + cell - 1], outline="#2ca02c", width=2)
    # the colour bar, right of the matrix
    bar_left, bar_top, bar_height = left + n * cell + 12, up, n * cell
    ramp = (colormaps["magma"](np.linspace(1, 0, bar_height))[:, None, :3] * 255).astype(np.uint8).repeat(14, 1)
    canvas.paste(Image.fromarray(ramp), (bar_left, bar_top))
    for words, y in (("1", bar_top), ("0.5", bar_top + bar_height // 2 - 7), ("≤ 0", bar_top + bar_height - 14)):
        draw.text((bar_left + 18, y), words, fill="#444444", font=small)
    draw.text((4, up + n * cell + 8), "rows: the images · columns: their captions, same order", fill="#444444",
              font=small)
    draw.text((4, up + n * cell + 28), "green squares: the true pairs (the diagonal)", fill="#444444", font=small)
    return np.asarray(canvas)


def _colour_of(name: str) -> str:
    return "rgb{}".format(COLOURS.get(name, (120, 120, 120)))


def embedding_figure(image_xy: np.ndarray, text_xy: np.ndarray, captions: list[str], colours: list[str],
                     gap: float, lines: bool = True, axes: tuple[str, str] = ("PC 1", "PC 2")) -> go.Figure:
    """Image embeddings (dots) and text embeddings (crosses) of the same pairs in one 2D projection, coloured by
    the scene's first colour, each pair joined by a grey line; the two clouds' centres as stars joined by the
    modality gap."""
    fig = go.Figure()
    if lines:
        joined = np.full((3 * len(image_xy), 2), np.nan)  # image, its caption, a gap
        joined[0::3], joined[1::3] = image_xy, text_xy
        fig.add_trace(go.Scatter(x=joined[:, 0], y=joined[:, 1], mode="lines", name="a pair (image – its caption)",
                                 line=dict(color="rgba(120,120,120,0.25)", width=1), hoverinfo="skip"))
    marker_colours = [_colour_of(c) for c in colours]
    fig.add_trace(go.Scatter(x=image_xy[:, 0], y=image_xy[:, 1], mode="markers", name="image I_e",
                             marker=dict(size=7, color=marker_colours, line=dict(width=0.8, color="#222")),
                             text=captions, hovertemplate="image of “%{text}”<extra></extra>"))
    fig.add_trace(go.Scatter(x=text_xy[:, 0], y=text_xy[:, 1], mode="markers", name="caption T_e",
                             marker=dict(size=8, symbol="x-thin", color=marker_colours,
                                         line=dict(width=2, color=marker_colours)),
                             text=captions, hovertemplate="caption “%{text}”<extra></extra>"))
    centres = np.stack([image_xy.mean(0), text_xy.mean(0)])
    fig.add_trace(go.Scatter(x=centres[:, 0], y=centres[:, 1], mode="lines+markers+text",
                             name=f"centres: the modality gap ‖mean I_e − mean T_e‖ = {gap:.3f}",
                             text=["mean image", "mean caption"], textposition=["top center", "bottom center"],
                             marker=dict(size=18, symbol="star", color=[IMAGE, TEXT],
                                         line=dict(width=1, color="black")),
                             line=dict(color="black", width=3)))
    fig.update_layout(**{**LAYOUT, "margin": dict(l=50, r=20, t=50, b=40)}, height=480,
                      title=dict(text=f"{len(image_xy)} test pairs: images and their captions in one plane",
                                 font=dict(size=15)),
                      xaxis_title=axes[0], yaxis_title=axes[1], legend=dict(orientation="h", y=-0.15))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def binding_figure(true_scores: torch.Tensor, swapped_scores: torch.Tensor, prefers: float) -> go.Figure:
    """The margin cos(image, true caption) − cos(image, colours-swapped caption) of each two-object scene: right of
    0 the model prefers the truth. Chance (a bag of words) puts half on each side."""
    margin = (true_scores - swapped_scores).numpy()
    fig = go.Figure()
    bins = dict(start=-2.0, end=2.0, size=0.01)  # the same edges on both sides of 0
    fig.add_trace(go.Histogram(x=margin[margin > 0], name=f"prefers the truth: {prefers:.0%}",
                               marker_color=TRUE, xbins=bins, opacity=0.85))
    fig.add_trace(go.Histogram(x=margin[margin <= 0], name=f"prefers the swap: {1 - prefers:.0%}",
                               marker_color=WRONG, xbins=bins, opacity=0.85))
    fig.add_vline(x=0, line=dict(color="black", width=2, dash="dash"))
    fig.update_layout(**LAYOUT, height=380, barmode="overlay", legend=dict(orientation="h", y=-0.2),
                      title=dict(text=f"{len(margin)} two-object scenes: cos(true) − cos(colours swapped)"
                                      f"<br><sup>chance (words without binding): 50 % on each side</sup>",
                                 font=dict(size=15)),
                      xaxis_title="margin of the true caption", yaxis_title="scenes")
    return fig


def binding_examples(images: torch.Tensor, true_scores: torch.Tensor, swapped_scores: torch.Tensor,
                     per_row: int = 6, side: int = 96) -> np.ndarray:
    """Two-object scenes, each framed green when its true caption scored higher and red when the colours-swapped
    one did, with both cosines under it (numbered, to match the table beside it)."""
    font = _font(14)
    pictures = thumbnails(images, side)
    side = pictures[0].shape[0]
    cell_w, cell_h = side + 24, side + 50
    rows = -(-len(pictures) // per_row)
    canvas = Image.new("RGB", (per_row * cell_w + 8, rows * cell_h + 8), "white")
    draw = ImageDraw.Draw(canvas)
    for k, picture in enumerate(pictures):
        r, c = divmod(k, per_row)
        x, y = 8 + c * cell_w, 8 + r * cell_h
        won = bool(true_scores[k] > swapped_scores[k])
        draw.rectangle([x - 4, y - 4, x + side + 3, y + side + 3], fill=TRUE if won else WRONG)
        canvas.paste(Image.fromarray(picture), (x, y))
        draw.text((x, y + side + 6), f"{k + 1}. {'✓' if won else '✗'} {float(true_scores[k]):.2f}", fill="black",
                  font=font)
        draw.text((x, y + side + 24), f"swap {float(swapped_scores[k]):.2f}", fill="#555555", font=font)
    return np.asarray(canvas)


def score_histograms(groups: dict[str, torch.Tensor], w: float = 2.5) -> go.Figure:
    """CLIPScore distributions of several kinds of pairs, overlaid on the score's whole range [0, w], each mean
    marked with a dashed line."""
    fig = go.Figure()
    for k, (name, scores) in enumerate(groups.items()):
        colour = [TRUE, "#ff7f0e", WRONG, PALETTE[3]][k % 4]
        values = scores.numpy()
        fig.add_trace(go.Histogram(x=values, name=f"{name} (mean {values.mean():.2f})", marker_color=colour,
                                   opacity=0.6, xbins=dict(start=0, end=w, size=w / 50),
                                   histnorm="percent"))
        fig.add_vline(x=float(values.mean()), line=dict(color=colour, width=2, dash="dash"))
    fig.update_layout(**LAYOUT, height=400, barmode="overlay", legend=dict(orientation="h", y=-0.22),
                      title=dict(text=f"CLIPScore = {w:g} · max(cos(I_e, T_e), 0): higher = a better match",
                                 font=dict(size=15)),
                      xaxis=dict(range=[0, w], title="CLIPScore"), yaxis_title="% of the pairs")
    return fig
