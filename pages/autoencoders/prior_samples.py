"""Tab "Prior samples": z ~ N(0, I) decoded by the AE and by the VAE, with measured figures."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import numpy as np

from playground import autoencoders as ae
from playground.evaluate import unconditional_quality
from playground.viz import labelled_grid, side_by_side

from ..common import check_int, check_seed, metric_classifier, real_data, user_errors
from .layout import picture
from .models import model

NAN = float("nan")


class PriorSamples(NamedTuple):
    image: Any  # the AE's and the VAE's decodes of the same z, side by side
    text: str  # a table of measured figures


@user_errors
def prior(n, seed) -> PriorSamples:
    """z ~ N(0, I) decoded by the AE and by the VAE (the same z for both), with measured figures."""
    n = check_int(n, "number of samples", 2, 64)
    seed = check_seed(seed)
    grids, rows = [], []
    real, classifier = real_data("fashion", "test", 1000), metric_classifier()
    for name in ("ae-fashion", "vae-fashion"):
        handle = model(name)
        samples = ae.prior_samples(handle.model, n, seed)
        live = unconditional_quality(samples, classifier, real.subset(np.arange(n))) if classifier else None
        grids.append(labelled_grid(samples, 8, [""] * ((n + 7) // 8), f"{handle.label}: decode(z), z ~ N(0, I)",
                                   scale=2))
        card = handle.card["metrics"]
        low, high = ae.code_spread(handle.model, real.x[:500])
        z_low, z_high = ae.aggregate_spread(handle.model, real.x[:500])
        z_cell = f"{z_low:.2f}–{z_high:.2f}" if handle.model.kind == "vae" else "(no σ: same as μ)"
        live_cells = f"{live['confidence']:.2f} | {live['diversity']:.2f}" if live else "– | –"
        rows.append(f"| {handle.label} | {live_cells} | {card.get('prior_confidence', NAN):.2f} | "
                    f"{card.get('prior_frechet_distance', NAN):.1f} | {low:.2f}–{high:.2f} | {z_cell} |")
    ref = model("vae-fashion").card["metrics"]
    table = ("| model | confidence (these samples) | diversity (these) | confidence (1000 samples) | "
             "Fréchet distance (1000) | spread of μ(x): std per dimension | spread of z = μ + σ ⊙ ε: std per "
             "dimension |\n|---|---|---|---|---|---|---|\n" +
             "\n".join(rows) + f"\n| real test images | | | {ref.get('prior_real_confidence', NAN):.2f} | 0 | | |\n\n"
             "**Confidence**: the shipped Fashion-MNIST classifier's mean probability for its top class — high when "
             "a sample looks like *some* garment. **Fréchet distance**: between the classifier's features of the "
             "samples and of 1000 real test images (lower is closer). **Spread of the codes** (500 test images): the "
             "VAE's KL term pulls q(z | x) towards N(0, I), so it is the draws z = μ + σ ⊙ ε pooled over images "
             "(the aggregate posterior) whose std per dimension is near 1, not μ alone: Var[z_j] = Var[μ_j] + "
             "E[σ_j²], and in a collapsed dimension (see the β tab) μ barely moves while σ ≈ 1 does the work. "
             "The AE's codes are points that live wherever training put them, so most N(0, I) draws land where "
             "no image was ever encoded.")
    return PriorSamples(side_by_side(grids), table)


def build() -> None:
    gr.Markdown("Draw z ~ N(0, I) and decode it — the same z for both models. The VAE was trained to make "
                "this work; the AE never was.")
    with gr.Row():
        n = gr.Slider(2, 64, value=32, step=1, label="Samples")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (z)")
    button = gr.Button("Sample", variant="primary")
    image = picture("AE (left) and VAE (right) decoding the same z ~ N(0, I)")
    text = gr.Markdown()
    button.click(prior, [n, seed], [image, text], api_name="ae_prior")
