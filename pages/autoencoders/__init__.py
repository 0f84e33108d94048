"""/autoencoders: an AE, a denoising AE and a VAE on Fashion-MNIST — reconstructions, corruption and
restoration, latent maps you can click, prior samples, the reparameterisation trick, interpolation, β, and
training your own. One module per tab; what a browser trains lives in its own `my_models` session state."""
from __future__ import annotations

import gradio as gr

from ..common import about, session_state
from . import beta, corrupt, interpolate, latent, prior_samples, reconstruct, reparameterisation, train
from .beta import BetaComparison, beta_compare
from .corrupt import Restoration, restore
from .interpolate import Interpolation, interpolate_pair
from .latent import METHODS, ClickedPoint, DecodedPoint, MapUpdate, click_map, decode_point, latent_map, manifold, shown
from .models import MENU, SHIPPED, TRIO, model
from .prior_samples import PriorSamples, prior
from .reconstruct import Reconstruction, reconstruct_all
from .reparameterisation import Reparameterisation, reparam
from .train import LIVE_CAPS, make_job

__all__ = ["build", "demo", "ABOUT", "MENU", "SHIPPED", "TRIO", "LIVE_CAPS", "METHODS", "model", "shown",
           "reconstruct_all", "restore", "latent_map", "decode_point", "click_map", "manifold", "prior", "reparam",
           "interpolate_pair", "beta_compare", "make_job", "Reconstruction", "Restoration", "MapUpdate",
           "DecodedPoint", "ClickedPoint", "PriorSamples", "Reparameterisation", "Interpolation", "BetaComparison"]

ABOUT = ("An **autoencoder** squeezes a 28×28 image (784 numbers) through a bottleneck of 16 (or 2) numbers, the "
         "code z, and rebuilds it. A **denoising autoencoder** is given a corrupted image and must rebuild the clean "
         "one — the seed of diffusion, which learns to undo noise step by step. A **variational autoencoder** "
         "encodes each image as a small Gaussian cloud N(μ, σ²) instead of a point, and is penalised (KL) when "
         "that cloud strays from N(0, I); so a random z ~ N(0, I) decodes to a real-looking garment. Each tab "
         "below shows one of these claims with the shipped models, measured.")


def build(page: gr.Blocks) -> None:
    about("Autoencoders: AE, denoising AE and VAE", ABOUT,
          "$\\mathcal{L}_{\\text{VAE}} = \\lVert x - D(z) \\rVert^2 + \\beta\\,\\mathrm{KL}\\big(N(\\mu, \\sigma^2)\\,"
          "\\Vert\\,N(0, I)\\big)$ with $z = \\mu + \\sigma \\odot \\varepsilon,\\ \\varepsilon \\sim N(0, I)$ and "
          "$\\mathrm{KL} = -\\tfrac12 \\sum_j (1 + \\log\\sigma_j^2 - \\mu_j^2 - \\sigma_j^2)$.",
          "Kingma & Welling 2014, Auto-Encoding Variational Bayes, eq. 10 and Appendix B · Vincent et al. 2008, "
          "denoising autoencoders · Higgins et al. 2017, β-VAE")
    my_models = session_state({})  # {id: Loaded}: the models this browser trained here
    with gr.Tabs():
        with gr.Tab("Reconstruct", id="reconstruct"):
            reconstruct.build(page)
        with gr.Tab("Corrupt & restore", id="restore"):
            corrupt.build()
        with gr.Tab("Latent space", id="latent"):
            model_menu = latent.build(page, my_models)
        with gr.Tab("Prior samples", id="prior"):
            prior_samples.build()
        with gr.Tab("Reparameterise", id="reparam"):
            reparameterisation.build()
        with gr.Tab("Interpolate", id="interpolate"):
            interpolate.build()
        with gr.Tab("β", id="beta"):
            beta.build()
        with gr.Tab("Train", id="train"):
            train.build(model_menu, my_models)


def demo() -> gr.Blocks:
    with gr.Blocks(title="Autoencoders") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
