"""Tab 4, where CLIP fails: attribute binding. For every two-object scene, the true caption ("a red circle and a
blue square") against the same words with the colours swapped ("a blue circle and a red square"). A model that
read its caption as a bag of words could not tell them apart: chance is 50 %."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import clip
from playground.viz import clip as clip_viz

from ..common import EXPENSIVE, check_choice, check_int, real_data, user_errors
from .shared import TEST_N, get_model, model_menu

SPLITS = {"test": "test scenes", "heldout": "held-out colour–shape pairs"}
MAX_EXAMPLES = 24


class Bound(NamedTuple):
    plot: Any  # the margins cos(true) − cos(swapped), split at 0
    examples: Any  # scenes framed green (truth preferred) or red
    text: str  # the share against chance, and the examples' captions


@user_errors
def binding(split="test", examples=12, failures_only=False, model="clip-scenes", my_models=None) -> Bound:
    """The share of two-object scenes (of TEST_N scenes of the split) whose true caption scores higher than the
    colours-swapped one, with examples (or only the failures)."""
    handle = get_model(model, my_models)
    split = check_choice(split, "scenes", list(SPLITS))
    examples = check_int(examples, "examples", 1, MAX_EXAMPLES)
    scenes = real_data("scenes", split, TEST_N)
    result = clip.binding_test(handle.model, scenes.x, scenes.scenes)
    n = len(result.index)
    picked = [k for k in range(n) if not failures_only or result.true_scores[k] <= result.swapped_scores[k]]
    picked = picked[:examples]
    card = (handle.card.get("metrics") or {}).get("binding_prefers_truth")
    text = (f"**{result.prefers_truth:.1%} of {n} two-object {SPLITS[split]} prefer the true caption** (chance: 50 %"
            + (f"; its card: {card:.1%} on test scenes" if card else "") + "). "
            + ("Well above chance, yet far from the 100 % of zero-shot shape and colour: the model has learned "
               "*which* colours and shapes are there much better than *which goes with which*."
               if result.prefers_truth > 0.6 else
               "Close to chance: the model reads the caption nearly as a bag of words.")
            + " The true caption and the swapped one use exactly the same words, so only their order can tell "
              "them apart — the bag-of-words weakness behind DALL·E 2's muddled attributes (Ramesh et al. 2022, "
              "§7).")
    if not picked:
        return Bound(clip_viz.binding_figure(result.true_scores, result.swapped_scores, result.prefers_truth), None,
                     text + "\n\nNo failures among these scenes.")
    rows = [f"| {j + 1} | {result.true_captions[k]} | {float(result.true_scores[k]):.3f} | "
            f"{result.swapped_captions[k]} | {float(result.swapped_scores[k]):.3f} | "
            f"{'✓ truth' if result.true_scores[k] > result.swapped_scores[k] else '✗ swap'} |"
            for j, k in enumerate(picked)]
    table = ("| # | true caption | cos | colours swapped | cos | preferred |\n|---|---|---|---|---|---|\n"
             + "\n".join(rows))
    images = scenes.x[[result.index[k] for k in picked]]
    picture = clip_viz.binding_examples(images, result.true_scores[picked], result.swapped_scores[picked])
    return Bound(clip_viz.binding_figure(result.true_scores, result.swapped_scores, result.prefers_truth), picture,
                 f"{text}\n\n{table}")


def build(my_models: gr.State) -> gr.Dropdown:
    with gr.Row(equal_height=True):
        model = model_menu("clip-bd-model")
        split = gr.Radio([(v, k) for k, v in SPLITS.items()], value="test", label="Scenes", scale=2)
        examples = gr.Slider(1, MAX_EXAMPLES, value=12, step=1, label="Examples shown", scale=2)
        failures = gr.Checkbox(False, label="Only the failures", scale=1)
        button = gr.Button("Run the binding test", variant="primary", scale=1, elem_id="clip-bd-run")
    with gr.Row(equal_height=False):
        plot = gr.Plot(show_label=False, elem_id="clip-bd-plot", scale=1)
        picture = gr.Image(label="Examples (green: the true caption won; under each: its cos, and the swap's)",
                           format="png", interactive=False, elem_id="clip-bd-examples", scale=1, height=380)
    text = gr.Markdown(elem_id="clip-bd-text")
    button.click(binding, [split, examples, failures, model, my_models], [plot, picture, text],
                 api_name="clip_binding", **EXPENSIVE)
    return model
