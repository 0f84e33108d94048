"""Tab "β": two shipped VAEs identical but for β, the weight of the KL term (Higgins et al. 2017)."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import autoencoders as ae
from playground.viz import autoencoders as ae_viz

from ..common import check_int, check_seed, real_data, user_errors
from .layout import picture
from .models import model

NAN = float("nan")


class BetaComparison(NamedTuple):
    image: Any  # test images, then per β its reconstructions and its prior samples
    text: str  # the cards' figures per β


@user_errors
def beta_compare(n, seed) -> BetaComparison:
    """β = 1 against β = 0.1: reconstructions of the same test images, prior samples, and the cards' figures."""
    n = check_int(n, "number of images", 2, 12)
    seed = check_seed(seed)
    x = ae.choose(real_data("fashion", "test", 1000).x, n, seed)
    rows, labels, lines = [x], ["test images"], []
    for name in ("vae-fashion", "vae-fashion-lowbeta"):
        handle = model(name)
        rows += [ae.reconstruct(handle.model, x), ae.prior_samples(handle.model, n, seed)]
        beta = handle.spec.beta
        labels += [f"β = {beta:g}: reconstruction", f"β = {beta:g}: decode(z ~ N(0, I))"]
        m = handle.card["metrics"]
        lines.append(f"| {beta:g} | {m['test_mse_per_pixel']:.4f} | {m.get('test_kl_nats', NAN):.1f} | "
                     f"{m.get('prior_confidence', NAN):.2f} | {m.get('prior_frechet_distance', NAN):.1f} |")
    table = ("| β | reconstruction MSE per pixel | KL(q(z|x) ‖ N(0, I)), nats | prior samples: classifier confidence | "
             "prior samples: Fréchet distance |\n|---|---|---|---|---|\n" + "\n".join(lines) +
             "\n\nMeasured on 1000 test images and 1000 prior samples (from each model's card). A smaller β lets the "
             "codes carry more information (more nats of KL): sharper reconstructions, but the codes drift away "
             "from N(0, I), so decoding prior draws gets worse.")
    return BetaComparison(ae_viz.rows_grid(rows, n, labels, scale=3), table)


def build() -> None:
    gr.Markdown("Two shipped VAEs, identical but for β, the weight of the KL term. Train more values "
                "yourself in the Train tab.")
    with gr.Row():
        n = gr.Slider(2, 12, value=8, step=1, label="Images")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
    button = gr.Button("Compare β", variant="primary")
    image = picture("Reconstructions and prior samples for β = 1 and β = 0.1")
    text = gr.Markdown()
    button.click(beta_compare, [n, seed], [image, text], api_name="ae_beta")
