"""/reverse: pure noise turned into a picture (or a 2D cloud) by a trained denoiser, step by step.

One module per tab: `step_through` (generate live, record, scrub), `samplers` (DDPM vs DDIM-5…100),
`schedules` (linear- vs cosine-trained), `variance` (improved DDPM's learned variance, respaced DDPM and bits/dim)
and `train` (train your own). What a browser makes, its recorded runs
and its trained models, lives in that browser's session state (`runs`, `my_models`), never in this module."""
from __future__ import annotations

import gradio as gr

from ..common import MAX_RUNS, about, keep_stopped, run_job, session_state
from . import samplers, schedules, step_through, train, variance
from .samplers import DDIM_ROW, SamplerComparison, compare_samplers
from .schedules import ScheduleComparison, compare_schedules
from .shared import MAX_IMAGES, MAX_POINTS, MENU, check_sampling, shipped_label
from .step_through import (FrameView, Live, ModelControls, PlayFrame, export_gif, frame_range, generate, model_controls,
                           play_frames, show_frame, step_frame)
from .train import CAPS, live_spec, make_job

__all__ = ["build", "demo", "MENU", "MAX_RUNS", "MAX_IMAGES", "MAX_POINTS", "DDIM_ROW", "CAPS", "check_sampling",
           "shipped_label", "generate", "show_frame", "frame_range", "step_frame", "play_frames", "export_gif",
           "model_controls", "compare_samplers", "compare_schedules", "live_spec", "make_job", "run_job",
           "keep_stopped", "Live", "FrameView", "PlayFrame", "ModelControls", "SamplerComparison",
           "ScheduleComparison"]

ABOUT = ("A trained network runs the forward film backwards. It starts from pure noise x_T ~ N(0, I). At each "
         "step it looks at x_t and predicts the noise ε̂ in it (Ho et al. 2020: the network predicts the *noise*), "
         "which also gives a guess x̂₀ of the clean picture; the sampler then moves x_t a little towards it. "
         "DDPM takes all T = 1000 small random steps; DDIM (Song et al. 2021) jumps along a subsequence of 5–100 "
         "steps and, with η = 0, adds no noise at all, so the same x_T always gives the same picture. *Learned variance* "
         "follows improved DDPM (Nichol & Dhariwal 2021): DDPM respaced to 25–1000 steps, with a reverse variance "
         "the model learned, and the model's likelihood in bits per dimension.")
EQUATION = ("$x_{t-1} = \\frac{1}{\\sqrt{\\alpha_t}}\\Big(x_t - \\frac{\\beta_t}{\\sqrt{1-\\bar\\alpha_t}}"
            "\\,\\varepsilon_\\theta(x_t, t)\\Big) + \\sigma_t z$ (DDPM), trained with "
            "$\\lVert \\varepsilon - \\varepsilon_\\theta(\\sqrt{\\bar\\alpha_t}x_0 + \\sqrt{1-\\bar\\alpha_t}\\,"
            "\\varepsilon, t)\\rVert^2$.")
CITATION = "Ho, Jain & Abbeel 2020, DDPM, eq. 11 and eq. 14 · Song, Meng & Ermon 2021, DDIM, eq. 12"


def build(page: gr.Blocks) -> None:
    about("Reverse diffusion: pull a picture out of noise", ABOUT, EQUATION, CITATION)
    runs = session_state({})  # this browser's recorded runs {run id: run}, its last MAX_RUNS
    my_models = session_state({})  # this browser's trained models {id: Loaded}
    with gr.Tabs():
        with gr.Tab("Generate and step through", id="generate"):
            model = step_through.build(page, runs, my_models)
        with gr.Tab("Compare samplers", id="samplers"):
            samplers_model = samplers.build(my_models)
        with gr.Tab("Compare schedules", id="schedules"):
            schedules.build()
        with gr.Tab("Learned variance", id="variance"):
            variance.build(page)
        with gr.Tab("Train one yourself", id="train"):
            train.build(my_models, menus=[model, samplers_model])


def demo() -> gr.Blocks:
    with gr.Blocks(title="Reverse diffusion") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
