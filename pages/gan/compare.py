"""The "GAN vs VAE vs DDPM" tab: the same number of unconditional samples from three families trained on
Fashion-MNIST, each measured with the same feature net (`playground.evaluate.unconditional_quality`)."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import torch

from playground import autoencoders
from playground.diffusion.samplers import sample
from playground.evaluate import unconditional_quality
from playground.viz import gan as gan_viz

from ..common import EXPENSIVE, check_int, check_seed, metric_classifier, real_data, shipped, user_errors


class Comparison(NamedTuple):
    image: Any  # the three sample grids side by side
    text: str  # the measured table


@user_errors
def compare_families(n, seed, progress=gr.Progress()) -> Comparison:
    """n unconditional samples each from the GAN, the VAE (z ~ N(0, I)) and the DDPM (null class, DDIM-25)."""
    n, seed = check_int(n, "number of samples", 8, 64), check_seed(seed)
    classifier = metric_classifier()
    if classifier is None:
        raise gr.Error("The metric classifier (classifier-fashion) is not shipped, so nothing can be measured.")
    g = torch.Generator().manual_seed(seed)
    samples = {"GAN (DCGAN)": shipped("gan-fashion").model.sample(n, g).cpu(),
               "VAE: decode(z ~ N(0, I))": autoencoders.prior_samples(shipped("vae-fashion").model, n, g).cpu()}
    progress(0.3, desc="DDPM: 25 DDIM steps")
    ddpm = shipped("ddpm-fashion-cosine")  # the null class: no label, as trained with label dropout
    samples["DDPM (DDIM-25, no class)"] = sample(ddpm.model, ddpm.schedule, ddpm.noise(n, seed), "ddim", 25,
                                                 y=ddpm.null_condition(n), generator=g).cpu()
    real = real_data("fashion", "test", n)
    rows, diversity = [], {}
    for name, x in samples.items():
        q = unconditional_quality(x, classifier, real)
        diversity[name] = q["diversity"]
        rows.append(f"| {name} | {q['diversity']:.2f} | {q['frechet_distance']:.1f} | {q['confidence']:.2f} |")
    q = unconditional_quality(real.x, classifier, real)
    rows.append(f"| real test images | {q['diversity']:.2f} | 0 | {q['confidence']:.2f} |")
    table = (f"| model | diversity | Fréchet distance to {n} real images | classifier confidence |\n|---|---|---|---|\n"
             + "\n".join(rows) + "\n\n**Diversity**: mean distance between the metric classifier's features of two "
             "samples (higher = more varied). **Confidence**: its mean top-class probability (higher = more clearly "
             f"*some* garment). With only {n} samples the Fréchet distance is noisy; the cards hold 1000-sample figures.")
    return Comparison(gan_viz.family_grids(samples, diversity), table)


def build_tab(page: gr.Blocks) -> None:
    gr.Markdown("The same number of unconditional samples from three families trained on the same data, each measured "
                "with the same feature net.")
    with gr.Row():
        n = gr.Slider(8, 64, value=48, step=8, label="Samples per model")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
        button = gr.Button("Sample and measure", variant="primary")
    image = gr.Image(label="GAN, VAE, DDPM", format="png", interactive=False)
    text = gr.Markdown()
    button.click(compare_families, [n, seed], [image, text], api_name="gan_compare", **EXPENSIVE)
