"""/dalle: DALL·E 1 and DALL·E 2 (unCLIP) in miniature, on the captioned scenes, mini-CLIP and the parts of
/text-to-image, and the text-to-image systems compared on the same prompts.

One module per tab; what a browser makes (its recorded sample) lives in that browser's session state."""
from __future__ import annotations

import gradio as gr

from ..common import about
from . import compare, dalle1, dalle2

__all__ = ["build", "demo"]

ABOUT = ("Two ways to turn text into images that came before Stable Diffusion, built small and real. **DALL·E 1** "
         "treats an image as a sentence: a tokenizer turns it into 64 codes, and one transformer writes the prompt's "
         "tokens and then the image's codes, one at a time; many candidates are drawn and CLIP keeps the best. "
         "**DALL·E 2** works through CLIP's embedding space: a prior turns the prompt's CLIP text embedding into a "
         "CLIP image embedding, a diffusion decoder paints a 16×16 image from it, and a diffusion upsampler raises "
         "it to 32×32. Every image is judged by `scene_truth`, which reads shapes, colours, sizes and places back "
         "from the pixels.")
EQUATION = ("DALL·E 1: $p(x, y) = \\prod_i p(s_i \\mid s_{<i})$ over $s = [\\text{text tokens}, \\text{image "
            "tokens}]$, $\\mathcal L = \\tfrac18 \\mathcal L_\\text{text} + \\tfrac78 \\mathcal L_\\text{image}$. "
            "DALL·E 2: $P(x \\mid y) = P(x \\mid z_i, y)\\,P(z_i \\mid y)$; prior $\\mathcal L = \\mathbb E\\,\\lVert "
            "z_i - f_\\theta(z_i^{(t)}, t, z_t)\\rVert^2$; decoder $\\lVert \\epsilon - \\epsilon_\\theta(x_t, t, "
            "z_i)\\rVert^2$.")
CITATION = ("Ramesh et al. 2021, Zero-Shot Text-to-Image Generation, §2 and App. B.1 · Ramesh et al. 2022, "
            "Hierarchical Text-Conditional Image Generation with CLIP Latents, eq. 1, §2.1 · Saharia et al. 2022, "
            "Imagen, §2.5 (noise conditioning augmentation) · Radford et al. 2021, CLIP")


def build(page: gr.Blocks) -> None:
    about("DALL·E 1 and DALL·E 2, in miniature", ABOUT, EQUATION, CITATION)
    with gr.Tabs():
        with gr.Tab("DALL·E 1", id="dalle1"):
            dalle1.build(page)
        with gr.Tab("DALL·E 2", id="dalle2"):
            dalle2.build(page)
        with gr.Tab("Compare the systems", id="compare"):
            compare.build(page)


def demo() -> gr.Blocks:
    with gr.Blocks(title="DALL·E") as page:
        build(page)
    return page
