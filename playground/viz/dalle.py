"""Pictures of the /dalle page: sparse-attention masks, where each image token looked in the prompt, reranked
candidates with their scores, CLIP embeddings as tiles, and the unCLIP stages in rows. Everything takes CPU
tensors or arrays (`playground.dalle`, `playground.unclip` and `playground.systems` compute them)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from . import labelled_grid, labelled_strip, stack, upscale
from .text_to_image import attention_strip, big


def mask_pictures(masks: dict[str, np.ndarray], text_length: int, cell: int = 3) -> np.ndarray:
    """Each (L, L) mask as a picture: row = the position attending, column = the position attended to; dark = may
    attend. Text rows and columns are tinted blue, so the text block (top left) stands apart from the image block."""
    pictures = {}
    for name, mask in masks.items():
        n = len(mask)
        rgb = np.full((n, n, 3), 255, dtype=np.uint8)
        text = np.zeros((n, n), dtype=bool)
        text[:text_length, :] = text[:, :text_length] = True
        rgb[mask & text] = (40, 80, 200)
        rgb[mask & ~text] = (30, 30, 30)
        rgb[~mask & text] = (225, 232, 250)
        allowed = mask[text_length:, text_length:].sum(1).mean()
        pictures[f"{name}: {allowed:.1f} image keys / query"] = upscale(rgb, cell)
    return labelled_strip(pictures, pad=14)


def word_attention(image: torch.Tensor, labels: list[str], shares: torch.Tensor, grid: int) -> np.ndarray:
    """Where the image tokens looked (`dalle.attention_groups`): one overlay per group (each word, <eot>, the
    padding, the earlier image tokens), each cell lit by how much the token drawn there attended to it."""
    return attention_strip(image, labels, shares.T.reshape(-1, grid, grid), side=112)


def embedding_tiles(z, side: int = 64) -> np.ndarray:
    """Embeddings (N, 64), or a list of such batches, as N 8×8 tiles side by side, each number a cell: red
    positive, blue negative, white 0 (all on one scale, the largest |z|)."""
    z = (torch.cat(list(z)) if not isinstance(z, torch.Tensor) else z).detach().float().cpu()
    d = int(round(z.shape[1] ** 0.5))
    v = (z / z.abs().max().clamp(min=1e-9)).view(len(z), d, d).numpy()
    red = np.stack([np.ones_like(v), 1 - v.clip(0), 1 - v.clip(0)], -1)
    blue = np.stack([1 + v.clip(max=0), 1 + v.clip(max=0), np.ones_like(v)], -1)
    rgb = np.where(v[..., None] >= 0, red, blue)
    tiles = [upscale((t * 255).astype(np.uint8), max(1, side // d)) for t in rgb]
    gap = np.full((tiles[0].shape[0], 4, 3), 255, dtype=np.uint8)
    return np.concatenate(sum(([t, gap] for t in tiles), [])[:-1], 1)


def scored_grid(images: torch.Tensor, captions: list[str], per_row: int = 8, side: int = 96) -> np.ndarray:
    """Images (N, 3, H, W), each with a short caption above (its rank, CLIP score, verdict), in rows."""
    rows = []
    for k in range(0, len(images), per_row):
        rows.append(labelled_strip({captions[i]: big(images[i], side) for i in range(k, min(k + per_row, len(images)))},
                                   pad=6))
    return stack(rows)


def stages_grid(rows: dict[str, torch.Tensor], title: str = "") -> np.ndarray:
    """unCLIP's stages as labelled rows of images, every row shown at 32×32 (16×16 images pixel-repeated)."""
    shown = [torch.nn.functional.interpolate(x.float(), size=32, mode="nearest") if x.shape[-1] != 32 else x.float()
             for x in rows.values()]
    return labelled_grid([x.clamp(-1, 1) for x in shown], len(shown[0]), list(rows), title, scale=3)


def rerank_figure(gain: dict) -> go.Figure:
    """Scene-truth accuracy of CLIP's top-1 among N candidates against N, and a random candidate's."""
    fig = go.Figure()
    for key, what, colour in (("", "shape + colour", "#1f77b4"), ("_correct", "everything right", "#ff7f0e")):
        if f"top1{key}" not in gain:
            continue
        fig.add_trace(go.Scatter(x=gain["n"], y=gain[f"top1{key}"], mode="lines+markers", line=dict(color=colour),
                                 name=f"CLIP's top-1 of N: {what}"))
        fig.add_trace(go.Scatter(x=gain["n"], y=[gain[f"random{key}"]] * len(gain["n"]), mode="lines",
                                 name=f"a random candidate: {what}", line=dict(dash="dash", color=colour)))
    fig.update_xaxes(type="log", title_text="candidates N", tickvals=gain["n"])
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", title_text="share of prompts")
    fig.update_layout(height=300, margin=dict(l=50, r=10, t=30, b=40), template="plotly_white",
                      title=dict(text=f"measured on {gain['prompts']} prompts", font=dict(size=14)),
                      legend=dict(orientation="h", y=-0.3))
    return fig


def compare_grid(results: list[dict], prompts: list[str], per_prompt: int) -> np.ndarray:
    """Rows = systems, columns = the first image of each prompt, the prompts numbered above."""
    rows = [r["images"][::per_prompt] for r in results]
    return labelled_grid(rows, len(prompts), [r["system"] for r in results],
                         col_labels=[f"prompt {k + 1}" for k in range(len(prompts))], scale=3)


def path_strip(images: torch.Tensor, captions: list[str], side: int = 96) -> np.ndarray:
    """An interpolation path: images in a row, each with its caption."""
    return labelled_strip({c: big(x, side) for c, x in zip(captions, images)}, pad=6)
