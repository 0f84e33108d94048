"""Tab "Reparameterise": the VAE's μ and σ for one image, draws z = μ + σ ⊙ ε, and their decodes."""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import gradio as gr

from playground import autoencoders as ae
from playground.viz import autoencoders as ae_viz

from ..common import check_int, check_seed, image_picker, pick_image, real_data, user_errors
from .layout import picture
from .models import model


class Reparameterisation(NamedTuple):
    image: Any  # input, decode(μ), and decodes of the first draws
    plot: Any  # μ ± σ per dimension, and the first draws
    text: str  # what the draws change, and a table per dimension


@functools.lru_cache(maxsize=1)
def _same_class_gap() -> float:
    return ae.same_class_gap(real_data("fashion", "test", 1000))


@user_errors
def reparam(source, label, index, upload, k, seed) -> Reparameterisation:
    """μ and σ of the VAE for one image, k draws of ε, and the decoded z = μ + σ ⊙ ε."""
    x, description = pick_image(source, label, index, upload)
    k = check_int(k, "number of draws", 1, 16)
    seed = check_seed(seed)
    out = ae.reparameterised_draws(model("vae-fashion").model, x[None], k, seed)
    mu, sigma, eps, z = out["mu"].numpy(), out["sigma"].numpy(), out["eps"].numpy(), out["z"].numpy()
    shown = min(k, 3)
    images = {"input x": x, "decode(μ)": out["mean_decoded"][0]}
    images.update({f"z⁽{i + 1}⁾": out["decoded"][i] for i in range(min(k, 6))})
    rows = "\n".join(f"| z{j + 1} | {mu[j]:+.2f} | {sigma[j]:.2f} | " +
                     " | ".join(f"{eps[i, j]:+.2f} → {z[i, j]:+.2f}" for i in range(shown)) + " |"
                     for j in range(len(mu)))
    head = ("| dim | μ | σ | " + " | ".join(f"ε⁽{i + 1}⁾ → z⁽{i + 1}⁾" for i in range(shown)) + " |\n" +
            "|---" * (3 + shown) + "|\n")
    text = (f"**Input:** {description}\n\nThe {k} decoded draws differ from decode(μ) by {out['spread']:.3f} per pixel "
            f"on average; two different test images of the same class differ by {_same_class_gap():.3f}. The "
            f"encoder's σ is small (mean {sigma.mean():.2f}, against 1 for the prior), so the noise makes "
            "near-identical variants.\n\n" + head + rows)
    return Reparameterisation(ae_viz.big_strip(images), ae_viz.reparam_figure(mu, sigma, z, shown), text)


def build() -> None:
    gr.Markdown("The VAE's encoder gives a mean μ and a spread σ for each of the 16 code dimensions. A code "
                "is *sampled* as z = μ + σ ⊙ ε with ε ~ N(0, I), so the randomness sits in ε and gradients "
                "flow through μ and σ. Each draw decodes to a slightly different image.")
    picker = image_picker("ae-rp", 9)
    with gr.Row():
        k = gr.Slider(1, 16, value=6, step=1, label="Draws of ε")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (ε)")
    button = gr.Button("Encode and draw", variant="primary")
    image = picture("Input, decode(μ), and decodes of the first draws")
    plot = gr.Plot(label="μ, σ and the draws, per dimension")
    text = gr.Markdown()
    button.click(reparam, [*picker, k, seed], [image, plot, text], api_name="ae_reparam")
