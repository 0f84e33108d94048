"""Tab 6: DALL·E 1's tokenizer, the dVAE: the same grid of K-way choices, learned with a soft, noisy relaxation
(Gumbel-softmax: Jang et al. 2017; Ramesh et al. 2021 §2.1) instead of nearest code + straight-through."""
from __future__ import annotations

from typing import NamedTuple

import gradio as gr
import numpy as np
import torch

from playground import viz, vq
from playground.viz import vq as vq_viz

from ..common import check_float, check_seed, image_picker, pick_image, real_data, user_errors
from .menu import SHIPPED, get_model, test_usage

TAUS = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
SWEEP_N = 200  # test images in the τ sweep


class Relaxation(NamedTuple):
    """The tab's outputs, in order."""

    picture: np.ndarray  # input, VQ-VAE, dVAE argmax, dVAE relaxed at τ, the dVAE's certainty
    plot: object  # MSE against τ
    text: str  # what it shows, with the measured table


@user_errors
def gumbel(source, label, index, upload, tau, seed, noise) -> Relaxation:
    """One image through the VQ-VAE, the dVAE (argmax codes) and the dVAE's relaxation at temperature τ."""
    x, description = pick_image(source, label, index, upload)
    tau, seed = check_float(tau, "τ", 0.01, 100.0), check_seed(seed)
    dvae, vqvae = get_model("dvae-fashion").model, get_model("vq-fashion").model
    hard = vq.reconstruct(dvae, x[None])[0]
    soft = vq.gumbel_decode(dvae, x[None], tau, torch.Generator().manual_seed(seed), bool(noise))[0]
    via_vq = vq.reconstruct(vqvae, x[None])[0]
    images = {"input x": vq_viz.big(x), f"VQ-VAE  MSE {vq.mse(via_vq, x):.4f}": vq_viz.big(via_vq),
              f"dVAE, argmax codes  {vq.mse(hard, x):.4f}": vq_viz.big(hard),
              f"dVAE relaxed, τ = {tau:g}  {vq.mse(soft, x):.4f}": vq_viz.big(soft),
              "dVAE: max softmax per cell": vq_viz.certainty_picture(vq.code_confidence(dvae, x[None])[0])}
    sweep = vq.relaxation_sweep(dvae, real_data("fashion", "test", SWEEP_N).x, TAUS, seed, bool(noise))
    relaxed, hard_mse, drawn_mse = sweep["relaxed"], sweep["argmax"], sweep["gumbel_max"]
    rows = []
    for name in ("vq-fashion", "dvae-fashion"):
        use = test_usage(get_model(name))
        rows.append(f"| {SHIPPED[name]} | {use['test_mse_per_pixel']:.4f} | {use['perplexity']:.1f} | {use['dead_codes']} |")
    best = TAUS[int(np.argmin(relaxed))]
    if noise:  # τ → 0 with Gumbel noise: one-hot at argmax(logits + g), a sample from softmax(logits)
        limit = ("With the Gumbel noise on, as τ → 0 the mixture becomes the one code argmax(logits + g): a *sample* "
                 "from the encoder's softmax (the Gumbel-max trick), not its argmax. Here the two differ in "
                 f"{sweep['differ']:.1%} of cells on {SWEEP_N} test images, and the sample's error is "
                 f"{drawn_mse:.4f} against the argmax's {hard_mse:.4f} (the τ = {TAUS[0]:g} mixture: "
                 f"{relaxed[0]:.4f}). Untick the noise and τ → 0 gives the argmax itself.")
    else:
        limit = ("With the Gumbel noise off, as τ → 0 the mixture becomes the argmax code, the token itself "
                 f"(error {relaxed[0]:.4f} at τ = {TAUS[0]:g} against the argmax's {hard_mse:.4f} on {SWEEP_N} test "
                 "images).")
    text = (f"**Input:** {description}\n\nThe dVAE's encoder gives, at each of the 7×7 cells, a probability for each "
            "of the K = 64 codes. During training the decoder sees the mixture y = softmax((logits + g)/τ) of codes, "
            "g being Gumbel noise, with τ annealed from 1 to 0.1; a token is the argmax of the logits, with no noise. "
            f"{limit} A moderate τ gives a *lower* error (least at τ = {best:g}: {min(relaxed):.4f}): a blend of "
            "codes carries more than one token's worth of information, which a grid of tokens cannot pass on — the "
            f"reason DALL·E anneals τ down. A large τ blends nearly all codes alike and the image is lost "
            f"({relaxed[-1]:.4f} at τ = {TAUS[-1]:g}). The grey map is the encoder's top probability per cell "
            "(white = sure).\n\nThis dVAE is trained with a squared error ‖x − D(y)‖² (a Gaussian decoder), like the "
            "VQ-VAE, not with DALL·E's logit-Laplace likelihood (Ramesh et al. 2021, appendix A.3).\n\n"
            "| model | MSE per pixel (test set) | perplexity | dead codes |\n|---|---|---|---|\n" + "\n".join(rows)
            + "\n\nThe dVAE has no dead-code restarts, and a weak pull to use all codes (the KL term's weight is "
            "5·10⁻⁴), so it uses fewer codes than the VQ-VAE.")
    return Relaxation(viz.labelled_strip(images), vq_viz.relaxation_figure(TAUS, sweep, SWEEP_N), text)


def build() -> None:
    """The tab's layout and events."""
    gr.Markdown("DALL·E 1's tokenizer: the same grid of K-way choices, learned with a soft, noisy relaxation "
                "instead of nearest-code + straight-through. Move τ to see what the decoder saw in training.")
    pick = image_picker("vq-gb", 0)
    with gr.Row():
        tau = gr.Slider(0.05, 100, value=1.0, step=0.05, label="τ (relaxation temperature; type any value)")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (Gumbel noise)")
        noise = gr.Checkbox(True, label="Add Gumbel noise g")
    button = gr.Button("Compare", variant="primary")
    picture = gr.Image(label="Input, VQ-VAE, dVAE (argmax), dVAE relaxed at τ, the dVAE's certainty", format="png",
                       interactive=False, show_label=False)
    with gr.Row():
        plot = gr.Plot(label="MSE against τ")
        text = gr.Markdown()
    inputs, outputs = [*pick, tau, seed, noise], [picture, plot, text]
    button.click(gumbel, inputs, outputs, api_name="vq_gumbel")
    tau.release(gumbel, inputs, outputs, api_visibility="private")
