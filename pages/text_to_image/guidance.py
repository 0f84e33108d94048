"""Tab 3, the guidance scale side by side: one row per scale w, one column per seed, every row starting from the
same noises x_T, so only w differs down a column. Each row is judged as it finishes (scene truth and CLIP score),
and the figures are drawn against w next to the ones on the model's card."""
from __future__ import annotations

import math
import re
import time
from typing import Any, NamedTuple

import gradio as gr
import numpy as np
import pandas as pd

from playground import text_to_image as t2i
from playground.viz import labelled_grid, text_to_image as t2i_viz

from ..common import CHEAP, EXPENSIVE, check_choice, check_cost, check_int, quoted, throttle, user_errors
from .shared import check_negative, check_prompt, clip_model, get_model, model_menu

DEFAULT_SCALES = "0, 1, 3, 5, 8"
MAX_SCALES = 8
MAX_SEEDS = 8
MAX_TEXT = 200  # characters of the scales box
UPDATE_EVERY_S = 0.3
COLUMNS = ["w", "images", "shape & colour", "exactly right", "CLIP score"]
CLIP_WORDS = {"static": "clipped to the data's range", "dynamic": "dynamically thresholded (Imagen, p = 0.995)"}
CLIP_CHOICES = [("static", "static"), ("dynamic (Imagen)", "dynamic")]
CLIP_NOTE = ("At each step the sampler bounds its guess x̂₀. *Static*: clip it to the data's range ([−1, 1] "
             "for pixels; for latents ±B, the range holding 99.9% of the first stage's scaled latents). *Dynamic* "
             "(Saharia et al. 2022, Imagen, §2.3): s = max(B, the 99.5th percentile of |x̂₀|) per image, clip to ±s, "
             "then scale by B/s — at high w, where x̂₀ overshoots, it shrinks the whole guess instead of flattening "
             "every value beyond the range. Compare the rows at w = 8 and above both ways.")


class GridUpdate(NamedTuple):
    grid: Any  # the labelled grid, one row per finished scale
    table: Any  # per scale: scene-truth shares and the mean CLIP score
    plot: Any  # those figures against w
    info: Any  # progress, then what was made and what the figures mean


def parse_scales(text) -> list[float]:
    """"0, 1, 3, 5, 8" -> [0.0, 1.0, 3.0, 5.0, 8.0]: numbers only, 1 to 8 of them, each from 0 to 20."""
    if not isinstance(text, str) or not text.strip():
        raise gr.Error(f"Give the guidance scales as numbers separated by commas, e.g. {DEFAULT_SCALES}.")
    if len(text) > MAX_TEXT:
        raise gr.Error(f"The scales box holds {len(text):,} characters; give at most {MAX_SCALES} numbers "
                       f"(e.g. {DEFAULT_SCALES}).")
    values = []
    for part in re.split(r"[,;\s]+", text.strip()):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise gr.Error(f"Could not read {quoted(part)} as a guidance scale; give numbers separated by commas, "
                           f"e.g. {DEFAULT_SCALES}.") from None
        if not math.isfinite(value):
            raise gr.Error(f"{quoted(part)} is not a finite number; each guidance scale must be from 0 to "
                           f"{t2i.MAX_SCALE:g}.")
        values.append(value)
    if not 1 <= len(values) <= MAX_SCALES:
        raise gr.Error(f"Give from 1 to {MAX_SCALES} guidance scales; got {len(values)}.")
    for w in values:
        if not 0 <= w <= t2i.MAX_SCALE:
            raise gr.Error(f"Each guidance scale must be from 0 to {t2i.MAX_SCALE:g}; got {w:g}.")
    return values


def row_label(w: float, negative: str = "") -> str:
    """w, and what ε̃ is at w = 0 (the unconditional input alone) and w = 1 (the prompt alone)."""
    return f"w = {w:g}" + ((" (neg only)" if negative else " (∅ only)") if w == 0 else " (prompt only)" if w == 1
                           else "")


def table(scales: list[float], measured: list[dict]) -> pd.DataFrame:
    rows = [[f"{w:g}", m["n"], f"{m['shape_colour']:.0%}", f"{m['correct']:.0%}",
             f"{m['clip_score']:.2f}" if "clip_score" in m else "no CLIP model"] for w, m in zip(scales, measured)]
    return pd.DataFrame(rows, columns=COLUMNS)


def grid_picture(rows, scales: list[float], negative: str) -> np.ndarray:
    """The rows done so far, labelled with their scale, the columns with their seed."""
    return labelled_grid(rows, len(rows[0]), [row_label(w, negative) for w in scales[:len(rows)]],
                         col_labels=[f"seed {k}" for k in range(len(rows[0]))])


def card_figures(handle) -> tuple[dict | None, str]:
    """The card's single-object accuracy per scale (measured once, over 256 test prompts), and a line saying so."""
    card = ((handle.card or {}).get("metrics") or {}).get("single_object_by_scale")
    if not card:
        return None, "This model's card records no figures per guidance scale."
    ordered = sorted(card.items(), key=lambda item: float(item[0]))
    parts = [f"w = {float(w):g}: {v['shape_colour']:.0%} shape + colour, {v['correct']:.0%} exactly right"
             + (f", CLIP {v['clip_score']:.2f}" if "clip_score" in v else "") for w, v in ordered]
    n = ordered[0][1].get("n", 256)
    return card, (f"**The model's card** (measured when it was trained: {n} single-object test prompts such as “a "
                  "small red circle at the top left”, one image each, 50 DDIM steps): " + "; ".join(parts) + ".")


def show_card(model) -> tuple:
    """Before a grid: the model's card figures against w, and what they are (nothing when no model is there)."""
    try:
        card, text = card_figures(get_model(model))
    except gr.Error:
        return None, ""
    hint = " Press **Sample the grid** to measure your own prompt, row by row."
    return t2i_viz.guidance_figure([], [], card), text + hint


@user_errors
def scale_grid(model, prompt, negative, scales_text, seeds, steps, clip="static"):
    """The grid streamed row by row (rows: scales, columns: seeds sharing x_T), each row judged as it is done."""
    handle = get_model(model)
    prompt, negative = check_prompt(handle, prompt), check_negative(handle, negative)
    scales = parse_scales(scales_text)
    seeds = check_int(seeds, "seeds", 1, MAX_SEEDS)
    steps = check_int(steps, "DDIM steps", 1, min(t2i.MAX_STEPS, handle.schedule.num_steps))
    clip = check_choice(clip, "x̂₀ clipping", t2i.CLIPPINGS)
    check_cost(len(scales) * seeds, 2 * steps, "image", "This grid")
    card, card_text = card_figures(handle)
    scorer = clip_model()
    ready, began = throttle(UPDATE_EVERY_S), time.perf_counter()
    rows, measured = [], []
    for row, images in t2i.scale_grid_steps(handle, prompt, scales, seeds, steps, negative, clip=clip):
        rows.append(images)
        measured.append(t2i.measure(images, prompt, scorer))
        if ready(force=row == len(scales) - 1):
            text = (f"“{prompt}”: row {row + 1} of {len(scales)} done (w = {scales[row]:g}), "
                    f"{time.perf_counter() - began:.1f} s")
            yield GridUpdate(grid_picture(rows, scales, negative), table(scales, measured),
                             t2i_viz.guidance_figure(scales[:len(measured)], measured, card), text)
    seconds = time.perf_counter() - began
    best = max(range(len(scales)), key=lambda k: (measured[k]["shape_colour"], measured[k]["correct"]))
    uncond = f"ε(“{negative}”)" if negative else "ε(∅)"
    text = (f"**“{prompt}”: {len(scales)} scales × {seeds} seed{'s' if seeds > 1 else ''} in {seconds:.1f} s** "
            f"({steps} DDIM steps, x̂₀ {CLIP_WORDS[clip]}). Each column starts from the same noise x_T, so down a column only w changes. "
            f"ε̃ = {uncond} + w (ε(prompt) − {uncond}): w = 0 samples {uncond} alone, w = 1 the prompt alone, w > 1 "
            f"pushes past the prompt, away from {uncond}. Here the most images show the prompt's shape and colour at "
            f"**w = {scales[best]:g}** ({measured[best]['shape_colour']:.0%} of {seeds}; judged by scene truth). "
            f"With {seeds} image{'s' if seeds > 1 else ''} per row a share moves in steps of {100 / seeds:.3g}%"
            + (": the card's figures below are measured on many more." if card else ".") + "\n\n" + card_text)
    yield GridUpdate(grid_picture(rows, scales, negative), table(scales, measured),
                     t2i_viz.guidance_figure(scales, measured, card), text)


def build(page: gr.Blocks) -> None:
    with gr.Row(equal_height=True):
        model = model_menu("t2i-gd-model", scale=2)
        prompt = gr.Textbox("a small red circle at the top left", label="Prompt", elem_id="t2i-gd-prompt", scale=3,
                            max_lines=1)
        negative = gr.Textbox("", label="Negative prompt (blank: the empty prompt ∅)", elem_id="t2i-gd-negative",
                              scale=2, max_lines=1)
    with gr.Row(equal_height=True):
        scales = gr.Textbox(DEFAULT_SCALES, label="Guidance scales w (rows: 1 to 8, each 0 to 20)",
                            elem_id="t2i-gd-scales", scale=2, max_lines=1)
        seeds = gr.Slider(1, MAX_SEEDS, value=6, step=1, label="Seeds (columns: the same x_T down each)",
                          elem_id="t2i-gd-seeds", scale=2)
        steps = gr.Slider(1, 200, value=50, step=1, label="DDIM steps", elem_id="t2i-gd-steps", scale=2)
        clip = gr.Radio(CLIP_CHOICES, value="static", label="x̂₀ clipping", elem_id="t2i-gd-clip", scale=2)
        button = gr.Button("Sample the grid", variant="primary", elem_id="t2i-gd-run", scale=1, min_width=120)
        stop = gr.Button("Stop", elem_id="t2i-gd-stop", scale=1, min_width=80)
    with gr.Accordion("x̂₀ clipping: static or dynamic?", open=False, elem_classes="presenter-hide"):
        gr.Markdown(CLIP_NOTE)
    with gr.Row(equal_height=False):
        grid = gr.Image(show_label=False, interactive=False, elem_id="t2i-gd-grid", scale=3, height=340)
        with gr.Column(scale=2):
            figures = gr.Dataframe(headers=COLUMNS, label="Per scale: scene-truth shares and the mean CLIP score "
                                   "(0–2.5, higher = a better match)", interactive=False, elem_id="t2i-gd-table",
                                   wrap=True)
            info = gr.Markdown(elem_id="t2i-gd-info")
    plot = gr.Plot(show_label=False, elem_id="t2i-gd-plot")  # the legend says which is this grid and which the card
    page.load(show_card, [model], [plot, info], api_visibility="private", **CHEAP)
    model.input(show_card, [model], [plot, info], api_visibility="private", **CHEAP)
    go_ = button.click(scale_grid, [model, prompt, negative, scales, seeds, steps, clip], [grid, figures, plot, info],
                       api_name="t2i_guidance_grid", **EXPENSIVE)
    stop.click(None, None, None, cancels=[go_], queue=False)
