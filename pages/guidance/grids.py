"""The "Grid: scales × seeds" tab: both grids sampled live, kept in this browser's session, then any cell stepped
through from the recording (nothing is recomputed)."""
from __future__ import annotations

import functools
import time
import uuid
from typing import Any, NamedTuple

import gradio as gr
import numpy as np
from PIL import Image

from playground import guidance
from playground.diffusion.trajectory import Trajectory
from playground.viz import guidance as guidance_viz

from ..common import (CHEAP, EXPENSIVE, MAX_SEED, check_choice, check_int, export_path, lookup, real_data, remember,
                      session_state, throttle, user_errors)
from ..reverse.shared import PERCENTILE_DEFAULT, check_clipping, clipping_controls, clipping_name, percent
from .settings import METHOD_ORDER, Controls, check_settings, convention, setup_of

UPDATE_EVERY_S = 0.25  # the live grid redraws at most this often, so Stop answers within about this long


class Grid(NamedTuple):
    """One built grid, kept in this browser's session: both recorded runs and their settings."""

    dataset: str
    label: int
    scales: list[float]
    seeds: list[int]
    trajectories: dict[str, Trajectory]  # method -> the recording of all its cells (batch: row · seeds + column)
    clip_x0: object = True  # how x̂₀ was clipped: False, True (static [−1, 1]) or a DynamicThreshold


class GridUpdate(NamedTuple):
    """What Build shows, in the order of its outputs."""

    cfg_image: Any  # the classifier-free grid (images)
    cg_image: Any  # the classifier-guidance grid (images)
    points: Any  # 2D: the paths of every cell
    progress: Any  # the progress line
    grid_id: Any  # the id of this grid in the session's store
    convention: Any  # the scale convention for these scales
    clipping: Any  # how often clipping acted, per scale row and method (beside the clipping control)
    grids: dict  # this browser's grids {id: Grid}


class CellChoices(NamedTuple):
    row: Any
    col: Any
    frame: Any


class CellView(NamedTuple):
    strip: Any  # images: x_t, x̂₀ and the ε predictions
    plot: Any  # 2D: the cell's point and its path
    info: str  # the frame's numbers


class GridTab(NamedTuple):
    """The tab's components that follow the dataset's modality."""

    points: Any
    cfg_image: Any
    cg_image: Any
    png_button: Any
    png_file: Any
    n_seeds: Any


@user_errors
def build_grids(dataset, label, scales_text, n_seeds, first_seed, sampler, steps, grids=None, clipping="static",
                percentile=PERCENTILE_DEFAULT):
    """Both grids (rows: scales, columns: seeds), streamed; the finished grid joins this browser's `grids`.
    clipping: "off", "static" ([−1, 1], the default) or "dynamic" (Imagen's thresholding at `percentile`)."""
    settings = check_settings(dataset, label, scales_text, sampler, steps)
    clip_x0 = check_clipping(clipping, percentile)
    n_seeds = check_int(n_seeds, "number of seeds", 1, guidance.MAX_SEEDS)
    first_seed = check_int(first_seed, "first seed", 0, MAX_SEED - guidance.MAX_SEEDS)
    seeds = list(range(first_seed, first_seed + n_seeds))
    denoiser, classifier = settings.setup
    scales, images = settings.scales, denoiser.modality == "image"
    label_name = denoiser.class_names[settings.label]
    began, ready = time.perf_counter(), throttle(UPDATE_EVERY_S)
    pictures, trajectories = {m: gr.update() for m in METHOD_ORDER}, {}
    for method in METHOD_ORDER:
        for event in guidance.grid_steps(denoiser.model, denoiser.schedule, denoiser.sample_shape, settings.label,
                                         scales, seeds, method, classifier.model, sampler=settings.sampler,
                                         num_steps=settings.steps, clip_x0=clip_x0):
            if event.trajectory is not None:
                trajectories[method] = event.trajectory
                if images:
                    pictures[method] = guidance_viz.grid_picture(event.trajectory.final, scales, seeds, method, label_name)
            elif ready():  # the per-step yield is what lets Stop close this generator
                if images:
                    pictures[method] = guidance_viz.live_grid_picture(event.step.x0, scales, seeds, method, event.i,
                                                                      event.total)
                # t is 1-based, t = schedule index + 1, as in the step-through of a cell below
                text = (f"{guidance.METHODS[method]}: step {event.i} of {event.total} (t = {event.step.t + 1}), "
                        f"{time.perf_counter() - began:.1f} s so far")
                yield GridUpdate(pictures["cfg"], pictures["classifier"], gr.update(), text, gr.update(), gr.update(),
                                 gr.update(), grids or {})
    seconds = time.perf_counter() - began
    grid_id = uuid.uuid4().hex
    grids, note = remember(grids, grid_id, Grid(dataset, settings.label, scales, seeds, trajectories, clip_x0),
                           what="grids")
    figure = gr.update()
    if not images:
        figure = guidance_viz.paths_figure(trajectories, scales, seeds, real_data(dataset, "test", 2000), settings.label)
    text = (f"Done: {len(scales)} scales × {len(seeds)} seeds × 2 methods with {trajectories['cfg'].sampler} in "
            f"{seconds:.1f} s. Every cell of a column starts from the same x_T (seed {seeds[0]} is column 1)."
            + (" With DDPM the noise added at each step differs between cells." if sampler == "ddpm" else "")
            + " Pick a cell below to step through it." + note)
    yield GridUpdate(pictures["cfg"], pictures["classifier"], figure, text, grid_id, convention(scales),
                     clipping_table(trajectories, scales, clip_x0), grids)


def clipping_table(trajectories: dict[str, Trajectory], scales: list[float], clip_x0) -> str:
    """How often clipping acted: per scale row and method, the share of x̂₀ values it changed, averaged over every
    step and the row's seeds."""
    if clip_x0 is False:
        return ("**Clipping of x̂₀: off.** Every step is the unclipped update (eq. 11 / eq. 12) with the guided ε; "
                "at high scales x̂₀ may leave [−1, 1] far behind.")
    shares = {m: guidance.clipped_per_row(trajectories[m], len(scales)) for m in METHOD_ORDER}
    lines = [f"**How often {clipping_name(clip_x0)} acted**: share of x̂₀ values it changed, mean over all steps "
             "and the row's seeds (0 %: that row followed the unclipped update exactly).", "",
             "| scale (row) | " + " | ".join(guidance.METHODS[m] for m in METHOD_ORDER) + " |",
             "|---|" + "---|" * len(METHOD_ORDER)]
    for r, w in enumerate(scales):
        lines.append(f"| {w:g} | " + " | ".join(percent(shares[m][r]) for m in METHOD_ORDER) + " |")
    return "\n".join(lines)


def _grid(grid_id, grids) -> Grid:
    return lookup(grids, grid_id, "grid")


def cell_choices(grid_id, grids) -> CellChoices:
    """The row, column and frame controls for a new grid."""
    grid = _grid(grid_id, grids)
    rows = [(f"row {r + 1}: scale {w:g}", r) for r, w in enumerate(grid.scales)]
    cols = [(f"column {c + 1}: seed {s}", c) for c, s in enumerate(grid.seeds)]
    frames = len(grid.trajectories["cfg"]) - 1
    return CellChoices(gr.update(choices=rows, value=min(1, len(rows) - 1)), gr.update(choices=cols, value=0),
                       gr.update(maximum=frames, value=0))


@user_errors
def show_cell(grid_id, method, row, col, frame, grids=None) -> CellView:
    """One step of one cell: x_t, x̂₀ and both ε predictions (image strip or 2D figure), with its numbers."""
    grid = _grid(grid_id, grids)
    check_choice(method, "method", list(METHOD_ORDER))
    row = check_int(row, "row", 0, len(grid.scales) - 1)
    col = check_int(col, "column", 0, len(grid.seeds) - 1)
    tr = grid.trajectories[method]
    k = check_int(frame, "frame", 0, len(tr) - 1)
    cell = row * len(grid.seeds) + col
    step = guidance.cell_step(tr, cell, k)
    name, w, seed = guidance.SCALE_NAMES[method], grid.scales[row], grid.seeds[col]
    if step.t < 0:
        info = f"**Finished sample** of cell (scale {name} = {w:g}, seed {seed}), frame {k} of {len(tr) - 1}."
    else:
        push = guidance.rms(step.class_direction)
        info = (f"**Frame {k} of {len(tr) - 1}**, {tr.sampler}, t = {step.t + 1} (ᾱ_t = {step.alpha_bar:.4f}), cell "
                f"{name} = {w:g}, seed {seed}. Root mean square per value (about 1 for pure noise): "
                f"ε_uncond {guidance.rms(step.eps_uncond):.3f}; "
                + (f"ε_cond − ε_uncond {push:.3f} (the class direction, which w multiplies); " if method == "cfg" else
                   f"ε̂ − ε_uncond {push:.3f} (the classifier's push s √(1 − ᾱ_t) ∇ log p); ")
                + f"guided ε − ε_uncond {guidance.rms(step.guided_shift):.3f}.")
        info += (" x̂₀ is not clipped." if tr.clipped is None else
                 f" {clipping_name(grid.clip_x0).capitalize()} changed {percent(tr.clipped[k, cell])} of this cell's "
                 "x̂₀ values at this step.")
    if setup_of(grid.dataset).denoiser.modality == "points":
        figure = guidance_viz.cell_points_figure(tr, cell, k, real_data(grid.dataset, "test", 2000),
                                                 title=f"cell {name} = {w:g}, seed {seed}: frame {k}")
        return CellView(gr.update(visible=False), gr.update(value=figure, visible=True), info)
    return CellView(gr.update(value=guidance_viz.cell_strip(step, method), visible=True), gr.update(visible=False), info)


def step_frame(grid_id, method, frame, grids=None, delta: int = 1) -> int:
    """The frame `delta` steps on, within the recording."""
    tr = _grid(grid_id, grids).trajectories[check_choice(method, "method", list(METHOD_ORDER))]
    return int(np.clip(int(frame or 0) + delta, 0, len(tr) - 1))


@user_errors
def export_png(grid_id, grids=None) -> str:
    """Both grids side by side as one PNG file (image grids only)."""
    grid = _grid(grid_id, grids)
    denoiser = setup_of(grid.dataset).denoiser
    if denoiser.modality != "image":
        raise gr.Error("PNG export is for image grids; for a 2D grid use the camera icon of the plot.")
    picture = guidance_viz.both_grids_picture(grid.trajectories, grid.scales, grid.seeds,
                                              denoiser.class_names[grid.label])
    path = export_path("guidance-grid", ".png")
    Image.fromarray(picture).save(path)
    return path


def build_tab(c: Controls) -> GridTab:
    """The tab's layout and events."""
    with gr.Row():
        n_seeds = gr.Slider(1, guidance.MAX_SEEDS, value=4, step=1, label="Seeds (columns)", scale=3,
                            elem_id="guidance-seeds")
        first_seed = gr.Number(0, precision=0, minimum=0, label="First seed (columns: seed, seed+1, …)", scale=3,
                               elem_id="guidance-first-seed")
        build_button = gr.Button("Build both grids", variant="primary", scale=3, elem_id="guidance-build")
        stop_button = gr.Button("Stop", scale=1, elem_id="guidance-stop")
    progress = gr.Markdown(elem_id="guidance-progress")
    with gr.Row():
        cfg_image = gr.Image(label="Classifier-free guidance (rows: w)", format="png", interactive=False,
                             elem_id="guidance-cfg", show_label=False)  # the picture carries its title
        cg_image = gr.Image(label="Classifier guidance (rows: s)", format="png", interactive=False,
                            elem_id="guidance-cg", show_label=False)
        points = gr.Plot(label="2D: the paths of the seeds' points in every cell (top: CFG, bottom: classifier)",
                         visible=False, elem_id="guidance-points", show_label=False)  # 2D, instead of the images
    clipping, percentile = clipping_controls("guidance")  # below the grids: the first screen keeps its outputs
    clipping_text = gr.Markdown(elem_id="guidance-clipping-table")
    with gr.Row():
        png_button = gr.Button("Export both grids as PNG")
        png_file = gr.File(label="PNG", interactive=False, height=80)
    grid_id = gr.Textbox(visible=False)
    grids = session_state({})  # this browser's grids {id: Grid}, at most MAX_RUNS
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
    cell_info = gr.Markdown(elem_id="guidance-cell-info")
    gr.Markdown("<small>Each picture is captioned. ε is shown divided by 3, so ±3σ fills the grey range; "
                "differences of ε are multiplied by 3 to be visible.</small>")
    cell_strip = gr.Image(label="x_t, x̂₀ and both ε predictions", format="png", interactive=False,
                          elem_id="guidance-cell", show_label=False, height=170)
    cell_plot = gr.Plot(label="2D: this cell's point, its x̂₀ and its path", visible=False, elem_id="guidance-cell-plot")

    cell_inputs, cell_outputs = [grid_id, method, row, col, frame, grids], [cell_strip, cell_plot, cell_info]
    building = build_button.click(build_grids, [c.dataset, c.label, c.scales, n_seeds, first_seed, c.sampler, c.steps,
                                                grids, clipping, percentile], [cfg_image, cg_image, points, progress, grid_id, c.convention,
                                                         clipping_text, grids], api_name="guidance_grid", **EXPENSIVE)
    building.success(cell_choices, [grid_id, grids], [row, col, frame], api_visibility="private", **CHEAP).then(
        show_cell, cell_inputs, cell_outputs, api_visibility="private", **CHEAP)
    stop_button.click(lambda: "Stopped: this grid was not kept.", None, progress, cancels=[building], queue=False,
                      api_visibility="private")
    for control in (method, row, col):
        control.input(show_cell, cell_inputs, cell_outputs, api_visibility="private", show_progress="hidden", **CHEAP)
    frame.input(show_cell, cell_inputs, cell_outputs, api_name="guidance_cell", trigger_mode="always_last",
                show_progress="hidden", **CHEAP)
    for button, delta in ((prev_button, -1), (next_button, 1)):
        button.click(functools.partial(step_frame, delta=delta), [grid_id, method, frame, grids], frame,
                     api_visibility="private", **CHEAP).then(show_cell, cell_inputs, cell_outputs,
                                                             api_visibility="private", show_progress="hidden", **CHEAP)
    png_button.click(export_png, [grid_id, grids], png_file, api_name="guidance_png", **CHEAP)
    return GridTab(points, cfg_image, cg_image, png_button, png_file, n_seeds)
