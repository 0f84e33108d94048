"""Tab 2: quantisation is a nearest-neighbour lookup. The encoder outputs z_e of some test images and the codebook
in one plane, a line from each z_e to the code that replaces it, and the distortion next to k-means'."""
from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from playground import vq
from playground.data.base import take
from playground.viz import vq as vq_viz

from ..common import check_int, check_seed, real_data, user_errors
from .menu import MENU, colours, get_model


class Projection(NamedTuple):
    """The tab's outputs, in order."""

    plot: object  # z_e and the codebook in a plane
    text: str  # what the picture shows, and the k-means comparison


@user_errors
def quantisation(name, n, seed, my_models=None) -> Projection:
    """The z_e of n test images and the codebook in one 2-D PCA plane, a line from each z_e to its code."""
    n, seed = check_int(n, "images", 1, 50), check_seed(seed)
    handle = get_model(name, my_models)
    model, spec = handle.model, handle.spec
    x = take(real_data(handle.dataset, "test"), n, seed).x
    plane = vq.nearest_code_plane(model, x)
    axes = ("z₁", "z₂") if spec.code_dim <= 2 else ("PC 1", "PC 2")
    fig = vq_viz.nearest_code_figure(plane, colours(handle), f"{handle.label}: encoder outputs snap to their "
                                     "nearest code", axes)
    km = vq.kmeans_distortion(model, x, seed)
    dots, used = len(plane["z"]), len(set(plane["index"].tolist()))
    what = ("z_e: the encoder's output at each cell" if spec.quantizer == "vq" else
            "for the dVAE, the mixture Σ softmax(logits)ₖ eₖ at each cell (its encoder gives logits, not a vector)")
    text = (f"Each dot is one cell of one image ({n} images × {spec.grid ** 2} cells = {dots} dots; {what}). "
            f"Each diamond is a code eₖ of the codebook; the grey line joins each z_e to the code it is replaced "
            f"by, its nearest in all D = {spec.code_dim} dimensions. "
            + (f"The picture is the plane of the first two principal components of z_e, which holds "
               f"{plane['explained']:.0%} of their variance, so a line can look longer than it is."
               if spec.code_dim > 2 else "")
            + f"\n\n**It is k-means.** Mean squared distance ‖z_e − nearest code‖² on these vectors: "
            f"**{km['learned_codebook']:.4f}** with the learned codebook, **{km['kmeans']:.4f}** with scikit-learn's "
            f"k-means (K = {spec.codebook_size}) fitted to exactly these {km['vectors']} vectors, which is close to "
            f"the best any {spec.codebook_size} codes can do for them (the fewer the images, the more k-means fits "
            "their quirks). Training moves each code towards the mean of the z_e that snap to it, which is k-means' "
            f"own update; {used} of the {spec.codebook_size} codes are used by these images.")
    return Projection(fig, text)


def build(my_models: gr.State) -> gr.Dropdown:
    """The tab's layout and events; returns its model menu."""
    gr.Markdown("Every encoder output z_e is replaced by its nearest code. Plot them together.")
    with gr.Row():
        model = gr.Dropdown(MENU.choices(), value="vq-fashion", label="Model", allow_custom_value=True)
        n = gr.Slider(1, 50, value=10, step=1, label="Test images")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (which images)")
    button = gr.Button("Project", variant="primary", elem_id="vq-project")
    plot = gr.Plot(label="z_e and the codebook, 2-D PCA")
    text = gr.Markdown()
    button.click(quantisation, [model, n, seed, my_models], [plot, text], api_name="vq_quantisation")
    return model
