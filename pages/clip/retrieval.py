"""Tab 2, retrieval: a typed caption ranks the test scenes (text → image); clicking one of the found images ranks
the test captions for it (image → text). Beside them, the model's R@1 and R@5 on test and held-out pairs, next to
chance."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import clip
from playground.viz import clip as clip_viz

from ..common import EXPENSIVE, check_int, session_state, user_errors
from .shared import TEST_N, caption_pool, check_caption, get_model, model_menu, recall_table, test_scenes

MAX_K = 24  # results shown


class Images(NamedTuple):
    gallery: Any  # the top-k test images, each captioned with its rank, cosine and own caption
    shown: list  # their test-scene numbers, in the gallery's order (for a click)
    text: str  # what was searched, and unknown words
    recall: str  # the model's R@1 / R@5 table


class Captions(NamedTuple):
    scene: Any  # the chosen test scene's number
    picture: Any  # the image, upscaled
    text: str  # the top-k captions with their cosines, and where the true caption ranks


@user_errors
def text_to_image(caption, k=8, model="clip-scenes", my_models=None) -> Images:
    """The k test scenes whose images score highest against the caption, cos(I_e, T_e)."""
    handle = get_model(model, my_models)
    k = check_int(k, "k (results)", 1, MAX_K)
    caption, note = check_caption(handle, caption)
    scenes = test_scenes()
    scores = clip.similarity(handle.model, scenes.x, [caption])[:, 0]  # (N,)
    top = scores.topk(k)
    shown = top.indices.tolist()
    values = top.values.tolist()
    gallery = [(picture, f"{rank + 1}: {value:.2f}") for rank, (picture, value)
               in enumerate(zip(clip_viz.thumbnails(scenes.x[shown], 128), values))]
    found = "\n".join(f"{rank + 1}. {scenes.captions[i]} — cos {value:.3f} (scene {i})"
                       for rank, (i, value) in enumerate(zip(shown, values)))
    exact = sum(scenes.captions[i] == caption for i in shown)
    text = (f"The {k} of {TEST_N:,} test scenes closest to **“{caption}”**"
            + (f" ({exact} with exactly this caption)" if exact else "") +
            f". **Click an image** to rank the captions for it.\n\n{found}")
    return Images(gallery, shown, text + (f"\n\n{note}" if note else ""), recall_table(handle))


@user_errors
def image_to_text(scene, k=8, model="clip-scenes", my_models=None) -> Captions:
    """The k captions of the test set (the distinct most specific ones) that score highest against test scene
    `scene`, and the rank of its true caption."""
    handle = get_model(model, my_models)
    scene, k = check_int(scene, "test scene", 0, TEST_N - 1), check_int(k, "k (results)", 1, MAX_K)
    scenes, pool = test_scenes(), list(caption_pool())
    scores = clip.similarity(handle.model, scenes.x[scene], pool)[0]  # (captions,)
    order = scores.argsort(descending=True).tolist()
    truth = scenes.captions[scene]
    rank = order.index(pool.index(truth)) + 1
    rows = [f"| {r + 1} | {'✓ ' if pool[j] == truth else ''}{pool[j]} | {float(scores[j]):.3f} |"
            for r, j in enumerate(order[:k])]
    text = (f"**Test scene {scene}** (its caption: “{truth}”): the true caption ranks **{rank}** of {len(pool)} "
            f"captions.\n\n| rank | caption | cos |\n|---|---|---|\n" + "\n".join(rows))
    return Captions(scene, clip_viz.big(scenes.x[scene], 128), text)


def clicked(evt: gr.SelectData, shown, k, model, my_models) -> Captions:
    """A click on the gallery: rank the captions for that image."""
    if not shown or not isinstance(evt.index, int) or not 0 <= evt.index < len(shown):
        raise gr.Error("Search first, then click one of the images found.")
    return image_to_text(shown[evt.index], k, model, my_models)


def build(my_models: gr.State, tab: gr.Tab) -> gr.Dropdown:
    gr.Markdown("**Text → image**: type a caption and see the test scenes that score highest. **Image → text**: "
                "click a found image to rank the captions for it.")
    with gr.Row(equal_height=True):
        model = model_menu("clip-rt-model")
        caption = gr.Textbox("a red circle", label="Caption", max_lines=1, scale=4, elem_id="clip-rt-caption")
        k = gr.Slider(1, MAX_K, value=8, step=1, label="Top k", scale=2)
        button = gr.Button("Search", variant="primary", scale=1, elem_id="clip-rt-run")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            gallery = gr.Gallery(show_label=False, columns=6, height=330, object_fit="contain",
                                 allow_preview=False, elem_id="clip-rt-gallery")
            found = gr.Markdown(elem_id="clip-rt-text")
            recall = gr.Markdown(elem_id="clip-rt-recall")
        with gr.Column(scale=2):
            with gr.Row():
                scene = gr.Number(0, precision=0, minimum=0, maximum=TEST_N - 1, label="Test scene",
                                  elem_id="clip-rt-scene", min_width=100)
                rank = gr.Button("Rank captions for it", elem_id="clip-rt-rank", min_width=100)
            picture = gr.Image(label="The image", format="png", interactive=False, height=150, show_label=False,
                               elem_id="clip-rt-image")
            captions = gr.Markdown(elem_id="clip-rt-captions")
    shown = session_state([])  # the gallery's test-scene numbers: a view of this browser's last search

    search_outputs = [gallery, shown, found, recall]
    button.click(text_to_image, [caption, k, model, my_models], search_outputs, api_name="clip_text_to_image",
                 **EXPENSIVE)
    caption.submit(text_to_image, [caption, k, model, my_models], search_outputs, api_visibility="private",
                   **EXPENSIVE)
    rank.click(image_to_text, [scene, k, model, my_models], [scene, picture, captions], api_name="clip_image_to_text",
               **EXPENSIVE)
    gallery.select(clicked, [shown, k, model, my_models], [scene, picture, captions], api_visibility="private",
                   **EXPENSIVE)

    def first_search(shown_now, *values):
        """Opening the tab the first time shows a search at once."""
        if shown_now:
            return [gr.update()] * 4
        return list(text_to_image(*values))
    tab.select(first_search, [shown, caption, k, model, my_models], search_outputs, api_visibility="private",
               **EXPENSIVE)
    return model
