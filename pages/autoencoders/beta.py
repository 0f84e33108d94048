"""Tab "β": two shipped VAEs identical but for β, the weight of the KL term (Higgins et al. 2017); what β = 1
means for this decoder (its stated and its measured variance), and the KL of each latent dimension."""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import gradio as gr

from playground import autoencoders as ae
from playground.viz import autoencoders as ae_viz

from ..common import check_int, check_seed, real_data, user_errors
from .layout import picture
from .models import model

NAN = float("nan")
VAES = ("vae-fashion", "vae-fashion-lowbeta")
MEASURED_ON = 1000  # test images the decoder variance and the per-dimension KL are measured on


class BetaComparison(NamedTuple):
    image: Any  # test images, then per β its reconstructions and its prior samples
    text: str  # the cards' figures per β
    plot: Any = None  # KL per latent dimension, per β, collapsed dimensions marked
    loss_text: str = ""  # the decoder variance the loss assumes against the measured one, and the collapsed dimensions


@functools.lru_cache(maxsize=4)
def measured(name: str) -> dict:
    """Per shipped VAE, on MEASURED_ON test images: β, the residual variance (z drawn from q(z|x), and z = μ),
    β' = β / (2 s²), the mean KL per dimension, and the collapsed dimensions with their spread of μ and mean σ."""
    handle, x = model(name), real_data("fashion", "test", MEASURED_ON).x
    s2, s2_mean = ae.residual_variance(handle.model, x), ae.residual_variance(handle.model, x, sample=False)
    kl = ae.kl_per_dimension(handle.model, x)
    collapsed = ae.collapsed_dimensions(kl)
    mu = ae.latents(handle.model, x)
    sigma = ae.posterior_sigma(handle.model, x)
    return {"beta": handle.spec.beta, "residual_variance": s2, "residual_variance_mean_code": s2_mean,
            "effective_beta": ae.effective_beta(handle.spec.beta, s2), "kl": kl.numpy(), "collapsed": collapsed,
            "collapsed_mu_std": [float(mu[:, j].std()) for j in collapsed],
            "collapsed_sigma": [float(sigma[:, j].mean()) for j in collapsed]}


def loss_explained() -> str:
    """The decoder variance the loss assumes, the measured one per β, and what the per-dimension KL shows."""
    rows, notes, ratios, counts = [], [], [], []
    for name in VAES:
        m = measured(name)
        dims = ", ".join(f"z{j + 1}" for j in m["collapsed"]) or "none"
        rows.append(f"| {m['beta']:g} | {ae.ASSUMED_DECODER_VARIANCE:g} | {m['residual_variance']:.4f} | "
                    f"{m['residual_variance_mean_code']:.4f} | {m['effective_beta']:.1f} | {m['kl'].sum():.1f} | "
                    f"{len(m['collapsed'])} of {len(m['kl'])}: {dims} |")
        ratios.append(f"{ae.ASSUMED_DECODER_VARIANCE / m['residual_variance']:.0f}× (β = {m['beta']:g})")
        counts.append(f"β = {m['beta']:g}: {len(m['collapsed'])} of {len(m['kl'])} collapsed")
        if m["collapsed"]:
            notes.append(f"In the β = {m['beta']:g} model the collapsed dimensions have μ spread over the images "
                         f"{min(m['collapsed_mu_std']):.2f}–{max(m['collapsed_mu_std']):.2f} and mean σ "
                         f"{min(m['collapsed_sigma']):.2f}–{max(m['collapsed_sigma']):.2f}: q(z_j | x) is the prior "
                         "N(0, 1) whatever the image.")
    ratios, counts = " and ".join(ratios), "; ".join(counts)
    return ("**What β = 1 means here.** The reconstruction term Σ (x − x̂)² is −log p(x | z) up to a constant only "
            f"for a Gaussian decoder N(x; x̂, s² I) with the fixed variance s² = {ae.ASSUMED_DECODER_VARIANCE:g} "
            "(pixels on the [−1, 1] scale). So \"β = 1 is the ELBO\" holds for *that* decoder. The decoders' real "
            f"residual variance, measured below, is {ratios} smaller; against a decoder with the measured "
            "s², the same loss is a β-VAE with β' = β / (2 s²): the shipped β = 1 model is regularised much more "
            "strongly than the plain ELBO would be.\n\n"
            "| β | decoder variance the loss assumes | measured s²: mean (x − D(z))², z ~ q(z \\| x) | "
            "same, z = μ | β' = β / (2 s²) | KL, nats (sum over dimensions) | collapsed dimensions (KL < "
            f"{ae.COLLAPSED_NATS:g} nats) |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows) +
            f"\n\nMeasured on {MEASURED_ON} test images (one draw of ε per image, seed 0). **Posterior collapse** "
            "(the chart below): a dimension whose KL is near 0 carries no information about the image — the "
            "encoder gives up on it, because every nat it spends there costs β in the loss, and the decoder learns "
            "to ignore it. " + " ".join(notes) + " Posterior collapse is a lesson in itself: a larger β, or a "
            "decoder that can do without the code, switches dimensions off (" + counts + ").")


@user_errors
def beta_compare(n, seed) -> BetaComparison:
    """β = 1 against β = 0.1: reconstructions of the same test images, prior samples, the cards' figures, and
    the measured decoder variance and KL per latent dimension."""
    n = check_int(n, "number of images", 2, 12)
    seed = check_seed(seed)
    x = ae.choose(real_data("fashion", "test", 1000).x, n, seed)
    rows, labels, lines = [x], ["test images"], []
    for name in VAES:
        handle = model(name)
        rows += [ae.reconstruct(handle.model, x), ae.prior_samples(handle.model, n, seed)]
        beta = handle.spec.beta
        labels += [f"β = {beta:g}: reconstruction", f"β = {beta:g}: decode(z ~ N(0, I))"]
        m = handle.card["metrics"]
        lines.append(f"| {beta:g} | {m['test_mse_per_pixel']:.4f} | {m.get('test_kl_nats', NAN):.1f} | "
                     f"{m.get('prior_confidence', NAN):.2f} | {m.get('prior_frechet_distance', NAN):.1f} |")
    table = ("| β | reconstruction MSE per pixel | KL(q(z\\|x) ‖ N(0, I)), nats | prior samples: classifier confidence | "
             "prior samples: Fréchet distance |\n|---|---|---|---|---|\n" + "\n".join(lines) +
             "\n\nMeasured on 1000 test images and 1000 prior samples (from each model's card). A smaller β lets the "
             "codes carry more information (more nats of KL): sharper reconstructions, but the codes drift away "
             "from N(0, I), so decoding prior draws gets worse.")
    plot = ae_viz.kl_per_dimension_figure({f"β = {measured(name)['beta']:g}": measured(name)["kl"] for name in VAES},
                                          ae.COLLAPSED_NATS)
    return BetaComparison(ae_viz.rows_grid(rows, n, labels, scale=3), table, plot, loss_explained())


def build() -> None:
    gr.Markdown("Two shipped VAEs, identical but for β, the weight of the KL term. Train more values "
                "yourself in the Train tab.")
    with gr.Row():
        n = gr.Slider(2, 12, value=8, step=1, label="Images")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
    button = gr.Button("Compare β", variant="primary")
    image = picture("Reconstructions and prior samples for β = 1 and β = 0.1")
    text = gr.Markdown()
    loss_text = gr.Markdown(elem_id="ae-beta-loss")
    plot = gr.Plot(label="KL per latent dimension", elem_id="ae-beta-kl")
    button.click(beta_compare, [n, seed], [image, text, plot, loss_text], api_name="ae_beta")
