"""The "Patch discriminator" tab: the shipped DCGAN's D scores every patch of an image, not the image as a whole
(PatchGAN, Isola et al. 2017): its verdicts on a real test image and on a generated one."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import torch

from playground import data, gan
from playground.viz import gan as gan_viz

from ..common import EXPENSIVE, check_int, check_seed, shipped, user_errors


class Patches(NamedTuple):
    image: Any  # the two images under their patch verdicts
    text: str  # how to read them, with the mean scores


@user_errors
def patch_maps(label, index, seed) -> Patches:
    """The shipped DCGAN's patch discriminator on a real test image and on a generated one."""
    label = check_int(label, "class", 0, 9)
    index = check_int(index, "index", 0, data.class_count("fashion", label) - 1)
    seed = check_seed(seed)
    model = shipped("gan-fashion").model
    real, _ = data.example("fashion", label, index)
    fake = model.sample(1, torch.Generator().manual_seed(seed))[0].cpu()
    scores = [gan.patch_probabilities(model, x[None])[0] for x in (real, fake)]  # each (7, 7)
    real_mean, fake_mean = float(scores[0].mean()), float(scores[1].mean())
    picture = gan_viz.patch_verdicts({f"real: {data.FASHION_CLASSES[label]} (mean {real_mean:.2f})": (real, scores[0]),
                                      f"generated, seed {seed} (mean {fake_mean:.2f})": (fake, scores[1])})
    return Patches(picture, f"Each cell is one patch's P(real) = σ(D's patch logit); a patch sees a 26×26 window centred "
                            f"on its 4×4 cell. The image's score is the mean: real {real_mean:.2f}, generated "
                            f"{fake_mean:.2f}. Cells above 0.5 (blue) look real to D, cells below (red) look fake.")


def build_tab(page: gr.Blocks) -> None:
    gr.Markdown("The DCGAN's D does not give one verdict per image: it scores every patch (the idea VQGAN uses to make "
                "its decoder sharp). Here are its per-patch verdicts on a real and a generated image.")
    with gr.Row():
        label = gr.Dropdown([(c, k) for k, c in enumerate(data.FASHION_CLASSES)], value=0, label="Real image: class")
        index = gr.Number(0, precision=0, minimum=0, label="Index")
        seed = gr.Number(0, precision=0, minimum=0, label="Generated image: seed")
        button = gr.Button("Show patch verdicts", variant="primary")
    image = gr.Image(label="P(real) per patch", format="png", interactive=False)
    text = gr.Markdown()
    button.click(patch_maps, [label, index, seed], [image, text], api_name="gan_patches", **EXPENSIVE)
