"""/guidance: classifier-free guidance and classifier guidance, side by side, on the same seeds."""
from __future__ import annotations

import functools
import re
import tempfile
import time
import uuid
from collections import OrderedDict

import gradio as gr
import numpy as np
import torch
from PIL import Image

from playground import checkpoints, data, guidance, viz
from playground.diffusion import make_schedule

from .common import MAX_SEED, about, check_choice, check_int, in_thread, keep, metric_classifier, real_data, user_errors

MAX_PER_SCALE = 200  # samples per scale when measuring
MAX_STEPS_DDIM = 200  # DDIM steps allowed here (DDPM runs all T)
# dataset -> (class-conditional denoiser trained with label dropout, noise-aware classifier of the same schedule)
SETUPS = {"fashion": ("ddpm-fashion-cosine", "noisy-classifier-fashion"),
          "ring8": ("ddpm-ring8-cond", "noisy-classifier-ring8"),
          "moons": ("ddpm-moons-cond", "noisy-classifier-moons")}
TITLES = {"fashion": "Fashion-MNIST", "ring8": "ring of 8 Gaussians (2D)", "moons": "two moons (2D)"}
METHOD_ORDER = ("cfg", "classifier")
GRIDS: OrderedDict[str, dict] = OrderedDict()  # grid id -> both recorded trajectories and their settings (last 8)


def available_datasets() -> list[str]:
    names = checkpoints.available()
    return [d for d, (model, clf) in SETUPS.items() if model in names and clf in names]


@functools.lru_cache(maxsize=8)
def _setup(dataset: str) -> dict:
    model, spec, card = checkpoints.load(SETUPS[dataset][0])
    classifier, cspec, ccard = checkpoints.load(SETUPS[dataset][1])
    if cspec.schedule != spec.schedule or cspec.num_steps != spec.num_steps:
        raise ValueError(f"{SETUPS[dataset][1]} was trained for another schedule than {SETUPS[dataset][0]}")
    is_2d = spec.network == "mlp"
    shape = (2,) if is_2d else (spec.unet.in_channels, spec.unet.image_size, spec.unet.image_size)
    classes = data.FASHION_CLASSES if dataset == "fashion" else data.load(dataset, n=16).class_names
    return {"model": model, "spec": spec, "classifier": classifier, "schedule": make_schedule(spec.schedule, spec.num_steps),
            "shape": shape, "is_2d": is_2d, "classes": classes, "cards": (card, ccard)}


def parse_scales(text) -> list[float]:
    """'0, 1, 2, 4, 8' -> [0.0, 1.0, 2.0, 4.0, 8.0], checked (count, finite, size)."""
    if not isinstance(text, str) or not text.strip():
        raise gr.Error("Give the guidance scales as numbers separated by commas, e.g. 0, 1, 2, 4, 8.")
    values = []
    for part in re.split(r"[,;\s]+", text.strip()):
        try:
            values.append(float(part))
        except ValueError:
            raise gr.Error(f"Could not read {part!r} as a scale; give numbers separated by commas, "
                           "e.g. 0, 1, 2, 4, 8.") from None
    return guidance.check_scales(values)


def _check_common(dataset, label, scales_text, sampler, steps):
    check_choice(dataset, "dataset", available_datasets())
    setup = _setup(dataset)
    label = check_int(label, "class", 0, len(setup["classes"]) - 1)
    scales = parse_scales(scales_text)
    check_choice(sampler, "sampler", ["ddim", "ddpm"])
    steps = setup["spec"].num_steps if sampler == "ddpm" else check_int(steps, "DDIM steps", 1, MAX_STEPS_DDIM)
    return setup, label, scales, steps


def convention(scales: list[float]) -> str:
    """How the scales read in each paper's convention."""
    rows = " | ".join(f"{w:g}" for w in scales)
    paper = " | ".join(f"{w - 1:g}" for w in scales)
    return ("**Scale convention.** Classifier-free: ε̃ = ε_uncond + w (ε_cond − ε_uncond). w = 0 is the "
            "unconditional model, **w = 1 the plain conditional model**, w > 1 pushes past it, w < 0 pushes away "
            "from the class. Ho & Salimans (2022, eq. 6) write ε̃ = (1 + w′) ε_cond − w′ ε_uncond, so their w′ = w − 1 "
            "(Imagen, Stable Diffusion and diffusers use our w). Classifier guidance: ε̂ = ε_uncond − s √(1 − ᾱ_t) "
            "∇ log p(y | x_t); **s = 0 is the unguided unconditional model** (Dhariwal & Nichol 2021, Algorithm 2).\n\n"
            f"| your scale (our w, and s) | {rows} |\n|---|{'---|' * len(scales)}\n| Ho & Salimans' w′ = w − 1 | {paper} |")


# ---- the grid -------------------------------------------------------------------------------------

def _image_grid_picture(tr, scales, seeds, method, label_name) -> np.ndarray:
    return viz.labelled_grid(tr.final, nrow=len(seeds), row_labels=[f"{'w' if method == 'cfg' else 's'} = {w:g}" for w in scales],
                             title=f"{guidance.METHODS[method]}: {label_name}", col_labels=[f"seed {s}" for s in seeds])


def _points_panels(tr, scales, seeds, method) -> dict:
    paths = tr.x_t.float().numpy()  # (F, rows·cols, 2)
    return {f"{'CFG w' if method == 'cfg' else 'classifier s'} = {w:g}": {"paths": paths[:, r * len(seeds):(r + 1) * len(seeds)]}
            for r, w in enumerate(scales)}


@user_errors
def build_grids(dataset, label, scales_text, n_seeds, first_seed, sampler, steps):
    """Both grids (rows: scales, columns: seeds), streamed; yields (CFG picture, classifier picture, 2D figure,
    progress, grid id, convention)."""
    setup, label, scales, steps = _check_common(dataset, label, scales_text, sampler, steps)
    n_seeds = check_int(n_seeds, "number of seeds", 1, guidance.MAX_SEEDS)
    first_seed = check_int(first_seed, "first seed", 0, MAX_SEED - guidance.MAX_SEEDS)
    seeds = list(range(first_seed, first_seed + n_seeds))
    label_name = setup["classes"][label]
    began = time.perf_counter()
    results, pictures = {}, {m: gr.update() for m in METHOD_ORDER}
    for method in METHOD_ORDER:
        every = max(1, steps // 20)

        def work(push, should_stop, method=method):
            return guidance.grid(setup["model"], setup["schedule"], setup["shape"], label, scales, seeds, method,
                                 setup["classifier"], sampler=sampler, num_steps=steps, should_stop=should_stop,
                                 on_step=lambda i, total, step: push((i, total, step)) if i % every == 0 or i == total else None)

        def show(item, method=method):
            i, total, step = item
            text = (f"{guidance.METHODS[method]}: step {i} of {total} (t = {step.t}), "
                    f"{time.perf_counter() - began:.1f} s so far")
            if not setup["is_2d"]:
                live = viz.labelled_grid(step.x0.clamp(-1, 1), nrow=len(seeds), scale=3, row_labels=[f"{w:g}" for w in scales],
                                         title=f"{guidance.METHODS[method]}: predicted x̂₀ at step {i} of {total}")
                pictures[method] = live
            return pictures["cfg"], pictures["classifier"], gr.update(), text, gr.update(), gr.update()

        for done, update in in_thread(work, show):
            if done:
                results[method] = update
                if not setup["is_2d"]:
                    pictures[method] = _image_grid_picture(update, scales, seeds, method, label_name)
            else:
                yield update
    grid_id = uuid.uuid4().hex
    keep(GRIDS, grid_id, {"dataset": dataset, "label": label, "scales": scales, "seeds": seeds, "trajectories": results,
                          "seconds": time.perf_counter() - began, "sampler": results["cfg"].sampler}, 8)
    figure = gr.update()
    if setup["is_2d"]:
        panels = {**_points_panels(results["cfg"], scales, seeds, "cfg"),
                  **_points_panels(results["classifier"], scales, seeds, "classifier")}
        real = real_data(dataset, "test", 2000)
        figure = viz.guided_points_figure(panels, real.x.numpy(), real.x[real.y == label].numpy(), ncols=len(scales))
    text = (f"Done: {len(scales)} scales × {len(seeds)} seeds × 2 methods with {GRIDS[grid_id]['sampler']} in "
            f"{GRIDS[grid_id]['seconds']:.1f} s. Every cell of a column starts from the same x_T (seed {seeds[0]} is "
            "column 1)." + (" With DDPM the noise added at each step differs between cells." if sampler == "ddpm" else "")
            + " Pick a cell below to step through it.")
    yield pictures["cfg"], pictures["classifier"], figure, text, grid_id, convention(scales)


def _grid(grid_id) -> dict:
    if not isinstance(grid_id, str) or grid_id not in GRIDS:
        raise gr.Error("That grid is not in memory (press Build grids first; only the last 8 are kept).")
    return GRIDS[grid_id]


def _cell_choices(grid_id):
    grid = _grid(grid_id)
    rows = [(f"row {r + 1}: scale {w:g}", r) for r, w in enumerate(grid["scales"])]
    cols = [(f"column {c + 1}: seed {s}", c) for c, s in enumerate(grid["seeds"])]
    frames = len(grid["trajectories"]["cfg"]) - 1
    return (gr.update(choices=rows, value=min(1, len(rows) - 1)), gr.update(choices=cols, value=0),
            gr.update(maximum=frames, value=0))


def _small(x: torch.Tensor) -> np.ndarray:
    return viz.upscale(viz.to_uint8(x.float()), 5)


@user_errors
def show_cell(grid_id, method, row, col, frame):
    """One step of one cell: x_t, x̂₀ and both ε predictions (image strip or 2D figure), with its numbers."""
    grid = _grid(grid_id)
    check_choice(method, "method", list(METHOD_ORDER))
    row = check_int(row, "row", 0, len(grid["scales"]) - 1)
    col = check_int(col, "column", 0, len(grid["seeds"]) - 1)
    tr = grid["trajectories"][method]
    k = check_int(frame, "frame", 0, len(tr) - 1)
    i = row * len(grid["seeds"]) + col
    setup = _setup(grid["dataset"])
    w, t = grid["scales"][row], tr.ts[k]
    name = "w" if method == "cfg" else "s"
    if t < 0:
        info = f"**Finished sample** of cell (scale {name} = {w:g}, seed {grid['seeds'][col]}), frame {k} of {len(tr) - 1}."
    else:
        eps, a = tr.eps[k, i].float(), tr.eps_uncond[k, i].float()
        b = tr.eps_cond[k, i].float() if method == "cfg" else eps
        def rms(v):  # root mean square per pixel / coordinate: about 1 for unit Gaussian noise
            return float(v.pow(2).mean().sqrt())

        info = (f"**Frame {k} of {len(tr) - 1}**, {tr.sampler}, t = {t + 1} (ᾱ_t = {tr.alpha_bar[k]:.4f}), cell "
                f"{name} = {w:g}, seed {grid['seeds'][col]}. Root mean square per value (about 1 for pure noise): "
                f"ε_uncond {rms(a):.3f}; "
                + (f"ε_cond − ε_uncond {rms(b - a):.3f} (the class direction, which w multiplies); "
                   if method == "cfg" else
                   f"ε̂ − ε_uncond {rms(eps - a):.3f} (the classifier's push s √(1 − ᾱ_t) ∇ log p); ")
                + f"guided ε − ε_uncond {rms(eps - a):.3f}.")
    if setup["is_2d"]:
        paths = tr.x_t[: k + 1, i:i + 1].float().numpy()
        figure = viz.points_frame(tr.x_t[k, i:i + 1].float().numpy(), tr.x0[k, i:i + 1].float().numpy(), trails=paths,
                                  reference=real_data(grid["dataset"], "test", 2000).x[:1000].numpy(),
                                  title=f"cell {name} = {w:g}, seed {grid['seeds'][col]}: frame {k}", limit=2.5)
        return gr.update(visible=False), gr.update(value=figure, visible=True), info
    zero = torch.zeros_like(tr.x_t[k, i])
    parts = {"x_t": tr.x_t[k, i].clamp(-1, 1), "x̂₀ (predicted)": tr.x0[k, i]}
    if method == "cfg":
        parts |= {"ε_cond / 3": (tr.eps_cond[k, i].float() / 3), "ε_uncond / 3": (tr.eps_uncond[k, i].float() / 3),
                  "ε_cond − ε_uncond (×3)": ((tr.eps_cond[k, i].float() - tr.eps_uncond[k, i].float()) * 3)}
    else:
        parts |= {"guided ε̂ / 3": tr.eps[k, i].float() / 3, "ε_uncond / 3": tr.eps_uncond[k, i].float() / 3,
                  "ε̂ − ε_uncond (×3)": (tr.eps[k, i].float() - tr.eps_uncond[k, i].float()) * 3}
    if t < 0:
        parts = {key: (value if key.startswith(("x_t", "x̂")) else zero) for key, value in parts.items()}
    strip = viz.labelled_strip({key: _small(value.clamp(-1, 1)) for key, value in parts.items()})
    return gr.update(value=strip, visible=True), gr.update(visible=False), info


def _step(grid_id, method, frame, delta):
    tr = _grid(grid_id)["trajectories"][check_choice(method, "method", list(METHOD_ORDER))]
    return int(np.clip(int(frame or 0) + delta, 0, len(tr) - 1))


@user_errors
def export_png(grid_id):
    """Both grids side by side as one PNG (2D: the final points of every cell drawn as a picture)."""
    grid = _grid(grid_id)
    setup = _setup(grid["dataset"])
    label_name = setup["classes"][grid["label"]]
    if setup["is_2d"]:
        raise gr.Error("PNG export is for image grids; for a 2D grid use the camera icon of the plot.")
    picture = viz.side_by_side([_image_grid_picture(grid["trajectories"][m], grid["scales"], grid["seeds"], m, label_name)
                                for m in METHOD_ORDER])
    path = tempfile.NamedTemporaryFile(prefix="guidance-grid-", suffix=".png", delete=False).name
    Image.fromarray(picture).save(path)
    return path


# ---- the measured trade-off ---------------------------------------------------------------------------

@user_errors
def measure(dataset, label, scales_text, n, seed, sampler, steps):
    """n samples per scale and method; yields (curves, 2D densities, table, progress) while it runs."""
    setup, label, scales, steps = _check_common(dataset, label, scales_text, sampler, steps)
    n = check_int(n, "samples per scale", 4, MAX_PER_SCALE)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    if not setup["is_2d"] and metric_classifier() is None:
        raise gr.Error("The metric classifier (classifier-fashion) is not shipped: run `python -m playground train classifier-fashion`.")
    began = time.perf_counter()
    samples = {}
    for method in METHOD_ORDER:
        def work(push, should_stop, method=method):
            return guidance.sample_per_scale(setup["model"], setup["schedule"], setup["shape"], label, scales, n, method,
                                             setup["classifier"], sampler=sampler, num_steps=steps, seed=seed,
                                             on_step=lambda done, total: push((done, total)), should_stop=should_stop)

        def show(item, method=method):
            done, total = item
            if done % max(1, total // 25) and done != total:
                return None
            return (gr.update(), gr.update(), gr.update(),
                    f"{guidance.METHODS[method]}: {len(scales)} scales × {n} samples, step {done} of {total}, "
                    f"{time.perf_counter() - began:.1f} s so far")

        for finished, update in in_thread(work, show):
            if finished:
                samples[method] = update
            else:
                yield update
    yield gr.update(), gr.update(), gr.update(), f"Sampled in {time.perf_counter() - began:.1f} s; measuring…"
    if setup["is_2d"]:
        train_set, test_set = real_data(dataset, "train", 8192), real_data(dataset, "test", 8192)
        rows = {m: guidance.point_tradeoff(samples[m], label, train_set, test_set) for m in METHOD_ORDER}
        distance = ("sliced_wasserstein", "sliced Wasserstein to the class (lower: closer)")
    else:
        train_set, test_set = real_data("fashion", "train"), real_data("fashion", "test")
        real_class = train_set.x[train_set.y == label][:2000]
        held_out = test_set.x[test_set.y == label]
        rows = {m: guidance.image_tradeoff(samples[m], label, metric_classifier(), real_class, held_out)
                for m in METHOD_ORDER}
        distance = ("frechet_distance", "Fréchet distance to the class (lower: closer)")
    panels = {"accuracy": "accuracy on the requested class", "diversity": "diversity (mean pairwise distance)",
              distance[0]: distance[1]}
    curves = {guidance.METHODS[m]: rows[m] for m in METHOD_ORDER}
    figure = viz.tradeoff_figure(scales, curves, rows["cfg"]["real"], panels)
    densities = gr.update()
    if setup["is_2d"]:
        panels_2d = {f"{'CFG w' if m == 'cfg' else 'classifier s'} = {w:g}": {"density": samples[m][r].numpy()}
                     for m in METHOD_ORDER for r, w in enumerate(scales)}
        real = real_data(dataset, "test", 2000)
        densities = viz.guided_points_figure(panels_2d, real.x.numpy(), real.x[real.y == label].numpy(), ncols=len(scales))
    header = f"| method | scale | accuracy | confidence | diversity | {distance[0].replace('_', ' ')} |\n|---|---|---|---|---|---|"
    lines = [header]
    for m in METHOD_ORDER:
        for r, w in enumerate(scales):
            lines.append(f"| {guidance.METHODS[m]} | {w:g} | {rows[m]['accuracy'][r]:.3f} | {rows[m]['confidence'][r]:.3f} | "
                         f"{rows[m]['diversity'][r]:.3f} | {rows[m][distance[0]][r]:.3f} |")
    real = rows["cfg"]["real"]
    lines.append(f"| real data of the class | – | {real['accuracy']:.3f} | {real['confidence']:.3f} | "
                 f"{real['diversity']:.3f} | {real[distance[0]]:.3f} |")
    what = ("Accuracy and confidence: the shipped Fashion-MNIST classifier (trained on clean real images, not the "
            "guiding one) on the class asked for; chance is 10%. Diversity: mean pairwise distance of its 128-d "
            "features. Fréchet distance: between those features of the samples and of up to 2,000 real training "
            "images of the class; with few samples it is biased upwards, so the dashed line gives the same figures "
            f"for {real['n']} real test images.") if not setup["is_2d"] else (
            "Accuracy and confidence: a 15-nearest-neighbour classifier fitted on real labelled points. Diversity: "
            "mean pairwise distance between samples. Sliced Wasserstein: distance between the samples and real "
            "points of the class. The dashed line is fresh real data of the class.")
    text = (f"{n} samples per scale and method (the same {n} starting noises at every scale), "
            f"{samples['cfg'].shape[0] * n * 2} in all, {time.perf_counter() - began:.1f} s. " + what)
    yield figure, densities, "\n".join(lines), text


# ---- layout ------------------------------------------------------------------------------------------------

ABOUT = ("A conditional model can be pushed to make its samples *more* typical of a class than it would on its own. "
         "**Classifier-free guidance** asks the same network twice (with the class, and with the “null” class it "
         "learned because labels were dropped 15–20% of the time in training) and extrapolates from the "
         "unconditional answer past the conditional one. **Classifier guidance** adds the gradient of a separate "
         "classifier, trained on *noisy* images x_t, to an unconditional model. Rows are scales, columns are seeds, "
         "and every cell of a column starts from the same noise x_T, so what changes down a column is the scale alone.")


def _on_dataset(dataset):
    check_choice(dataset, "dataset", available_datasets())
    classes = _setup(dataset)["classes"]
    default = 7 if dataset == "fashion" else 0  # sneaker
    return gr.update(choices=[(c, k) for k, c in enumerate(classes)], value=default)


def build(page: gr.Blocks) -> None:
    about("Guidance: classifier-free vs classifier, side by side", ABOUT,
          "$\\tilde\\varepsilon = \\varepsilon_\\theta(x_t, \\varnothing) + w\\,\\big(\\varepsilon_\\theta(x_t, y) - "
          "\\varepsilon_\\theta(x_t, \\varnothing)\\big)$ (classifier-free) · $\\hat\\varepsilon = \\varepsilon_\\theta(x_t)"
          " - s\\,\\sqrt{1-\\bar\\alpha_t}\\,\\nabla_{x_t}\\log p_\\phi(y \\mid x_t)$ (classifier)",
          "Ho & Salimans 2022, Classifier-Free Diffusion Guidance, eq. 6 · Dhariwal & Nichol 2021, Diffusion Models "
          "Beat GANs on Image Synthesis, eq. 14 and Algorithms 1–2")
    datasets = available_datasets()
    if not datasets:
        gr.Markdown("No guidance models are shipped yet: run `python -m playground train ddpm-fashion-cosine` and "
                    "`python -m playground train noisy-classifier-fashion`.")
        return
    first = datasets[0]
    with gr.Row():
        dataset = gr.Dropdown([(TITLES[d], d) for d in datasets], value=first, label="Dataset", scale=2)
        label = gr.Dropdown([(c, k) for k, c in enumerate(_setup(first)["classes"])], value=7 if first == "fashion" else 0,
                            label="Class", scale=2, elem_id="guidance-class",
                            allow_custom_value=True)  # choices follow the dataset; the handler checks the value
        scales = gr.Textbox("0, 1, 2, 4, 8", label="Scales (comma-separated; rows)", scale=2, elem_id="guidance-scales")
        sampler = gr.Radio([("DDIM", "ddim"), ("DDPM (all T)", "ddpm")], value="ddim", label="Sampler", scale=2)
        steps = gr.Slider(5, MAX_STEPS_DDIM, value=50, step=1, label="DDIM steps", scale=2)
    with gr.Row():
        negative = gr.Button("Try negative guidance (scales −4, −2, 0, 1, 2)", size="sm")
        positive = gr.Button("Back to 0, 1, 2, 4, 8", size="sm")
    conv = gr.Markdown(convention([0, 1, 2, 4, 8]))
    with gr.Tabs():
        with gr.Tab("Grid: scales × seeds", id="grid"):
            with gr.Row():
                n_seeds = gr.Slider(1, guidance.MAX_SEEDS, value=4, step=1, label="Seeds (columns)")
                first_seed = gr.Number(0, precision=0, minimum=0, label="First seed (columns use seed, seed+1, …)")
                build_button = gr.Button("Build both grids", variant="primary", elem_id="guidance-build")
                stop_button = gr.Button("Stop")
            progress = gr.Markdown(elem_id="guidance-progress")
            with gr.Row():
                cfg_image = gr.Image(label="Classifier-free guidance (rows: w)", format="png", interactive=False,
                                     elem_id="guidance-cfg", show_label=False)  # the picture carries its title
                cg_image = gr.Image(label="Classifier guidance (rows: s)", format="png", interactive=False,
                                    elem_id="guidance-cg", show_label=False)
            points = gr.Plot(label="2D: the paths of the seeds' points in every cell (top: CFG, bottom: classifier)",
                             visible=False)
            with gr.Row():
                png_button = gr.Button("Export both grids as PNG")
                png_file = gr.File(label="PNG", interactive=False)
            grid_id = gr.Textbox(visible=False)
            gr.Markdown("### Step through one cell (recorded during the run: nothing is recomputed)")
            with gr.Row(equal_height=True):
                method = gr.Radio([("classifier-free", "cfg"), ("classifier", "classifier")], value="cfg", label="Grid")
                row = gr.Dropdown([("row 2", 1)], value=1, label="Row (scale)", elem_id="guidance-row",
                                  allow_custom_value=True)  # choices follow the grid; show_cell checks the value
                col = gr.Dropdown([("column 1", 0)], value=0, label="Column (seed)", allow_custom_value=True)
            with gr.Row(equal_height=True):
                frame = gr.Slider(0, 60, value=0, step=1, label="Frame (0 = x_T; last = finished sample)", scale=5,
                                  elem_id="guidance-frame")
                prev_button = gr.Button("◀ Prev", scale=1, min_width=80)
                next_button = gr.Button("Next ▶", scale=1, min_width=80, elem_id="guidance-next")
            cell_info = gr.Markdown()
            gr.Markdown("<small>Each picture is captioned. ε is shown divided by 3, so ±3σ fills the grey range; "
                        "differences of ε are multiplied by 3 to be visible.</small>")
            cell_strip = gr.Image(label="x_t, x̂₀ and both ε predictions", format="png", interactive=False,
                                  elem_id="guidance-cell", show_label=False, height=170)
            cell_plot = gr.Plot(label="2D: this cell's point, its x̂₀ and its path", visible=False)

        with gr.Tab("Trade-off, measured", id="tradeoff"):
            gr.Markdown("Many samples of the class at every scale, for both methods, then measured. The curves are "
                        "computed from these samples now; nothing is looked up.")
            with gr.Row():
                n = gr.Slider(4, MAX_PER_SCALE, value=32, step=1, label="Samples per scale and method")
                seed = gr.Number(0, precision=0, minimum=0, label="Seed")
                measure_button = gr.Button("Measure", variant="primary", elem_id="guidance-measure")
                measure_stop = gr.Button("Stop")
            measure_text = gr.Markdown(elem_id="guidance-measure-text")
            curves = gr.Plot(label="Fidelity, diversity and distance to real data, over the scale")
            densities = gr.Plot(label="2D: where the samples of each scale land (top: CFG, bottom: classifier)",
                                visible=False)
            table = gr.Markdown()

    # ---- events ----
    def on_dataset(d):
        is_2d = _setup(check_choice(d, "dataset", available_datasets()))["is_2d"]
        images = gr.update(visible=not is_2d)
        return (_on_dataset(d), gr.update(visible=is_2d), gr.update(visible=is_2d), images, images, images, images,
                gr.update(value=8 if is_2d else 4), gr.update(value=200 if is_2d else 32))

    modality = [label, points, densities, cfg_image, cg_image, png_button, png_file, n_seeds, n]
    dataset.change(on_dataset, dataset, modality, api_visibility="private")
    page.load(on_dataset, dataset, modality, api_visibility="private")
    negative.click(lambda: "-4, -2, 0, 1, 2", None, scales, api_visibility="private")
    positive.click(lambda: "0, 1, 2, 4, 8", None, scales, api_visibility="private")
    scales.blur(lambda text: convention(parse_scales(text)), scales, conv, api_visibility="private")
    cell_inputs = [grid_id, method, row, col, frame]
    cell_outputs = [cell_strip, cell_plot, cell_info]
    building = build_button.click(build_grids, [dataset, label, scales, n_seeds, first_seed, sampler, steps],
                                  [cfg_image, cg_image, points, progress, grid_id, conv], api_name="guidance_grid")
    building.success(_cell_choices, grid_id, [row, col, frame], api_visibility="private").then(
        show_cell, cell_inputs, cell_outputs, api_visibility="private")
    stop_button.click(None, None, None, cancels=[building])
    for control in (method, row, col):
        control.input(show_cell, cell_inputs, cell_outputs, api_visibility="private", show_progress="hidden")
    frame.input(show_cell, cell_inputs, cell_outputs, api_name="guidance_cell", trigger_mode="always_last",
                show_progress="hidden")
    for button, delta in ((prev_button, -1), (next_button, 1)):
        button.click(functools.partial(_step, delta=delta), [grid_id, method, frame], frame, api_visibility="private").then(
            show_cell, cell_inputs, cell_outputs, api_visibility="private", show_progress="hidden")
    png_button.click(export_png, grid_id, png_file, api_name="guidance_png")
    measuring = measure_button.click(measure, [dataset, label, scales, n, seed, sampler, steps],
                                     [curves, densities, table, measure_text], api_name="guidance_tradeoff")
    measure_stop.click(None, None, None, cancels=[measuring])


def demo() -> gr.Blocks:
    with gr.Blocks(title="Guidance") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
