"""Tab 3: codebook health. How many codes does a model really use? Plain codebook loss against EMA updates with
dead-code restarts at the same K = 512 (van den Oord et al. 2017, Appendix A.1; Dhariwal et al. 2020, Jukebox),
or any one model."""
from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from playground import viz
from playground.viz import vq as vq_viz

from ..common import real_data, user_errors
from .menu import MENU, SHIPPED, get_model, health_row, test_usage

HEALTH = ("vq-k512-plain-fashion", "vq-k512-fashion")  # plain vs EMA + restarts, same K
HEAD = "| model | K | perplexity | dead codes | MSE per pixel |\n|---|---|---|---|---|\n"
NOTE = ("Measured on every test image ({n} images, {t} tokens). **Perplexity** = exp(entropy of code usage): "
        "the number of codes in effective use (K if all are used equally, 1 if one does all the work). "
        "**Dead codes**: codes no test token uses. **MSE**: through the tokens, per pixel on [−1, 1].")


class Health(NamedTuple):
    """One model's outputs, in order."""

    usage: object  # share of test tokens per code
    text: str  # the table and what it means


class Comparison(NamedTuple):
    """The comparison's outputs, in order."""

    usage: object  # both models' usage over the test set
    curves: object  # perplexity and codes used during training (from the cards)
    text: str  # the table and what it means


@user_errors
def measure_health(name, my_models=None) -> Health:
    """One model's usage histogram over the whole test set, with its perplexity and dead codes."""
    handle = get_model(name, my_models)
    use = test_usage(handle)
    fig = viz.usage_figure({handle.label: use["counts"].numpy()}, "share of test tokens per code")
    n = len(real_data(handle.dataset, "test"))
    return Health(fig, HEAD + health_row(handle) + "\n\n" + NOTE.format(n=n, t=int(use["counts"].sum())))


@user_errors
def compare_health() -> Comparison:
    """Plain codebook loss vs EMA + dead-code restarts at K = 512: usage, and perplexity during training."""
    plain, cured = (get_model(name) for name in HEALTH)
    fig = viz.usage_figure({SHIPPED[h.name]: test_usage(h)["counts"].numpy() for h in (plain, cured)},
                           "the same K = 512, two ways of learning the codebook: share of test tokens per code")
    curves = vq_viz.health_curves_figure({SHIPPED[h.name]: h.card["curves"] for h in (plain, cured)
                                          if h.card.get("curves")},
                                         "during training (mean of each 50 steps, from the checkpoint cards)")
    n = len(real_data("fashion", "test"))
    before, after = test_usage(plain), test_usage(cured)
    text = (HEAD + "\n".join(health_row(h) for h in (plain, cured))
            + f"\n\nWith the plain codebook loss, only the codes that win some z_e early get pulled along; the rest "
            f"never move and stay dead ({before['dead_codes']} of 512 here). EMA updates plus restarts, which move a "
            f"code that falls out of use onto a random z_e of the batch, leave {after['dead_codes']} dead and raise "
            f"the perplexity from {before['perplexity']:.0f} to {after['perplexity']:.0f}.\n\n"
            + NOTE.format(n=n, t=int(before["counts"].sum())))
    return Comparison(fig, curves, text)


def build(my_models: gr.State) -> gr.Dropdown:
    """The tab's layout and events; returns its model menu."""
    gr.Markdown("How many codes does a model really use? Plain codebook loss against EMA updates with dead-code "
                "restarts, at the same K = 512; or any one model.")
    compare = gr.Button("Compare plain vs EMA + restarts (K = 512)", variant="primary", elem_id="vq-health-compare")
    compare_usage = gr.Plot(label="Usage over the test set")
    compare_curves = gr.Plot(label="During training")
    compare_text = gr.Markdown(elem_id="vq-health-text")
    with gr.Row():
        model = gr.Dropdown(MENU.choices(), value="vq-fashion", label="One model", allow_custom_value=True)
        measure = gr.Button("Measure its usage")
    usage = gr.Plot(label="Usage over the test set")
    text = gr.Markdown()
    compare.click(compare_health, None, [compare_usage, compare_curves, compare_text], api_name="vq_compare_health")
    measure.click(measure_health, [model, my_models], [usage, text], api_name="vq_health")
    return model
