"""Tab "Compare schedules": the linear- and the cosine-trained model of one dataset, from the same x_T with the
same DDIM steps, each measured."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground.diffusion.measure import final_sample, sample_quality
from playground.viz import diffusion as dviz

from ..common import EXPENSIVE, check_seed, metric_classifier, quoted, shipped, user_errors
from .shared import DATASET_ORDER, DATASET_TITLES, MAX_POINTS, MENU, check_sampling, markdown_table

KINDS = ("linear", "cosine")  # the two schedules compared


class ScheduleComparison(NamedTuple):
    """What Compare shows, in the order of its outputs."""

    image: Any  # two rows of samples (images), or None
    plot: Any  # two panels (2D), or None
    table: str  # the quality figures of each model, and those its card records (Markdown)


def datasets() -> list[str]:
    """The datasets with both a linear- and a cosine-trained model shipped."""
    names = set(MENU.available())
    return [d for d in DATASET_ORDER if all(f"ddpm-{d}-{kind}" in names for kind in KINDS)]


def _card_figures(card: dict) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in card.get("metrics", {}).items() if isinstance(v, float))


@user_errors
def compare_schedules(dataset, seed, n, steps, label) -> ScheduleComparison:
    """The linear- and the cosine-trained model of one dataset, from the same x_T, same DDIM steps."""
    if dataset not in datasets():
        have = ", ".join(MENU.available()) or "none"
        raise gr.Error(f"Both the linear and the cosine model of {quoted(dataset)} must be shipped; have {have}.")
    models = {kind: shipped(f"ddpm-{dataset}-{kind}") for kind in KINDS}
    first = models["linear"]
    steps, _, n, y = check_sampling(first, "ddim", steps, 0.0, n, label)
    seed = check_seed(seed)
    x_T = first.noise(n, seed)
    samples, rows, figures = {}, [], {}
    for kind, model in models.items():
        labels = model.labels(n, y)
        x, _ = final_sample(model.model, model.schedule, x_T, sampler="ddim", num_steps=steps, y=labels, seed=seed)
        samples[f"{kind}-trained, DDIM-{steps}"] = x
        figures = sample_quality(x, modality=model.modality, dataset=model.dataset, labels=labels,
                                 classifier=metric_classifier())
        rows.append([kind, *(f"{v:.3f}" for v in figures.values()), _card_figures(model.card)])
    image, figure = dviz.sample_rows(samples, first.modality)
    return ScheduleComparison(image, figure, markdown_table(["model", *figures, "recorded in its card"], rows))


def build() -> None:
    gr.Markdown("The same dataset, one model trained with the linear schedule and one with the cosine schedule, "
                "sampled from the same x_T with the same number of DDIM steps.")
    names = datasets()
    with gr.Row():
        dataset = gr.Dropdown([(DATASET_TITLES.get(d, d), d) for d in names], value=names[0] if names else None,
                              label="Dataset")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
        n = gr.Slider(2, MAX_POINTS, value=32, step=1, label="Samples (measured)")
        steps = gr.Slider(1, 1000, value=50, step=1, label="DDIM steps")
        label = gr.Number(-1, precision=0, label="Class (-1: all in turn)")
    button = gr.Button("Compare", variant="primary")
    image = gr.Image(label="Top: linear-trained; bottom: cosine-trained", format="png", interactive=False)
    plot = gr.Plot(label="2D: linear-trained (left), cosine-trained (right)")
    table = gr.Markdown()
    button.click(compare_schedules, [dataset, seed, n, steps, label], [image, plot, table],
                 api_name="reverse_compare_schedules", **EXPENSIVE)
