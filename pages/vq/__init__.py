"""/vq: a VQ-VAE turns an image into a grid of tokens. See the tokens and edit them, see quantisation as
nearest-neighbour snapping, check the codebook's health (plain vs EMA + restarts), compare codebook sizes,
sample new images token by token with a transformer prior, try the dVAE's Gumbel-softmax, and train your own.

One module per tab; what a browser makes (its token edits, its recorded sample, its trained models) lives in
that browser's session state."""
from __future__ import annotations

import gradio as gr

from ..common import about, run_job, session_state
from . import dvae, health, nearest, sample, sizes, tokens, train
from .dvae import gumbel
from .health import compare_health
from .health import measure_health
from .menu import MENU, SHIPPED, colours, get_model, test_usage
from .nearest import quantisation
from .sample import export_gif, sample_grid, sample_live, scrub, temperature_sweep
from .sizes import compare_sizes
from .tokens import click_cell, click_code, encode_image, reset_edits, set_code
from .train import make_job, train_summary

__all__ = ["build", "demo", "MENU", "SHIPPED", "colours", "get_model", "test_usage", "encode_image", "set_code",
           "click_cell", "click_code", "reset_edits", "quantisation", "measure_health", "compare_health",
           "compare_sizes", "sample_live", "scrub", "export_gif", "sample_grid", "temperature_sweep", "gumbel",
           "make_job", "run_job", "train_summary"]

ABOUT = ("A **VQ-VAE** encodes a 28×28 image as a 7×7 grid of vectors z_e and replaces each by the nearest of K "
         "learned code vectors: the image becomes 49 **tokens**, whole numbers from 0 to K − 1, and the decoder "
         "rebuilds it from those codes alone. Picking the nearest code has no gradient, so training copies the "
         "decoder's gradient straight through to the encoder. A sentence of tokens is what a transformer can write: "
         "the **prior** below writes new images one token at a time, as DALL·E 1 did with its **dVAE** (which "
         "relaxes the choice with Gumbel-softmax instead).")


def build(page: gr.Blocks) -> None:
    about("VQ-VAE: images as tokens", ABOUT,
          "$z_q(x) = e_k,\\ k = \\arg\\min_j \\lVert z_e(x) - e_j \\rVert_2$ and $\\mathcal{L} = \\lVert x - D(z_q) "
          "\\rVert^2 + \\lVert \\mathrm{sg}[z_e(x)] - e \\rVert^2 + \\beta \\lVert z_e(x) - \\mathrm{sg}[e] \\rVert^2$ "
          "(sg: stop-gradient); the prior $p(t) = \\prod_i p(t_i \\mid t_{<i})$.",
          "van den Oord, Vinyals & Kavukcuoglu 2017, Neural Discrete Representation Learning, eq. 1–3 and Appendix A.1 "
          "(EMA) · Dhariwal et al. 2020, Jukebox (code restarts) · Jang et al. 2017 and Ramesh et al. 2021, "
          "Zero-Shot Text-to-Image Generation (Gumbel-softmax dVAE)")
    my_models = session_state({})  # this browser's trained models {id: Loaded}
    with gr.Tabs():
        with gr.Tab("Tokens", id="tokens"):
            tokens_menu = tokens.build(page, my_models)
        with gr.Tab("Nearest code", id="quantise"):
            nearest_menu = nearest.build(my_models)
        with gr.Tab("Codebook health", id="health"):
            health_menu = health.build(my_models)
        with gr.Tab("Codebook size", id="sizes"):
            sizes.build()
        with gr.Tab("Sample token by token", id="sample"):
            sample.build()
        with gr.Tab("dVAE (Gumbel)", id="gumbel"):
            dvae.build()
        with gr.Tab("Train", id="train"):
            train.build(my_models, [tokens_menu, nearest_menu, health_menu])


def demo() -> gr.Blocks:
    with gr.Blocks(title="VQ-VAE") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
