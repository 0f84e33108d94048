"""Tab "Train": an AE, a DAE or a VAE from scratch with the shared training panel; the model joins this
browser's latent-space menu."""
from __future__ import annotations

import gradio as gr

from playground import autoencoders as ae
from playground.autoencoders import AutoencoderSpec
from playground.train import TrainEvent
from playground.viz import autoencoders as ae_viz

from ..common import TrainJob, TrainPanel, check_choice, check_float, check_int, check_seed, real_data, user_errors
from .models import MENU

LIVE_CAPS = {"fashion": dict(steps=2000, batch=256), "digits": dict(steps=4000, batch=256)}
SIDES = {"fashion": 28, "digits": 8}


@user_errors
def make_job(kind, dataset, latent_dim, beta, noise, mask, steps, batch, lr, seed) -> TrainJob:
    """Check the settings and describe the run for the panel (which trains it, streams it, and keeps the model)."""
    kind = check_choice(kind, "kind", ae.KINDS)
    dataset = check_choice(dataset, "dataset", list(LIVE_CAPS))
    latent_dim = check_int(latent_dim, "latent size", 2, 32)
    caps = LIVE_CAPS[dataset]
    spec = AutoencoderSpec(kind=kind, latent_dim=latent_dim, image_size=SIDES[dataset], dataset=dataset,
                           beta=check_float(beta, "β", 0.0, 10.0) if kind == "vae" else 1.0,
                           noise_std=check_float(noise, "noise σ", 0.0, 2.0) if kind == "dae" else 0.0,
                           mask_prob=check_float(mask, "masked share", 0.0, 0.95) if kind == "dae" else 0.0,
                           batch_size=check_int(batch, "batch size", 2, caps["batch"]),
                           lr=check_float(lr, "learning rate", 1e-5, 1e-1))
    steps = check_int(steps, "steps", 1, caps["steps"])
    seed = check_seed(seed)
    vae = kind == "vae"
    curves = {"recon": "reconstruction Σ(x − x̂)²"}
    if vae:
        curves.update({"kl": "KL (nats)", "loss": "total = recon + β·KL"})

    def describe(event: TrainEvent) -> str:
        m = event.losses
        return (f"Step {event.step} of {event.total}: loss {m['loss']:.2f} (reconstruction {m['recon']:.2f}"
                + (f", KL {m['kl']:.2f} nats, β·KL {spec.beta * m['kl']:.2f}" if vae else "")
                + f"), {event.step / max(event.history['wall_time_s'], 1e-9):.1f} steps/s")

    title = f"yours: {ae.KIND_TITLES[kind]}, {latent_dim}-D, {dataset}" + (f", β = {spec.beta:g}" if vae else "")
    return TrainJob(spec, real_data(dataset, "train"), steps, seed, title, curves,
                    show_preview=lambda preview, step: (ae_viz.training_preview(preview, kind, step), None),
                    describe=describe, preview_every=max(1, steps // 10), preview_n=8, card={"dataset": dataset},
                    where="the Latent space tab's model menu")


def build(model_menu: gr.Dropdown, my_models: gr.State) -> TrainPanel:
    gr.Markdown("The same loop and loss as the shipped models, from scratch. Digits (8×8) learn in seconds; "
                "Fashion-MNIST takes a minute or two. Your model is kept for this browser session only and "
                "never replaces a shipped one: explore it in the **Latent space** tab.")
    with gr.Row():
        kind = gr.Radio([("AE", "ae"), ("denoising AE", "dae"), ("VAE", "vae")], value="vae", label="Model")
        dataset = gr.Dropdown([("Fashion-MNIST (28×28)", "fashion"), ("digits (8×8)", "digits")], value="digits",
                              label="Dataset")
        latent = gr.Slider(2, 32, value=2, step=1, label="Latent size")
        beta = gr.Slider(0, 10, value=1, step=0.05, label="β (VAE: KL weight)")
        noise = gr.Slider(0, 2, value=0.8, step=0.05, label="DAE: max noise σ")
        mask = gr.Slider(0, 0.95, value=0.5, step=0.05, label="DAE: max masked share")
    panel = TrainPanel("ae", LIVE_CAPS, dataset, steps=1500, lr=1e-3, batch=128, preview="image",
                       curve_label="Loss per image: reconstruction (and KL, for the VAE)",
                       image_label="Preview: inputs (corrupted, for the DAE), reconstructions, decodes of z ~ N(0, I)")
    panel.wire(make_job, [kind, dataset, latent, beta, noise, mask], MENU, [model_menu], my_models, api_name="ae_train")
    return panel
