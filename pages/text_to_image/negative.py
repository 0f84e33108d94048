"""Tab 4, the negative prompt: the same seeds sampled twice, with the empty prompt and with a negative prompt as
classifier-free guidance's unconditional input, and scene truth counting how often the unwanted attribute shows."""
from __future__ import annotations

import time
from typing import Any, NamedTuple

import gradio as gr

from playground import text_to_image as t2i
from playground.viz import labelled_grid

from ..common import EXPENSIVE, check_cost, check_float, check_int, check_seed, user_errors
from ..common.layout import LATEX
from .shared import check_prompt, get_model, model_menu

MAX_STEPS = 200
EQUATION = ("$$\\tilde\\epsilon = \\epsilon(z_t, \\mathrm{neg}) + w\\,\\big(\\epsilon(z_t, \\mathrm{prompt}) - "
            "\\epsilon(z_t, \\mathrm{neg})\\big)$$\nWithout a negative prompt, neg is the empty prompt ∅ (what caption "
            "dropout trained: the unconditional model). With one, every step is pushed **away from** what the "
            "negative prompt describes, as strongly as it is pushed towards the prompt: the same equation, one input "
            "swapped (in `ClassifierFree(w, null=ids(neg))`).")


class Compared(NamedTuple):
    picture: Any  # two rows: without / with the negative prompt, the same seeds
    text: Any  # the measured shares, without vs with


def _attribute(unwanted: dict) -> str:
    return " ".join(unwanted[k] for k in ("size", "colour", "shape") if k in unwanted)


@user_errors
def negative(model, prompt, negative_prompt, scale, seed, n, steps) -> Compared:
    """The same n seeds with ∅ and with the negative prompt as the unconditional input, judged by scene truth."""
    handle = get_model(model)
    prompt = check_prompt(handle, prompt)
    if not isinstance(negative_prompt, str) or not negative_prompt.strip():
        raise gr.Error("Type a negative prompt, for example “red”: this tab compares with and without one.")
    negative_prompt = check_prompt(handle, negative_prompt, "the negative prompt")
    scale = check_float(scale, "guidance scale", 0.0, t2i.MAX_SCALE)
    seed, n = check_seed(seed), check_int(n, "number of images", 1, t2i.MAX_IMAGES)
    steps = check_int(steps, "DDIM steps", 1, min(MAX_STEPS, handle.schedule.num_steps))
    check_cost(2 * n, 2 * steps, "image", "This comparison")
    began = time.perf_counter()
    out = t2i.negative_effect(handle, prompt, negative_prompt, n, scale, steps, seed)
    seconds = time.perf_counter() - began
    without, with_ = out["without"], out["with"]
    picture = labelled_grid([without["images"], with_["images"]], n, ["without (∅)", f"with “{negative_prompt}”"],
                            col_labels=[f"#{k + 1}" for k in range(n)])
    unwanted = _attribute(out["unwanted"])
    text = (f"**“{prompt}”, {n} images from seed {seed}, measured by scene truth** ({steps} DDIM steps, w = {scale:g}, "
            f"{seconds:.1f} s):\n\n"
            f"| | without | with “{negative_prompt}” |\n|---|---|---|\n"
            f"| images showing a {unwanted} object (unwanted) | {without['shows_unwanted']:.0%} | "
            f"**{with_['shows_unwanted']:.0%}** |\n"
            f"| images with the prompt's shape and colour | {without['meets_prompt']:.0%} | "
            f"**{with_['meets_prompt']:.0%}** |\n\n"
            f"With {n} images a share moves in steps of {100 / n:.3g}%. Both rows start from the same noise x_T "
            "and take the same deterministic DDIM steps, so every difference between an image and the one under it "
            "comes from the negative prompt.")
    return Compared(picture, text)


def build(page: gr.Blocks) -> None:
    with gr.Row(equal_height=True):
        model = model_menu("t2i-neg-model", scale=2)
        prompt = gr.Textbox("a circle", label="Prompt", elem_id="t2i-neg-prompt", scale=3, max_lines=1)
        negative_prompt = gr.Textbox("red", label="Negative prompt (what to steer away from)",
                                     elem_id="t2i-neg-negative", scale=2, max_lines=1)
    with gr.Row(equal_height=True):
        scale = gr.Slider(0, 10, value=3, step=0.5, label="Guidance scale w", elem_id="t2i-neg-scale", scale=2)
        seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="t2i-neg-seed", scale=1, min_width=90)
        n = gr.Slider(1, t2i.MAX_IMAGES, value=8, step=1, label="Images (per row)", elem_id="t2i-neg-n", scale=2)
        steps = gr.Slider(1, MAX_STEPS, value=50, step=1, label="DDIM steps", elem_id="t2i-neg-steps", scale=2)
        button = gr.Button("Compare without / with", variant="primary", elem_id="t2i-neg-run", scale=2)
    with gr.Row(equal_height=False):
        picture = gr.Image(show_label=False, interactive=False, elem_id="t2i-neg-images", scale=3, height=270)
        with gr.Column(scale=2):
            gr.Markdown(EQUATION, latex_delimiters=LATEX, elem_id="t2i-neg-equation")
            text = gr.Markdown(elem_id="t2i-neg-info")
    button.click(negative, [model, prompt, negative_prompt, scale, seed, n, steps], [picture, text],
                 api_name="t2i_negative", **EXPENSIVE)
