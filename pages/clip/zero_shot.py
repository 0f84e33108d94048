"""Tab 1, zero-shot classification: a test scene or an upload against prompts typed one per line (or templates
such as "a photo of a {shape}"), as a bar chart of the softmax over the prompts. The prompts are the classifier:
nothing was trained for these classes."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import clip
from playground.viz import clip as clip_viz

from ..common import CHEAP, user_errors
from .shared import expand_prompts, get_model, model_menu, pick_scene, scene_picker, unknown_note

PRESETS = {"shapes": "a {shape}", "colours": "a {colour} shape", "photo of a {colour} {shape} (24)":
           "a photo of a {colour} {shape}", "sizes": "a {size} shape",
           "words it does not know": "a circle\na square\na photograph of a circle\na red zebra"}
DEFAULT_PROMPTS = "a {shape}"


class ZeroShot(NamedTuple):
    picture: Any  # the image, upscaled
    chart: Any  # p(prompt | image) as bars
    text: str  # the winner, the truth, unknown words


@user_errors
def classify(prompts, source="test scene", index=0, upload=None, light=True, model="clip-scenes",
             my_models=None) -> ZeroShot:
    """Zero-shot: softmax_j(s · cos(I_e, T_e,j)) over the prompts (one per line; {shape}, {colour} and {size}
    expand), for a test scene or an upload."""
    handle = get_model(model, my_models)
    x, what, truth = pick_scene(source, index, upload, light)
    prompts = expand_prompts(prompts)
    note = unknown_note(handle, prompts)
    probs = clip.zero_shot(handle.model, x, prompts)[0].tolist()
    best = max(range(len(prompts)), key=probs.__getitem__)
    text = (f"**Most likely: “{prompts[best]}”, {probs[best]:.1%}** of {len(prompts)} prompts (chance "
            f"{1 / len(prompts):.1%}). The image: {what}. Model: {handle.label}.")
    return ZeroShot(clip_viz.big(x, 192), clip_viz.zero_shot_bars(prompts, probs, truth),
                    text + (f"\n\n{note}" if note else "") + _accuracy(handle))


def _accuracy(handle) -> str:
    """The model's zero-shot accuracy from its card ("a circle" … "a diamond"; "a red shape" … "a cyan shape")."""
    m = handle.card.get("metrics") or {}
    if "test_zero_shot_shape_accuracy" not in m:
        return ""
    return (f"\n\n<small>Zero-shot accuracy of this model (its card, 1,000 one-object scenes): shape "
            f"{m['test_zero_shot_shape_accuracy']:.1%}, colour {m['test_zero_shot_colour_accuracy']:.1%} on test "
            f"scenes; {m['heldout_zero_shot_shape_accuracy']:.1%} and {m['heldout_zero_shot_colour_accuracy']:.1%} "
            "on held-out colour–shape pairs it never saw.</small>")


def build(page: gr.Blocks, my_models: gr.State) -> gr.Dropdown:
    gr.Markdown("Pick a scene or upload a drawing, type the candidate prompts, and CLIP says which one fits: "
                "**the prompts are the classifier**, nothing was trained for them. `{shape}`, `{colour}` and `{size}` "
                "in a line stand for every shape, colour or size.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=260):
            model = model_menu("clip-zs-model")
            source, index, upload, light = scene_picker("clip-zs")
            picture = gr.Image(show_label=False, format="png", interactive=False, height=200,
                               elem_id="clip-zs-image")
        with gr.Column(scale=2, min_width=260):
            prompts = gr.Textbox(DEFAULT_PROMPTS, lines=6, max_lines=12, label="Prompts, one per line (2 to 32)",
                                 elem_id="clip-zs-prompts")
            preset = gr.Dropdown([(k, v) for k, v in PRESETS.items()], value=None, label="Or fill in a template",
                                 elem_id="clip-zs-preset")
            button = gr.Button("Classify", variant="primary", elem_id="clip-zs-run")
        with gr.Column(scale=4, min_width=400):
            chart = gr.Plot(label="p(prompt | image)", elem_id="clip-zs-chart", show_label=False)
            text = gr.Markdown(elem_id="clip-zs-text")
    inputs = [prompts, source, index, upload, light, model, my_models]
    button.click(classify, inputs, [picture, chart, text], api_name="clip_zero_shot", **CHEAP)
    page.load(classify, inputs, [picture, chart, text], api_visibility="private", **CHEAP)
    # a new choice answers at once (it takes milliseconds); a template fills the prompt box first
    for event in (model.input, index.submit, upload.upload):
        event(classify, inputs, [picture, chart, text], api_visibility="private", **CHEAP)
    preset.input(lambda v: v or gr.update(), preset, prompts, api_visibility="private", queue=False).then(
        classify, inputs, [picture, chart, text], api_visibility="private", **CHEAP)
    return model
