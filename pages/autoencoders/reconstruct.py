"""Tab "Reconstruct": one image through the AE, the denoising AE and the VAE, each over its error map."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import autoencoders as ae
from playground.viz import autoencoders as ae_viz

from ..common import image_picker, pick_image, user_errors
from .layout import picture
from .models import TRIO, model


class Reconstruction(NamedTuple):
    image: Any  # the input, then each model's reconstruction over its error map
    text: str  # what the input is, and a table of errors


@user_errors
def reconstruct_all(source, label, index, upload) -> Reconstruction:
    """Input, and each of AE / DAE / VAE's reconstruction over its error map; a table of errors."""
    x, description = pick_image(source, label, index, upload)
    columns, rows = {"input x": (x, None)}, []
    for name, title in TRIO.items():
        handle = model(name)
        x_hat = ae.reconstruct(handle.model, x[None])[0]
        error = float(ae.mse(x_hat, x))
        columns[f"{title}: x̂  (MSE {error:.4f})"] = (x_hat, x)
        rows.append(f"| {title} | {error:.4f} | {handle.card['metrics']['test_mse_per_pixel']:.4f} |")
    table = ("| model | MSE on this image | mean MSE on 1000 test images |\n|---|---|---|\n" + "\n".join(rows) +
             "\n\nMSE: mean squared error per pixel on the [−1, 1] scale. Lower row of the picture: |x − x̂|, "
             "black = 0, bright yellow ≥ 1.")
    return Reconstruction(ae_viz.error_strip(columns), f"**Input:** {description}\n\n{table}")


def build(page: gr.Blocks) -> None:
    gr.Markdown("One image through all three shipped models (16-D codes). Top: the reconstruction x̂ = D(E(x)); "
                "bottom: where it is wrong.")
    picker = image_picker("ae-rec")
    button = gr.Button("Reconstruct", variant="primary", elem_id="ae-reconstruct")
    image = picture("Input, then each model's reconstruction over its error map", "ae-rec-image")
    text = gr.Markdown()
    button.click(reconstruct_all, list(picker), [image, text], api_name="ae_reconstruct")
    page.load(reconstruct_all, list(picker), [image, text], api_visibility="private")
