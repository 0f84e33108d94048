"""What both tabs of /guidance share: the two shipped models of each dataset, the settings row (dataset, class,
scales, sampler, steps) with its server-side checks, and the scale convention of the two papers."""
from __future__ import annotations

import re
from typing import Any, NamedTuple

import gradio as gr

from playground import checkpoints, guidance
from playground.models import Loaded

from ..common import CHEAP, check_choice, check_int, quoted, shipped, user_errors

MAX_STEPS_DDIM = 200  # DDIM steps allowed here (DDPM runs all T)
# dataset -> (class-conditional denoiser trained with label dropout, noise-aware classifier of the same schedule)
SETUPS = {"fashion": ("ddpm-fashion-cosine", "noisy-classifier-fashion"),
          "ring8": ("ddpm-ring8-cond", "noisy-classifier-ring8"),
          "moons": ("ddpm-moons-cond", "noisy-classifier-moons")}
TITLES = {"fashion": "Fashion-MNIST", "ring8": "ring of 8 Gaussians (2D)", "moons": "two moons (2D)"}
METHOD_ORDER = ("cfg", "classifier")
DEFAULT_SCALES = "0, 1, 2, 4, 8"
NEGATIVE_SCALES = "-4, -2, 0, 1, 2"


class Setup(NamedTuple):
    """A dataset's two shipped models (read-only, shared by every session)."""

    denoiser: Loaded  # class-conditional, trained with label dropout: CFG, and unconditional for classifier guidance
    classifier: Loaded  # p(y | x_t, t), trained on noisy x_t of the same schedule


class Settings(NamedTuple):
    """The settings row, checked."""

    setup: Setup
    label: int
    scales: list[float]
    sampler: str
    steps: int


class Controls(NamedTuple):
    """The settings row's components, which both tabs read."""

    dataset: Any
    label: Any
    scales: Any
    sampler: Any
    steps: Any
    convention: Any


def available_datasets() -> list[str]:
    names = checkpoints.available()
    return [d for d, (model, clf) in SETUPS.items() if model in names and clf in names]


def setup_of(dataset) -> Setup:
    check_choice(dataset, "dataset", available_datasets())
    denoiser, classifier = (shipped(name) for name in SETUPS[dataset])
    if (classifier.schedule.kind, classifier.schedule.num_steps) != (denoiser.schedule.kind, denoiser.schedule.num_steps):
        raise gr.Error(f"{classifier.name} was trained for another schedule than {denoiser.name}.")
    return Setup(denoiser, classifier)


def default_label(dataset: str) -> int:
    return 7 if dataset == "fashion" else 0  # sneaker


def parse_scales(text) -> list[float]:
    """'0, 1, 2, 4, 8' -> [0.0, 1.0, 2.0, 4.0, 8.0], checked (count, finite, size)."""
    if not isinstance(text, str) or not text.strip():
        raise gr.Error("Give the guidance scales as numbers separated by commas, e.g. 0, 1, 2, 4, 8.")
    values = []
    for part in re.split(r"[,;\s]+", text.strip()):
        try:
            values.append(float(part))
        except ValueError:
            raise gr.Error(f"Could not read {quoted(part)} as a scale; give numbers separated by commas, "
                           "e.g. 0, 1, 2, 4, 8.") from None
    try:
        return guidance.check_scales(values)
    except ValueError as err:
        raise gr.Error(f"Scales: {err}. For example 0, 1, 2, 4, 8.") from None


def check_settings(dataset, label, scales_text, sampler, steps) -> Settings:
    setup = setup_of(dataset)
    label = check_int(label, "class", 0, len(setup.denoiser.class_names) - 1)
    scales = parse_scales(scales_text)
    check_choice(sampler, "sampler", ["ddim", "ddpm"])
    steps = (setup.denoiser.schedule.num_steps if sampler == "ddpm"
             else check_int(steps, "DDIM steps", 1, MAX_STEPS_DDIM))
    return Settings(setup, label, scales, sampler, steps)


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


@user_errors
def show_convention(scales_text) -> str:
    """The Scales box's blur/submit handler: the convention table for these scales, or a clear message."""
    return convention(parse_scales(scales_text))


def controls(datasets: list[str]) -> Controls:
    """The settings in one row, then the scale convention (closed) with the negative-guidance shortcuts beside it:
    short, so the outputs below start on a projector's first screen."""
    first = datasets[0]
    with gr.Row():
        dataset = gr.Dropdown([(TITLES[d], d) for d in datasets], value=first, label="Dataset", scale=4, min_width=255,
                              elem_id="guidance-dataset")  # wide enough for "ring of 8 Gaussians (2D)"
        label = gr.Dropdown([(c, k) for k, c in enumerate(setup_of(first).denoiser.class_names)],
                            value=default_label(first), label="Class", scale=2, min_width=150, elem_id="guidance-class",
                            allow_custom_value=True)  # choices follow the dataset; the handler checks the value
        scales = gr.Textbox(DEFAULT_SCALES, label="Scales (rows)", scale=2, min_width=150,
                            elem_id="guidance-scales")
        sampler = gr.Radio([("DDIM", "ddim"), ("DDPM (all T)", "ddpm")], value="ddim", label="Sampler", scale=4,
                           min_width=260)
        steps = gr.Slider(5, MAX_STEPS_DDIM, value=50, step=1, label="DDIM steps", scale=3, min_width=180,
                          elem_id="guidance-steps")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3), gr.Accordion("How to read the scales: our w vs Ho & Salimans' w′", open=False,
                                              elem_id="guidance-convention-box"):
            conv = gr.Markdown(convention(parse_scales(DEFAULT_SCALES)), elem_id="guidance-convention")
        negative = gr.Button(f"Try negative guidance ({NEGATIVE_SCALES.replace('-', '−')})", size="sm", scale=1,
                             min_width=290, elem_id="guidance-negative")
        positive = gr.Button(f"Back to {DEFAULT_SCALES}", size="sm", scale=1, min_width=160, elem_id="guidance-positive")
    for button, text in ((negative, NEGATIVE_SCALES), (positive, DEFAULT_SCALES)):
        button.click(lambda text=text: text, None, scales, api_visibility="private", **CHEAP).then(
            show_convention, scales, conv, api_visibility="private", **CHEAP)
    for event in (scales.blur, scales.submit):
        event(show_convention, scales, conv, api_visibility="private", **CHEAP)
    return Controls(dataset, label, scales, sampler, steps, conv)
