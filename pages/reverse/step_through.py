"""Tab "Generate and step through": sample live from x_T, record the run once into this browser's runs, then scrub,
step, play and export it without sampling again."""
from __future__ import annotations

import functools
import time
import uuid
from typing import Any, NamedTuple

import gradio as gr
import numpy as np
import torch

from playground import data, viz
from playground.diffusion.batching import Waiting
from playground.nn import compute_precision
from playground.diffusion.trajectory import Recorder, run_label, score_field
from playground.viz import diffusion as dviz

from ..common import (CHEAP, EXPENSIVE, MAX_RUNS, SAMPLING, SAMPLING_EVENTS, waiting_text, check_int, check_seed, export_path, lookup, remember, throttle,
                      user_errors, view_for)
from .shared import (MAX_IMAGES, MAX_POINTS, MENU, PERCENTILE_DEFAULT, check_clipping, check_sampling, clipping_controls,
                     clipping_name, default_model, percent)

LIVE_EVERY_S = 0.25  # the live view redraws at most this often (and Stop answers within about this long)
PLAY_FPS = 12  # frames a second when playing a run
PLAY_FRAMES = 60  # at most this many frames shown when playing
LIVE_HEIGHT = 340  # px of the live picture, beside the sampler settings: on a 1280×800 projector's first screen
STEP_HEIGHT = 260  # px of each step-through picture (x_t, ε̂, x̂₀): the frame slider and all three fit a screen


class Live(NamedTuple):
    """What Generate shows, in the order of its outputs."""

    live: Any  # picture of x_t (images), or None
    live_points: Any  # figure of x_t (2D points), or None
    status: str  # progress, then what was recorded
    run_id: str | None  # the recorded run's id, once done
    runs: dict  # this browser's recorded runs {id: run}


class FrameView(NamedTuple):
    """One recorded frame, in the order of the step-through outputs."""

    x_t: Any  # picture of x_t (images)
    eps: Any  # picture of ε̂/3 (images)
    x0: Any  # picture of x̂₀ (images)
    points: Any  # figure of the points, paths and score field (2D)
    info: str  # t, ᾱ_t, signal and noise coefficients, SNR
    schedule: Any  # the schedule with this step marked


class PlayFrame(NamedTuple):
    """A played frame: the slider's position, then the frame's views."""

    frame: int
    x_t: Any
    eps: Any
    x0: Any
    points: Any
    info: str
    schedule: Any


class ModelControls(NamedTuple):
    """The controls that follow the chosen model."""

    label: Any  # the class menu (hidden for an unconditional model)
    n: Any  # number of samples: its range and default
    steps: Any  # DDIM steps: at most T
    live: Any  # visibility of the live picture
    live_points: Any  # visibility of the live figure
    step_images: Any  # visibility of the x_t / ε̂ / x̂₀ row
    step_points: Any  # visibility of the 2D step figure


@user_errors
def generate(model_name, seed, sampler, steps, eta, n, label, runs=None, my_models=None, clipping="static",
             percentile=PERCENTILE_DEFAULT):
    """Sample live, yielding `Live` updates at most every LIVE_EVERY_S; the last one records the run in `runs`.
    clipping: "off", "static" ([−1, 1], the default) or "dynamic" (Imagen's thresholding at `percentile`).

    The run goes through the server's shared sampler: requests of the same model and deterministic settings that
    arrive together (a class pressing Generate) are sampled as one batch, and each request sees its own images."""
    model = MENU.get(model_name, my_models)
    steps, eta, n, y = check_sampling(model, sampler, steps, eta, n, label)
    seed = check_seed(seed)
    clip_x0 = check_clipping(clipping, percentile)
    view, runs = view_for(model.modality), runs or {}
    began, ready = time.perf_counter(), throttle(LIVE_EVERY_S)
    x_T = model.noise(n, seed)
    recorder = Recorder(model.schedule, x_T, steps, run_label(sampler, steps, eta))
    labels = None if y is None else model.labels(n, y)
    events = SAMPLING.steps((model.name, sampler, steps, y is None), model.model, model.schedule, x_T, labels,
                            steps, sampler, eta, torch.Generator().manual_seed(seed), clip_x0=clip_x0)
    for event in events:
        seconds = time.perf_counter() - began
        if isinstance(event, Waiting):
            # a class shares one batch: fewer live redraws each (every 0.25 s alone, every ~2 s in a batch of 30),
            # so drawing 30 live pictures does not slow the sampling they all wait for
            if ready(every=LIVE_EVERY_S * max(1.0, event.requests_in_batch / 4)):
                yield Live(gr.update(), gr.update(), waiting_text(event, seconds), None, runs)
            continue
        recorder.add(event)
        if recorder.i < steps and ready():
            picture, figure = view.live(event.x_t, f"step {recorder.i} of {steps}")
            # t is 1-based, t = schedule index + 1, as in the step-through below and its schedule plot
            yield Live(picture, figure, f"Sampling: step {recorder.i} of {steps} (t = {event.t + 1} of "
                                        f"{model.schedule.num_steps}), {seconds:.1f} s", None, runs)
    trajectory, run_id, seconds = recorder.trajectory(), uuid.uuid4().hex, time.perf_counter() - began
    runs, note = remember(runs, run_id, {"trajectory": trajectory, "model": model, "y": y, "seed": seed,
                                         "seconds": seconds, "clip_x0": clip_x0}, MAX_RUNS, "recorded runs")
    picture, figure = view.show(trajectory.final, "samples")
    precision = compute_precision(model.model)
    where = " on this CPU, as measured in docs/diffusion.md" if precision == "bfloat16" else ""
    yield Live(picture, figure, f"Done: {trajectory.sampler}, {len(trajectory) - 1} recorded steps in "
                                f"{seconds:.1f} s (the network in {precision}{where}). Scrub through them below.{note}",
               run_id, runs)


def _clipping_summary(trajectory, clip_x0) -> str:
    """How often clipping acted over the whole run (shown under the step-through)."""
    if trajectory.clipped_mean is None:
        return "Over the run: x̂₀ was not clipped, so every step followed the unclipped update exactly."
    mean = float(trajectory.clipped_mean.mean())
    return (f"Over the run: with {clipping_name(clip_x0)}, {percent(mean)} of the x̂₀ values were changed per step on "
            f"average (over all {trajectory.sampler.split(',')[0]} steps and samples)"
            + ("; it never acted, so the run is the unclipped one." if mean == 0 else "."))


def _frame_info(trajectory, k: int, num_steps: int) -> str:
    t, alpha_bar, last = trajectory.ts[k], trajectory.alpha_bar[k], len(trajectory) - 1
    if t < 0:
        return f"**Finished sample** (frame {k} of {last}): ᾱ = 1, no noise left."
    if trajectory.clipped is None:
        clipping = " x̂₀ is not clipped: this step is the unclipped update exactly."
    else:
        share = float(trajectory.clipped[k].mean())
        clipping = (f" Clipping changed {percent(share)} of x̂₀'s values at this step (mean over the samples)"
                    + (", so this step is the unclipped update." if share == 0 else
                       ", so this step is not exactly eq. 11 / eq. 12."))
    return (f"**Frame {k} of {last}**, {trajectory.sampler}: the model looks at x_t at t = {t + 1} of {num_steps} "
            f"(schedule index {t}), where ᾱ_t = {alpha_bar:.4f}, signal √ᾱ_t = {np.sqrt(alpha_bar):.3f}, noise "
            f"√(1−ᾱ_t) = {np.sqrt(1 - alpha_bar):.3f}, SNR = {alpha_bar / (1 - alpha_bar):.4g}. It predicts ε̂ (a model "
            "trained to predict v or x₀ has its output converted to ε̂) and, from it, x̂₀ = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t." + clipping)


@user_errors
def show_frame(run_id, frame, runs=None) -> FrameView:
    """One recorded frame of this browser's run, from the recording (2D views only recompute the score field)."""
    run = lookup(runs, run_id, "run")
    trajectory, model = run["trajectory"], run["model"]
    k = check_int(frame, "frame", 0, len(trajectory) - 1)
    t = trajectory.ts[k]
    info = _frame_info(trajectory, k, model.schedule.num_steps) + " " + _clipping_summary(trajectory, run["clip_x0"])
    plot = dviz.schedule_marked(model.schedule, t)
    if model.modality == "points":
        field = None
        if t >= 0:
            grid, _, score = score_field(model.model, model.schedule, t, run["y"], device=model.device)
            field = (grid, score)
        return FrameView(None, None, None, dviz.step_points(trajectory, k, field), info, plot)
    return FrameView(*dviz.step_images(trajectory, k), None, info, plot)


def frame_range(run_id, runs=None):
    """The frame slider, set to the run's frames and back to 0."""
    return gr.update(maximum=len(lookup(runs, run_id, "run")["trajectory"]) - 1, value=0)


def step_frame(run_id, frame, runs=None, delta: int = 1) -> int:
    """The frame `delta` away, kept inside the run."""
    last = len(lookup(runs, run_id, "run")["trajectory"]) - 1
    return int(np.clip(int(frame or 0) + delta, 0, last))


def play_frames(run_id, frame, runs=None):
    """Play the run from `frame` (from the start if at the end) at PLAY_FPS, yielding `PlayFrame`s."""
    last = len(lookup(runs, run_id, "run")["trajectory"]) - 1
    start = 0 if int(frame or 0) >= last else int(frame or 0)
    for k in [*range(start, last, max(1, last // PLAY_FRAMES)), last]:
        began = time.perf_counter()
        yield PlayFrame(k, *show_frame(run_id, k, runs))
        time.sleep(max(0.0, 1 / PLAY_FPS - (time.perf_counter() - began)))


@user_errors
def export_gif(run_id, runs=None) -> str:
    """This browser's run as a GIF (at most 60 frames); returns its path."""
    run = lookup(runs, run_id, "run")
    frames = dviz.gif_frames(run["trajectory"], run["model"].modality)
    return str(viz.save_gif(frames, export_path("reverse", ".gif"), fps=PLAY_FPS, hold_last=2.0))


def model_controls(model_name, my_models=None) -> ModelControls:
    """Class menu, sample count, DDIM steps and the visible views for the chosen model."""
    model = MENU.get(model_name, my_models)
    names = model.class_names or []
    label = (gr.update(choices=[("none (unconditional)", -1), *((c, k) for k, c in enumerate(names))], value=-1,
                       visible=True) if names else gr.update(choices=[("none", -1)], value=-1, visible=False))
    points = model.modality == "points"
    n = gr.update(maximum=MAX_POINTS if points else MAX_IMAGES, value=500 if points else 16)
    image_view, points_view = view_for(model.modality).visibility()
    return ModelControls(label, n, gr.update(maximum=model.schedule.num_steps), image_view, points_view, image_view,
                         points_view)


def build(page: gr.Blocks, runs: gr.State, my_models: gr.State) -> gr.Dropdown:
    """The tab's layout and events; returns its model menu (the training tab adds this browser's models to it)."""
    # Compact, for a projector (1280×800): Generate beside the model and the live picture beside the settings.
    with gr.Row():
        model = gr.Dropdown(MENU.choices(), value=default_model(), label="Model (dataset · training schedule)",
                            scale=3, elem_id="reverse-model")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (x_T)", scale=1, elem_id="reverse-seed")
        label = gr.Dropdown([("none (unconditional)", -1), *((c, k) for k, c in enumerate(data.FASHION_CLASSES))],
                            value=-1, label="Class", scale=2)
        with gr.Column(scale=2, min_width=180):  # a closed fold: the first screen keeps the live picture
            clipping, percentile = clipping_controls("reverse")
        with gr.Column(scale=1, min_width=140):
            go_button = gr.Button("Generate", variant="primary", elem_id="reverse-generate")
            stop_button = gr.Button("Stop", elem_id="reverse-stop")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):  # the sampler's settings, and beside them the live picture
            sampler = gr.Radio([("DDPM (all T steps)", "ddpm"), ("DDIM", "ddim")], value="ddim", label="Sampler")
            steps = gr.Slider(1, 1000, value=50, step=1, label="DDIM steps", elem_id="reverse-steps")
            eta = gr.Slider(0, 1, value=0, step=0.05, label="DDIM η (0: deterministic, 1: DDPM-like noise)")
            n = gr.Slider(1, MAX_POINTS, value=16, step=1, label="Number of samples", elem_id="reverse-n")
            progress_text = gr.Markdown(elem_id="reverse-status")
        with gr.Column(scale=5):
            live = gr.Image(label="Live: x_t as sampling runs", format="png", interactive=False, height=LIVE_HEIGHT,
                            elem_id="reverse-live")
            live_points = gr.Plot(label="Live: the points as sampling runs", elem_id="reverse-live-points")
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
        view_x = gr.Image(label="x_t: what the model sees", format="png", interactive=False, height=STEP_HEIGHT,
                          elem_id="reverse-xt")
        view_eps = gr.Image(label="ε̂: the noise it predicts (shown as ε̂/3)", format="png", interactive=False,
                            height=STEP_HEIGHT)
        view_x0 = gr.Image(label="x̂₀: the clean picture it predicts", format="png", interactive=False,
                           height=STEP_HEIGHT)
    view_points = gr.Plot(label="2D: points x_t (blue), their x̂₀ (orange), paths so far, and the model's score "
                                "direction −ε̂ on a grid (green)")
    schedule_plot = gr.Plot(label="The model's schedule, with the current step marked")
    with gr.Row():
        gif_button = gr.Button("Export this run as a GIF")
        gif_file = gr.File(label="GIF", interactive=False, height=80)

    controls = [label, n, steps, live, live_points, step_images, view_points]
    model.change(model_controls, [model, my_models], controls, api_visibility="private", **CHEAP)
    page.load(model_controls, [model, my_models], controls, api_visibility="private", **CHEAP)
    frame_outputs = [view_x, view_eps, view_x0, view_points, frame_info, schedule_plot]
    generating = go_button.click(generate, [model, seed, sampler, steps, eta, n, label, runs, my_models, clipping,
                                            percentile],
                                 [live, live_points, progress_text, run_id, runs], api_name="reverse_generate",
                                 **SAMPLING_EVENTS)
    generating.success(frame_range, [run_id, runs], frame, api_visibility="private", **CHEAP).then(
        show_frame, [run_id, frame, runs], frame_outputs, api_visibility="private", **CHEAP)
    stop_button.click(None, None, None, cancels=[generating])
    frame.input(show_frame, [run_id, frame, runs], frame_outputs, api_name="reverse_frame",
                trigger_mode="always_last", show_progress="hidden", **CHEAP)
    for button, delta in ((prev_button, -1), (next_button, 1)):
        button.click(functools.partial(step_frame, delta=delta), [run_id, frame, runs], frame,
                     api_visibility="private", **CHEAP).then(show_frame, [run_id, frame, runs], frame_outputs,
                                                             api_visibility="private", show_progress="hidden", **CHEAP)
    playing = play_button.click(play_frames, [run_id, frame, runs], [frame, *frame_outputs], api_visibility="private",
                                show_progress="hidden", **CHEAP)
    pause_button.click(None, None, None, cancels=[playing])
    gif_button.click(export_gif, [run_id, runs], gif_file, api_name="reverse_gif", **EXPENSIVE)
    return model
