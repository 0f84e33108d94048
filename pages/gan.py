"""/gan: a 2D GAN trained live (D as a heat map, G's push as arrows, pause and single D/G steps), mode
collapse counted on the ring of 8 Gaussians, a shipped DCGAN on Fashion-MNIST, its patch discriminator, and
GAN samples next to VAE and DDPM samples with one diversity figure each."""
from __future__ import annotations

import functools
import time

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch

from playground import autoencoders, checkpoints, data, gan, viz
from playground.diffusion import make_schedule
from playground.diffusion.samplers import sample
from playground.evaluate import unconditional_quality
from playground.gan import GANSpec
from playground.train import train

from .common import (MAX_SEED, TRAINING_STOPS, about, check_choice, check_float, check_int, in_thread, metric_classifier,
                     real_data, session_of, shipped, stop_training, stoppable, user_errors)

TOYS = {"ring8": "ring of 8 Gaussians", "moons": "two moons", "swissroll": "swiss roll", "checkerboard": "checkerboard"}
# Two settings a teacher can show in class; measured on ring8 with seed 0 (README, "Mode collapse, measured").
PRESETS = {
    "covers": dict(loss="nonsaturating", lr=1e-3, d_lr=1e-3, d_steps=1, latent=8),
    "collapses": dict(loss="hinge", lr=1e-3, d_lr=1e-3, d_steps=1, latent=8),
}
MAX_ITERS = 5000  # per press of Train
VIEW_POINTS = 400  # generated points drawn (a fixed z, so they move smoothly)
RENDER_EVERY_S = 0.2  # the live picture redraws at most this often
PLOTS_EVERY_S = 1.0  # ... and the loss and coverage plots at most this often
RUNS: dict[str, dict] = {}  # browser session -> its 2D run (model, optimizers, history)
LIVE_CAPS = dict(steps=600, batch=64)  # DCGAN live training


# ---- the 2D run --------------------------------------------------------------------------------------------

def _spec2d(loss, lr, d_lr, d_steps, latent) -> GANSpec:
    return GANSpec(network="mlp", loss=check_choice(loss, "loss", gan.LOSSES),
                   lr=check_float(lr, "G learning rate", 1e-5, 0.1), d_lr=check_float(d_lr, "D learning rate", 1e-5, 0.1),
                   d_steps=check_int(d_steps, "D steps per G step", 1, 10), latent_dim=check_int(latent, "latent size", 1, 64),
                   batch_size=256, adam_beta1=0.5)


def _run_for(request, dataset, loss, lr, d_lr, d_steps, latent, seed, fresh=False) -> dict:
    """This session's run; a new one when asked, when there is none, or when a setting changed."""
    check_choice(dataset, "dataset", list(TOYS))
    spec, seed = _spec2d(loss, lr, d_lr, d_steps, latent), check_int(seed, "seed", 0, MAX_SEED)
    key, session = (dataset, spec, seed), session_of(request)
    run = RUNS.get(session)
    if fresh or run is None or run["key"] != key:
        torch.manual_seed(seed)
        model = spec.build()
        run = RUNS[session] = {
            "key": key, "spec": spec, "dataset": dataset, "model": model, "optimizers": spec.optimizers(model),
            "data": data.load(dataset, "train", n=4096, seed=seed), "iteration": 0, "d_updates": 0, "g_updates": 0,
            "z": torch.randn(VIEW_POINTS, spec.latent_dim, generator=torch.Generator().manual_seed(seed + 1)),
            "generator": torch.Generator().manual_seed(seed + 2),
            "history": {"it": [], "d_loss": [], "g_loss": [], "cov_it": [], "covered": [], "quality": []}}
    return run


def _record(run, metrics) -> None:
    h = run["history"]
    h["it"].append(run["iteration"])
    h["d_loss"].append(metrics.get("d_loss", h["d_loss"][-1] if h["d_loss"] else np.nan))
    h["g_loss"].append(metrics.get("g_loss", h["g_loss"][-1] if h["g_loss"] else np.nan))


def render(run, plots: bool = True) -> tuple:
    """(the field picture, loss curves, coverage curve, status line) for the run as it is now; with plots=False the
    two Plotly figures are left as they are (the browser redraws those more slowly than a picture)."""
    model, spec, h = run["model"], run["spec"], run["history"]
    model.eval()
    axis, field = gan.discriminator_field(model)
    wgan = spec.loss == "wgan-gp"
    if not wgan:
        field = 1 / (1 + np.exp(-field))
    points, pull = gan.generator_pull(model, spec, run["z"])
    real = run["data"].x[:800].numpy()
    status = (f"Iteration {run['iteration']} ({run['d_updates']} D updates, {run['g_updates']} G updates) · "
              f"{gan.LOSS_TITLES[spec.loss]} · lr G {spec.lr:g}, D {spec.d_lr:g} · {spec.d_steps} D step(s) per G step")
    coverage = None
    if run["dataset"] == "ring8":
        c = gan.mode_coverage(model.sample(2000, torch.Generator().manual_seed(0)).numpy())
        if not h["cov_it"] or h["cov_it"][-1] != run["iteration"]:
            h["cov_it"].append(run["iteration"])
            h["covered"].append(c["modes_covered"])
            h["quality"].append(c["high_quality"])
        status += f" · **{c['modes_covered']} of 8 modes covered**, {c['high_quality']:.0%} of samples high quality"
        if plots:
            coverage = go.Figure([go.Scatter(x=h["cov_it"], y=h["covered"], name="modes covered (of 8)", mode="lines+markers"),
                                  go.Scatter(x=h["cov_it"], y=[8 * q for q in h["quality"]], name="high-quality share × 8",
                                             mode="lines", line=dict(dash="dot"))])
            coverage.update_layout(title="Mode collapse, counted (2000 samples at each redraw)", height=300,
                                   margin=dict(l=40, r=10, t=40, b=30), template="plotly_white",
                                   xaxis_title="iteration", yaxis=dict(range=[0, 8.5]))
    if wgan:
        reach = max(float(np.abs(field).max()), 1e-6)
        zrange, name = (-reach, reach), "D's score (WGAN critic)"
    else:
        zrange, name = (0.0, 1.0), "D(x) = P(real)"
    field_fig = viz.gan_field_image(axis, field, real, points, pull, f"{TOYS[run['dataset']]} · iteration {run['iteration']}",
                                    name, zrange)
    if not plots:
        return field_fig, gr.update(), gr.update(), status
    losses = viz.loss_figure(h["it"], {"D loss": h["d_loss"], "G loss": h["g_loss"]}, "losses", log=False) \
        if h["it"] else go.Figure()
    return field_fig, losses, gr.update(value=coverage, visible=coverage is not None), status


@user_errors
def train2d(dataset, loss, lr, d_lr, d_steps, latent, seed, iters, request: gr.Request = None):
    """Train (or go on training) this session's 2D GAN, redrawing several times a second; Pause stops it."""
    iters = check_int(iters, "iterations", 1, MAX_ITERS)
    run = _run_for(request, dataset, loss, lr, d_lr, d_steps, latent, seed)
    last = [0.0, 0.0]  # last redraw of the picture, of the plots
    yield render(run)

    def work(push, should_stop):
        def callback(step, total, metrics, _):  # runs in the training thread, between steps: safe to read the nets
            run["iteration"] += 1
            run["d_updates"] += run["spec"].d_steps
            run["g_updates"] += 1
            _record(run, metrics)
            now = time.perf_counter()
            if now - last[0] >= RENDER_EVERY_S or step == total:
                plots = now - last[1] >= PLOTS_EVERY_S
                last[0], last[1] = now, now if plots else last[1]
                push(render(run, plots))
        return train(run["spec"], run["data"], iters, seed=run["key"][2] + run["iteration"], callback=callback,
                     should_stop=should_stop, resume=(run["model"], run["optimizers"]))

    with stoppable(request) as stop:
        for done, update in in_thread(work, lambda item: item, stop):
            if not done:
                yield update
    yield render(run)


@user_errors
def single_step(which, dataset, loss, lr, d_lr, d_steps, latent, seed, request: gr.Request = None):
    """One D update or one G update of this session's run (the other network is held fixed)."""
    which = check_choice(which, "step", ["D", "G"])
    if session_of(request) in TRAINING_STOPS:
        raise gr.Error("The run is training: press Pause first, then step it one update at a time.")
    run = _run_for(request, dataset, loss, lr, d_lr, d_steps, latent, seed)
    model, spec = run["model"].train(), run["spec"]
    if which == "D":
        index = torch.randint(0, len(run["data"]), (spec.batch_size,), generator=run["generator"])
        metrics = spec.d_step(model, run["optimizers"][0], run["data"].x[index], run["generator"])
        run["d_updates"] += 1
    else:
        metrics = spec.g_step(model, run["optimizers"][1], spec.batch_size, run["generator"])
        run["g_updates"] += 1
        run["iteration"] += 1  # an iteration ends with its G update
    _record(run, metrics)
    return render(run)


@user_errors
def reset2d(dataset, loss, lr, d_lr, d_steps, latent, seed, request: gr.Request = None):
    return render(_run_for(request, dataset, loss, lr, d_lr, d_steps, latent, seed, fresh=True))


def preset(name):
    p = PRESETS[name]
    return "ring8", p["loss"], p["lr"], p["d_lr"], p["d_steps"], p["latent"]


@user_errors
def collapse_side_by_side(iters, seed, progress=gr.Progress()):
    """Both presets on the ring, from the same seed; modes covered over training, and the final samples."""
    iters = check_int(iters, "iterations", 100, 4000)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    ds = data.load("ring8", "train", n=4096, seed=seed)
    curves, finals = {}, {}
    for k, (name, p) in enumerate(PRESETS.items()):
        spec = _spec2d(p["loss"], p["lr"], p["d_lr"], p["d_steps"], p["latent"])
        counted = curves[name] = {"it": [], "covered": [], "quality": []}

        def count(step, total, metrics, preview, counted=counted, k=k):
            if preview is not None:
                c = gan.mode_coverage(preview.numpy())
                counted["it"].append(step)
                counted["covered"].append(c["modes_covered"])
                counted["quality"].append(c["high_quality"])
                progress((k + step / total) / len(PRESETS), desc=f"{name}: iteration {step}")

        model, _ = train(spec, ds, iters, seed=seed, callback=count, preview_every=max(1, iters // 20), preview_n=2000)
        finals[name] = model.sample(1000, torch.Generator().manual_seed(0)).numpy()
    fig = go.Figure([go.Scatter(x=c["it"], y=c["covered"], name=f"“{n}” preset: {gan.LOSS_TITLES[PRESETS[n]['loss']]}",
                                mode="lines+markers") for n, c in curves.items()])
    fig.update_layout(title="Modes covered (of 8), 2000 samples at each count", height=320, template="plotly_white",
                      margin=dict(l=40, r=10, t=40, b=30), xaxis_title="iteration", yaxis=dict(range=[0, 8.5]))
    rows = [f"| {n} | {gan.LOSS_TITLES[PRESETS[n]['loss']]}, lr G {PRESETS[n]['lr']:g} / D {PRESETS[n]['d_lr']:g} | "
            f"{c['covered'][-1]} of 8 | {c['quality'][-1]:.0%} | {min(c['covered'])}–{max(c['covered'])} |"
            for n, c in curves.items()]
    table = ("| preset | settings | modes covered at the end | high-quality share | range over training |\n"
             "|---|---|---|---|---|\n" + "\n".join(rows) + "\n\nA sample is *high quality* within 3σ of a mode's "
             "centre; a mode is *covered* when it holds at least a quarter of its fair share (1/8) of those samples.")
    return fig, viz.scatter_row(finals, limit=1.1), table


# ---- DCGAN on Fashion-MNIST -------------------------------------------------------------------------------

@user_errors
def dcgan_samples(n, seed):
    """A grid of samples from a fixed latent grid (the seed fixes z), with the card's measured figures."""
    n = check_int(n, "number of samples", 1, 100)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    model, _, card = shipped("gan-fashion")
    x = model.sample(n, torch.Generator().manual_seed(seed))
    m = card["metrics"]
    text = (f"Measured on {m.get('eval_samples', 1000)} samples (the checkpoint's card): Fréchet distance "
            f"{m.get('frechet_distance', float('nan')):.2f} to real test images; diversity {m.get('diversity', float('nan')):.2f} "
            f"against {m.get('real_diversity', float('nan')):.2f} for real images; classifier confidence "
            f"{m.get('confidence', float('nan')):.2f} (real: {m.get('real_confidence', float('nan')):.2f}). "
            f"Trained {card['steps_trained']} iterations in {card['wall_time_s']:.0f} s with `{card['command']}`.")
    return viz.image_grid(x, nrow=min(n, 10), scale=3), text


@user_errors
def dcgan_interpolate(seed_a, seed_b, steps):
    """G((1 − λ) z_a + λ z_b): a GAN's latent space is smooth too."""
    steps = check_int(steps, "steps", 3, 16)
    model, spec, _ = shipped("gan-fashion")
    z = torch.stack([model.noise(1, torch.Generator().manual_seed(check_int(s, "seed", 0, MAX_SEED)))[0]
                     for s in (seed_a, seed_b)])
    lam = torch.linspace(0, 1, steps).unsqueeze(1)
    with torch.no_grad():
        x = model((1 - lam) * z[0] + lam * z[1])
    return viz.labelled_grid(x, steps, [""], f"G((1 − λ) z_a + λ z_b), seeds {seed_a} → {seed_b}",
                             [f"λ={v:.2f}" for v in lam[:, 0].tolist()], scale=3)


@user_errors
def dcgan_train(steps, batch, loss, seed, request: gr.Request = None):
    """A capped DCGAN run from scratch with the shared loop: progress, losses, a sample grid every N steps."""
    spec = GANSpec(network="dcgan", loss=check_choice(loss, "loss", gan.LOSSES), latent_dim=32, width=32,
                   batch_size=check_int(batch, "batch size", 8, LIVE_CAPS["batch"]), lr=2e-4, d_lr=2e-4)
    steps = check_int(steps, "steps", 1, LIVE_CAPS["steps"])
    seed = check_int(seed, "seed", 0, MAX_SEED)
    ds, h, began = real_data("fashion", "train"), {"it": [], "d_loss": [], "g_loss": []}, time.perf_counter()

    def work(push, should_stop):
        return train(spec, ds, steps, seed=seed, preview_every=max(1, steps // 10), preview_n=32,
                     callback=lambda *a: push(a), should_stop=should_stop)

    def show(item):
        step, total, metrics, preview = item
        h["it"].append(step)
        h["d_loss"].append(metrics["d_loss"])
        h["g_loss"].append(metrics["g_loss"])
        if preview is None and step % max(1, total // 50) and step != total:
            return None
        text = (f"Step {step} of {total}: D loss {metrics['d_loss']:.3f}, G loss {metrics['g_loss']:.3f}, "
                f"D accuracy {metrics['d_accuracy']:.0%}, {step / (time.perf_counter() - began):.1f} steps/s")
        image = viz.labelled_grid(preview, 8, [""] * 4, f"samples at step {step} (the same z every time)", scale=2) \
            if preview is not None else gr.update()
        return text, viz.loss_figure(h["it"], {"D loss": h["d_loss"], "G loss": h["g_loss"]}, "losses", log=False), image

    with stoppable(request) as stop:
        for done, update in in_thread(work, show, stop):
            if not done:
                yield update
                continue
            _, run = update
            stopped = " (stopped early)" if run["stopped_early"] else ""
            yield (f"Done: {len(run['step'])} steps in {run['wall_time_s']:.1f} s{stopped}. The shipped model had "
                   f"{shipped('gan-fashion')[2]['steps_trained']}.", gr.update(), gr.update())


@user_errors
def patch_maps(label, index, seed):
    """The shipped DCGAN's patch discriminator on a real test image and on a generated one."""
    label = check_int(label, "class", 0, 9)
    index = check_int(index, "index", 0, data.class_count("fashion", label) - 1)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    model, _, _ = shipped("gan-fashion")
    real, _ = data.example("fashion", label, index)
    fake = model.sample(1, torch.Generator().manual_seed(seed))[0]
    with torch.no_grad():
        scores = torch.sigmoid(model.discriminator.patches(torch.stack([real, fake])))
    picture = viz.labelled_strip({f"real: {data.FASHION_CLASSES[label]} (mean {scores[0].mean():.2f})":
                                  viz.patch_overlay(real, scores[0]),
                                  f"generated, seed {seed} (mean {scores[1].mean():.2f})": viz.patch_overlay(fake, scores[1])})
    return picture, (f"Each cell is one patch's P(real) = σ(D's patch logit); a patch sees a 26×26 window centred on its 4×4 cell. "
                     f"The image's score is the mean: real {scores[0].mean():.2f}, generated {scores[1].mean():.2f}. "
                     f"Cells above 0.5 (blue) look real to D, cells below (red) look fake.")


@user_errors
def compare_families(n, seed, progress=gr.Progress()):
    """n unconditional samples each from the GAN, the VAE (z ~ N(0, I)) and the DDPM (null class, DDIM-25)."""
    n = check_int(n, "number of samples", 8, 64)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    classifier = metric_classifier()
    if classifier is None:
        raise gr.Error("The metric classifier (classifier-fashion) is not shipped, so nothing can be measured.")
    g = torch.Generator().manual_seed(seed)
    samples = {"GAN (DCGAN)": shipped("gan-fashion")[0].sample(n, g),
               "VAE: decode(z ~ N(0, I))": autoencoders.prior_samples(shipped("vae-fashion")[0], n, g)}
    progress(0.3, desc="DDPM: 25 DDIM steps")
    ddpm, spec, _ = shipped("ddpm-fashion-cosine")
    null = torch.full((n,), spec.num_classes)  # the null class: no label, as trained with label dropout
    samples["DDPM (DDIM-25, no class)"] = sample(ddpm, make_schedule(spec.schedule, spec.num_steps),
                                                 torch.randn(n, 1, 28, 28, generator=g), "ddim", 25, y=null, generator=g)
    real = real_data("fashion", "test", n)
    rows, grids = [], []
    for name, x in samples.items():
        q = unconditional_quality(x, classifier, real)
        grids.append(viz.labelled_grid(x[:24], 6, [""] * 4, f"{name} · diversity {q['diversity']:.2f}", scale=2))
        rows.append(f"| {name} | {q['diversity']:.2f} | {q['frechet_distance']:.1f} | {q['confidence']:.2f} |")
    q = unconditional_quality(real.x, classifier, real)
    rows.append(f"| real test images | {q['diversity']:.2f} | 0 | {q['confidence']:.2f} |")
    table = (f"| model | diversity | Fréchet distance to {n} real images | classifier confidence |\n|---|---|---|---|\n"
             + "\n".join(rows) + "\n\n**Diversity**: mean distance between the metric classifier's features of two "
             "samples (higher = more varied). **Confidence**: its mean top-class probability (higher = more clearly "
             f"*some* garment). With only {n} samples the Fréchet distance is noisy; the cards hold 1000-sample figures.")
    return viz.side_by_side(grids), table


# ---- layout ------------------------------------------------------------------------------------------------

ABOUT = ("A **generator** G turns noise z into a sample; a **discriminator** D looks at a sample and says how real it "
         "seems. They are trained in turn against each other: D to tell real from generated, G to fool D. Nothing "
         "ever computes a probability of a sample — a GAN is not a density model — so the only signal G gets is D's "
         "gradient: the green arrows below. Training is a game, not a descent, so it can circle, stall, or *collapse* "
         "onto a few modes of the data.")


def build(page: gr.Blocks) -> None:
    about("GANs: a generator against a discriminator", ABOUT,
          "$\\min_G \\max_D\\ \\mathbb{E}_{x}[\\log D(x)] + \\mathbb{E}_{z}[\\log(1 - D(G(z)))]$; in practice G "
          "minimises $-\\log D(G(z))$ (non-saturating).",
          "Goodfellow et al. 2014, eq. 1 and §3 · Radford et al. 2016 (DCGAN) · Gulrajani et al. 2017 (WGAN-GP) · "
          "Miyato et al. 2018 (spectral norm, hinge) · Isola et al. 2017 (patch discriminator)")
    with gr.Tabs():
        with gr.Tab("2D: train live", id="live"):
            with gr.Row():
                dataset = gr.Dropdown([(v, k) for k, v in TOYS.items()], value="ring8", label="Data")
                loss = gr.Dropdown([(v, k) for k, v in gan.LOSS_TITLES.items()], value="nonsaturating", label="Loss")
                seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            with gr.Row():
                lr = gr.Number(1e-3, label="G learning rate")
                d_lr = gr.Number(1e-3, label="D learning rate")
                d_steps = gr.Slider(1, 10, value=1, step=1, label="D steps per G step")
                latent = gr.Slider(1, 64, value=8, step=1, label="Latent size")
            with gr.Row():
                iters = gr.Slider(50, MAX_ITERS, value=2000, step=50, label="Iterations per press of Train")
                covers = gr.Button("Preset: covers all modes", elem_id="gan-preset-covers")
                collapses = gr.Button("Preset: collapses", elem_id="gan-preset-collapses")
            with gr.Row():
                go_button = gr.Button("▶ Train / resume", variant="primary", elem_id="gan-train")
                pause = gr.Button("❚❚ Pause", elem_id="gan-pause")
                d_button = gr.Button("One D step", elem_id="gan-d-step")
                g_button = gr.Button("One G step", elem_id="gan-g-step")
                reset = gr.Button("Reset", elem_id="gan-reset")
            status = gr.Markdown(elem_id="gan-status")
            with gr.Row():
                field = gr.Image(label="D over the plane, real (grey) and generated (red) points, G's next push (green)",
                                 format="png", interactive=False, elem_id="gan-field")
                with gr.Column():
                    losses = gr.Plot(label="Losses")
                    coverage = gr.Plot(label="Modes covered over training (ring of 8 only)")

        with gr.Tab("Mode collapse, measured", id="collapse"):
            gr.Markdown("Both presets on the ring of 8 Gaussians from the same seed, counted as they train.")
            with gr.Row():
                mc_iters = gr.Slider(100, 4000, value=2000, step=100, label="Iterations")
                mc_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            mc_button = gr.Button("Train both and count", variant="primary")
            mc_plot = gr.Plot(label="Modes covered over training")
            mc_points = gr.Plot(label="Final samples")
            mc_table = gr.Markdown()

        with gr.Tab("DCGAN on Fashion-MNIST", id="dcgan"):
            with gr.Row():
                dc_n = gr.Slider(1, 100, value=40, step=1, label="Samples")
                dc_seed = gr.Number(0, precision=0, minimum=0, label="Seed (the latent grid)")
                dc_button = gr.Button("Sample", variant="primary")
            dc_image = gr.Image(label="Samples of the shipped DCGAN", format="png", interactive=False, elem_id="gan-dc")
            dc_text = gr.Markdown()
            with gr.Row():
                ip_a = gr.Number(0, precision=0, minimum=0, label="Seed of z_a")
                ip_b = gr.Number(1, precision=0, minimum=0, label="Seed of z_b")
                ip_steps = gr.Slider(3, 16, value=10, step=1, label="Steps")
                ip_button = gr.Button("Interpolate")
            ip_image = gr.Image(label="A straight line in z", format="png", interactive=False)
            gr.Markdown(f"### Train one yourself (capped at {LIVE_CAPS['steps']} steps; the shipped one had 3000)")
            with gr.Row():
                tr_steps = gr.Slider(10, LIVE_CAPS["steps"], value=300, step=10, label="Steps (capped)")
                tr_batch = gr.Slider(8, LIVE_CAPS["batch"], value=64, step=8, label="Batch size (capped)")
                tr_loss = gr.Dropdown([(v, k) for k, v in gan.LOSS_TITLES.items()], value="nonsaturating", label="Loss")
                tr_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            with gr.Row():
                tr_button = gr.Button("Train", variant="primary")
                tr_stop = gr.Button("Stop")
            tr_text = gr.Markdown()
            with gr.Row():
                tr_curve = gr.Plot(label="Losses")
                tr_image = gr.Image(label="Samples as training goes", format="png", interactive=False)

        with gr.Tab("Patch discriminator", id="patches"):
            gr.Markdown("The DCGAN's D does not give one verdict per image: it scores every patch (the idea VQGAN "
                        "uses to make its decoder sharp). Here are its per-patch verdicts on a real and a generated "
                        "image.")
            with gr.Row():
                pt_label = gr.Dropdown([(c, k) for k, c in enumerate(data.FASHION_CLASSES)], value=0, label="Real image: class")
                pt_index = gr.Number(0, precision=0, minimum=0, label="Index")
                pt_seed = gr.Number(0, precision=0, minimum=0, label="Generated image: seed")
                pt_button = gr.Button("Show patch verdicts", variant="primary")
            pt_image = gr.Image(label="P(real) per patch", format="png", interactive=False)
            pt_text = gr.Markdown()

        with gr.Tab("GAN vs VAE vs DDPM", id="compare"):
            gr.Markdown("The same number of unconditional samples from three families trained on the same data, "
                        "each measured with the same feature net.")
            with gr.Row():
                cf_n = gr.Slider(8, 64, value=48, step=8, label="Samples per model")
                cf_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
                cf_button = gr.Button("Sample and measure", variant="primary")
            cf_image = gr.Image(label="GAN, VAE, DDPM", format="png", interactive=False)
            cf_text = gr.Markdown()

    settings = [dataset, loss, lr, d_lr, d_steps, latent, seed]
    live_outputs = [field, losses, coverage, status]
    go_button.click(train2d, [*settings, iters], live_outputs, api_name="gan_train2d", show_progress="hidden")
    pause.click(stop_training, None, None, api_visibility="private", queue=False)
    d_button.click(functools.partial(single_step, "D"), settings, live_outputs, api_name="gan_d_step")
    g_button.click(functools.partial(single_step, "G"), settings, live_outputs, api_name="gan_g_step")
    reset.click(reset2d, settings, live_outputs, api_name="gan_reset")
    page.load(reset2d, settings, live_outputs, api_visibility="private")
    for button, name in ((covers, "covers"), (collapses, "collapses")):
        button.click(functools.partial(preset, name), None, settings[:6], api_visibility="private").then(
            reset2d, settings, live_outputs, api_visibility="private")
    mc_button.click(collapse_side_by_side, [mc_iters, mc_seed], [mc_plot, mc_points, mc_table], api_name="gan_collapse")
    dc_button.click(dcgan_samples, [dc_n, dc_seed], [dc_image, dc_text], api_name="gan_samples")
    page.load(lambda n, seed: dcgan_samples(n, seed) if "gan-fashion" in checkpoints.available() else
              (None, "The DCGAN is not shipped in this copy: `python -m playground train gan-fashion` makes it."),
              [dc_n, dc_seed], [dc_image, dc_text], api_visibility="private")
    ip_button.click(dcgan_interpolate, [ip_a, ip_b, ip_steps], ip_image, api_name="gan_interpolate")
    tr_button.click(dcgan_train, [tr_steps, tr_batch, tr_loss, tr_seed], [tr_text, tr_curve, tr_image], api_name="gan_train")
    tr_stop.click(stop_training, None, tr_text, api_visibility="private", queue=False)
    pt_button.click(patch_maps, [pt_label, pt_index, pt_seed], [pt_image, pt_text], api_name="gan_patches")
    cf_button.click(compare_families, [cf_n, cf_seed], [cf_image, cf_text], api_name="gan_compare")


def demo() -> gr.Blocks:
    with gr.Blocks(title="GANs") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
