"""/clip: CLIP in miniature, on captioned scenes whose every fact is known. Zero-shot classification by typed
prompts, retrieval both ways, the embedding space and its modality gap, where CLIP fails (attribute binding), the
CLIP score as a metric, and training one live.

One module per tab; what a browser makes (its last search, its trained models) lives in that browser's session
state, never in these modules."""
from __future__ import annotations

import gradio as gr

from ..common import about, session_state
from . import binding, retrieval, score, space, train, zero_shot
from .binding import Bound, binding as binding_test
from .retrieval import Captions, Images, image_to_text, text_to_image
from .score import Calibration, Scored, calibrate, score_image
from .shared import MENU, TEST_N, expand_prompts, recall_table
from .space import Space, embedding_space
from .train import CAPS, make_job, train_summary
from .zero_shot import ZeroShot, classify

__all__ = ["build", "demo", "MENU", "TEST_N", "CAPS", "expand_prompts", "recall_table", "classify", "text_to_image",
           "image_to_text", "embedding_space", "binding_test", "calibrate", "score_image", "make_job",
           "train_summary", "ZeroShot", "Images", "Captions", "Space", "Bound", "Calibration", "Scored"]

ABOUT = ("CLIP maps an image and a text into **one space**: an image encoder and a text encoder, each followed by "
         "a projection and scaled to unit length, so that a caption lands close to its picture. It is trained on "
         "a batch of B (image, caption) pairs at a time: the B × B table of cosine similarities should be high on "
         "its diagonal (the true pairs) and low everywhere else, a B-way classification read both ways (image → "
         "caption and caption → image). Here it is in miniature: a small CNN and a 2-layer causal transformer, "
         "trained on procedural scenes of one or two coloured shapes whose every fact is known, with four "
         "colour–shape pairs (green triangle, cyan square, red diamond, yellow circle) held out of training. "
         "Then the prompts *are* a classifier (zero-shot), a caption finds its images (retrieval), and the "
         "cosine becomes a metric (the CLIP score, **higher = a better match**).")
EQUATION = ("$\\mathcal{L} = -\\frac{1}{2B}\\sum_i \\Big[\\log \\frac{e^{s\\,I_i\\cdot T_i}}{\\sum_j e^{s\\,I_i\\cdot "
            "T_j}} + \\log \\frac{e^{s\\,I_i\\cdot T_i}}{\\sum_j e^{s\\,I_j\\cdot T_i}}\\Big]$ with unit vectors "
            "$I_i, T_i$ and the learned scale $s = 1/\\tau$ (symmetric InfoNCE); "
            "$\\mathrm{CLIPScore} = 2.5\\,\\max(\\cos(I, T), 0)$.")
CITATION = ("Radford et al. 2021, Learning Transferable Visual Models From Natural Language Supervision, Figure 3 "
            "and §2.5, §3.1.2 · Hessel et al. 2021, CLIPScore, eq. 1 · Liang et al. 2022, Mind the Gap · Ramesh "
            "et al. 2022, DALL·E 2, §7 (attribute binding)")


def build(page: gr.Blocks) -> None:
    about("CLIP: images and text in one space", ABOUT, EQUATION, CITATION)
    my_models = session_state({})  # this browser's trained models {id: Loaded}
    with gr.Tabs():
        with gr.Tab("Zero-shot", id="zero-shot"):
            menus = [zero_shot.build(page, my_models)]
        with gr.Tab("Retrieval", id="retrieval") as tab:
            menus.append(retrieval.build(my_models, tab))
        with gr.Tab("Embedding space", id="space"):
            menus.append(space.build(my_models))
        with gr.Tab("Attribute binding", id="binding"):
            menus.append(binding.build(my_models))
        with gr.Tab("CLIP score as a metric", id="score"):
            menus.append(score.build(my_models))
        with gr.Tab("Train it live", id="train"):
            train.build(my_models, menus)


def demo() -> gr.Blocks:
    with gr.Blocks(title="CLIP") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
