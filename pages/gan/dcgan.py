"""The "DCGAN on Fashion-MNIST" tab: samples from a fixed latent grid, a straight line in z, and the shared
"train it yourself" panel (a capped DCGAN run whose model joins this browser's model menu)."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import torch

from playground import gan, viz
from playground.gan import GANSpec
from playground.train import TrainEvent
from playground.viz import gan as gan_viz

from ..common import (EXPENSIVE, ModelMenu, TrainJob, TrainPanel, check_choice, check_float, check_int, check_seed,
                      real_data, session_state, user_errors)

MENU = ModelMenu({"gan-fashion": "shipped DCGAN (3000 iterations)"})
CAPS = {"fashion": dict(steps=600, batch=64)}  # live DCGAN training


class Samples(NamedTuple):
    image: Any  # the sample grid
    text: str  # what the model is and how it measured


def _about(handle) -> str:
    card = handle.card
    m = card.get("metrics")
    if not m:
        return (f"Your model from this browser: trained {card.get('steps_trained', '?')} steps here; not measured "
                f"(the shipped model's card holds 1000-sample figures).")
    return (f"Measured on {m.get('eval_samples', 1000)} samples (the checkpoint's card): Fréchet distance "
            f"{m.get('frechet_distance', float('nan')):.2f} to real test images; diversity {m.get('diversity', float('nan')):.2f} "
            f"against {m.get('real_diversity', float('nan')):.2f} for real images; classifier confidence "
            f"{m.get('confidence', float('nan')):.2f} (real: {m.get('real_confidence', float('nan')):.2f}). "
            f"Trained {card['steps_trained']} iterations in {card['wall_time_s']:.0f} s with `{card['command']}`.")


@user_errors
def dcgan_samples(n, seed, model="gan-fashion", my_models=None) -> Samples:
    """A grid of samples from a fixed latent grid (the seed fixes z), with what is known of the model."""
    n, seed = check_int(n, "number of samples", 1, 100), check_seed(seed)
    handle = MENU.get(model, my_models)
    x = handle.model.sample(n, torch.Generator().manual_seed(seed)).cpu()
    return Samples(viz.image_grid(x, nrow=min(n, 10), scale=3), _about(handle))


def first_samples(n, seed) -> Samples:
    """On load: the shipped DCGAN's samples, or how to make it when this copy lacks it."""
    if not MENU.available():
        return Samples(None, "The DCGAN is not shipped in this copy: `python -m playground train gan-fashion` makes it.")
    return dcgan_samples(n, seed)


@user_errors
def dcgan_interpolate(seed_a, seed_b, steps, model="gan-fashion", my_models=None):
    """G((1 − λ) z_a + λ z_b): a GAN's latent space is smooth too."""
    steps = check_int(steps, "steps", 3, 16)
    seed_a, seed_b = check_seed(seed_a), check_seed(seed_b)
    x, lambdas = gan.latent_line(MENU.get(model, my_models).model, seed_a, seed_b, steps)
    return gan_viz.interpolation_strip(x, lambdas, f"G((1 − λ) z_a + λ z_b), seeds {seed_a} → {seed_b}")


def make_job(loss, steps, batch, lr, seed) -> TrainJob:
    """A capped DCGAN run from scratch: D and G with the same Adam learning rate, a sample grid every tenth."""
    lr = check_float(lr, "learning rate", 1e-5, 0.1)
    spec = GANSpec(network="dcgan", loss=check_choice(loss, "loss", gan.LOSSES), latent_dim=32, width=32,
                   batch_size=check_int(batch, "batch size", 8, CAPS["fashion"]["batch"]), lr=lr, d_lr=lr)
    steps = check_int(steps, "steps", 1, CAPS["fashion"]["steps"])

    def describe(event: TrainEvent) -> str:
        m = event.losses
        return (f"Step {event.step} of {event.total}: D loss {m['d_loss']:.3f}, G loss {m['g_loss']:.3f}, "
                f"D accuracy {m['d_accuracy']:.0%}, {event.step / max(event.history['wall_time_s'], 1e-9):.1f} steps/s")

    return TrainJob(spec, real_data("fashion", "train"), steps, check_seed(seed),
                    f"yours: DCGAN · {gan.LOSS_TITLES[spec.loss]}", {"d_loss": "D loss", "g_loss": "G loss"},
                    show_preview=lambda preview, step: (gan_viz.sample_grid(
                        preview, 8, f"samples at step {step} (the same z every time)", scale=2), None),
                    describe=describe, preview_every=max(1, steps // 10), preview_n=32, card={"dataset": "fashion"},
                    where="the Model menu above (Sample and Interpolate use it)")


def build_tab(page: gr.Blocks) -> None:
    my_models = session_state({})
    with gr.Row():
        model = gr.Dropdown(MENU.choices(), value=next(iter(MENU.available()), None), label="Model",
                            elem_id="gan-dc-model")
        n = gr.Slider(1, 100, value=40, step=1, label="Samples")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (the latent grid)")
        button = gr.Button("Sample", variant="primary")
    image = gr.Image(label="Samples of the chosen DCGAN", format="png", interactive=False, elem_id="gan-dc")
    text = gr.Markdown()
    with gr.Row():
        seed_a = gr.Number(0, precision=0, minimum=0, label="Seed of z_a")
        seed_b = gr.Number(1, precision=0, minimum=0, label="Seed of z_b")
        steps = gr.Slider(3, 16, value=10, step=1, label="Steps")
        interpolate = gr.Button("Interpolate")
    line = gr.Image(label="A straight line in z", format="png", interactive=False)
    gr.Markdown(f"### Train one yourself (capped at {CAPS['fashion']['steps']} steps; the shipped one had 3000)")
    with gr.Row():
        dataset = gr.Dropdown([("Fashion-MNIST", "fashion")], value="fashion", label="Data", interactive=False)
        loss = gr.Dropdown([(v, k) for k, v in gan.LOSS_TITLES.items()], value="nonsaturating", label="Loss")
    panel = TrainPanel("gan-dc", CAPS, dataset, steps=300, lr=2e-4, batch=64, preview="image", curve_label="Losses")

    button.click(dcgan_samples, [n, seed, model, my_models], [image, text], api_name="gan_samples", **EXPENSIVE)
    page.load(first_samples, [n, seed], [image, text], api_visibility="private", **EXPENSIVE)
    interpolate.click(dcgan_interpolate, [seed_a, seed_b, steps, model, my_models], line, api_name="gan_interpolate",
                      **EXPENSIVE)
    panel.wire(make_job, [loss], MENU, [model], my_models, api_name="gan_train")
