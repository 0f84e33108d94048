"""The "2D: train live" tab: a GAN on toy points, trained a few hundred iterations a second and redrawn as it goes
(D as a heat map, the force −∇ₓ L_G on each generated point as arrows), with Pause, single D and
G updates, Reset and two presets.

This browser's run (`playground.gan.LiveRun`: model, optimizers, counts, history) lives in its session state and is
passed in and out of every handler; Pause cancels the training event, and the steps go on from the paused model."""
from __future__ import annotations

import contextlib
import functools
from typing import Any, NamedTuple

import gradio as gr

from playground import data, gan
from playground.gan import GANSpec, LiveRun
from playground.viz import gan as gan_viz

from ..common import (CHEAP, EXPENSIVE, check_choice, check_float, check_int, check_seed, session_state, throttle,
                      user_errors)

TOYS = {"ring8": "ring of 8 Gaussians", "moons": "two moons", "swissroll": "swiss roll", "checkerboard": "checkerboard"}
# Two settings a teacher can show in class, which differ in one thing only: spectral norm on D. The ablation over
# loss × spectral norm × learning rate × 3 seeds (`python -m playground gan-ablation`, docs/gan.md) supports exactly
# this: at lr 1e-3, minimax, non-saturating and hinge covered 8 of 8 modes in all 9 runs without spectral norm and 0–1
# in all 9 runs with it.
PRESETS = {
    "covers": dict(loss="nonsaturating", lr=1e-3, d_lr=1e-3, d_steps=1, latent=8, spectral_norm=False),
    "collapses": dict(loss="nonsaturating", lr=1e-3, d_lr=1e-3, d_steps=1, latent=8, spectral_norm=True),
}
MAX_ITERS = 5000  # per press of Train
VIEW_POINTS = 400  # generated points drawn (a fixed z, so they move smoothly)
PICTURE_EVERY_S = 0.2  # the live picture redraws at most this often
FIELD_LABEL = ("D over the plane, real (grey) and generated (red) points, and in green −∇ₓ L_G: the force on "
               "each generated point, not its motion (it moves only through G's weights)")
PLOTS_EVERY_S = 1.0  # ... and the loss and coverage plots at most this often
REAL_POINTS = 800  # real points drawn under the generated ones


class Live(NamedTuple):
    """What the live view shows, in the order of its outputs."""

    field: Any  # D's heat map with real and generated points and G's push (a picture)
    losses: Any  # D and G losses (a figure, or gr.update() between slower redraws)
    coverage: Any  # modes covered over training (ring8 only)
    status: str  # iteration, updates, settings and the modes covered
    run: LiveRun | None  # this browser's run


def spec2d(loss, lr, d_lr, d_steps, latent, spectral_norm=False) -> GANSpec:
    """The 2D MLP GAN of these settings, each checked. WGAN-GP takes its paper's Adam β = (0, 0.9) (Gulrajani et al.
    2017, Algorithm 1); the other losses DCGAN's (0.5, 0.999)."""
    loss = check_choice(loss, "loss", gan.LOSSES)
    if not isinstance(spectral_norm, bool):
        raise gr.Error(f"spectral norm must be on or off (true or false), got {spectral_norm!r}.")
    beta1, beta2 = gan.paper_betas(loss)
    return GANSpec(network="mlp", loss=loss, spectral_norm=spectral_norm,
                   lr=check_float(lr, "G learning rate", 1e-5, 0.1), d_lr=check_float(d_lr, "D learning rate", 1e-5, 0.1),
                   d_steps=check_int(d_steps, "D steps per G step", 1, 10), latent_dim=check_int(latent, "latent size", 1, 64),
                   batch_size=256, adam_beta1=beta1, adam_beta2=beta2)


def run_for(run: LiveRun | None, dataset, loss, lr, d_lr, d_steps, latent, seed, spectral_norm=False,
            fresh: bool = False) -> LiveRun:
    """This browser's run; a new one when asked, when there is none, or when a setting changed."""
    check_choice(dataset, "dataset", list(TOYS))
    spec, seed = spec2d(loss, lr, d_lr, d_steps, latent, spectral_norm), check_seed(seed)
    if fresh or run is None or (run.data.name, run.spec, run.seed) != (dataset, spec, seed):
        run = LiveRun.start(spec, data.load(dataset, "train", n=4096, seed=seed), seed, VIEW_POINTS)
    return run


def show(run: LiveRun, plots: bool = True) -> Live:
    """The run as it is now; with plots=False the two figures are left as they are (a browser redraws a figure more
    slowly than a picture)."""
    spec, coverage = run.spec, run.count_modes()
    status = (f"Iteration {run.iteration} ({run.d_updates} D updates, {run.g_updates} G updates) · "
              f"{gan.LOSS_TITLES[spec.loss]}{' + spectral norm on D' if spec.spectral_norm else ''} · lr G {spec.lr:g}, "
              f"D {spec.d_lr:g} · {spec.d_steps} D step(s) per G step · Adam β = ({spec.adam_beta1:g}, {spec.adam_beta2:g})")
    if coverage is not None:
        status += (f" · **{coverage['modes_covered']} of 8 modes covered**, {coverage['high_quality']:.0%} of samples "
                   f"high quality")
    picture = gan_viz.live_field(run.view(), run.data.x[:REAL_POINTS].numpy(),
                                 f"{TOYS[run.data.name]} · iteration {run.iteration}")
    if not plots:
        return Live(picture, gr.update(), gr.update(), status, run)
    curve = gan_viz.coverage_figure(run.history) if coverage is not None else None
    return Live(picture, gan_viz.losses_figure(run.history), gr.update(value=curve, visible=curve is not None),
                status, run)


@user_errors
def train2d(dataset, loss, lr, d_lr, d_steps, latent, seed, spectral_norm=False, iters=2000, run=None):
    """Train (or go on training) this browser's 2D GAN, redrawing several times a second; Pause cancels it."""
    iters = check_int(iters, "iterations", 1, MAX_ITERS)
    run = run_for(run, dataset, loss, lr, d_lr, d_steps, latent, seed, spectral_norm)
    picture_ready, plots_ready = throttle(PICTURE_EVERY_S), throttle(PLOTS_EVERY_S)
    picture_ready(), plots_ready()
    yield show(run)
    with contextlib.closing(run.train(iters)) as iterations:  # closing it (Pause) leaves the run where it stopped
        for _ in iterations:
            if picture_ready():
                yield show(run, plots=plots_ready())
    yield show(run)


@user_errors
def paused(run=None):
    """After Pause: the run exactly as the cancelled training left it (waiting a moment for it to close)."""
    if run is None:
        return Live(gr.update(), gr.update(), gr.update(), "Nothing is training.", None)
    with run.hold("look at it"):
        return show(run)


@user_errors
def single_step(which, dataset, loss, lr, d_lr, d_steps, latent, seed, spectral_norm=False, run=None):
    """One D update or one G update of this browser's run (the other network is held fixed)."""
    which = check_choice(which, "step", ["D", "G"])
    run = run_for(run, dataset, loss, lr, d_lr, d_steps, latent, seed, spectral_norm)
    run.d_step() if which == "D" else run.g_step()
    return show(run)


@user_errors
def reset2d(dataset, loss, lr, d_lr, d_steps, latent, seed, spectral_norm=False):
    """A fresh run for this browser (another browser's run is not touched)."""
    return show(run_for(None, dataset, loss, lr, d_lr, d_steps, latent, seed, spectral_norm, fresh=True))


def preset(name):
    p = PRESETS[name]
    return "ring8", p["loss"], p["lr"], p["d_lr"], p["d_steps"], p["latent"], p["spectral_norm"]


def build_tab(page: gr.Blocks) -> None:
    # Compact for a projector (1280×800): settings and actions in one panel, so the picture starts on the first screen.
    with gr.Group():
        with gr.Row():
            dataset = gr.Dropdown([(v, k) for k, v in TOYS.items()], value="ring8", label="Data")
            loss = gr.Dropdown([(v, k) for k, v in gan.LOSS_TITLES.items()], value="nonsaturating", label="Loss")
            seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            lr = gr.Number(1e-3, label="G learning rate")
            d_lr = gr.Number(1e-3, label="D learning rate")
        with gr.Row():
            d_steps = gr.Slider(1, 10, value=1, step=1, label="D steps per G step", scale=2)
            latent = gr.Slider(1, 64, value=8, step=1, label="Latent size", scale=2)
            iters = gr.Slider(50, MAX_ITERS, value=2000, step=50, label="Iterations per Train", scale=2)
            spectral_norm = gr.Checkbox(False, label="Spectral norm on D", scale=1, elem_id="gan-sn")
            covers = gr.Button("Preset: covers all modes", elem_id="gan-preset-covers", scale=1)
            collapses = gr.Button("Preset: collapses", elem_id="gan-preset-collapses", scale=1)
        with gr.Row():
            go_button = gr.Button("▶ Train / resume", variant="primary", elem_id="gan-train")
            pause = gr.Button("❚❚ Pause", elem_id="gan-pause")
            d_button = gr.Button("One D step", elem_id="gan-d-step")
            g_button = gr.Button("One G step", elem_id="gan-g-step")
            reset = gr.Button("Reset", elem_id="gan-reset")
    with gr.Row():
        field = gr.Image(label=FIELD_LABEL, format="png", interactive=False, elem_id="gan-field")
        with gr.Column():
            status = gr.Markdown(elem_id="gan-status")
            losses = gr.Plot(label="Losses")  # drawn by the page's load (reset2d), as every other output here
            coverage = gr.Plot(label="Modes covered over training (ring of 8 only)")
    run = session_state(None)

    settings = [dataset, loss, lr, d_lr, d_steps, latent, seed, spectral_norm]
    outputs = [field, losses, coverage, status, run]
    training = go_button.click(train2d, [*settings, iters, run], outputs, api_name="gan_train2d",
                               show_progress="hidden", **EXPENSIVE)
    pause.click(None, None, None, cancels=[training], queue=False).then(
        paused, run, outputs, api_visibility="private", queue=False)
    d_button.click(functools.partial(single_step, "D"), [*settings, run], outputs, api_name="gan_d_step", **CHEAP)
    g_button.click(functools.partial(single_step, "G"), [*settings, run], outputs, api_name="gan_g_step", **CHEAP)
    reset.click(reset2d, settings, outputs, api_name="gan_reset", cancels=[training], **CHEAP)
    page.load(reset2d, settings, outputs, api_visibility="private", **CHEAP)
    # WGAN-GP's paper trains the critic 5 times per generator step (n_critic = 5); the other losses once
    loss.input(lambda kind: 5 if kind == "wgan-gp" else 1, loss, d_steps, api_visibility="private", **CHEAP)
    for button, name in ((covers, "covers"), (collapses, "collapses")):
        button.click(functools.partial(preset, name), None, [*settings[:6], spectral_norm], api_visibility="private",
                     cancels=[training]).then(reset2d, settings, outputs, api_visibility="private",
                                                      **CHEAP)
