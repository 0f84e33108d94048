"""Tab 2, cross-attention maps: where each word of the prompt looks. One DDIM run records the attention weights of
every cross-attention layer at every step (kept in this browser's session), then the step and the layer are
chosen without sampling again; each colour, shape and place word is measured against what scene truth found."""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import gradio as gr
import torch

from playground import text_to_image as t2i
from playground.viz import text_to_image as t2i_viz

from ..common import CHEAP, EXPENSIVE, check_choice, check_cost, check_int, check_seed, session_state, user_errors
from .shared import check_prompt, default_model, get_model, model_menu

ALL = "all"  # the layer menu's value for the layers averaged
ALL_LABEL = "all layers (averaged)"
GUIDANCE = 3.0  # the run's guidance scale (the maps are of the conditional half of its CFG batch)
MAX_STEPS = 200  # DDIM steps of one run (each is recorded)
MAP_SIDE = 112  # pixels of each picture in the strip


class Recorded(NamedTuple):
    """One run's maps, kept in this browser's session (float16 on the CPU: about 0.3 MB for 50 steps)."""

    model: str
    prompt: str
    seed: int
    steps: int
    t: list[int]  # the schedule index of each DDIM step
    T: int  # the schedule's length
    tokens: list[str]
    layers: dict  # layer name -> (steps, tokens, h, w)
    heads: int
    image: torch.Tensor  # (3, 32, 32) the final image


class Shown(NamedTuple):
    picture: Any  # the final image, then one overlay per token
    text: Any  # what the maps are, and where each word's attention falls
    layer: Any  # the layer menu (its choices follow the model)
    step: Any  # the step slider (its maximum follows the run)
    run: Any  # this browser's recorded run


def layer_choices(names: list[str]) -> list[tuple[str, str]]:
    return [(ALL_LABEL, ALL), *((name, name) for name in names)]


# Measured on 4 prompts × 5 steps of 20 (ldm-scenes): this layer localises words best — shape words put 3× their
# object's area share of attention on it, colour words 2.3×, place words 1.2×; averaged over layers, maps are flat.
PREFERRED = "down 4×4 (2)"


def _preferred(names: list[str]) -> str:
    return PREFERRED if PREFERRED in names else ALL


def _initial_layers() -> list[tuple[str, str]]:
    name = default_model()
    return layer_choices(t2i.attention_layers(get_model(name)) if name else [])


def measured_line(found: dict) -> str:
    """Where each colour, shape and place word's attention falls, against what uniform attention would give."""
    parts = []
    for word, f in found.items():
        if word in t2i.HALVES:
            parts.append(f"“{word}”: **{f['share']:.0%}** in the {word} half (uniform: 50%)")
        elif f["share"] is None:
            parts.append(f"“{word}”: scene truth finds no {word} object in the image, so nothing to measure")
        else:
            what = f"{word} object" if f["objects"] == 1 else f"{f['objects']} {word} objects"
            parts.append(f"“{word}”: **{f['share']:.0%}** on the {what} scene truth found (it covers "
                         f"{f['chance']:.0%} of the image: uniform attention would put {f['chance']:.0%} there)")
    if not parts:
        return "The prompt names no colour, shape or half (left, right, top, bottom) to measure."
    return "**Measured on this image:** " + "; ".join(parts) + "."


def render(run: Recorded, step: int, layer: str) -> tuple[Any, str]:
    """The strip and the text for one step and layer of a recorded run (no sampling)."""
    k = check_int(step, "step", 1, run.steps)
    layer = check_choice(layer, "layer", [ALL, *run.layers])
    at_step = {name: maps[k - 1].float() for name, maps in run.layers.items()}
    maps = t2i.attention_mean(at_step) if layer == ALL else at_step[layer]
    side = maps.shape[-1]
    picture = t2i_viz.attention_strip(run.image, run.tokens, maps, side=MAP_SIDE)
    where = (f"all {len(run.layers)} cross-attention layers, each upsampled to {side}×{side} and averaged"
             if layer == ALL else f"layer {layer}")
    found = t2i.attention_inside(maps, run.tokens, run.image)
    text = (f"**What you see:** the final image for “{run.prompt}” (seed {run.seed}), then one heat map per token laid "
            "over it (black → red → yellow → white, each scaled to its own maximum). A token's map is, at every "
            f"position of the {side}×{side} grid, its weight in softmax(QKᵀ/√d) over the prompt's {len(run.tokens)} "
            f"tokens (its words and `<eot>`), averaged over {run.heads} head{'s' if run.heads > 1 else ''}, at DDIM "
            f"step **{k} of {run.steps}** (t = {run.t[k - 1] + 1} of T = {run.T}), {where}. The maps of all tokens "
            "add up to 1 at each position; the percentage above a word is its mean weight over positions.\n\n"
            + measured_line(found))
    return picture, text


@user_errors
def attention(model, prompt, seed, steps, step, layer) -> Shown:
    """Sample one image for the prompt, recording every layer's cross-attention at every DDIM step; show the
    chosen step and layer."""
    handle = get_model(model)
    prompt = check_prompt(handle, prompt)
    seed = check_seed(seed)
    steps = check_int(steps, "DDIM steps", 1, min(MAX_STEPS, handle.schedule.num_steps))
    step = check_int(step, "step to inspect", 1, steps)
    names = t2i.attention_layers(handle)
    layer = check_choice(layer, "layer", [ALL, *names])
    check_cost(1, 2 * steps, "image", "This run")
    out = t2i.attention_maps_by_step(handle, prompt, steps, seed, GUIDANCE)
    heads = handle.model.cross_attention()[0].num_heads
    run = Recorded(model, prompt, seed, steps, out["t"], handle.schedule.num_steps, out["tokens"],
                   {name: maps.half() for name, maps in out["layers"].items()}, heads, out["image"])
    picture, text = render(run, step, layer)
    return Shown(picture, text, gr.update(choices=layer_choices(names), value=layer), gr.update(maximum=steps), run)


@user_errors
def show(step, layer, run=None) -> tuple[Any, str]:
    """Another step or layer of this browser's recorded run, from the session (cheap: nothing is sampled).
    Before any run, or past the run's last step, it says what to press instead."""
    if not isinstance(run, Recorded):
        return gr.update(), "Press **Show where each word looks** first: that records the maps of a run."
    if isinstance(step, (int, float)) and not isinstance(step, bool) and math.isfinite(step) and step > run.steps:
        return gr.update(), (f"The recorded run has {run.steps} DDIM steps, so there is no step {step:g}: press **Show "
                             "where each word looks** to record a run with more.")
    return render(run, step, layer)


def follow_steps(steps, step):
    """The step slider's range follows the DDIM steps box (a value outside any range is left for the button)."""
    try:
        n, k = int(steps), int(step)
    except (TypeError, ValueError, OverflowError):
        return gr.update()
    return gr.update(maximum=max(1, min(n, MAX_STEPS)), value=max(1, min(k, n)))


def follow_model(model):
    """The layer menu of another model (its layers differ)."""
    try:
        names = t2i.attention_layers(get_model(model))
    except gr.Error:
        names = []
    return gr.update(choices=layer_choices(names), value=_preferred(names))


def build(page: gr.Blocks) -> None:
    run = session_state(None)
    with gr.Row(equal_height=True):
        model = model_menu("t2i-att-model", scale=2)
        prompt = gr.Textbox("a small red circle at the top left", label="Prompt", elem_id="t2i-att-prompt", scale=3,
                            max_lines=1)
        button = gr.Button("Show where each word looks", variant="primary", elem_id="t2i-att-run", scale=2)
    with gr.Row():
        seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="t2i-att-seed", scale=1, min_width=90)
        steps = gr.Slider(1, MAX_STEPS, value=50, step=1, label="DDIM steps", elem_id="t2i-att-steps", scale=2)
        step = gr.Slider(1, 50, value=20, step=1, label="Step to inspect (1 = pure noise … last = the image)",
                         elem_id="t2i-att-step", scale=3)
        choices = _initial_layers()
        layer = gr.Dropdown(choices, value=_preferred([value for _, value in choices]), label="Cross-attention layer",
                            elem_id="t2i-att-layer",
                            scale=2, allow_custom_value=True)  # choices follow the model; the handler checks
    picture = gr.Image(show_label=False, interactive=False, elem_id="t2i-att-strip", height=170)
    text = gr.Markdown("Press **Show where each word looks**: one image is sampled (guidance w = 3) and every "
                       "cross-attention layer is recorded at every step; then move the step or change the layer "
                       "to see them without sampling again. Measured on four prompts, the second 4×4 layer on the way "
                       "down localises words best (a shape word puts about 3× its object's area share of attention on "
                       "the object, a colour word 2.3×, a place word only 1.2×); averaged over all layers the maps are "
                       "nearly flat.", elem_id="t2i-att-info")
    button.click(attention, [model, prompt, seed, steps, step, layer], [picture, text, layer, step, run],
                 api_name="t2i_attention", **EXPENSIVE)
    step.input(show, [step, layer, run], [picture, text], api_name="t2i_attention_show", trigger_mode="always_last",
               **CHEAP)
    layer.input(show, [step, layer, run], [picture, text], api_visibility="private", **CHEAP)
    steps.input(follow_steps, [steps, step], [step], api_visibility="private", trigger_mode="always_last", **CHEAP)
    model.input(follow_model, [model], [layer], api_visibility="private", **CHEAP)
