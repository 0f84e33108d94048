"""Tab 1, prompt to image: type a prompt (and a negative prompt), pick the guidance scale, steps, sampler, seed and
the number of images, and watch the images come out of noise step by step: the decoded x̂₀ and the latent x_t as
its 4 channels. The run is recorded in this browser's session, then any step can be stepped through (x_t, ε̂, x̂₀)."""
from __future__ import annotations

import time
import uuid
from typing import Any, NamedTuple

import gradio as gr

from playground import text_to_image as t2i
from playground.diffusion.trajectory import Recorder, Trajectory, run_label
from playground.viz import text_to_image as t2i_viz

from ..common import CHEAP, EXPENSIVE, check_cost, check_int, lookup, remember, session_state, throttle, user_errors
from .shared import (SAMPLER_CHOICES, check_common, check_negative, check_prompt, clip_model, get_model, model_menu,
                     prompt_row)

UPDATE_EVERY_S = 0.3  # the live images redraw at most this often


class Run(NamedTuple):
    """One generation, kept in this browser's session: its recording (CPU, float16; latents for a latent model)."""

    model: str
    prompt: str
    trajectory: Trajectory  # frame k: the x_t the model looked at, its ε̂ and x̂₀; the last frame is the result


class Update(NamedTuple):
    images: Any  # decoded x̂₀ of every image
    latents: Any  # the sampler's state: 4 latent channels per image (or the 3 colour channels of a pixel model)
    info: Any  # progress, then what was made and measured
    run_id: Any
    frame: Any  # the step-through slider
    runs: dict  # this browser's runs


@user_errors
def generate(model, prompt, negative, scale, steps, sampler, seed, n, runs=None):
    """Sample n images for the prompt, streaming the decoded x̂₀ and the latent x_t; then measure them."""
    handle = get_model(model)
    prompt, negative = check_prompt(handle, prompt), check_negative(handle, negative)
    scale, steps, sampler, seed, n = check_common(handle, scale, steps, sampler, seed, n)
    calls = handle.schedule.num_steps if sampler == "ddpm" else steps
    check_cost(n, 2 * calls, "image", "This run")
    ready, began = throttle(UPDATE_EVERY_S), time.perf_counter()
    x_T = handle.noise(n, seed)
    recorder = Recorder(handle.schedule, x_T, calls, run_label(sampler, calls, 0.0))
    decode = handle.model.decode
    for i, step in enumerate(t2i.generate_steps(handle, prompt, negative, scale, steps, sampler, seed, n, x_T=x_T),
                             start=1):
        recorder.add(step)
        if ready(force=i == calls):
            text = (f"Step {i} of {calls} (t = {step.t + 1} of {handle.schedule.num_steps}), "
                    f"{time.perf_counter() - began:.1f} s")
            yield Update(t2i_viz.row(decode(step.x0).cpu()), t2i_viz.latent_tiles(step.x_t), text, gr.update(),
                         gr.update(), runs or {})
    images = decode(step.x_t).cpu()
    seconds = time.perf_counter() - began
    trajectory = recorder.trajectory()
    run_id = uuid.uuid4().hex
    runs, note = remember(runs, run_id, Run(model, prompt, trajectory))
    measured = t2i.measure(images, prompt, clip_model())
    found = [t2i.describe(t2i.judge(x, t2i.prompt_facts(prompt))["found"]) for x in images]
    text = (f"**{n} image{'s' if n > 1 else ''} in {seconds:.1f} s** ({calls} steps, guidance w = {scale:g}"
            + (f", negative prompt “{negative}”" if negative else "") + "). "
            f"Scene truth: **{measured['shape_colour']:.0%}** show the prompt's shape and colour, "
            f"**{measured['correct']:.0%}** everything it names (size and place too, nothing extra)"
            + (f"; mean CLIP score **{measured['clip_score']:.2f}** of 2.5 (higher = a better match)"
               if "clip_score" in measured else "") + ".\n\nWhat the judge read, image by image: "
            + "; ".join(f"{k + 1}. {f}" for k, f in enumerate(found)) + "." + note)
    yield Update(t2i_viz.row(images), t2i_viz.latent_tiles(step.x_t), text, run_id,
                 gr.update(maximum=len(trajectory) - 1, value=len(trajectory) - 1), runs)


@user_errors
def show_step(run_id, frame, image, runs=None):
    """One recorded step of one image: x_t's channels, ε̂'s channels, decoded x̂₀ and decoded x_t."""
    run = lookup(runs, run_id)
    tr = run.trajectory
    k = check_int(frame, "step", 1, len(tr) - 1) - 1
    i = check_int(image, "image", 1, tr.x_t.shape[1]) - 1
    handle = get_model(run.model)
    x_t, x0 = tr.x_t[k, i].float(), tr.x0[k, i].float()
    decoded_x0 = handle.model.decode(x0[None].to(handle.device))[0].cpu()
    decoded_x_t = handle.model.decode(x_t[None].to(handle.device))[0].cpu()
    picture = t2i_viz.step_strip(x_t, tr.eps[k, i].float(), decoded_x0, decoded_x_t)
    abar = tr.alpha_bar[k]
    text = (f"Step {k + 1} of {len(tr) - 1}, t = {tr.ts[k] + 1}: the model looked at x_t with ᾱ_t = {abar:.4f}, "
            f"that is √ᾱ_t = {abar ** 0.5:.3f} signal and √(1 − ᾱ_t) = {(1 - abar) ** 0.5:.3f} noise, and predicted "
            "ε̂; x̂₀ = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t, decoded by the first stage. x_t decoded directly shows why the "
            "model works on noisy latents, not on pictures.")
    return picture, text


def build(page: gr.Blocks) -> gr.Dropdown:
    runs = session_state({})
    with gr.Row(equal_height=True):
        model = model_menu("t2i-gen-model")
        button = gr.Button("Generate", variant="primary", elem_id="t2i-gen-run", scale=1)
        stop = gr.Button("Stop", elem_id="t2i-gen-stop", scale=1)
    prompt, negative = prompt_row("t2i-gen")
    with gr.Row():
        scale = gr.Slider(0, 10, value=3, step=0.5, label="Guidance scale w", elem_id="t2i-gen-scale")
        steps = gr.Slider(1, 200, value=50, step=1, label="DDIM steps", elem_id="t2i-gen-steps")
        sampler = gr.Dropdown(SAMPLER_CHOICES, value="ddim", label="Sampler")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="t2i-gen-seed")
        n = gr.Slider(1, 16, value=8, step=1, label="Images", elem_id="t2i-gen-n")
    with gr.Row(equal_height=False):
        images = gr.Image(label="Decoded x̂₀ (the model's guess of the final image at this step)", interactive=False,
                          elem_id="t2i-gen-images", scale=3, height=280)
        latents = gr.Image(label="The latent x_t: 4 channels per image (each on its own grey scale)",
                           interactive=False, elem_id="t2i-gen-latents", scale=2, height=280)
    info = gr.Markdown(elem_id="t2i-gen-info")
    run_id = gr.Textbox(visible=False)
    with gr.Accordion("Step through the last run: latent x_t, predicted noise ε̂, decoded x̂₀", open=False):
        with gr.Row():
            frame = gr.Slider(1, 50, value=50, step=1, label="Step", elem_id="t2i-gen-frame", scale=3)
            which = gr.Slider(1, 16, value=1, step=1, label="Image", scale=1)
        strip = gr.Image(show_label=False, interactive=False, elem_id="t2i-gen-strip", height=200)
        strip_info = gr.Markdown()
    go = button.click(generate, [model, prompt, negative, scale, steps, sampler, seed, n, runs],
                      [images, latents, info, run_id, frame, runs],
                      api_name="t2i_generate", **EXPENSIVE)
    stop.click(None, None, None, cancels=[go], queue=False)
    for control in (frame, which):
        control.input(show_step, [run_id, frame, which, runs], [strip, strip_info], api_name="t2i_step", **CHEAP)
    go.then(show_step, [run_id, frame, which, runs], [strip, strip_info], api_visibility="private", **CHEAP)
    return model
