"""Tab 3, the embedding space: the image and text embeddings of test pairs in one 2D projection (PCA fit on both),
each pair joined by a line, and the modality gap measured: the distance between the two clouds' centres."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import clip
from playground.viz import clip as clip_viz

from ..common import EXPENSIVE, check_choice, check_int, user_errors
from .shared import TEST_N, get_model, model_menu, test_scenes


AXES = {"gap": "x along the gap", "pca": "PCA (top two)"}


class Space(NamedTuple):
    plot: Any  # both clouds in one plane, pairs joined
    text: str  # the modality gap, in numbers and words


@user_errors
def embedding_space(n=500, axes="gap", lines=True, model="clip-scenes", my_models=None) -> Space:
    """The first n test pairs' I_e and T_e in one plane (x along the modality gap, or the two principal axes), and
    the modality gap ‖mean I_e − mean T_e‖ measured in the full embedding space."""
    handle = get_model(model, my_models)
    n, axes = check_int(n, "pairs", 20, TEST_N), check_choice(axes, "axes", list(AXES))
    scenes = test_scenes()
    x, captions = scenes.x[:n], scenes.captions[:n]
    image_xy, text_xy = clip.project_pairs(handle.model, x, captions, axes)
    gap = clip.modality_gap(handle.model, x, captions)
    colours = [s.objects[0].colour for s in scenes.scenes[:n]]
    card = (handle.card.get("metrics") or {}).get("modality_gap")
    text = (f"**Modality gap ‖mean I_e − mean T_e‖ = {gap:.3f}** over these {n} pairs, in the full "
            f"{handle.spec.embed_dim}-D space" + (f" (its card, on 1,000 pairs: {card:.3f})" if card else "") +
            ". The embeddings are unit vectors: 0 would mean both clouds share a centre, 2 is as far apart as "
            "they can be.\n\nThe images and the captions sit in two separate regions, each point joined to its "
            "partner across the gap: the loss only asks a true pair to be *closer* than the false ones, never to "
            "coincide (Liang et al. 2022, *Mind the Gap*)."
            + (" With x along the gap, it shows at its true length; PCA's two main directions mostly follow what "
               "the scenes show, and hide it." if axes == "gap" else
               " PCA's two main directions follow what the scenes show, so the gap hides in the other "
               f"{handle.spec.embed_dim - 2} directions: choose “along the gap” to see it.")
            + " Colour: the (first) shape's colour; hover a point for its caption.")
    names = ("the gap direction", "main direction left") if axes == "gap" else ("PC 1", "PC 2")
    figure = clip_viz.embedding_figure(image_xy.numpy(), text_xy.numpy(), captions, colours, gap, bool(lines), names)
    return Space(figure, text)


def build(my_models: gr.State) -> gr.Dropdown:
    with gr.Row(equal_height=True):
        model = model_menu("clip-sp-model")
        n = gr.Slider(20, TEST_N, value=500, step=10, label="Test pairs", scale=2)
        axes = gr.Radio([(v, k) for k, v in AXES.items()], value="gap", label="Plane", scale=3)
        lines = gr.Checkbox(True, label="Join each pair with a line", scale=1)
        button = gr.Button("Project", variant="primary", scale=1, elem_id="clip-sp-run")
    with gr.Row(equal_height=False):
        plot = gr.Plot(show_label=False, elem_id="clip-sp-plot", scale=3)
        with gr.Column(scale=1, min_width=260):
            text = gr.Markdown(elem_id="clip-sp-text")
    button.click(embedding_space, [n, axes, lines, model, my_models], [plot, text], api_name="clip_embedding_space",
                 **EXPENSIVE)
    return model
