"""The "Trade-off, measured" tab: many samples of the class at every scale, for both methods, then fidelity,
diversity and the distance to real data of the class, computed from those samples now."""
from __future__ import annotations

import time
from typing import Any, NamedTuple

import gradio as gr

from playground import guidance
from playground.viz import guidance as guidance_viz

from ..common import EXPENSIVE, check_cost, check_int, check_seed, metric_classifier, real_data, throttle, user_errors
from .settings import METHOD_ORDER, Controls, check_settings

MAX_PER_SCALE = 200  # samples per scale when measuring
UPDATE_EVERY_S = 0.25  # progress is shown at most this often, so Stop answers within about this long
# samples per network call: small enough for images that one call takes well under a second on a CPU, so Stop
# (which closes the generator between calls) answers within a second
BATCH = {"image": 64, "points": 400}


class MeasureUpdate(NamedTuple):
    """What Measure shows, in the order of its outputs."""

    curves: Any  # fidelity, diversity and distance over the scale
    densities: Any  # 2D: where the samples of each scale land
    table: Any  # the figures as a Markdown table
    text: Any  # progress, then what was measured and how


def _table(scales: list[float], rows: dict[str, dict]) -> str:
    distance = guidance_viz.distance_key(rows["cfg"])
    lines = [f"| method | scale | accuracy | confidence | diversity | {distance.replace('_', ' ')} |",
             "|---|---|---|---|---|---|"]
    for m in METHOD_ORDER:
        for r, w in enumerate(scales):
            lines.append(f"| {guidance.METHODS[m]} | {w:g} | {rows[m]['accuracy'][r]:.3f} | "
                         f"{rows[m]['confidence'][r]:.3f} | {rows[m]['diversity'][r]:.3f} | {rows[m][distance][r]:.3f} |")
    real = rows["cfg"]["real"]
    lines.append(f"| real data of the class | – | {real['accuracy']:.3f} | {real['confidence']:.3f} | "
                 f"{real['diversity']:.3f} | {real[distance]:.3f} |")
    return "\n".join(lines)


def _what(images: bool, real_n: int) -> str:
    if images:
        return ("Accuracy and confidence: the shipped Fashion-MNIST classifier (trained on clean real images, not the "
                "guiding one) on the class asked for; chance is 10%. Diversity: mean pairwise distance of its 128-d "
                "features. Fréchet distance: between those features of the samples and of up to 2,000 real training "
                "images of the class; with few samples it is biased upwards, so the dashed line gives the same "
                f"figures for {real_n} real test images.")
    return ("Accuracy and confidence: a 15-nearest-neighbour classifier fitted on real labelled points. Diversity: "
            "mean pairwise distance between samples. Sliced Wasserstein: distance between the samples and real "
            "points of the class. The dashed line is fresh real data of the class.")


@user_errors
def measure(dataset, label, scales_text, n, seed, sampler, steps):
    """n samples per scale and method, streamed progress, then the measured trade-off."""
    settings = check_settings(dataset, label, scales_text, sampler, steps)
    n = check_int(n, "samples per scale", 4, MAX_PER_SCALE)
    seed = check_seed(seed)
    denoiser, classifier = settings.setup
    calls = denoiser.schedule.num_steps if settings.sampler == "ddpm" else settings.steps
    check_cost(n * len(settings.scales) * len(METHOD_ORDER), calls, denoiser.modality, "Measure")
    images = denoiser.modality == "image"
    if images and metric_classifier() is None:
        raise gr.Error("The metric classifier (classifier-fashion) is not shipped: run "
                       "`python -m playground train classifier-fashion`.")
    began, ready = time.perf_counter(), throttle(UPDATE_EVERY_S)
    scales, samples = settings.scales, {}
    for method in METHOD_ORDER:
        # the library yields after every network call; closing this generator there (Stop) ends the work
        for event in guidance.sample_per_scale_steps(
                denoiser.model, denoiser.schedule, denoiser.sample_shape, settings.label, scales, n, method,
                classifier.model, sampler=settings.sampler, num_steps=settings.steps, seed=seed,
                batch=BATCH[denoiser.modality]):
            if event.samples is not None:
                samples[method] = event.samples
            elif ready():
                yield MeasureUpdate(gr.update(), gr.update(), gr.update(),
                                    f"{guidance.METHODS[method]}: {len(scales)} scales × {n} samples, step "
                                    f"{event.done} of {event.total}, {time.perf_counter() - began:.1f} s so far")
    yield MeasureUpdate(gr.update(), gr.update(), gr.update(),
                        f"Sampled in {time.perf_counter() - began:.1f} s; measuring…")
    if images:
        train_set, test_set = real_data("fashion", "train"), real_data("fashion", "test")
    else:
        train_set, test_set = real_data(dataset, "train", 8192), real_data(dataset, "test", 8192)
    scorer = metric_classifier() if images else None
    rows = {m: guidance.tradeoff(samples[m], settings.label, train_set, test_set, scorer) for m in METHOD_ORDER}
    densities = gr.update()
    if not images:
        densities = guidance_viz.densities_figure(samples, scales, real_data(dataset, "test", 2000), settings.label)
    text = (f"{n} samples per scale and method (the same {n} starting noises at every scale), "
            f"{len(scales) * n * 2} in all, {time.perf_counter() - began:.1f} s. "
            + _what(images, rows["cfg"]["real"]["n"]))
    yield MeasureUpdate(guidance_viz.tradeoff_figure(scales, rows), densities, _table(scales, rows), text)


class TradeoffTab(NamedTuple):
    """The tab's components that follow the dataset's modality."""

    densities: Any
    n: Any


def build_tab(c: Controls) -> TradeoffTab:
    """The tab's layout and events."""
    gr.Markdown("Many samples of the class at every scale, for both methods, then measured. The curves are "
                "computed from these samples now; nothing is looked up.")
    with gr.Row():
        n = gr.Slider(4, MAX_PER_SCALE, value=32, step=1, label="Samples per scale and method")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
        measure_button = gr.Button("Measure", variant="primary", elem_id="guidance-measure")
        measure_stop = gr.Button("Stop", elem_id="guidance-measure-stop")
    measure_text = gr.Markdown(elem_id="guidance-measure-text")
    curves = gr.Plot(label="Fidelity, diversity and distance to real data, over the scale",
                     show_label=False)  # the figure carries its title
    densities = gr.Plot(label="2D: where the samples of each scale land (top: CFG, bottom: classifier)",
                        visible=False, show_label=False)  # the figure carries its title
    table = gr.Markdown()
    measuring = measure_button.click(measure, [c.dataset, c.label, c.scales, n, seed, c.sampler, c.steps],
                                     [curves, densities, table, measure_text], api_name="guidance_tradeoff",
                                     **EXPENSIVE)
    measure_stop.click(lambda: "Stopped.", None, measure_text, cancels=[measuring], queue=False,
                       api_visibility="private")
    return TradeoffTab(densities, n)
