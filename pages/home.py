"""/ : the map of the playground, with a link to every page that exists."""
from __future__ import annotations

import gradio as gr

JOURNEY = ("autoencoder → denoising autoencoder → VAE → VQ-VAE codebook → GAN → diffusion (DDPM, linear vs cosine "
           "schedule) → classifier guidance vs classifier-free guidance → the DALL·E family (dVAE tokens + "
           "transformer + CLIP reranking; CLIP + prior + diffusion decoder; latent diffusion)")


def build(page: gr.Blocks, pages: list[dict]) -> None:
    """pages: [{"route", "title", "teaches", "family"}] for every page the app serves."""
    rows = "\n".join(f"- **[{p['title']}]({p['route'].lstrip('/')})** ({p['family']}): {p['teaches']}" for p in pages)
    gr.Markdown(
        "# Generative Models Playground\n\n"
        "Watch a picture dissolve into noise and a model pull a new picture back out, step by step. Every page "
        "wraps a small but real PyTorch model from the `playground` library: the same code a notebook can "
        "`import playground` to use. Everything runs on this machine; nothing is fetched from the internet.\n\n"
        f"**The journey.** {JOURNEY}. Pages are added along it as they are built; these are the ones "
        "in the app today:\n\n"
        + rows + "\n\n"
        "Every page has a fixed seed, so what you show today can be shown again exactly.")
