"""Tab "Compare samplers": one x_T, DDPM over all T steps and DDIM with 5 … 100 steps, each row measured."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground.diffusion.measure import ddim_determinism_gap, final_sample, sample_quality
from playground.viz import diffusion as dviz

from ..common import EXPENSIVE, check_seed, metric_classifier, user_errors
from .shared import MAX_POINTS, MENU, check_sampling, default_model, markdown_table

DDIM_ROW = (5, 10, 20, 50, 100)  # DDIM step counts compared with DDPM


class SamplerComparison(NamedTuple):
    """What Compare shows, in the order of its outputs."""

    image: Any  # rows of samples (images), or None
    plot: Any  # one panel per sampler (2D), or None
    table: str  # network calls, seconds and the quality figures of each sampler (Markdown)
    note: str  # how to read it, and the DDIM determinism check


def quality_note(modality: str) -> str:
    if modality == "points":
        return "The distance is between the samples and the same number of fresh data points."
    return ("Accuracy: the share of samples the shipped Fashion-MNIST classifier (85.9% test accuracy on real "
            "images) assigns to the class asked for; chance is 10%.")


@user_errors
def compare_samplers(model_name, seed, n, eta, label, my_models=None, progress=gr.Progress()) -> SamplerComparison:
    """DDPM over all T, then DDIM with 5 … 100 steps, all from the same x_T, each measured."""
    model = MENU.get(model_name, my_models)
    _, eta, n, y = check_sampling(model, "ddim", 10, eta, n, label)
    seed = check_seed(seed)
    x_T, labels, total = model.noise(n, seed), model.labels(n, y), model.schedule.num_steps
    runs = [("ddpm", total)] + [("ddim", s) for s in DDIM_ROW if s <= total]
    samples, rows, figures = {}, [], {}
    for sampler, steps in progress.tqdm(runs, desc="sampling"):
        x, seconds = final_sample(model.model, model.schedule, x_T, sampler=sampler, num_steps=steps, eta=eta,
                                  y=labels, seed=seed)
        name = f"{sampler.upper()}-{steps}"
        samples[name] = x
        figures = sample_quality(x, modality=model.modality, dataset=model.dataset, labels=labels,
                                 classifier=metric_classifier())
        rows.append([name, steps, f"{seconds:.2f}", *(f"{v:.3f}" for v in figures.values())])
    gap = ddim_determinism_gap(model.model, model.schedule, x_T, y=labels, seed=seed)
    image, figure = dviz.sample_rows(samples, model.modality)
    note = (f"Rows, top to bottom: {', '.join(samples)} (first 8 samples of each, same x_T). "
            f"DDIM-20 with η = 0 run twice with different sampler seeds: largest difference {gap:.2e} "
            "(deterministic: only x_T matters). " + quality_note(model.modality))
    table = markdown_table(["sampler", "network calls", "seconds", *figures], rows)
    return SamplerComparison(image, figure, table, note)


def build(my_models: gr.State) -> gr.Dropdown:
    """The tab's layout and events; returns its model menu."""
    gr.Markdown("One x_T, many samplers: DDPM over all T steps, then DDIM with "
                f"{', '.join(map(str, DDIM_ROW))} steps. Each row is measured.")
    with gr.Row():
        model = gr.Dropdown(MENU.choices(), value=default_model(), label="Model", scale=3)
        seed = gr.Number(0, precision=0, minimum=0, label="Seed", scale=1)
        n = gr.Slider(2, MAX_POINTS, value=32, step=1, label="Samples per row (measured)", scale=2)
        eta = gr.Slider(0, 1, value=0, step=0.05, label="DDIM η", scale=2)
        label = gr.Number(-1, precision=0, label="Class (-1: all classes in turn)", scale=1)
    button = gr.Button("Compare", variant="primary")
    image = gr.Image(label="Rows: samplers (first 8 samples each)", format="png", interactive=False)
    plot = gr.Plot(label="2D: one panel per sampler")
    table, note = gr.Markdown(), gr.Markdown()
    button.click(compare_samplers, [model, seed, n, eta, label, my_models], [image, plot, table, note],
                 api_name="reverse_compare_samplers", **EXPENSIVE)
    return model
