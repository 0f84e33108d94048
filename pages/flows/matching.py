"""Tab "Flow matching": a velocity field learned on straight paths, sampled by an ODE solver. On the plane: the
paths drawn as curves, step by step, with how straight they are, measured. On Fashion-MNIST: a class-conditional
model with classifier-free guidance (the same guidance object as /guidance), streaming. And training one live."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import data, flows, guidance, viz
from playground.metrics import sliced_wasserstein
from playground.nn import MLPConfig
from playground.viz import flows as flow_viz

from ..common import (CHEAP, EXPENSIVE, TrainJob, TrainPanel, check_choice, check_cost, check_float,
                      check_int, check_seed, real_data, session_state, shipped, throttle, user_errors, view_for)
from ..guidance import parse_scales
from .shared import DATASET_TITLES, FM_FASHION, FM_POINTS_MENU

MAX_POINTS, MAX_STEPS = 2000, 100
CAPS = {name: dict(steps=5000, batch=1024) for name in data.TOY2D}


class PathsUpdate(NamedTuple):
    plot: Any
    text: Any
    frame: Any
    run: Any


def _describe(run: dict, frame: int) -> str:
    path = run["path"]
    t = path.times[frame]
    return (f"Step {frame} of {len(path.times) - 1} (t = {t:.3f}). {run['summary']}")


@user_errors
def sample_paths(name, solver, steps, n, seed, my_models) -> PathsUpdate:
    """Sample n points with the ODE solver and keep the whole run in this session for the step slider."""
    handle = FM_POINTS_MENU.get(name, my_models)
    check_choice(solver, "solver", list(flows.SOLVERS))
    steps, n, seed = check_int(steps, "steps", 1, MAX_STEPS), check_int(n, "points", 10, MAX_POINTS), check_seed(seed)
    check_cost(n, steps * flows.SOLVERS[solver], "points", "This run")
    path = flows.record_path(handle.model, handle.noise(n, seed), solver, steps)
    test = real_data(handle.dataset, "test", MAX_POINTS).x
    ratio = path.straightness
    summary = (f"{solver.capitalize()}, K = {steps} steps = {path.nfe} network evaluations. Path length ÷ distance "
               f"between its ends: median **{float(ratio.median()):.3f}** (1 = a straight line; 90 % of paths below "
               f"{float(ratio.quantile(0.9)):.3f}). Sliced distance of the samples to test data: "
               f"**{sliced_wasserstein(path.states[-1], test[:n]):.3f}**.")
    run = {"path": path, "summary": summary, "reference": test[:1000].numpy(), "label": handle.label}
    frame = steps
    return PathsUpdate(_figure(run, frame), _describe(run, frame), gr.update(maximum=steps, value=frame), run)


def _figure(run: dict, frame: int):
    path = run["path"]
    x0 = path.x0[min(frame, len(path.x0) - 1)].numpy()
    return flow_viz.paths_figure(path.states.numpy(), frame, run["reference"], x0 if frame < len(path.x0) else None,
                                 f"{run['label']}: ODE paths from noise (t = 1) to data (t = 0)")


@user_errors
def show_frame(frame, run):
    if not run:
        raise gr.Error("Sample first: press Sample to draw the paths.")
    frame = check_int(frame, "step", 0, len(run["path"].times) - 1)
    return _figure(run, frame), _describe(run, frame)


class GridUpdate(NamedTuple):
    x: Any
    x0: Any
    text: Any


@user_errors
def generate_fashion(label, scales_text, n_seeds, solver, steps):
    """Stream a class-conditional Fashion-MNIST grid out of noise: rows are guidance scales w, columns seeds that
    share their starting noise down the column."""
    handle = shipped(FM_FASHION)
    label = check_int(label, "class", 0, handle.num_classes - 1)
    scales = parse_scales(scales_text)
    n_seeds = check_int(n_seeds, "seeds", 1, guidance.MAX_SEEDS)
    check_choice(solver, "solver", list(flows.SOLVERS))
    steps = check_int(steps, "steps", 1, MAX_STEPS)
    images, evaluations = len(scales) * n_seeds, 2 * steps * flows.SOLVERS[solver]  # CFG: two passes a call
    check_cost(images, evaluations, "image", "This grid")
    ready, name = throttle(0.3), handle.class_names[label]
    rows, seeds = [f"w = {w:g}" for w in scales], [f"seed {k}" for k in range(n_seeds)]
    for k, step in enumerate(guidance.flow_grid_steps(handle.model, handle.sample_shape, label, scales,
                                                      list(range(n_seeds)), handle.null_condition, solver, steps),
                             start=1):
        if ready() or k == steps:
            t = "t = 0: the samples" if k == steps else f"t = {step.t - 1 / steps:.2f}"
            yield GridUpdate(viz.labelled_grid(step.x_t.cpu(), n_seeds, rows, f"x, {t}", seeds),
                             viz.labelled_grid(step.x0.cpu(), n_seeds, rows, "x̂₀ = x − t v at this step", seeds),
                             f"{name}: step {k} of {steps}, {evaluations} network evaluations per image "
                             f"({solver}, classifier-free guidance: conditional and unconditional in one batch).")


def make_job(dataset, steps, batch, lr, seed) -> TrainJob:
    check_choice(dataset, "dataset", list(CAPS))
    steps = check_int(steps, "steps", 1, CAPS[dataset]["steps"])
    batch = check_int(batch, "batch size", 8, CAPS[dataset]["batch"])
    lr, seed = check_float(lr, "learning rate", 1e-5, 1e-1), check_seed(seed)
    train_set = data.load(dataset, "train", n=8192, seed=seed)
    real, view = train_set.x[:500].numpy(), view_for("points")
    spec = flows.FlowMatchingSpec(network="mlp", mlp=MLPConfig(hidden_dim=128, num_layers=3, input_features=16),
                                  batch_size=batch, lr=lr, ema_decay=0.99, label_dropout=0.0)
    return TrainJob(spec, train_set, steps, seed, title=f"yours: flow matching · {DATASET_TITLES[dataset]}",
                    curves={"loss": "flow-matching loss ‖v − (ε − x₀)‖²"}, preview_every=max(1, steps // 10),
                    preview_n=500, card={"dataset": dataset}, where="the flow-matching menu above",
                    show_preview=lambda preview, step: (None, view.samples(preview, f"Euler-20 samples at step {step}",
                                                                          reference=real, limit=1.5)))


def build(my_models: gr.State) -> gr.Dropdown:
    gr.Markdown("Pair each data point x₀ with noise ε on the straight line $x_t = (1-t)\\,x_0 + t\\,\\varepsilon$; "
                "its velocity is $\\varepsilon - x_0$. A network $v_\\theta(x_t, t)$ regresses onto it, and sampling "
                "solves $dx/dt = v_\\theta(x, t)$ backwards from noise at t = 1 to data at t = 0: Euler "
                "$x_{t-h} = x_t - h\\,v_\\theta(x_t, t)$ (one network call a step) or Heun (two).",
                latex_delimiters=[{"left": "$", "right": "$", "display": False}])
    gr.Markdown("### On the plane: the ODE's paths")
    with gr.Row():
        menu = gr.Dropdown(FM_POINTS_MENU.choices(), value=next(iter(FM_POINTS_MENU.available()), None),
                           label="Flow-matching model", scale=2, elem_id="flows-fm-model")
        solver = gr.Radio(list(flows.SOLVERS), value="euler", label="ODE solver")
        steps = gr.Slider(1, MAX_STEPS, value=10, step=1, label="Steps K")
        n = gr.Slider(50, MAX_POINTS, value=500, step=50, label="Points")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
    button = gr.Button("Sample", variant="primary", elem_id="flows-fm-sample")
    plot = gr.Plot(label="Paths", elem_id="flows-fm-paths")
    frame = gr.Slider(0, 10, value=10, step=1, label="Step (0 = the noise; scrub through the run)",
                      elem_id="flows-fm-frame")
    text = gr.Markdown(elem_id="flows-fm-text")
    run = session_state(None)
    button.click(sample_paths, [menu, solver, steps, n, seed, my_models], [plot, text, frame, run], api_name="flows_paths", **EXPENSIVE)
    frame.input(show_frame, [frame, run], [plot, text], api_name="flows_paths_frame", **CHEAP)

    gr.Markdown("### On Fashion-MNIST, with classifier-free guidance\nThe same guidance object as /guidance, on the "
                "velocity: $\\tilde v = v_\\theta(x, t, \\varnothing) + w\\,(v_\\theta(x, t, y) - v_\\theta(x, t, "
                "\\varnothing))$. Rows are scales w (1: the plain conditional model), columns seeds: every cell of a "
                "column starts from the same noise.", latex_delimiters=[{"left": "$", "right": "$", "display": False}])
    with gr.Row():
        label = gr.Dropdown([(c, k) for k, c in enumerate(data.class_names("fashion"))], value=7, label="Class")
        scales = gr.Textbox("0, 1, 2, 4", label="Scales w (rows)", elem_id="flows-fm-scales")
        seeds = gr.Slider(1, guidance.MAX_SEEDS, value=6, step=1, label="Seeds (columns)")
        grid_solver = gr.Radio(list(flows.SOLVERS), value="euler", label="ODE solver")
        grid_steps = gr.Slider(1, MAX_STEPS, value=20, step=1, label="Steps K")
    with gr.Row():
        go = gr.Button("Generate", variant="primary", elem_id="flows-fm-generate")
        stop = gr.Button("Stop", elem_id="flows-fm-stop")
    with gr.Row():
        x_image = gr.Image(show_label=False, format="png", interactive=False, elem_id="flows-fm-x")
        x0_image = gr.Image(show_label=False, format="png", interactive=False)
    grid_text = gr.Markdown(elem_id="flows-fm-grid-text")
    generating = go.click(generate_fashion, [label, scales, seeds, grid_solver, grid_steps],
                          [x_image, x0_image, grid_text], api_name="flows_fashion", **EXPENSIVE)
    stop.click(None, None, None, cancels=[generating], queue=False)

    with gr.Accordion("Train a 2D flow-matching model yourself, live", open=False):
        dataset = gr.Dropdown([(DATASET_TITLES[d], d) for d in data.TOY2D], value="moons", label="Dataset")
        panel = TrainPanel("flows-fm", CAPS, dataset, steps=2000, lr=2e-3, batch=256, preview="plot",
                           curve_label="Flow-matching loss")
        panel.wire(make_job, [dataset], FM_POINTS_MENU, [menu], my_models, api_name="flows_fm_train")
    return menu
