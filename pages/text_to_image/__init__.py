"""/text-to-image: latent diffusion with a text encoder, a miniature Stable Diffusion, taught in its four ideas —
diffusion in an autoencoder's latent space, text through cross-attention, classifier-free guidance with a
negative prompt, and img2img / inpainting — with every effect measured by the scene-truth judge and the CLIP score.

One module per tab; what a browser makes (its runs, its grids) lives in that browser's session state."""
from __future__ import annotations

import gradio as gr

from ..common import about
from . import attention, compare, compositional, generate, guidance, img2img, inpaint, negative
from .generate import generate as generate_images, show_step
from .shared import MENU, vocabulary_note

__all__ = ["build", "demo", "MENU", "generate_images", "show_step"]

ABOUT = ("A text-to-image model in miniature, built the way Stable Diffusion is. **1. Latent space:** a first-stage "
         "autoencoder squeezes a 32×32×3 scene (3,072 numbers) into an 8×8×4 latent (256 numbers), scaled to unit "
         "variance; the diffusion model learns to denoise latents, and the decoder turns its result back into a "
         "picture. **2. Cross-attention:** the prompt is read by mini-CLIP's frozen text encoder, and every image "
         "position of the UNet attends to the prompt's token states, so the word “red” can steer the pixels of the "
         "red object. **3. Classifier-free guidance:** during training 10% of captions are replaced by the empty "
         "prompt, so one network predicts both ε(prompt) and ε(∅); sampling extrapolates from one to the other, "
         "and a negative prompt takes the place of ∅. **4. img2img and inpainting:** start from a picture noised "
         "part-way instead of pure noise, or regenerate only a painted region. Every image is judged by "
         "`scene_truth`, which reads the shapes, colours, sizes and places back from the pixels.")
EQUATION = ("$\\mathcal{L} = \\mathbb{E}_{z_0, y, \\epsilon, t}\\,\\lVert \\epsilon - \\epsilon_\\theta(z_t, t, "
            "\\tau(y))\\rVert^2$ with $z_0 = E(x)/\\sigma_z$ and $\\mathrm{Attention}(Q,K,V) = "
            "\\mathrm{softmax}(QK^\\top/\\sqrt d)V$, $Q = W_Q\\,\\varphi(z_t)$, $K = W_K\\,\\tau(y)$, $V = W_V\\,\\tau(y)$; "
            "guidance: $\\tilde\\epsilon = \\epsilon(z_t, \\mathrm{neg}) + w\\,(\\epsilon(z_t, y) - "
            "\\epsilon(z_t, \\mathrm{neg}))$.")
CITATION = ("Rombach et al. 2022, High-Resolution Image Synthesis with Latent Diffusion Models, eq. 1–3, §3.3 · "
            "Ho & Salimans 2022, Classifier-Free Diffusion Guidance, eq. 6 · Meng et al. 2022, SDEdit · Lugmayr et "
            "al. 2022, RePaint · Nichol et al. 2022, GLIDE, §2.3 (pooled text in the time embedding)")


def build(page: gr.Blocks) -> None:
    about("Text to image: a miniature Stable Diffusion", ABOUT, EQUATION, CITATION)
    gr.Markdown(vocabulary_note(), elem_classes="presenter-hide")
    with gr.Tabs():
        with gr.Tab("Prompt to image", id="generate"):
            generate.build(page)
        with gr.Tab("Cross-attention", id="attention"):
            attention.build(page)
        with gr.Tab("Guidance scale", id="guidance"):
            guidance.build(page)
        with gr.Tab("Negative prompt", id="negative"):
            negative.build(page)
        with gr.Tab("img2img", id="img2img"):
            img2img.build(page)
        with gr.Tab("Inpainting", id="inpaint"):
            inpaint.build(page)
        with gr.Tab("Why latents", id="compare"):
            compare.build(page)
        with gr.Tab("Compositional", id="compositional"):
            compositional.build(page)


def demo() -> gr.Blocks:
    with gr.Blocks(title="Text to image") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
