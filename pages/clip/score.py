"""Tab 5, the CLIP score as a metric: CLIPScore = 2.5 · max(cos(I_e, T_e), 0) (Hessel et al. 2021), from 0 to
2.5, higher = a better match. Its distribution for real test pairs, for the same images with the colours of
their two objects swapped in the caption, and for shuffled pairs calibrates what a "good" score is; then score an
image of your own against a text."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import clip
from playground.clip.measure import CLIPSCORE_W
from playground.viz import clip as clip_viz

from ..common import EXPENSIVE, check_int, user_errors
from .shared import (TEST_N, check_caption, get_model, model_menu, pick_scene, real_pair_scores, scene_picker,
                     test_scenes)

DEFINITION = (f"**CLIPScore = {CLIPSCORE_W:g} · max(cos(I_e, T_e), 0)** (Hessel et al. 2021, eq. 1, w = "
              f"{CLIPSCORE_W:g}): from 0 to {CLIPSCORE_W:g}, and **higher means the image matches the text "
              "better**. (A lower score is *not* better: it is a similarity, not a distance.)")


class Calibration(NamedTuple):
    plot: Any  # the distributions, overlaid
    text: str  # their means and what they say


class Scored(NamedTuple):
    picture: Any  # the image scored
    text: str  # its CLIPScore, and where it falls among real pairs


@user_errors
def calibrate(n=1000, model="clip-scenes", my_models=None) -> Calibration:
    """CLIPScore of n real test pairs, of the two-object ones with their caption's colours swapped, and of the
    same n images each paired with another scene's caption."""
    handle = get_model(model, my_models)
    n = check_int(n, "pairs", 20, TEST_N)
    scenes = test_scenes()
    x, captions = scenes.x[:n], scenes.captions[:n]
    real = clip.clip_score(handle.model, x, captions)
    shuffled = clip.clip_score(handle.model, x, captions[n // 2:] + captions[: n // 2])  # another scene's caption
    bound = clip.binding_test(handle.model, x, scenes.scenes[:n])
    swapped = clip.clip_score(handle.model, x[bound.index], bound.swapped_captions)
    groups = {"real pairs": real, "colours swapped (two-object scenes)": swapped, "shuffled pairs": shuffled}
    means = {name: float(v.mean()) for name, v in groups.items()}
    text = (f"{DEFINITION}\n\nOn {n} test scenes: real pairs score **{means['real pairs']:.2f}** on average, "
            f"shuffled pairs **{means['shuffled pairs']:.2f}**, and a caption that only swaps two colours "
            f"**{means['colours swapped (two-object scenes)']:.2f}**. So a score is only meaningful next to such "
            "a calibration, for this model and this kind of image: a near miss (the right words, bound wrongly) "
            "scores almost as high as the truth, which is why a text-to-image page also checks its images with "
            "the scene judge `scene_truth`. (Fashion-MNIST samples from the other pages cannot be scored here: this "
            "model has never seen a garment, and its vocabulary has no word for one.)")
    return Calibration(clip_viz.score_histograms(groups, CLIPSCORE_W), text)


@user_errors
def score_image(text, source="test scene", index=0, upload=None, light=True, model="clip-scenes",
                my_models=None) -> Scored:
    """The CLIPScore of one image (a test scene or an upload) against a text, placed among the real test pairs'."""
    handle = get_model(model, my_models)
    x, what, _ = pick_scene(source, index, upload, light)
    text, note = check_caption(handle, text, "the text")
    score = float(clip.clip_score(handle.model, x, text)[0])
    real = real_pair_scores(handle)
    below = float((real < score).float().mean())
    words = (f"**CLIPScore {score:.3f}** of {CLIPSCORE_W:g} for “{text}” and {what}: higher than {below:.0%} of "
             f"the {TEST_N:,} real test pairs (their median: {float(real.median()):.2f}). Higher = a better match.")
    return Scored(clip_viz.big(x, 128), words + (f"\n\n{note}" if note else ""))


def build(my_models: gr.State) -> gr.Dropdown:
    with gr.Row(equal_height=True):
        model = model_menu("clip-sc-model")
        n = gr.Slider(20, TEST_N, value=TEST_N, step=10, label="Test pairs", scale=2)
        button = gr.Button("Score the pairs", variant="primary", scale=1, elem_id="clip-sc-run")
    with gr.Row(equal_height=False):
        plot = gr.Plot(show_label=False, elem_id="clip-sc-plot", scale=3)
        with gr.Column(scale=2):
            summary = gr.Markdown(DEFINITION, elem_id="clip-sc-text")
    gr.Markdown("### Score your own image against a text")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            source, index, upload, light = scene_picker("clip-sc")
        with gr.Column(scale=2):
            text = gr.Textbox("a red circle", label="Text", max_lines=1, elem_id="clip-sc-caption")
            one = gr.Button("Score it", elem_id="clip-sc-one")
        picture = gr.Image(show_label=False, format="png", interactive=False, height=140, scale=1,
                           elem_id="clip-sc-image")
        with gr.Column(scale=3):
            result = gr.Markdown(elem_id="clip-sc-result")
    button.click(calibrate, [n, model, my_models], [plot, summary], api_name="clip_score_pairs", **EXPENSIVE)
    one.click(score_image, [text, source, index, upload, light, model, my_models], [picture, result],
              api_name="clip_score", **EXPENSIVE)
    return model
