"""/guidance: classifier-free guidance and classifier guidance, side by side, on the same seeds.

One module per tab: `grids` (both grids, kept in this browser's session, and the step-through of a cell) and
`tradeoff` (the measured fidelity–diversity trade-off); `settings` holds the settings row both tabs read."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from ..common import CHEAP, about
from . import grids, tradeoff
from .grids import CellChoices, CellView, Grid, GridUpdate, build_grids, cell_choices, export_png, show_cell, step_frame
from .settings import (METHOD_ORDER, SETUPS, available_datasets, check_settings, controls, convention,
                       default_label, parse_scales, setup_of, show_convention)
from .tradeoff import MeasureUpdate, measure

__all__ = ["build", "demo", "available_datasets", "build_grids", "cell_choices", "show_cell", "step_frame",
           "export_png", "measure", "parse_scales", "show_convention", "convention", "check_settings", "setup_of",
           "Grid", "GridUpdate", "CellChoices", "CellView", "MeasureUpdate", "SETUPS", "METHOD_ORDER", "on_dataset"]

ABOUT = ("A conditional model can be pushed to make its samples *more* typical of a class than it would on its own. "
         "**Classifier-free guidance** asks the same network twice (with the class, and with the “null” class it "
         "learned because labels were dropped 15–20% of the time in training) and extrapolates from the "
         "unconditional answer past the conditional one. **Classifier guidance** adds the gradient of a separate "
         "classifier, trained on *noisy* images x_t, to an unconditional model. Rows are scales, columns are seeds, "
         "and every cell of a column starts from the same noise x_T, so what changes down a column is the scale alone.")


class DatasetUpdate(NamedTuple):
    """What follows the dataset: its classes, and which components its modality (images or 2D points) shows."""

    label: Any
    points: Any
    densities: Any
    cfg_image: Any
    cg_image: Any
    png_button: Any
    png_file: Any
    n_seeds: Any
    n: Any


def on_dataset(dataset) -> DatasetUpdate:
    denoiser = setup_of(dataset).denoiser
    is_points = denoiser.modality == "points"
    plots, images = gr.update(visible=is_points), gr.update(visible=not is_points)
    label = gr.update(choices=[(c, k) for k, c in enumerate(denoiser.class_names)], value=default_label(dataset))
    return DatasetUpdate(label, plots, plots, images, images, images, images, gr.update(value=8 if is_points else 4),
                         gr.update(value=200 if is_points else 32))


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
    c = controls(datasets)
    with gr.Tabs():
        with gr.Tab("Grid: scales × seeds", id="grid"):
            grid_tab = grids.build_tab(c)
        with gr.Tab("Trade-off, measured", id="tradeoff"):
            tradeoff_tab = tradeoff.build_tab(c)
    modality = DatasetUpdate(c.label, grid_tab.points, tradeoff_tab.densities, grid_tab.cfg_image, grid_tab.cg_image,
                             grid_tab.png_button, grid_tab.png_file, grid_tab.n_seeds, tradeoff_tab.n)
    c.dataset.change(on_dataset, c.dataset, list(modality), api_visibility="private", **CHEAP)
    page.load(on_dataset, c.dataset, list(modality), api_visibility="private", **CHEAP)


def demo() -> gr.Blocks:
    with gr.Blocks(title="Guidance") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
