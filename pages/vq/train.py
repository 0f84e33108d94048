"""Tab 7: train your own VQ-VAE or dVAE with the shared training panel: the loss terms, the codebook's health
(perplexity, dead codes, each code's usage over training) and previews of inputs and decodes. The model joins this
browser's model menus of the first three tabs."""
from __future__ import annotations

import gradio as gr

from playground import viz, vq
from playground.train import TrainEvent
from playground.viz import vq as vq_viz
from playground.vq import VQSpec

from ..common import (TrainJob, TrainPanel, check_choice, check_float, check_int, check_seed, real_data,
                      user_errors)
from .menu import MENU, health_row, test_usage

LIVE_CAPS = {"fashion": dict(steps=2000, batch=256), "digits": dict(steps=3000, batch=256)}
QUANTISERS = {"plain": ("VQ, plain codebook loss", dict(quantizer="vq", ema=False, restart=False)),
              "ema": ("VQ, EMA codebook", dict(quantizer="vq", ema=True, restart=False)),
              "ema-restart": ("VQ, EMA codebook + dead-code restarts", dict(quantizer="vq", ema=True, restart=True)),
              "gumbel": ("dVAE, Gumbel-softmax", dict(quantizer="gumbel"))}
USAGE_SNAPSHOTS = 60  # columns of the usage heat map, at most about


class HealthWatch:
    """What one run's panel callbacks share. `describe(event)` sees the run's model and history (and keeps them);
    `show_preview(preview, step)` sees only the preview, so it draws the health figure from what describe kept,
    with a snapshot of the codebook's running usage for the heat map. Made per run: nothing outlives the job."""

    def __init__(self, spec: VQSpec, steps: int, scale: int):
        self.spec, self.scale = spec, scale
        self.every = max(1, steps // USAGE_SNAPSHOTS)
        self.model, self.history, self.steps, self.usage = None, None, [], []

    def _snapshot(self, step: int) -> None:
        if self.model is not None and (not self.steps or step - self.steps[-1] >= self.every):
            self.steps.append(step)
            self.usage.append(vq.code_usage(self.model))

    def describe(self, event: TrainEvent) -> str:
        self.model, self.history = event.model, event.history
        self._snapshot(event.step)
        m, spec = event.losses, self.spec
        return (f"Step {event.step} of {event.total}: reconstruction {m['recon']:.4f}, perplexity "
                f"{m['perplexity']:.1f} of K = {spec.codebook_size}, {m['dead_codes']:.0f} dead codes, "
                f"{event.step / max(event.history['wall_time_s'], 1e-9):.1f} steps/s"
                + (f", τ = {m['tau']:.2f}" if spec.quantizer == "gumbel" else ""))

    def show_preview(self, preview, step: int) -> tuple:
        self._snapshot(step)
        picture = viz.labelled_grid(preview, len(preview) // 2, ["input", "decode(tokens)"], f"step {step}",
                                    scale=self.scale)
        figure = vq_viz.training_health_figure(self.history, self.steps, self.usage) if self.history else None
        return picture, figure


def _curves(spec: VQSpec) -> dict[str, str]:
    """Metric key -> legend of the loss plot (the terms of eq. 3, or the dVAE's)."""
    if spec.quantizer == "gumbel":
        return {"recon": "reconstruction ‖x − D(z_q)‖²", "kl": f"KL(q ‖ uniform), weighted by w = {spec.kl_weight:g}"}
    return {"recon": "reconstruction ‖x − D(z_q)‖²",
            "codebook": "codebook ‖sg[z_e] − e‖²" + (" (not trained on: EMA updates the codebook)" if spec.ema else ""),
            "commitment": f"commitment ‖z_e − sg[e]‖², weighted by β = {spec.commitment:g}"}


@user_errors
def make_job(dataset, quantiser, k, d, commitment, kmeans, steps, batch, lr, seed) -> TrainJob:
    """A VQ-VAE or dVAE from scratch, as the panel's job (every setting checked)."""
    dataset = check_choice(dataset, "dataset", list(LIVE_CAPS))
    quantiser = check_choice(quantiser, "quantiser", list(QUANTISERS))
    caps = LIVE_CAPS[dataset]
    spec = VQSpec(**QUANTISERS[quantiser][1], codebook_size=check_int(k, "K", 2, 512), code_dim=check_int(d, "D", 1, 64),
                  commitment=check_float(commitment, "β (commitment)", 0.0, 2.0), kmeans_init=bool(kmeans),
                  image_size=28 if dataset == "fashion" else 8, downsample=4 if dataset == "fashion" else 2,
                  width=16, dataset=dataset, batch_size=check_int(batch, "batch size", 8, caps["batch"]),
                  lr=check_float(lr, "learning rate", 1e-5, 1e-1))
    steps, seed = check_int(steps, "steps", 1, caps["steps"]), check_seed(seed)
    watch = HealthWatch(spec, steps, scale=3 if dataset == "fashion" else 10)
    title = f"yours: {QUANTISERS[quantiser][0]}, K = {spec.codebook_size}, D = {spec.code_dim}, {dataset}"
    return TrainJob(spec, real_data(dataset, "train"), steps, seed, title, _curves(spec),
                    show_preview=watch.show_preview, describe=watch.describe, preview_every=max(1, steps // 10),
                    preview_n=8, card={"dataset": dataset})


@user_errors
def train_summary(my_models) -> str:
    """The newest model of this browser, measured on the whole test set."""
    if not my_models:
        return ""
    handle = list(my_models.values())[-1]
    use = test_usage(handle)
    return (f"**{handle.label}**, on the whole test set: perplexity {use['perplexity']:.1f} of "
            f"K = {handle.spec.codebook_size}, {use['dead_codes']} dead codes, MSE {use['test_mse_per_pixel']:.4f} "
            "per pixel. It is in the model lists of the first three tabs, for this browser only.\n\n"
            "| model | K | perplexity | dead codes | MSE per pixel |\n|---|---|---|---|---|\n" + health_row(handle))


def build(my_models: gr.State, menus: list) -> None:
    """The tab's layout and events: the shared panel; a trained model joins `menus` (the first three tabs)."""
    gr.Markdown("The same loop and losses as the shipped models, from scratch. Digits (8×8, 4×4 tokens) learn "
                "in seconds; Fashion-MNIST in a minute or two. Your model is kept for this browser session "
                "only and never replaces a shipped one.")
    with gr.Row():
        dataset = gr.Dropdown([("Fashion-MNIST: 7×7 tokens", "fashion"), ("digits: 4×4 tokens", "digits")],
                              value="digits", label="Dataset", scale=2)
        quantiser = gr.Dropdown([(title, key) for key, (title, _) in QUANTISERS.items()], value="ema-restart",
                                label="Quantiser", scale=3)
        k = gr.Slider(2, 512, value=64, step=1, label="K (codes)")
        d = gr.Slider(1, 64, value=16, step=1, label="D (code length)")
        commitment = gr.Slider(0, 2, value=0.25, step=0.05, label="β (commitment)")
        kmeans = gr.Checkbox(False, label="k-means init (first batch)")
    panel = TrainPanel("vq", LIVE_CAPS, dataset, steps=1000, lr=1e-3, batch=128, preview="both",
                       curve_label="Loss terms (per element)", image_label="Preview: inputs and decodes",
                       plot_label="Codebook health: perplexity, dead codes, usage over training")
    summary = gr.Markdown(elem_id="vq-train-summary")
    training = panel.wire(make_job, [dataset, quantiser, k, d, commitment, kmeans], MENU, menus, my_models,
                          api_name="vq_train")
    training.success(train_summary, my_models, summary, api_visibility="private")
