"""Tab 4: codebook size. Three shipped VQ-VAEs that differ only in K, the number of codes (D = 16 each)."""
from __future__ import annotations

import math
from typing import NamedTuple

import gradio as gr
import numpy as np

from playground import viz, vq
from playground.data.base import take

from ..common import check_int, check_seed, real_data, user_errors
from .menu import get_model, test_usage

SIZES = ("vq-k16-fashion", "vq-fashion", "vq-k512-fashion")  # the K comparison (D = 16 for all)


class Sizes(NamedTuple):
    """The tab's outputs, in order."""

    picture: np.ndarray  # test images and their decodes for each K
    text: str  # the measured table


@user_errors
def compare_sizes(n, seed) -> Sizes:
    """The same test images through K = 16, 64 and 512 (D = 16), with the measured figures."""
    n, seed = check_int(n, "images", 2, 12), check_seed(seed)
    x = take(real_data("fashion", "test"), n, seed).x
    rows, labels, lines = [x], ["test images"], []
    for name in SIZES:
        handle = get_model(name)
        spec, use = handle.spec, test_usage(handle)
        rows.append(vq.reconstruct(handle.model, x).cpu())
        labels.append(f"K = {spec.codebook_size}")
        lines.append(f"| {spec.codebook_size} | {spec.code_dim} | {spec.grid ** 2 * math.log2(spec.codebook_size):.0f} | "
                     f"{use['test_mse_per_pixel']:.4f} | {use['perplexity']:.1f} | {use['dead_codes']} |")
    table = ("| K (codes) | D (code length) | bits per image (49 × log₂K) | MSE per pixel | perplexity | dead codes |\n"
             "|---|---|---|---|---|---|\n" + "\n".join(lines) +
             "\n\nAll on the full test set. A bigger codebook gives each cell more choices, so more bits per image "
             "and a smaller error; the prior then has a larger vocabulary to learn. To compare code lengths D, "
             "train two models that differ only in D in the last tab.")
    return Sizes(viz.labelled_grid(rows, n, labels, "reconstructions through the tokens", scale=3), table)


def build() -> None:
    """The tab's layout and events."""
    gr.Markdown("Three shipped VQ-VAEs that differ only in K, the number of codes (D = 16 each).")
    with gr.Row():
        n = gr.Slider(2, 12, value=8, step=1, label="Images")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
    button = gr.Button("Compare K", variant="primary")
    picture = gr.Image(label="Test images and their decodes for K = 16, 64, 512", format="png", interactive=False,
                       show_label=False)
    text = gr.Markdown()
    button.click(compare_sizes, [n, seed], [picture, text], api_name="vq_sizes")
