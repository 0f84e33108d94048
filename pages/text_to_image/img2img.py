"""Tab 5, img2img (SDEdit, Meng et al. 2022): pick a picture (a test scene or an upload of any format), noise it
part-way, to t = strength · T, and denoise it with a new prompt. Watch the decoded x̂₀ come out of the noised
start; then the input, the start and the result side by side, with the measured change and what scene truth reads.
A sweep over the strength measures the trade-off: the further you noise, the more the prompt wins and the less of
the picture survives."""
from __future__ import annotations

import time
from typing import Any, NamedTuple

import gradio as gr
import torch

from playground import text_to_image as t2i
from playground.viz import text_to_image as t2i_viz

from ..clip.shared import pick_scene, scene_picker
from ..common import EXPENSIVE, check_cost, check_float, check_int, throttle, user_errors
from .shared import check_common, check_negative, check_prompt, get_model, model_menu, prompt_row

UPDATE_EVERY_S = 0.3  # the live picture redraws at most this often
DEFAULT_PROMPT = "a large green square in the centre"  # test scene 0 is "a large blue square on the right"
SWEEP_STRENGTHS = (0.2, 0.4, 0.6, 0.8, 1.0)
SWEEP_SEEDS = 4
EXPLAIN = ("**img2img (SDEdit, Meng et al. 2022).** Encode the picture, z₀ = E(x), and noise it to step "
           "**t = strength · T** in one jump, z_t = √ᾱ_t z₀ + √(1 − ᾱ_t) ε (Ho et al. 2020, eq. 4). Then run the "
           "ordinary reverse process with the new prompt from t down to 0 (DDIM takes about strength · steps of its "
           "steps). A low strength keeps the layout and colours, since √ᾱ_t of the picture is still there; "
           "strength 1 starts from (almost) pure noise and ignores the picture.")


class Edited(NamedTuple):
    picture: Any  # the input, the noised start (decoded), and x̂₀ now / the result
    info: str  # progress, then what was measured


class Swept(NamedTuple):
    grid: Any  # rows = strengths, columns = seeds
    plot: Any  # distance to the input and share following the prompt, against strength
    info: str


def read(scene, most: int = 2) -> str:
    """What scene truth read, in words, the first `most` objects (a noisy picture can read as dozens)."""
    if len(scene.objects) <= most:
        return t2i.describe(scene)
    first = " and ".join(f"a {o.size} {o.colour} {o.shape} {o.position}" for o in scene.objects[:most])
    return f"{first} and {len(scene.objects) - most} more objects"


def _settings(handle, strength, scale, steps, seed):
    strength = check_float(strength, "strength", 0.05, 1.0)
    scale, steps, _, seed, _ = check_common(handle, scale, steps, "ddim", seed, 1)
    return strength, scale, steps, seed


def _floor(handle, image: torch.Tensor) -> float:
    """Mean |pixel change| of the autoencoder alone, decode(encode(x)) − x: the least any latent edit changes."""
    return float((handle.model.decode(handle.model.encode(image[None].to(handle.device))).cpu().clamp(-1, 1)
                  - image).abs().mean())


@user_errors
def edit(model, source, index, upload, light, prompt, negative, strength, scale, steps, seed):
    """img2img: noise the picture to t = strength · T, denoise it with the prompt, streaming the decoded x̂₀."""
    handle = get_model(model)
    image, what, _ = pick_scene(source, index, upload, light)
    prompt, negative = check_prompt(handle, prompt), check_negative(handle, negative)
    strength, scale, steps, seed = _settings(handle, strength, scale, steps, seed)
    total = max(1, round(strength * steps))  # DDIM's steps over [t, 0], as img2img_steps spreads them
    check_cost(1, 2 * total, "image", "This edit")
    T = handle.schedule.num_steps
    x_t, t = t2i.noised(handle, image, strength, seed)  # the same start img2img_steps makes from this seed
    start = handle.model.decode(x_t)[0].cpu()
    abar = float(handle.schedule.alphas_cumprod[t])
    head = {"input": image, f"start: x_t at t = {t + 1} of {T}, decoded": start}
    ready, began = throttle(UPDATE_EVERY_S), time.perf_counter()
    step = None
    for i, step in enumerate(t2i.img2img_steps(handle, image, prompt, strength, scale, steps, seed, negative), 1):
        if ready(force=i == total):
            x0 = handle.model.decode(step.x0)[0].cpu()
            yield Edited(t2i_viz.before_after({**head, f"x̂₀ at step {i} of {total}": x0}),
                         f"Step {i} of {total} (t = {step.t + 1} of {T}), {time.perf_counter() - began:.1f} s")
    result = handle.model.decode(step.x_t)[0].cpu().clamp(-1, 1)
    seconds = time.perf_counter() - began
    change = float((result - image).abs().mean())
    verdict = t2i.judge(result, t2i.prompt_facts(prompt))
    floor = _floor(handle, image)
    text = (f"**Strength {strength:g}: t = round({strength:g} · {T}) = {t + 1}** (ᾱ_t = {abar:.3f}: the start keeps "
            f"√ᾱ_t = {abar ** 0.5:.2f} of the picture, under √(1 − ᾱ_t) = {(1 - abar) ** 0.5:.2f} noise), "
            f"{total} DDIM step{'s' if total > 1 else ''} in {seconds:.1f} s, guidance w = {scale:g}, seed {seed}. "
            f"Input: {what}.\n\n**Mean |pixel change| from the input: {change:.3f}** (pixels on the [−1, 1] scale; "
            f"the autoencoder alone, encode → decode, already changes it by {floor:.3f}). "
            f"Scene truth reads the result as *{read(verdict['found'])}*: the prompt's shape and colour "
            f"are **{'found ✓' if verdict['shape_colour'] else 'not found ✗'}**"
            f"{' (and everything it names ✓)' if verdict['correct'] else ''}.")
    yield Edited(t2i_viz.before_after({**head, "result": result}), text)


@user_errors
def sweep(model, source, index, upload, light, prompt, negative, scale, steps):
    """img2img at strengths 0.2 … 1.0, SWEEP_SEEDS seeds each (rows = strengths): the distance to the input and
    the share following the prompt, against strength. Streams row by row."""
    handle = get_model(model)
    image, what, _ = pick_scene(source, index, upload, light)
    prompt = check_prompt(handle, prompt)
    if check_negative(handle, negative):
        gr.Warning("The sweep uses the empty prompt as CFG's unconditional input; the negative prompt is ignored.")
    scale = check_float(scale, "guidance scale", 0.0, t2i.MAX_SCALE)
    steps = check_int(steps, "steps", 1, min(t2i.MAX_STEPS, handle.schedule.num_steps))
    check_cost(SWEEP_SEEDS * len(SWEEP_STRENGTHS), 2 * steps, "image", "This sweep")
    began, rows, distance, follows = time.perf_counter(), [], [], []
    floor = _floor(handle, image)
    labels = [f"strength {s:g}" for s in SWEEP_STRENGTHS]
    for s in SWEEP_STRENGTHS:  # one row at a time, so the grid grows and Stop answers between rows
        row = t2i.strength_sweep(handle, image, prompt, (s,), scale, steps, SWEEP_SEEDS)
        rows.append(row["images"][0].clamp(-1, 1))
        distance.append(row["distance"][0])
        follows.append(row["follows"][0])
        done = len(rows)
        grid = t2i_viz.sweep_grid(image, rows, labels[:done], SWEEP_SEEDS)
        plot = t2i_viz.strength_figure(list(SWEEP_STRENGTHS[:done]), distance, follows, floor)
        text = (f"Strength {s:g} done ({done} of {len(SWEEP_STRENGTHS)}), {time.perf_counter() - began:.1f} s."
                if done < len(SWEEP_STRENGTHS) else
                f"**The trade-off, measured** on {what}, prompt “{prompt}”, {SWEEP_SEEDS} seeds per strength, "
                f"{steps} DDIM steps for strength 1 (fewer for less), w = {scale:g}, in "
                f"{time.perf_counter() - began:.1f} s. Mean |pixel change| from the input rises from "
                f"**{distance[0]:.3f}** at strength {SWEEP_STRENGTHS[0]:g} to **{distance[-1]:.3f}** at 1 (the "
                f"autoencoder alone: {floor:.3f}); the share showing the prompt's shape and colour goes from "
                f"**{follows[0]:.0%}** to **{follows[-1]:.0%}**. Faithful to the picture or to the prompt: the "
                "strength chooses where between the two.")
        yield Swept(grid, plot, text)


def build(page: gr.Blocks) -> None:
    with gr.Row(equal_height=True):
        model = model_menu("t2i-i2i-model")
        button = gr.Button("Edit the image", variant="primary", elem_id="t2i-i2i-run", scale=1)
        stop = gr.Button("Stop", elem_id="t2i-i2i-stop", scale=1)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            source, index, upload, light = scene_picker("t2i-i2i")
            prompt, negative = prompt_row("t2i-i2i", DEFAULT_PROMPT)
            with gr.Row():
                strength = gr.Slider(0.05, 1.0, value=0.6, step=0.05, label="Strength: noise to t = strength · T",
                                     elem_id="t2i-i2i-strength")
                scale = gr.Slider(0, 10, value=3, step=0.5, label="Guidance scale w", elem_id="t2i-i2i-scale")
            with gr.Row():
                steps = gr.Slider(1, 200, value=50, step=1, label="DDIM steps (at strength 1)",
                                  elem_id="t2i-i2i-steps")
                seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="t2i-i2i-seed", min_width=90)
        with gr.Column(scale=3):
            picture = gr.Image(show_label=False, interactive=False, elem_id="t2i-i2i-picture", height=250)
            info = gr.Markdown(EXPLAIN, elem_id="t2i-i2i-info")
    gr.Markdown("### Sweep the strength: the trade-off, measured")
    with gr.Row(equal_height=True):
        sweep_button = gr.Button("Sweep the strength", variant="primary", elem_id="t2i-i2i-sweep", scale=1)
        sweep_stop = gr.Button("Stop", elem_id="t2i-i2i-sweep-stop", scale=1)
        gr.Markdown(f"Strengths {', '.join(map(str, SWEEP_STRENGTHS))} × seeds 0–{SWEEP_SEEDS - 1}, with the picture, "
                    "prompt, guidance scale and steps above.", elem_classes="presenter-hide")
    with gr.Row(equal_height=False):
        grid = gr.Image(show_label=False, interactive=False, elem_id="t2i-i2i-grid", scale=2, height=440)
        with gr.Column(scale=3):
            plot = gr.Plot(show_label=False, elem_id="t2i-i2i-plot")
            sweep_info = gr.Markdown(elem_id="t2i-i2i-sweep-info")
    picked = [model, source, index, upload, light, prompt, negative]
    go = button.click(edit, [*picked, strength, scale, steps, seed], [picture, info], api_name="t2i_img2img",
                      **EXPENSIVE)
    stop.click(None, None, None, cancels=[go], queue=False)
    swept = sweep_button.click(sweep, [*picked, scale, steps], [grid, plot, sweep_info],
                               api_name="t2i_strength_sweep", **EXPENSIVE)
    sweep_stop.click(None, None, None, cancels=[swept], queue=False)
