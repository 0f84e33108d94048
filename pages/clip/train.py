"""Tab 6, train a mini-CLIP live through the shared panel: the similarity matrix of 16 fixed test scenes and
their captions, redrawn as a heat map while it trains (the diagonal lights up as it learns), the loss, the
temperature τ and the in-batch top-1 accuracy; progress and Stop. The model joins this browser's model menus of
the other tabs."""
from __future__ import annotations

import functools
import math

import gradio as gr

from playground import clip
from playground.clip import CLIPSpec
from playground.data import Dataset
from playground.train import TrainEvent
from playground.viz import clip as clip_viz

from ..common import TrainJob, TrainPanel, check_float, check_int, check_seed, real_data, user_errors
from .shared import MENU, recall_table

CAPS = {"scenes": dict(steps=1500, batch=128)}  # a live run: a minute or two at the caps on two cores
TRAIN_N = 4096  # training scenes (8 captions each); the shipped model saw 16,384
PREVIEW_N = 16  # scenes in the live similarity matrix
CURVES = {"loss": "symmetric InfoNCE loss", "accuracy": "in-batch top-1 accuracy", "temperature": "temperature τ"}


@functools.lru_cache(maxsize=1)
def training_data() -> Dataset:
    """The training scenes with every caption template's token ids, made once (read-only)."""
    return clip.training_set(real_data("scenes", "train", TRAIN_N), CLIPSpec())


@functools.lru_cache(maxsize=1)
def preview_images():
    """The PREVIEW_N test scenes whose similarity matrix the preview shows (`clip.preview_scenes`)."""
    return clip.preview_scenes(PREVIEW_N).x


def describe(event: TrainEvent) -> str:
    """The progress line: the loss against its value at chance (log B), τ, and the in-batch accuracy."""
    m, batch = event.losses, event.model.spec.batch_size
    return (f"Step {event.step} of {event.total}: loss {m['loss']:.3f} (at chance: log B = {math.log(batch):.2f}), "
            f"temperature τ = {m['temperature']:.4f} (logits scaled by 1/τ = {1 / max(m['temperature'], 1e-9):.1f}), "
            f"in-batch top-1 accuracy {m['accuracy']:.0%} (chance {1 / batch:.1%}), "
            f"{event.step / max(event.history['wall_time_s'], 1e-9):.1f} steps/s")


@user_errors
def make_job(steps, batch, lr, seed) -> TrainJob:
    """A mini-CLIP from scratch on the training scenes (every setting checked), as the panel's job."""
    spec = CLIPSpec(batch_size=check_int(batch, "batch size", 8, CAPS["scenes"]["batch"]),
                    lr=check_float(lr, "learning rate", 1e-5, 1e-1))
    steps = check_int(steps, "steps", 1, CAPS["scenes"]["steps"])
    return TrainJob(spec, training_data(), steps, check_seed(seed), f"yours: mini-CLIP · batch {spec.batch_size}",
                    CURVES, show_preview=lambda preview, step: (
                        clip_viz.similarity_heatmap(preview, preview_images(), step), None),
                    describe=describe, preview_every=max(5, steps // 25), preview_n=PREVIEW_N,
                    card={"dataset": "scenes"}, where="the Model menus of the other tabs")


@user_errors
def train_summary(my_models) -> str:
    """The newest model of this browser, measured: retrieval recall and the binding test on test scenes."""
    if not my_models:
        return ""
    handle = list(my_models.values())[-1]
    scenes = real_data("scenes", "test", 1000)
    binding = clip.binding_test(handle.model, scenes.x, scenes.scenes).prefers_truth
    return (f"**{handle.label}**: it is in the Model menus of the other tabs, for this browser only. Binding test: "
            f"{binding:.1%} of two-object test scenes prefer the true caption (chance 50 %).\n\n"
            + recall_table(handle))


def build(my_models: gr.State, menus: list) -> None:
    gr.Markdown(f"A mini-CLIP from scratch on {TRAIN_N:,} scenes: each image must pick its own caption out of the "
                "batch's B, and back. Watch the **diagonal light up**.")
    dataset = gr.Dropdown([("captioned scenes", "scenes")], value="scenes", label="Data", visible=False)
    panel = TrainPanel("clip", CAPS, dataset, steps=300, lr=2e-3, batch=64, preview="image",
                       curve_label="Loss, temperature τ, in-batch accuracy",
                       image_label="cos(image, caption) of 16 test scenes: the diagonal is the true pairs")
    summary = gr.Markdown(elem_id="clip-train-summary")
    training = panel.wire(make_job, [], MENU, menus, my_models, api_name="clip_train")
    training.success(train_summary, my_models, summary, api_visibility="private")
