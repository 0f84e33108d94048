"""Tab "Interpolate": decoded straight lines between two images' codes, for the AE and the VAE."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import numpy as np

from playground import autoencoders as ae
from playground import data
from playground.viz import autoencoders as ae_viz

from ..common import check_int, metric_classifier, pick_image, user_errors
from .layout import picture
from .models import TRIO, model

PAIR = ("ae-fashion", "vae-fashion")


class Interpolation(NamedTuple):
    image: Any  # one row of decodes per model
    text: str  # how garment-like the in-between images are, and the largest jump


@user_errors
def interpolate_pair(label_a, index_a, label_b, index_b, steps) -> Interpolation:
    """Decoded straight-line paths between two images' codes, for the AE and the VAE."""
    steps = check_int(steps, "steps", 3, 16)
    x_a, _ = pick_image("Fashion-MNIST", label_a, index_a, None)
    x_b, _ = pick_image("Fashion-MNIST", label_b, index_b, None)
    paths, lines, classifier = [], [], metric_classifier()
    for name in PAIR:
        handle = model(name)
        path = ae.interpolate(handle.model, x_a, x_b, steps)
        paths.append(path)
        if classifier is not None:
            measured = ae.path_measures(path, classifier)
            lines.append(f"| {handle.label} | {measured['confidence']:.2f} | {measured['largest_jump']:.3f} |")
    lam = [f"λ={v:.2f}" for v in np.linspace(0, 1, steps)]
    picture = ae_viz.rows_grid(paths, steps, [TRIO[name] for name in PAIR],
                               f"decode((1 − λ) μ(a) + λ μ(b)): {data.FASHION_CLASSES[label_a]} → "
                               f"{data.FASHION_CLASSES[label_b]}", lam, scale=3)
    table = ("| model | classifier confidence on the in-between images | largest jump between neighbours (mean |Δpixel|) "
             "|\n|---|---|---|\n" + "\n".join(lines)) if lines else ""
    return Interpolation(picture, table)


def build() -> None:
    gr.Markdown("Walk a straight line between the codes of two test images and decode each point.")
    classes = [(c, k) for k, c in enumerate(data.FASHION_CLASSES)]
    with gr.Row():
        a = gr.Dropdown(classes, value=7, label="Image A: class")
        a_index = gr.Number(0, precision=0, minimum=0, label="A: index")
        b = gr.Dropdown(classes, value=9, label="Image B: class")
        b_index = gr.Number(0, precision=0, minimum=0, label="B: index")
        steps = gr.Slider(3, 16, value=9, step=1, label="Steps")
    button = gr.Button("Interpolate", variant="primary")
    image = picture("AE (top) and VAE (bottom) paths")
    text = gr.Markdown()
    button.click(interpolate_pair, [a, a_index, b, b_index, steps], [image, text], api_name="ae_interpolate")
