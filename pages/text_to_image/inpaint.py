"""Tab 6, inpainting (RePaint's simple form, Lugmayr et al. 2022): pick a picture (a test scene or an upload), paint
the region to regenerate on it (or choose a preset mask), type what should be there, and watch the decoded x̂₀ fill
the hole while the rest is held to the picture. Then the input with its mask, the results, and the measured change
inside and outside the mask, with what scene truth reads in each result."""
from __future__ import annotations

import time
from typing import Any, NamedTuple

import gradio as gr
import numpy as np
import torch
from PIL import Image

from playground import text_to_image as t2i
from playground.viz import labelled_strip, text_to_image as t2i_viz

from ..clip.shared import pick_scene, scene_picker
from ..common import (CHEAP, EXPENSIVE, check_choice, check_cost, session_state, throttle, upload_path,
                      user_errors)
from .img2img import read
from .shared import check_common, check_negative, check_prompt, clip_model, get_model, model_menu, prompt_row

UPDATE_EVERY_S = 0.3  # the live picture redraws at most this often
SIDE = 32  # the mask's side: the image's
CANVAS = 256  # the editor shows the scene blown up 8×, so a 32×32 pixel is an 8×8 block of the canvas
PAINTED = "painted on the picture"
PRESETS = {"left half": (slice(None), slice(0, 16)), "right half": (slice(None), slice(16, 32)),
           "top half": (slice(0, 16), slice(None)), "bottom half": (slice(16, 32), slice(None)),
           "centre square": (slice(8, 24), slice(8, 24))}
MASK_CHOICES = [PAINTED, *PRESETS]
DEFAULT_MASK = "left half"
MAX_IMAGES = 8  # images per inpainting run
DEFAULT_PROMPT = "a small red circle on the left"  # test scene 0 is "a large blue square on the right"
INPUT_CAPTION = "input: mask magenta, rest of its 4×4 cells light"
EXPLAIN = ("**Inpainting, RePaint's simple form** (Lugmayr et al. 2022, without its resampling jumps): sample as "
           "usual, but after every step put the known region back, noised to the current step: "
           "z_{t−1} ← m ⊙ z_{t−1} + (1 − m) ⊙ (√ᾱ_{t−1} z₀ + √(1 − ᾱ_{t−1}) ε), with z₀ = E(picture) and m = 1 where "
           "you painted. So the model only ever fills the hole, and around it sees the picture at the right noise "
           "level. A latent model samples 8×8 latents, one per **4×4 pixels**, so every latent cell the mask touches "
           "is regenerated whole (`latent_mask`: max-pooling; lightly tinted), and the decoder redraws every pixel "
           "from the latent, so pixels outside the mask change a little too (measured below).")
PAINT_RULE = ("Paint with the brush on the picture (a pixel of the 32×32 scene is masked when more than half of its "
              f"{CANVAS // SIDE}×{CANVAS // SIDE} block on the canvas is painted), or choose a preset.")


class Filled(NamedTuple):
    picture: Any  # the input with its mask tinted, and the decoded x̂₀ of every image / the results
    info: str  # progress, then what was measured


def preset_mask(name: str) -> torch.Tensor:
    """A preset mask: (32, 32) bool, True where the picture is regenerated."""
    mask = np.zeros((SIDE, SIDE), dtype=bool)
    mask[PRESETS[name]] = True
    return torch.from_numpy(mask)


def canvas(image: torch.Tensor, preset: str | None) -> dict:
    """The editor's value: the picture blown up to CANVAS pixels, with a preset mask (if any) tinted on it; the
    strokes painted on top go into the editor's own layer. (The tint is drawn into the background, not sent as a
    layer: the editor cannot paint on a layer that comes from the server.)"""
    mask = preset_mask(preset) if preset is not None else torch.from_numpy(np.zeros((SIDE, SIDE), dtype=bool))
    return {"background": t2i_viz.mask_overlay(image, mask, side=CANVAS), "layers": [], "composite": None}


def painted_mask(painted) -> torch.Tensor:
    """The editor's painted layers read as a 32×32 mask: a canvas pixel is painted where a layer's alpha is above 0,
    and a picture pixel is masked when more than half of its block of the canvas is painted (area averaging)."""
    layers = painted.get("layers") if isinstance(painted, dict) else None
    layers = [np.asarray(layer) for layer in layers or [] if layer is not None]
    if not layers:
        raise gr.Error("Nothing is painted: " + PAINT_RULE)
    sizes = {layer.shape[:2] for layer in layers}
    background = painted.get("background")
    if background is not None:
        sizes.add(np.asarray(background).shape[:2])
    h, w = next(iter(sizes))
    if len(sizes) > 1 or h != w or h < SIDE:
        shown = ", ".join(f"{b}×{a}" for a, b in sorted(sizes))
        raise gr.Error(f"The painted mask must be square, at least {SIDE}×{SIDE} and the size of the picture it is "
                       f"painted on (the editor's canvas is {CANVAS}×{CANVAS}); got {shown}.")
    ink = np.zeros((h, w), dtype=bool)
    for layer in layers:
        ink |= (layer[..., 3] > 0) if layer.ndim == 3 and layer.shape[2] == 4 else (
            layer.reshape(h, w, -1).max(axis=-1) > 0)
    # the share of each picture pixel's block that is painted (BOX = the area average), then the >50 % rule
    share = np.asarray(Image.fromarray(ink.astype(np.float32)).resize((SIDE, SIDE), Image.Resampling.BOX))
    return torch.from_numpy(share > 0.5)


def read_mask(mask_choice, painted, base=None) -> torch.Tensor:
    """The mask to use: a preset's, or the painted strokes together with the preset `base` they were painted over
    (None: a clean picture); a clear message when it is empty."""
    check_choice(mask_choice, "mask", MASK_CHOICES)
    if mask_choice != PAINTED:
        mask = preset_mask(mask_choice)
    elif base in PRESETS:
        strokes = painted_mask(painted) if isinstance(painted, dict) and painted.get("layers") else None
        mask = preset_mask(base) | (strokes if strokes is not None else False)
    else:
        mask = painted_mask(painted)
    if not mask.any():
        raise gr.Error("The mask is empty: " + PAINT_RULE)
    return mask


@user_errors
def inpaint(model, source, index, upload, light, mask_choice, painted, prompt, negative, scale, steps, seed, n,
            base=None):
    """Regenerate the masked region of the picture for the prompt, n images, streaming the decoded x̂₀. `base`: the
    preset tinted on the editor's picture when it was painted on (this browser's state; None through the API)."""
    handle = get_model(model)
    image, what, _ = pick_scene(source, index, upload, light)
    mask = read_mask(mask_choice, painted, base)
    prompt, negative = check_prompt(handle, prompt), check_negative(handle, negative)
    scale, steps, _, seed, n = check_common(handle, scale, steps, "ddim", seed, n, MAX_IMAGES)
    check_cost(n, 2 * steps, "image", "This run")
    # the region the sampler regenerates, at the picture's size: every latent cell the mask touches
    cells = t2i.regenerated_pixels(handle, mask)
    shown = t2i_viz.mask_overlay(image, mask, cells)
    ready, began = throttle(UPDATE_EVERY_S), time.perf_counter()
    step = None
    for i, step in enumerate(t2i.inpaint_steps(handle, image, mask, prompt, scale, steps, seed, n, negative), 1):
        if ready(force=i == steps):
            x0 = handle.model.decode(step.x0).cpu()
            yield Filled(labelled_strip({INPUT_CAPTION: shown,
                                         f"decoded x̂₀, step {i} of {steps} (t = {step.t + 1})": t2i_viz.row(x0, 112)}),
                         f"Step {i} of {steps}, {time.perf_counter() - began:.1f} s")
    images = handle.model.decode(step.x_t).cpu().clamp(-1, 1)
    seconds = time.perf_counter() - began
    change = (images - image).abs().mean(1)  # (n, 32, 32): mean |pixel change| over the colour channels
    roundtrip = (handle.model.decode(handle.model.encode(image[None].to(handle.device))).cpu().clamp(-1, 1)
                 - image).abs().mean(1)[0]
    inside, outside = float(change[:, mask].mean()), float(change[:, ~mask].mean())
    untouched = ~cells
    measured = t2i.measure(images, prompt, clip_model())
    found = [read(t2i.judge(x, t2i.prompt_facts(prompt))["found"]) for x in images]
    text = (f"**{n} image{'s' if n > 1 else ''} in {seconds:.1f} s** ({steps} DDIM steps, w = {scale:g}, seeds from "
            f"{seed}); {int(mask.sum())} of {SIDE * SIDE} pixels masked ({mask_choice}), {int(cells.sum())} "
            f"regenerated as whole 4×4 latent cells. Input: {what}.\n\n"
            f"**Mean |pixel change| inside the mask: {inside:.3f}; outside it: {outside:.3f}** (pixels on the "
            f"[−1, 1] scale). Outside, the known latent is pasted back exactly, so what changes there is the decoder: "
            f"the autoencoder alone (encode → decode) changes those pixels by {float(roundtrip[~mask].mean()):.3f}"
            + (f", and outside every regenerated cell the results change by {float(change[:, untouched].mean()):.3f}"
               if untouched.any() and bool((cells != mask).any()) else "") + ".\n\n"
            f"Scene truth: **{measured['shape_colour']:.0%}** show the prompt's shape and colour"
            + (f"; mean CLIP score **{measured['clip_score']:.2f}** of 2.5" if "clip_score" in measured else "")
            + ". What the judge read: " + "; ".join(f"{k + 1}. {f}" for k, f in enumerate(found)) + ".")
    yield Filled(labelled_strip({INPUT_CAPTION: shown, "results": t2i_viz.row(images, 112)}), text)


class Canvas(NamedTuple):
    editor: Any  # the picture, with the preset tinted on it
    base: Any  # the preset tinted there (None for a clean picture): painting adds to it


@user_errors
def show_canvas(source, index, upload, light, mask_choice) -> Canvas:
    """The editor for the picked picture and mask choice: the preset tinted on it, or the clean picture to paint."""
    if source == "upload" and upload_path(upload) is None:
        return Canvas(gr.update(), gr.update())  # "upload" chosen, no file yet: keep the canvas
    image, _, _ = pick_scene(source, index, upload, light)
    check_choice(mask_choice, "mask", MASK_CHOICES)
    base = None if mask_choice == PAINTED else mask_choice
    return Canvas(canvas(image, base), base)


def on_paint(painted):
    """The mask menu after the editor reports an input: "painted" once a stroke is there (the editor also reports
    when it first shows its picture, with nothing painted: then the menu stays)."""
    layers = painted.get("layers") if isinstance(painted, dict) else None
    inked = any(np.asarray(layer)[..., -1].any() for layer in layers or [] if layer is not None)
    return PAINTED if inked else gr.update()


def build(page: gr.Blocks) -> None:
    base = session_state(None)  # the preset tinted on this browser's editor (None: a clean picture; the API's)
    with gr.Row(equal_height=True):
        model = model_menu("t2i-inp-model")
        button = gr.Button("Inpaint", variant="primary", elem_id="t2i-inp-run", scale=1)
        stop = gr.Button("Stop", elem_id="t2i-inp-stop", scale=1)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            editor = gr.ImageEditor(
                canvas(pick_scene("test scene", 0, None)[0], DEFAULT_MASK), type="numpy", image_mode="RGBA",
                sources=(), transforms=(), layers=False, canvas_size=(CANVAS, CANVAS), fixed_canvas=True,
                brush=gr.Brush(colors=["#ff00ff"], default_color="#ff00ff", color_mode="fixed", default_size=24),
                eraser=gr.Eraser(default_size=24), show_label=False, height=330, elem_id="t2i-inp-editor")
            mask_choice = gr.Dropdown(MASK_CHOICES, value=DEFAULT_MASK, label="Mask (painting adds to the tinted one)",
                                      elem_id="t2i-inp-mask")
            source, index, upload, light = scene_picker("t2i-inp")
        with gr.Column(scale=3):
            picture = gr.Image(show_label=False, interactive=False, elem_id="t2i-inp-picture", height=190)
            prompt, negative = prompt_row("t2i-inp", DEFAULT_PROMPT)
            with gr.Row():
                scale = gr.Slider(0, 10, value=3, step=0.5, label="Guidance scale w", elem_id="t2i-inp-scale")
                steps = gr.Slider(1, 200, value=50, step=1, label="DDIM steps", elem_id="t2i-inp-steps")
                seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="t2i-inp-seed", min_width=90)
                n = gr.Slider(1, MAX_IMAGES, value=4, step=1, label="Images", elem_id="t2i-inp-n")
            info = gr.Markdown(EXPLAIN + "\n\n" + PAINT_RULE, elem_id="t2i-inp-info")
    go = button.click(inpaint, [model, source, index, upload, light, mask_choice, editor, prompt, negative, scale,
                                steps, seed, n, base], [picture, info], api_name="t2i_inpaint", **EXPENSIVE)
    stop.click(None, None, None, cancels=[go], queue=False)
    picked = [source, index, upload, light, mask_choice]
    for control in (source, index, upload, light):
        control.change(show_canvas, picked, [editor, base], api_visibility="private", **CHEAP)
    mask_choice.input(show_canvas, picked, [editor, base], api_visibility="private", **CHEAP)
    editor.input(on_paint, editor, mask_choice, api_visibility="private", **CHEAP)
    page.load(lambda: DEFAULT_MASK, None, base, api_visibility="private", queue=False)  # the canvas starts tinted
