"""Tab "Compositional": can the model draw what it has never seen together? Four colour–shape pairs (green
triangle, cyan square, red diamond, yellow circle) never appear in training; the model has seen green things and
triangles, never a green triangle. Their scene-truth accuracy is measured against seen pairs from the same
templates, and two-object prompts measure attribute binding: how often each colour lands on its own shape."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import text_to_image as t2i
from playground.viz import text_to_image as t2i_viz

from ..common import EXPENSIVE, check_cost, check_float, check_int, check_seed, user_errors
from .shared import clip_model, get_model, model_menu


class Measured(NamedTuple):
    pictures: Any  # rows: held-out pairs, seen pairs, two objects
    text: Any  # the measured shares


@user_errors
def measure(model, n=12, scale=3.0, seed=0) -> Measured:
    """n held-out-pair prompts, n seen-pair prompts and n two-object prompts, one image each, judged."""
    handle = get_model(model)
    n = check_int(n, "prompts per group", 4, 32)
    scale = check_float(scale, "guidance scale", 0.0, t2i.MAX_SCALE)
    seed = check_seed(seed)
    check_cost(3 * n, 100, "image", "This measurement")
    groups = {"held-out pairs": t2i.held_out_prompts(n, seed), "seen pairs": t2i.seen_prompts(n, seed),
              "two objects": t2i.two_object_prompts(n, seed)}
    images = {name: t2i.images_for(handle, prompts, scale, 50, seed) for name, prompts in groups.items()}
    figures = {name: t2i.accuracy_of(images[name], prompts, clip_model()) for name, prompts in groups.items()}
    bound = t2i.binding(images["two objects"], groups["two objects"])
    held, seen = figures["held-out pairs"], figures["seen pairs"]
    text = (f"**Held-out colour–shape pairs** (never in training): shape and colour right in **{held['shape_colour']:.0%}**"
            f" of {n}, against **{seen['shape_colour']:.0%}** for seen pairs in the same templates (exactly right: "
            f"{held['correct']:.0%} against {seen['correct']:.0%}).\n\n"
            f"**Attribute binding** on {n} two-object prompts: both colours on their own shapes in **{bound['bound']:.0%}**, "
            f"the two colours swapped in **{bound['swapped']:.0%}**, one pair right in {bound['one']:.0%}, neither in "
            f"{bound['neither']:.0%}; the relation (left of / above) right in {figures['two objects'].get('relation', 0):.0%}."
            f"\n\nThe prompts, row by row:\n\n" + "\n".join(
                f"- **{name}:** " + "; ".join(f"{k + 1}. “{p}”" for k, p in enumerate(prompts))
                for name, prompts in groups.items()))
    card = handle.card.get("metrics", {})
    if "held_out_pairs" in card and "seen_pairs_same_templates" in card:
        two = card.get("two_objects", {}).get("binding", {})
        text += (f"\n\n**From the card** (more prompts, w = 3): held-out pairs {card['held_out_pairs']['shape_colour']:.0%}"
                 f" of {card['held_out_pairs']['n']}, seen pairs {card['seen_pairs_same_templates']['shape_colour']:.0%}"
                 + (f"; binding: both right {two['bound']:.0%}, swapped {two['swapped']:.0%}" if two else "") + ".")
    grid = t2i_viz.scale_grid(list(images.values()), list(groups), "one image per prompt, in the order listed below")
    return Measured(grid, text)


def build(page: gr.Blocks) -> None:
    gr.Markdown("Four colour–shape pairs were held out of training: **green triangle, cyan square, red diamond, yellow "
                "circle**. Does the model compose “green” and “triangle” anyway, and does it put each colour on the "
                "right shape when a prompt names two objects?")
    with gr.Row(equal_height=True):
        model = model_menu("t2i-comp-model")
        n = gr.Slider(4, 32, value=12, step=1, label="Prompts per group", elem_id="t2i-comp-n")
        scale = gr.Slider(0, 10, value=3, step=0.5, label="Guidance scale w")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
        button = gr.Button("Measure", variant="primary", elem_id="t2i-comp-run")
    pictures = gr.Image(show_label=False, interactive=False, elem_id="t2i-comp-images", height=300)
    text = gr.Markdown(elem_id="t2i-comp-text")
    button.click(measure, [model, n, scale, seed], [pictures, text], api_name="t2i_compositional", **EXPENSIVE)
