"""/reverse: pure noise turned into a picture (or a 2D cloud) by a trained denoiser, step by step."""
from __future__ import annotations

import functools
import tempfile
import time
import uuid
from collections import OrderedDict

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw

from playground import checkpoints, data, viz
from playground.diffusion.ddpm import DiffusionSpec
from playground.diffusion import make_schedule
from playground.diffusion.trajectory import record, score_field
from playground.metrics import class_fidelity, features_and_probs, sliced_wasserstein
from playground.nn import MLPConfig, UNetConfig
from playground.train import train

from .common import (MAX_SEED, about, check_choice, check_float, check_int, in_thread, keep, metric_classifier, shipped,
                     stop_training, stoppable, user_errors)

MAX_IMAGES, MAX_POINTS = 64, 2000
DDIM_ROW = (5, 10, 20, 50, 100)
RUNS: OrderedDict[str, dict] = OrderedDict()  # run id -> recorded trajectory and what made it (last 16 runs)
USER_MODELS: OrderedDict[str, dict] = OrderedDict()  # model id -> a model someone trained here (last 32)
LIVE_CAPS = {"toy": dict(steps=5000, batch=1024), "fashion": dict(steps=1000, batch=64)}
DATASET_TITLES = {"fashion": "Fashion-MNIST", **data.toy2d.TOY2D_TITLES}


# ---- models: shipped checkpoints and the ones users train here ------------------------------

def _shipped(name: str):
    model, spec, card = shipped(name)
    return {"model": model, "spec": spec, "dataset": card["dataset"], "label": card.get("summary", name),
            "card": card}


def shipped_choices() -> list[tuple[str, str]]:
    names = [n for n in checkpoints.available() if n.startswith("ddpm-")]
    order = {"fashion": 0, **{k: i + 1 for i, k in enumerate(data.TOY2D)}}
    names.sort(key=lambda n: (order.get(n.split("-")[1], 99), n))
    return [(f"{DATASET_TITLES.get(n.split('-')[1], n.split('-')[1])} · {n.split('-')[2]} schedule (shipped)", n)
            for n in names]


def get_model(name) -> dict:
    if isinstance(name, str) and name.startswith("user:") and name[5:] in USER_MODELS:
        return USER_MODELS[name[5:]]
    valid = [value for _, value in shipped_choices()]
    check_choice(name, "model", valid)
    return _shipped(name)


def _class_names(entry) -> list[str]:
    return data.FASHION_CLASSES if entry["dataset"] == "fashion" else []


def _is_2d(entry) -> bool:
    return entry["spec"].network == "mlp"


# ---- generate and record ---------------------------------------------------------------------

def _check_sampling(entry, sampler, steps, eta, n, label):
    spec = entry["spec"]
    check_choice(sampler, "sampler", ["ddpm", "ddim"])
    steps = spec.num_steps if sampler == "ddpm" else check_int(steps, "DDIM steps", 1, spec.num_steps)
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 <= eta <= 1:  # NaN fails too
        raise gr.Error(f"η must be a number from 0 to 1; got {eta!r}.")
    n = check_int(n, "number of samples", 1, MAX_POINTS if _is_2d(entry) else MAX_IMAGES)
    classes = spec.num_classes
    if label in (None, "", -1) or classes is None:
        y = None
    else:
        y = check_int(label, "class label", 0, classes - 1)
    return steps, float(eta), n, y


def _x_T(entry, n, seed):
    spec = entry["spec"]
    seed = check_int(seed, "seed", 0, MAX_SEED)
    shape = (n, 2) if _is_2d(entry) else (n, spec.unet.in_channels, spec.unet.image_size, spec.unet.image_size)
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)), seed


def _grid(x: torch.Tensor) -> np.ndarray:
    n = x.shape[0]
    nrow = int(np.ceil(np.sqrt(n)))
    return viz.image_grid(x.float(), nrow=nrow, scale=viz.fit_scale(x.shape[-1] * nrow, 300), pad=1)


@user_errors
def generate(model_name, seed, sampler, steps, eta, n, label):
    """Sample live: yields (live view, 2D live view, progress text, run id) while sampling, then the run id."""
    entry = get_model(model_name)
    steps, eta, n, y = _check_sampling(entry, sampler, steps, eta, n, label)
    x_T, seed = _x_T(entry, n, seed)
    schedule = make_schedule(entry["spec"].schedule, entry["spec"].num_steps)
    every = max(1, steps // 25)
    began = time.perf_counter()

    def work(push, should_stop):
        return record(entry["model"], schedule, x_T, sampler=sampler, num_steps=steps, eta=eta, y=y,
                      generator=torch.Generator().manual_seed(seed), should_stop=should_stop,
                      on_step=lambda i, total, step: push((i, total, step)) if i % every == 0 or i == total else None)

    def show(item):
        i, total, step = item
        text = f"Sampling: step {i} of {total} (t = {step.t}), {time.perf_counter() - began:.1f} s"
        if _is_2d(entry):
            return None, viz.points_frame(step.x_t.numpy(), title=f"step {i} of {total}"), text, None
        return _grid(step.x_t.clamp(-1, 1)), None, text, None

    for done, update in in_thread(work, show):
        if done:
            trajectory = update
            run_id = uuid.uuid4().hex
            keep(RUNS, run_id, {"trajectory": trajectory, "model": model_name, "entry": entry, "y": y, "seed": seed,
                                "seconds": time.perf_counter() - began}, 16)
            final = trajectory.final
            text = (f"Done: {trajectory.sampler}, {len(trajectory) - 1} recorded steps in "
                    f"{RUNS[run_id]['seconds']:.1f} s. Scrub through them below.")
            if _is_2d(entry):
                yield None, viz.points_frame(final.numpy(), title="samples"), text, run_id
            else:
                yield _grid(final), None, text, run_id
        else:
            yield update


def _run(run_id) -> dict:
    if not isinstance(run_id, str) or run_id not in RUNS:
        raise gr.Error("That run is not in memory (press Generate first; only the last 16 runs are kept).")
    return RUNS[run_id]


@user_errors
def show_frame(run_id, frame):
    """One recorded step, from the cache: x_t, ε̂, x̂_0 (or the 2D view), the numbers, and the schedule marker."""
    run = _run(run_id)
    tr, entry = run["trajectory"], run["entry"]
    k = check_int(frame, "frame", 0, len(tr) - 1)
    t, alpha_bar = tr.ts[k], tr.alpha_bar[k]
    if t < 0:
        info = f"**Finished sample** (frame {k} of {len(tr) - 1}): ᾱ = 1, no noise left."
    else:
        info = (f"**Frame {k} of {len(tr) - 1}**, {tr.sampler}: the model looks at x_t at t = {t + 1} of "
                f"{entry['spec'].num_steps} (schedule index {t}), where ᾱ_t = {alpha_bar:.4f}, signal "
                f"√ᾱ_t = {np.sqrt(alpha_bar):.3f}, noise √(1−ᾱ_t) = {np.sqrt(1 - alpha_bar):.3f}, "
                f"SNR = {alpha_bar / (1 - alpha_bar):.4g}. It predicts ε̂ and, from it, "
                "x̂₀ = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t.")
    schedule = make_schedule(entry["spec"].schedule, entry["spec"].num_steps)
    plot = viz.schedule_figure({schedule.kind: {"alpha_bar": schedule.alphas_cumprod.numpy(),
                                                "log_snr": schedule.snr.log().numpy()}},
                               ui_t=(t + 1) if t >= 0 else None)
    if _is_2d(entry):
        field = None
        if t >= 0:
            grid, _, score = score_field(entry["model"], schedule, t, run["y"])
            field = (grid.numpy(), score.numpy())
        trails = tr.x_t[: k + 1, :40].float().numpy()
        figure = viz.points_frame(tr.x_t[k].float().numpy(), tr.x0[k].float().numpy() if t >= 0 else None,
                                  trails=trails, field=field, title=f"frame {k}: t = {t + 1 if t >= 0 else 0}")
        return None, None, None, figure, info, plot
    eps_view = (tr.eps[k].float() / 3).clamp(-1, 1)  # ε̂ ~ N(0, I): shown as ε̂/3, so ±3σ fills the grey range
    return _grid(tr.x_t[k].clamp(-1, 1)), _grid(eps_view), _grid(tr.x0[k]), None, info, plot


def _frame_count(run_id):
    run = _run(run_id)
    return gr.update(maximum=len(run["trajectory"]) - 1, value=0)


def _step(run_id, frame, delta):
    run = _run(run_id)
    return int(np.clip(int(frame or 0) + delta, 0, len(run["trajectory"]) - 1))


def play_frames(run_id, frame):
    run = _run(run_id)
    last = len(run["trajectory"]) - 1
    start = 0 if int(frame or 0) >= last else int(frame or 0)
    stride = max(1, last // 60)
    for k in list(range(start, last, stride)) + [last]:
        began = time.perf_counter()
        yield (k, *show_frame(run_id, k))
        time.sleep(max(0.0, 1 / 12 - (time.perf_counter() - began)))


def _dots(points: np.ndarray, side: int = 256, limit: float = 2.5) -> np.ndarray:
    canvas = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(canvas)
    for x, y in ((points + limit) / (2 * limit) * side):
        draw.ellipse([x - 1.5, side - y - 1.5, x + 1.5, side - y + 1.5], fill=(31, 119, 180))
    return np.asarray(canvas)


@user_errors
def export_gif(run_id):
    run = _run(run_id)
    tr = run["trajectory"]
    frames = []
    for k in np.linspace(0, len(tr) - 1, min(60, len(tr))).round().astype(int):
        if _is_2d(run["entry"]):
            frames.append(_dots(tr.x_t[k].float().numpy()))
        else:
            frames.append(np.concatenate([_grid(tr.x_t[k].clamp(-1, 1)), _grid(tr.x0[k])], axis=1))
    path = tempfile.NamedTemporaryFile(prefix="reverse-", suffix=".gif", delete=False).name
    return str(viz.save_gif(frames, path, fps=12, hold_last=2.0))


# ---- compare samplers and schedules -------------------------------------------------------------

def _measure(entry, samples: torch.Tensor, labels: torch.Tensor | None) -> dict:
    """The page's quality figure for a batch of samples (2D: distance to data; images: the classifier)."""
    if _is_2d(entry):
        fresh = data.load_toy2d(entry["dataset"], "test", n=len(samples), seed=1).x
        return {"sliced Wasserstein to fresh data": sliced_wasserstein(samples, fresh)}
    classifier = metric_classifier()
    if classifier is None or labels is None:
        return {}
    _, probs = features_and_probs(classifier, samples.float())
    fid = class_fidelity(probs, labels.numpy())
    return {"classifier accuracy on the requested class": fid["accuracy"], "mean confidence": fid["confidence"]}


def _labels_for(entry, n, y):
    classes = entry["spec"].num_classes
    if classes is None:
        return None
    return torch.full((n,), y, dtype=torch.long) if y is not None else torch.arange(n) % classes


def _row_view(entry, rows: dict[str, torch.Tensor]):
    if _is_2d(entry):
        return None, viz.scatter_row({name: x.numpy() for name, x in rows.items()})
    images = torch.cat([x[:8] for x in rows.values()])  # each row: the first 8 samples
    return viz.image_grid(images, nrow=8, scale=3, pad=2), None


@user_errors
def compare_samplers(model_name, seed, n, eta, label, progress=gr.Progress()):
    """DDPM over all T, then DDIM with 5 … 100 steps, all from the same x_T, each measured."""
    entry = get_model(model_name)
    _, eta, n, y = _check_sampling(entry, "ddim", 10, eta, n, label)
    x_T, seed = _x_T(entry, n, seed)
    spec = entry["spec"]
    schedule = make_schedule(spec.schedule, spec.num_steps)
    labels = _labels_for(entry, n, y)
    runs = [("ddpm", spec.num_steps)] + [("ddim", s) for s in DDIM_ROW if s <= spec.num_steps]
    header = ["sampler", "network calls", "seconds", *_measure_names(entry)]
    rows, table = {}, ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for sampler, steps in progress.tqdm(runs, desc="sampling"):
        began = time.perf_counter()
        x = record(entry["model"], schedule, x_T, sampler=sampler, num_steps=steps, eta=eta, y=labels,
                   generator=torch.Generator().manual_seed(seed), max_frames=1).final
        seconds = time.perf_counter() - began
        name = f"DDPM-{steps}" if sampler == "ddpm" else f"DDIM-{steps}"
        rows[name] = x
        figures = _measure(entry, x, labels)
        table.append(f"| {name} | {steps} | {seconds:.2f} | " + " | ".join(f"{v:.3f}" for v in figures.values()) + " |")
    # DDIM with η = 0 is a deterministic map from x_T: the same seed twice gives the same picture.
    twice = [record(entry["model"], schedule, x_T, sampler="ddim", num_steps=20, eta=0.0, y=labels,
                    generator=torch.Generator().manual_seed(s), max_frames=1).final for s in (seed, seed + 1)]
    gap = float((twice[0] - twice[1]).abs().max())
    image, figure = _row_view(entry, rows)
    note = (f"Rows, top to bottom: {', '.join(rows)} (first 8 samples of each, same x_T). "
            f"DDIM-20 with η = 0 run twice with different sampler seeds: largest difference {gap:.2e} "
            "(deterministic: only x_T matters). " + _measure_note(entry))
    return image, figure, "\n".join(table), note


def _measure_names(entry) -> list[str]:
    if _is_2d(entry):
        return ["sliced Wasserstein to fresh data (lower is better)"]
    return ["classifier accuracy on the requested class", "mean confidence"] if metric_classifier() is not None else []


def _measure_note(entry) -> str:
    if _is_2d(entry):
        return "The distance is between the samples and the same number of fresh data points."
    return ("Accuracy: the share of samples the shipped Fashion-MNIST classifier (85.9% test accuracy on real "
            "images) assigns to the class asked for; chance is 10%.")


@user_errors
def compare_schedules(dataset, seed, n, steps, label):
    """The linear- and the cosine-trained model of one dataset, from the same x_T, same DDIM steps."""
    names = {s: f"ddpm-{dataset}-{s}" for s in ("linear", "cosine")}
    shipped = [value for _, value in shipped_choices()]
    if any(name not in shipped for name in names.values()):
        raise gr.Error(f"Both the linear and the cosine model of {dataset!r} must be shipped; "
                       f"have {', '.join(shipped) or 'none'}.")
    entries = {s: _shipped(name) for s, name in names.items()}
    first = entries["linear"]
    steps, _, n, y = _check_sampling(first, "ddim", steps, 0.0, n, label)
    x_T, seed = _x_T(first, n, seed)
    header = ["model", *_measure_names(first), "recorded in its card"]
    rows, table = {}, ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for kind, entry in entries.items():
        spec = entry["spec"]
        labels = _labels_for(entry, n, y)
        x = record(entry["model"], make_schedule(spec.schedule, spec.num_steps), x_T, sampler="ddim", num_steps=steps,
                   y=labels, generator=torch.Generator().manual_seed(seed), max_frames=1).final
        rows[f"{kind}-trained, DDIM-{steps}"] = x
        card_metrics = entry["card"].get("metrics", {})
        card_figure = ", ".join(f"{k} {v:.3f}" for k, v in card_metrics.items() if isinstance(v, float))
        table.append(f"| {kind} | " + " | ".join(f"{v:.3f}" for v in _measure(entry, x, labels).values())
                     + f" | {card_figure} |")
    image, figure = _row_view(first, rows)
    return image, figure, "\n".join(table)


# ---- train your own ---------------------------------------------------------------------------

def _live_spec(dataset, schedule, batch, lr) -> DiffusionSpec:
    if dataset == "fashion":
        return DiffusionSpec(network="unet", unet=UNetConfig(base_channels=16, num_res_blocks=1, num_classes=10),
                             schedule=schedule, batch_size=batch, lr=lr, ema_decay=0.99, label_dropout=0.15)
    return DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=128, num_layers=3), schedule=schedule,
                         batch_size=batch, lr=lr, ema_decay=0.99, label_dropout=0.0)


@user_errors
def train_live(dataset, schedule, steps, batch, lr, seed, my_models, request: gr.Request = None):
    """Train a denoiser from scratch, streaming (progress, loss curve, preview image, preview plot, model list)."""
    check_choice(dataset, "dataset", ["fashion", *data.TOY2D])
    check_choice(schedule, "schedule", ["linear", "cosine", "sigmoid", "scaled_linear"])
    caps = LIVE_CAPS["fashion" if dataset == "fashion" else "toy"]
    steps = check_int(steps, "steps", 1, caps["steps"])
    batch = check_int(batch, "batch size", 2, caps["batch"])
    lr = check_float(lr, "learning rate", 1e-5, 1e-1)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    spec = _live_spec(dataset, schedule, batch, float(lr))
    ds = data.load(dataset, "train", n=8192 if dataset != "fashion" else None, seed=seed)
    every = max(1, steps // 10)
    history = {"step": [], "loss": []}
    began = time.perf_counter()

    def work(push, should_stop):
        return train(spec, ds, steps, seed=seed, preview_every=every, preview_n=16 if dataset == "fashion" else 500,
                     should_stop=should_stop, callback=lambda *a: push(a))

    def show(item):
        step, total, metrics, preview = item
        history["step"].append(step)
        history["loss"].append(metrics["loss"])
        if preview is None and step % max(1, total // 50) and step != total:
            return None
        text = f"Step {step} of {total}, loss {metrics['loss']:.4f}, {step / (time.perf_counter() - began):.1f} steps/s"
        curve = viz.loss_figure(history["step"], {"loss (DDPM simple loss, eq. 14)": history["loss"]})
        image = plot = gr.update()
        if preview is not None:
            if dataset == "fashion":
                image = viz.image_grid(preview, nrow=4, scale=3)
            else:
                plot = viz.points_frame(preview.numpy(), reference=ds.x[:500].numpy(),
                                        title=f"preview samples at step {step}", limit=1.5)
        return text, curve, image, plot, gr.update(), my_models

    with stoppable(request) as stop:
        yield from _train_updates(work, show, stop, dataset, schedule, spec, my_models)


def _train_updates(work, show, stop, dataset, schedule, spec, my_models):
    for done, update in in_thread(work, show, stop):
        if not done:
            yield update
            continue
        model, run_history = update
        model_id = uuid.uuid4().hex[:12]
        done = len(run_history["step"])
        title = f"yours: {DATASET_TITLES[dataset]} · {schedule} · {done} steps ({model_id[:4]})"
        keep(USER_MODELS, model_id, {"model": model, "spec": spec, "dataset": dataset, "label": title, "card": {}}, 32)
        mine = [*(my_models or []), (title, f"user:{model_id}")]
        stopped = " (stopped early; the model so far is kept)" if run_history["stopped_early"] else ""
        yield (f"Done: {done} steps in {run_history['wall_time_s']:.1f} s{stopped}. It is now in the model "
               "list above as “" + title + "”.", gr.update(), gr.update(), gr.update(),
               gr.update(choices=mine + shipped_choices(), value=f"user:{model_id}"), mine)


# ---- layout ---------------------------------------------------------------------------------------

ABOUT = ("A trained network runs the forward film backwards. It starts from pure noise x_T ~ N(0, I). At each "
         "step it looks at x_t and predicts the noise ε̂ in it (Ho et al. 2020: the network predicts the *noise*), "
         "which also gives a guess x̂₀ of the clean picture; the sampler then moves x_t a little towards it. "
         "DDPM takes all T = 1000 small random steps; DDIM (Song et al. 2021) jumps along a subsequence of 5–100 "
         "steps and, with η = 0, adds no noise at all, so the same x_T always gives the same picture.")


def _model_dropdown_update(model_name, my_models):
    entry = get_model(model_name)
    spec = entry["spec"]
    classes = _class_names(entry)
    label = (gr.update(choices=[("none (unconditional)", -1)] + [(c, k) for k, c in enumerate(classes)], value=-1,
                       visible=True) if spec.num_classes else gr.update(choices=[("none", -1)], value=-1, visible=False))
    n = gr.update(maximum=MAX_POINTS if _is_2d(entry) else MAX_IMAGES, value=500 if _is_2d(entry) else 16)
    steps = gr.update(maximum=spec.num_steps)
    images, points = gr.update(visible=not _is_2d(entry)), gr.update(visible=_is_2d(entry))
    return label, n, steps, images, points, images, points


def build(page: gr.Blocks) -> None:
    about("Reverse diffusion: pull a picture out of noise", ABOUT,
          "$x_{t-1} = \\frac{1}{\\sqrt{\\alpha_t}}\\Big(x_t - \\frac{\\beta_t}{\\sqrt{1-\\bar\\alpha_t}}"
          "\\,\\varepsilon_\\theta(x_t, t)\\Big) + \\sigma_t z$ (DDPM), trained with "
          "$\\lVert \\varepsilon - \\varepsilon_\\theta(\\sqrt{\\bar\\alpha_t}x_0 + \\sqrt{1-\\bar\\alpha_t}\\,"
          "\\varepsilon, t)\\rVert^2$.",
          "Ho, Jain & Abbeel 2020, DDPM, eq. 11 and eq. 14 · Song, Meng & Ermon 2021, DDIM, eq. 12")
    choices = shipped_choices()
    default = next((v for _, v in choices if v == "ddpm-fashion-cosine"), choices[0][1] if choices else None)
    my_models = gr.State([])
    with gr.Tabs():
        with gr.Tab("Generate and step through", id="generate"):
            with gr.Row():
                model = gr.Dropdown(choices, value=default, label="Model (dataset · training schedule)", scale=3,
                                    elem_id="reverse-model")
                seed = gr.Number(0, precision=0, minimum=0, label="Seed (x_T)", scale=1)
                label = gr.Dropdown([("none (unconditional)", -1)] + [(c, k) for k, c in enumerate(data.FASHION_CLASSES)],
                                    value=-1, label="Class", scale=2)
            with gr.Row():
                sampler = gr.Radio([("DDPM (all T steps)", "ddpm"), ("DDIM", "ddim")], value="ddim", label="Sampler")
                steps = gr.Slider(1, 1000, value=50, step=1, label="DDIM steps")
                eta = gr.Slider(0, 1, value=0, step=0.05, label="DDIM η (0: deterministic, 1: DDPM-like noise)")
                n = gr.Slider(1, MAX_POINTS, value=16, step=1, label="Number of samples")
            with gr.Row():
                go_button = gr.Button("Generate", variant="primary", elem_id="reverse-generate")
                stop_button = gr.Button("Stop")
            progress_text = gr.Markdown()
            with gr.Row():
                live = gr.Image(label="Live: x_t as sampling runs", format="png", interactive=False, height=320)
                live_2d = gr.Plot(label="Live: the points as sampling runs")
            run_id = gr.Textbox(visible=False)
            gr.Markdown("### Step through the recorded run (the frames are cached; 2D views only recompute the arrow field)")
            with gr.Row(equal_height=True):
                frame = gr.Slider(0, 200, value=0, step=1, label="Frame (0 = pure noise x_T; last = the finished sample)",
                                  scale=5, elem_id="reverse-frame")
                prev_button = gr.Button("◀ Prev", scale=1, min_width=80, elem_id="reverse-prev")
                next_button = gr.Button("Next ▶", scale=1, min_width=80, elem_id="reverse-next")
                play_button = gr.Button("▶ Play", scale=1, min_width=80)
                pause_button = gr.Button("■ Pause", scale=1, min_width=80)
            frame_info = gr.Markdown()
            with gr.Row() as step_images:
                view_x = gr.Image(label="x_t: what the model sees", format="png", interactive=False, height=320,
                                  elem_id="reverse-xt")
                view_eps = gr.Image(label="ε̂: the noise it predicts (shown as ε̂/3)", format="png",
                                    interactive=False, height=320)
                view_x0 = gr.Image(label="x̂₀: the clean picture it predicts", format="png", interactive=False,
                                   height=320)
            view_2d = gr.Plot(label="2D: points x_t (blue), their x̂₀ (orange), paths so far, and the model's score "
                                    "direction −ε̂ on a grid (green)")
            schedule_plot = gr.Plot(label="The model's schedule, with the current step marked")
            with gr.Row():
                gif_button = gr.Button("Export this run as a GIF")
                gif_file = gr.File(label="GIF", interactive=False)

        with gr.Tab("Compare samplers", id="samplers"):
            gr.Markdown("One x_T, many samplers: DDPM over all T steps, then DDIM with "
                        f"{', '.join(map(str, DDIM_ROW))} steps. Each row is measured.")
            with gr.Row():
                cmp_model = gr.Dropdown(choices, value=default, label="Model", scale=3)
                cmp_seed = gr.Number(0, precision=0, minimum=0, label="Seed", scale=1)
                cmp_n = gr.Slider(2, MAX_POINTS, value=32, step=1, label="Samples per row (measured)", scale=2)
                cmp_eta = gr.Slider(0, 1, value=0, step=0.05, label="DDIM η", scale=2)
                cmp_label = gr.Number(-1, precision=0, label="Class (-1: all classes in turn)", scale=1)
            cmp_button = gr.Button("Compare", variant="primary")
            cmp_image = gr.Image(label="Rows: samplers (first 8 samples each)", format="png", interactive=False)
            cmp_plot = gr.Plot(label="2D: one panel per sampler")
            cmp_table = gr.Markdown()
            cmp_note = gr.Markdown()

        with gr.Tab("Compare schedules", id="schedules"):
            gr.Markdown("The same dataset, one model trained with the linear schedule and one with the cosine "
                        "schedule, sampled from the same x_T with the same number of DDIM steps.")
            datasets = sorted({v.split("-")[1] for _, v in choices}, key=lambda d: (d != "fashion", d))
            with gr.Row():
                sch_dataset = gr.Dropdown([(DATASET_TITLES.get(d, d), d) for d in datasets],
                                          value=datasets[0] if datasets else None, label="Dataset")
                sch_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
                sch_n = gr.Slider(2, MAX_POINTS, value=32, step=1, label="Samples (measured)")
                sch_steps = gr.Slider(1, 1000, value=50, step=1, label="DDIM steps")
                sch_label = gr.Number(-1, precision=0, label="Class (-1: all in turn)")
            sch_button = gr.Button("Compare", variant="primary")
            sch_image = gr.Image(label="Top: linear-trained; bottom: cosine-trained", format="png", interactive=False)
            sch_plot = gr.Plot(label="2D: linear-trained (left), cosine-trained (right)")
            sch_table = gr.Markdown()

        with gr.Tab("Train one yourself", id="train"):
            gr.Markdown("Train a denoiser from scratch with the same loop and loss as the shipped models. A 2D "
                        "model learns in seconds; a Fashion-MNIST UNet needs far more steps than the cap allows "
                        "here, so expect blurry previews. Your model is kept for this browser session only and "
                        "never replaces a shipped one; pick it in the model list of the first tab.")
            with gr.Row():
                tr_dataset = gr.Dropdown([(DATASET_TITLES[d], d) for d in (*data.TOY2D, "fashion")], value="moons",
                                         label="Dataset")
                tr_schedule = gr.Dropdown(["linear", "cosine", "sigmoid", "scaled_linear"], value="cosine",
                                          label="Schedule")
                tr_steps = gr.Slider(10, LIVE_CAPS["toy"]["steps"], value=1500, step=10, label="Steps (capped)")
                tr_batch = gr.Slider(8, LIVE_CAPS["toy"]["batch"], value=256, step=8, label="Batch size (capped)")
                tr_lr = gr.Number(2e-3, label="Learning rate")
                tr_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            with gr.Row():
                tr_button = gr.Button("Train", variant="primary", elem_id="reverse-train")
                tr_stop = gr.Button("Stop", elem_id="reverse-train-stop")
            tr_text = gr.Markdown(elem_id="reverse-train-text")
            tr_curve = gr.Plot(label="Loss")
            with gr.Row():
                tr_image = gr.Image(label="Preview samples (Fashion)", format="png", interactive=False)
                tr_plot = gr.Plot(label="Preview samples (2D; grey: real data)")

    # ---- events ----
    modality = [label, n, steps, live, live_2d, step_images, view_2d]
    model.change(_model_dropdown_update, [model, my_models], modality, api_visibility="private")
    page.load(_model_dropdown_update, [model, my_models], modality, api_visibility="private")
    frame_outputs = [view_x, view_eps, view_x0, view_2d, frame_info, schedule_plot]
    generating = go_button.click(generate, [model, seed, sampler, steps, eta, n, label],
                                 [live, live_2d, progress_text, run_id], api_name="reverse_generate")
    generating.success(_frame_count, run_id, frame, api_visibility="private").then(
        show_frame, [run_id, frame], frame_outputs, api_visibility="private")
    stop_button.click(None, None, None, cancels=[generating])
    frame.input(show_frame, [run_id, frame], frame_outputs, api_name="reverse_frame", trigger_mode="always_last",
                show_progress="hidden")
    for button, delta in ((prev_button, -1), (next_button, 1)):
        button.click(functools.partial(_step, delta=delta), [run_id, frame], frame, api_visibility="private").then(
            show_frame, [run_id, frame], frame_outputs, api_visibility="private", show_progress="hidden")
    playing = play_button.click(play_frames, [run_id, frame], [frame, *frame_outputs], api_visibility="private",
                                show_progress="hidden")
    pause_button.click(None, None, None, cancels=[playing])
    gif_button.click(export_gif, run_id, gif_file, api_name="reverse_gif")
    cmp_button.click(compare_samplers, [cmp_model, cmp_seed, cmp_n, cmp_eta, cmp_label],
                     [cmp_image, cmp_plot, cmp_table, cmp_note], api_name="reverse_compare_samplers")
    sch_button.click(compare_schedules, [sch_dataset, sch_seed, sch_n, sch_steps, sch_label],
                     [sch_image, sch_plot, sch_table], api_name="reverse_compare_schedules")

    def on_dataset(dataset):
        caps = LIVE_CAPS["fashion" if dataset == "fashion" else "toy"]
        return (gr.update(maximum=caps["steps"], value=min(300, caps["steps"]) if dataset == "fashion" else 1500),
                gr.update(maximum=caps["batch"], value=32 if dataset == "fashion" else 256),
                5e-4 if dataset == "fashion" else 2e-3)

    tr_dataset.input(on_dataset, tr_dataset, [tr_steps, tr_batch, tr_lr], api_visibility="private")
    tr_button.click(train_live, [tr_dataset, tr_schedule, tr_steps, tr_batch, tr_lr, tr_seed, my_models],
                               [tr_text, tr_curve, tr_image, tr_plot, model, my_models], api_name="reverse_train")
    tr_stop.click(stop_training, None, tr_text, api_visibility="private", queue=False)


def demo() -> gr.Blocks:
    with gr.Blocks(title="Reverse diffusion") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
