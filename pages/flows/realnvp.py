"""Tab "RealNVP": a normalizing flow on a toy set: its exact density and samples, the base space's grid deformed
layer by layer, the data pushed back to z against N(0, I), its log-likelihood against a kernel density estimate
and the true density, the log-det checked against a brute-force Jacobian, what it costs, and training one live."""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import gradio as gr
from playground import checkpoints, data, flows, viz
from playground.viz import flows as flow_viz

from ..common import (CHEAP, TrainJob, TrainPanel, check_choice, check_float, check_int, check_seed, real_data, shipped,
                      user_errors)
from .shared import DATASET_TITLES, REALNVP_MENU

CAPS = {name: dict(steps=4000, batch=1024) for name in data.TOY2D}
CHECK_POINTS = 6  # test points of the log-det check
MEASURE_POINTS = 2000  # test points of the likelihood and Gaussianity figures


class FlowView(NamedTuple):
    density: Any
    layers: Any
    base: Any
    base_text: Any
    likelihood: Any
    logdet: Any
    cost: Any


def _likelihood_table(check: dict) -> str:
    rows = [("the flow, exact log p(x)", check["flow_nats"]), ("kernel density estimate (scipy, Scott's bandwidth, "
                                                                "fitted to 2,000 training points)", check["kde_nats"])]
    if "true_nats" in check:
        rows.insert(0, ("the true density (a mixture of 8 Gaussians)", check["true_nats"]))
    table = "\n".join(f"| {what} | {value:.3f} | {-value:.3f} |" for what, value in rows)
    gap = (f"\n\nKL(data ‖ flow) ≈ E[log p_true − log p_flow] = **{check['kl_true_to_flow']:.3f} nats** (KDE: "
           f"{check['kl_true_to_kde']:.3f}); the flow's log p and the truth correlate at "
           f"{check['flow_vs_true_correlation']:.3f} over the points." if "true_nats" in check else
           f"\n\nThis set has no closed-form density here; the flow's log p and the KDE's correlate at "
           f"{check['flow_vs_kde_correlation']:.3f} over the points.")
    return (f"**Mean log-likelihood of {check['points']:,} test points** (higher is better; nats per point):\n\n"
            f"| density | mean log p | NLL (nats) |\n|---|---|---|\n{table}{gap}")


def _logdet_table(report) -> str:
    rows = "\n".join(f"| ({x:.2f}, {y:.2f}) | {a:.6f} | {b:.6f} | {abs(a - b):.1e} |" for (x, y), a, b in
                     zip(report.check_points.tolist(), report.logdet_layers.tolist(), report.logdet_brute.tolist()))
    return ("**The change-of-variables term, checked.** Σ log|det| from the layers (each layer's triangular "
            "Jacobian: the sum of its log-scales s, plus the ActNorms' −Σ log σ) against log|det ∂f/∂x| of the full "
            "2×2 Jacobian, computed by autograd and `slogdet` (both in float64):\n\n| test point x | from the layers | log\\|det J\\| "
            f"(brute force) | difference |\n|---|---|---|---|\n{rows}")


def _cost(handle, dataset: str, parameters: int) -> str:
    out = (f"**What flows pay.** Every layer must be invertible, so z has as many numbers as x (here 2) at every "
           f"layer: there is no bottleneck. This flow has **{parameters:,} parameters** in {handle.spec.num_layers} "
           "coupling layers.")
    ddpm = f"ddpm-{dataset}-cosine"
    mine = handle.card.get("metrics", {}).get("sliced_wasserstein_to_data")
    if ddpm in checkpoints.available():
        card = checkpoints.card(ddpm)
        out += (f" The shipped DDPM on the same data ({ddpm}) has {flows.parameter_count(shipped(ddpm).model):,} "
                f"parameters and reaches a sliced distance of {card['metrics']['sliced_wasserstein_to_data']:.3f} to "
                "data" + (f"; this flow {mine:.3f}" if mine is not None else "") + " (lower is better).")
    if "vae-fashion" in checkpoints.available():
        out += (f" On images the difference is the point: the VAE vae-fashion squeezes a 784-pixel garment into "
                f"{checkpoints.card('vae-fashion')['spec']['latent_dim']} numbers, while a flow on Fashion-MNIST must "
                "carry all 784 through every layer (Glow used 3 × 32 steps of flow for 32×32 images).")
    return out


@user_errors
def show_flow(name, my_models) -> FlowView:
    """Everything the tab shows about one RealNVP (shipped or this browser's). A shipped model's view is the same for
    everyone, so it is computed once per process (every student's page load shows it)."""
    handle = REALNVP_MENU.get(name, my_models)
    return _shipped_view(handle.name) if handle.name in REALNVP_MENU.labels else _view(handle)


@functools.lru_cache(maxsize=len(REALNVP_MENU.labels))
def _shipped_view(name: str) -> FlowView:
    return _view(REALNVP_MENU.get(name))


def _view(handle) -> FlowView:
    dataset = check_choice(handle.dataset, "dataset", list(data.TOY2D))
    test, train = real_data(dataset, "test", MEASURE_POINTS), real_data(dataset, "train", MEASURE_POINTS)
    report = flows.realnvp_report(handle.model, test.x, train.x, flows.TRUE_LOG_PROB.get(dataset), check=CHECK_POINTS)
    title = "exact density p(x), samples (red), data (grey)"
    density = flow_viz.density_figure(report.axis, report.log_density, report.samples, test.x[:1000].numpy(), title)
    layers = flow_viz.deformation_figure(report.frames, test.x[:500].numpy())
    base = viz.scatter_with_marginals(report.z.numpy(), test.y.numpy(), title="test data pushed to z = f(x), by class")
    g = report.gaussianity
    (c11, c12), (c21, c22) = g["covariance"]
    base_text = (f"**Is f(data) ~ N(0, I)?** Over {len(report.z):,} test points: mean ({g['mean'][0]:.3f}, "
                 f"{g['mean'][1]:.3f}), covariance [[{c11:.3f}, {c12:.3f}], [{c21:.3f}, {c22:.3f}]] (N(0, I): zero "
                 f"mean, identity). Sliced distance to N(0, I) samples: **{report.sw_to_normal:.3f}**, against "
                 f"{report.sw_normal_vs_normal:.3f} between two draws of N(0, I) itself.")
    return FlowView(density, layers, base, base_text, _likelihood_table(report.likelihood), _logdet_table(report),
                    _cost(handle, dataset, report.parameters))


def make_job(dataset, layers, actnorm, steps, batch, lr, seed) -> TrainJob:
    check_choice(dataset, "dataset", list(CAPS))
    layers = check_int(layers, "coupling layers", 2, 16)
    if not isinstance(actnorm, bool):
        raise gr.Error(f"ActNorm must be on or off (true or false), got {actnorm!r}.")
    steps = check_int(steps, "steps", 1, CAPS[dataset]["steps"])
    batch = check_int(batch, "batch size", 8, CAPS[dataset]["batch"])
    lr, seed = check_float(lr, "learning rate", 1e-5, 1e-1), check_seed(seed)
    train_set = data.load(dataset, "train", n=8192, seed=seed)
    real = train_set.x[:500].numpy()
    spec = flows.RealNVPSpec(num_layers=layers, actnorm=actnorm, batch_size=batch, lr=lr)
    latest = {}  # this run's model, for the density preview (local to the run, never shared)

    def show_preview(preview, step):
        axis, logp = flows.density_grid(latest["model"], size=80)
        return None, flow_viz.density_figure(axis, logp, preview, real, f"step {step}: density p(x), samples (red)")

    return TrainJob(spec, train_set, steps, seed, title=f"yours: RealNVP · {DATASET_TITLES[dataset]} · {layers} layers",
                    curves={"loss": "negative log-likelihood (nats per point)"}, show_preview=show_preview,
                    preview_every=max(1, steps // 12), preview_n=500, card={"dataset": dataset},
                    observe=lambda event: latest.update(model=event.model), where="the RealNVP menu above")


def build(page: gr.Blocks, my_models: gr.State) -> gr.Dropdown:
    gr.Markdown("A normalizing flow is an invertible map f from data x to a base space z where z ~ N(0, I). Each "
                "coupling layer keeps one coordinate and scales and shifts the other by functions of the kept one, so "
                "it is invertible by construction and its Jacobian is triangular. The density of any point is then "
                "exact: $\\log p(x) = \\log \\mathcal{N}(f(x); 0, I) + \\sum_k \\log|\\det \\partial f_k/\\partial "
                "h_{k-1}|$, and training maximises it directly.",
                latex_delimiters=[{"left": "$", "right": "$", "display": False}])
    with gr.Row():
        menu = gr.Dropdown(REALNVP_MENU.choices(), value=next(iter(REALNVP_MENU.available()), None),
                           label="RealNVP model", scale=3, elem_id="flows-nvp-model")
        show = gr.Button("Show", variant="primary", scale=1, elem_id="flows-nvp-show")
    with gr.Row():
        density = gr.Plot(label="The flow's exact density and its samples", elem_id="flows-nvp-density")
        base = gr.Plot(label="The data pushed back to z")
    base_text = gr.Markdown(elem_id="flows-nvp-base-text")
    gr.Markdown("**The base space's grid, deformed one coupling layer at a time** (blue: lines of constant z₂, red: "
                "constant z₁; the last panel is x = f⁻¹(z) over the data).")
    layers = gr.Plot(show_label=False, elem_id="flows-nvp-layers")
    with gr.Row():
        likelihood = gr.Markdown(elem_id="flows-nvp-likelihood")
        logdet = gr.Markdown(elem_id="flows-nvp-logdet")
    cost = gr.Markdown(elem_id="flows-nvp-cost")
    outputs = [density, layers, base, base_text, likelihood, logdet, cost]
    show.click(show_flow, [menu, my_models], outputs, api_name="flows_realnvp", **CHEAP)
    menu.input(show_flow, [menu, my_models], outputs, api_visibility="private", **CHEAP)
    page.load(show_flow, [menu, my_models], outputs, api_visibility="private", **CHEAP)
    with gr.Accordion("Train a RealNVP yourself, live", open=False):
        with gr.Row():
            dataset = gr.Dropdown([(DATASET_TITLES[d], d) for d in data.TOY2D], value="moons", label="Dataset")
            n_layers = gr.Slider(2, 16, value=6, step=1, label="Coupling layers")
            actnorm = gr.Checkbox(True, label="ActNorm before each coupling layer")
        panel = TrainPanel("flows-nvp", CAPS, dataset, steps=1500, lr=1e-3, batch=256, preview="plot",
                           curve_label="Negative log-likelihood", plot_label="Density and samples while it trains")
        panel.wire(make_job, [dataset, n_layers, actnorm], REALNVP_MENU, [menu], my_models, api_name="flows_realnvp_train")
    return menu
