"""/forward: a real picture (or a 2D cloud) dissolving into Gaussian noise under two schedules."""
from __future__ import annotations

import functools
import time

import gradio as gr
import numpy as np
import torch

from playground import data, viz
from playground.diffusion import SCHEDULE_CITATIONS, SCHEDULES, closed_form_vs_iterated, make_schedule
from playground.diffusion.forward import (cloud_moments, film, matched_noise, noise_at, noising_trajectory,
                                         schedule_summary)

from .common import CHEAP, EXPENSIVE, MAX_SEED, about, check_choice, check_int, export_path, upload_path, user_errors

SOURCES = {"Fashion-MNIST": "fashion", "digits": "digits", "shapes": "shapes", "upload": "upload"}
T_CHOICES = (50, 100, 250, 500, 1000)
ZERO_SNR = "+zero-snr"  # a schedule name with this suffix is rescaled to zero terminal SNR (Lin et al. 2024)
SCHEDULE_CHOICES = [(kind, kind) for kind in SCHEDULES] + [
    (f"{kind}, rescaled to zero terminal SNR", kind + ZERO_SNR) for kind in SCHEDULES]
STRIP_FRAMES = 9
PLAY_FPS = 15
GIF_FRAMES = 60
VIEW_SIDE = 224  # pixels on screen for one image


def _class_choices(source: str) -> list[tuple[str, int]]:
    names = {"fashion": data.FASHION_CLASSES, "digits": [str(k) for k in range(10)],
             "shapes": data.SHAPE_CLASSES}.get(SOURCES.get(source), [])
    return [(name, k) for k, name in enumerate(names)]


@functools.lru_cache(maxsize=16)
def _upload(path: str) -> torch.Tensor:
    return data.load_image(path, size=32, channels=3)


class UploadProblem(gr.Error):
    """The upload is missing or unreadable: the UI keeps what it shows and says why."""


def pick_x0(source, label, index, upload) -> tuple[torch.Tensor, str]:
    """The clean image x_0, (C, H, W) in [-1, 1], and a line saying what it is."""
    check_choice(source, "source", list(SOURCES))
    if SOURCES[source] == "upload":
        path = upload_path(upload)
        if path is None:
            raise UploadProblem("Choose an image file to upload first.")
        try:
            return _upload(path), "your upload, centre-cropped and resized to 32×32 RGB"
        except data.ImageError as err:
            raise UploadProblem(f"{err}. Try another file.") from None
    name = SOURCES[source]
    label = check_int(label, "class", 0, len(_class_choices(source)) - 1)
    index = check_int(index, "index", 0, data.class_count(name, label) - 1)
    return data.example(name, label, index)


def _schedule(name, T: int, what: str = "schedule"):
    """A schedule of the menu: a kind, or a kind rescaled to zero terminal SNR ("cosine+zero-snr")."""
    check_choice(name, what, [value for _, value in SCHEDULE_CHOICES])
    return make_schedule(name.removesuffix(ZERO_SNR), T, zero_terminal_snr=name.endswith(ZERO_SNR))


def _schedules(schedule_a, schedule_b, T):
    T = check_int(T, "T", T_CHOICES[0], T_CHOICES[-1])
    return _schedule(schedule_a, T, "schedule A"), _schedule(schedule_b, T, "schedule B")


def _noise(x0, seed):
    return matched_noise(tuple(x0.shape), check_int(seed, "noise seed", 0, MAX_SEED))


def _numbers(schedule, t: int) -> str:
    alpha_bar = schedule.alpha_bar_at(t)
    snr = "∞ (no noise yet)" if t == 0 else f"{alpha_bar / (1 - alpha_bar):.4g}"
    return (f"**{schedule.name}**, t = {t} of {schedule.num_steps}: ᾱ_t = {alpha_bar:.4f} · "
            f"signal coefficient √ᾱ_t = {np.sqrt(alpha_bar):.3f} · noise coefficient √(1−ᾱ_t) = "
            f"{np.sqrt(1 - alpha_bar):.3f} · SNR = ᾱ_t/(1−ᾱ_t) = {snr}")


def _view(x: torch.Tensor) -> np.ndarray:
    return viz.image_grid(x[None], nrow=1, pad=0, scale=viz.fit_scale(x.shape[-1], VIEW_SIDE))


@user_errors
def show_source(source, label, index, upload):
    x0, description = pick_x0(source, label, index, upload)
    return _view(x0), description


@user_errors
def frame(source, label, index, upload, schedule_a, schedule_b, T, t, noise_seed):
    """x_t under both schedules with the same noise, and the numbers that describe each."""
    sched_a, sched_b = _schedules(schedule_a, schedule_b, T)
    t = check_int(t, "t", 0, sched_a.num_steps)
    x0, _ = pick_x0(source, label, index, upload)
    noise = _noise(x0, noise_seed)
    views = [_view(noise_at(s, x0[None], t, noise[None])[0]) for s in (sched_a, sched_b)]
    return views[0], views[1], _numbers(sched_a, t) + "\n\n" + _numbers(sched_b, t)


@user_errors
def film_data(source, label, index, upload, schedule_a, schedule_b, T, noise_seed) -> dict:
    """x_0, the noise and both schedules' coefficients, for the browser to draw every frame of the slider itself
    (`FRAME_JS`): scrubbing sends no request; the server draws the exact frame when the slider is let go."""
    schedules = _schedules(schedule_a, schedule_b, T)
    x0, _ = pick_x0(source, label, index, upload)
    return {**film(schedules, x0, _noise(x0, noise_seed)), "scale": viz.fit_scale(x0.shape[-1], VIEW_SIDE)}


# Draws x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (Ho et al. eq. 4) for both schedules in the browser, as the server's `frame`
# does (pixels: round((x + 1) · 127.5), clipped; each pixel a `scale`-sized square), and writes the same numbers.
FRAME_JS = """
(t, film) => {
  if (!film || !film.x0 || t === null || t === undefined) return;
  const k = Math.max(0, Math.min(Math.round(Number(t)), film.schedules[0].signal.length - 1));
  const {channels, height, width, scale} = film, area = height * width;
  const draw = (curve, id) => {
    const img = document.querySelector('#' + id + ' img');
    if (!img) return;
    const a = curve.signal[k], b = curve.noise[k];
    const small = document.createElement('canvas');
    small.width = width; small.height = height;
    const pixels = small.getContext('2d').createImageData(width, height);
    for (let i = 0; i < area; i++) {
      for (let c = 0; c < 3; c++) {
        const j = (channels === 1 ? 0 : c) * area + i;
        const x = Math.max(-1, Math.min(1, a * film.x0[j] + b * film.noise[j]));
        pixels.data[4 * i + c] = Math.round((x + 1) * 127.5);
      }
      pixels.data[4 * i + 3] = 255;
    }
    small.getContext('2d').putImageData(pixels, 0, 0);
    const big = document.createElement('canvas');
    big.width = width * scale; big.height = height * scale;
    const context = big.getContext('2d');
    context.imageSmoothingEnabled = false;
    context.drawImage(small, 0, 0, big.width, big.height);
    img.src = big.toDataURL();
  };
  draw(film.schedules[0], 'forward-a');
  draw(film.schedules[1], 'forward-b');
  const numbers = document.querySelector('#forward-numbers .prose');
  if (numbers) {
    const T = film.schedules[0].signal.length - 1;
    numbers.innerHTML = film.schedules.map(curve => {
      const ab = curve.alpha_bar[k];
      const snr = k === 0 ? '∞ (no noise yet)' : String(Number((ab / (1 - ab)).toPrecision(4)));
      return `<p><strong>${curve.name}</strong>, t = ${k} of ${T}: ᾱ_t = ${ab.toFixed(4)} · signal coefficient ` +
        `√ᾱ_t = ${curve.signal[k].toFixed(3)} · noise coefficient √(1−ᾱ_t) = ${curve.noise[k].toFixed(3)} · ` +
        `SNR = ᾱ_t/(1−ᾱ_t) = ${snr}</p>`;
    }).join('');
  }
}
"""


@user_errors
def schedule_plot(schedule_a, schedule_b, T, t):
    schedules = _schedules(schedule_a, schedule_b, T)
    t = check_int(t, "t", 0, schedules[0].num_steps)
    # log SNR(T) = −∞ on a zero-terminal-SNR schedule: left out of the plot (NaN)
    curves = {s.name: {"alpha_bar": s.alphas_cumprod.numpy(), "log_snr": np.where(s.snr > 0, s.snr.log(), np.nan)}
              for s in schedules}
    return viz.schedule_figure(curves, ui_t=t)


def _exact(value: float, spec: str) -> str:
    """A number as `spec` formats it, and an exact zero as "0 (exactly)"."""
    return "0 (exactly)" if value == 0 else format(value, spec)


def _share_table(schedules) -> str:
    rows = ["| schedule | steps with ᾱ_t < 0.01 (signal nearly gone) | first t with ᾱ_t < 0.5 | ᾱ_T at t = T | "
            "signal left in x_T: √ᾱ_T | terminal SNR ᾱ_T/(1−ᾱ_T) | paper |", "|---|---|---|---|---|---|---|"]
    for s in dict.fromkeys(schedules):  # one row per distinct schedule
        summary = schedule_summary(s)
        half = summary["first_t_below_half"]
        cited = SCHEDULE_CITATIONS[s.kind] + (", rescaled: Lin et al. 2024, Algorithm 1" if s.zero_terminal_snr else "")
        rows.append(f"| {s.name} | {100 * summary['share_nearly_noise']:.1f}% | {half} ({100 * half / s.num_steps:.0f}% of T) "
                    f"| {_exact(summary['alpha_bar_T'], '.2e')} | {_exact(summary['sqrt_alpha_bar_T'], '.2g')} "
                    f"| {_exact(summary['terminal_snr'], '.2e')} "
                    f"| {cited} |")
    return "\n".join(rows) + "\n\n" + _terminal_note(schedules[0].num_steps)


def _terminal_note(T: int) -> str:
    """ᾱ_T and √ᾱ_T of every schedule at this T, and why a terminal SNR above 0 matters for sampling."""
    ends = {kind: schedule_summary(make_schedule(kind, T)) for kind in SCHEDULES}
    listed = " · ".join(f"{kind} {e['alpha_bar_T']:.2e} (√ᾱ_T = {e['sqrt_alpha_bar_T']:.2g})" for kind, e in ends.items())
    worst = max(ends, key=lambda kind: ends[kind]["alpha_bar_T"])
    return (f"**Does x_T reach pure noise?** ᾱ_T at T = {T}, every schedule as published: {listed}. None of them reaches "
            f"ᾱ_T = 0 exactly (the cosine formula, eq. 17, would; its last β is clipped to 0.999, Nichol & Dhariwal "
            f"§3.2, which leaves {ends['cosine']['alpha_bar_T']:.1e}); **{worst}** leaves the most: x_T = {ends[worst]['sqrt_alpha_bar_T']:.3f}·x_0 + "
            f"{np.sqrt(1 - ends[worst]['alpha_bar_T']):.3f}·ε, so {100 * ends[worst]['sqrt_alpha_bar_T']:.0f}% of "
            "the signal's amplitude (√ᾱ; ᾱ itself is the share of its variance) is still in x_T (terminal SNR "
            f"{ends[worst]['terminal_snr']:.1e}). A sampler that starts from pure noise x_T ~ N(0, I) therefore "
            "starts from a mismatch: the model was trained on x_T that still hold some of the image (for example "
            "its mean brightness), and at sampling time that signal is missing — Lin et al. 2024, \"Common "
            "diffusion noise schedules and sample steps are flawed\", who rescale the schedule to zero terminal "
            "SNR (Algorithm 1: shift and scale √ᾱ_t so that √ᾱ_T = 0 and √ᾱ_1 stays). Choose a schedule \"rescaled "
            "to zero terminal SNR\" above to see it: the last frame is then pure noise. A model trained on such a "
            "schedule must predict v (or x₀), not ε: at SNR 0, ε = x_T says nothing about x₀.")


@user_errors
def strips(source, label, index, upload, schedule_a, schedule_b, T, noise_seed):
    """x_t at evenly spaced t for each schedule (same noise), and the table of what each schedule does."""
    schedules = _schedules(schedule_a, schedule_b, T)
    x0, _ = pick_x0(source, label, index, upload)
    noise = _noise(x0, noise_seed)
    ts = np.linspace(0, schedules[0].num_steps, STRIP_FRAMES).round().astype(int).tolist()
    scale = viz.fit_scale(x0.shape[-1], 84)
    images = [viz.image_grid(noising_trajectory(s, x0[None], ts, noise[None])[:, 0], nrow=STRIP_FRAMES, scale=scale)
              for s in schedules]
    caption = f"Columns: t = {', '.join(map(str, ts))}."
    return images[0], images[1], caption, _share_table(schedules)


@user_errors
def play(source, label, index, upload, schedule_a, schedule_b, T, t, noise_seed):
    """Animate t from its current value to T (from 0 if already at T), about PLAY_FPS frames a second."""
    T = check_int(T, "T", T_CHOICES[0], T_CHOICES[-1])
    start = check_int(t, "t", 0, T)
    start = 0 if start >= T else start
    step = max(1, T // 60)
    for value in list(range(start, T, step)) + [T]:
        began = time.perf_counter()
        image_a, image_b, numbers = frame(source, label, index, upload, schedule_a, schedule_b, T, value, noise_seed)
        yield value, image_a, image_b, numbers
        time.sleep(max(0.0, 1 / PLAY_FPS - (time.perf_counter() - began)))


@user_errors
def closed_form_check(source, label, index, upload, schedule_a, T, t, noise_seed):
    schedule, _ = _schedules(schedule_a, schedule_a, T)
    t = check_int(t, "t", 1, schedule.num_steps)
    x0, _ = pick_x0(source, label, index, upload)
    seed = check_int(noise_seed, "noise seed", 0, MAX_SEED)
    r = closed_form_vs_iterated(schedule, x0, t, num_draws=64, generator=torch.Generator().manual_seed(seed))
    return (f"**{schedule.name}, t = {t}.** Closed form: one jump with eq. 4. Iterated: {t} single steps of eq. 2.\n\n"
            "| quantity | closed form q(x_t∣x_0) | iterated q(x_t∣x_{t−1}) |\n|---|---|---|\n"
            f"| signal coefficient √ᾱ_t vs ∏√α_s | {r['sqrt_alpha_bar_closed']:.10f} | {r['sqrt_alpha_bar_iterated']:.10f} |\n"
            f"| noise variance 1−ᾱ_t vs recursion v_t = α_t v_(t−1) + β_t | {r['variance_closed']:.10f} | {r['variance_iterated']:.10f} |\n"
            f"| measured std of x_t − √ᾱ_t x_0 over {r['num_draws']} draws (expect {np.sqrt(r['variance_closed']):.4f}) "
            f"| {r['residual_std_closed']:.4f} | {r['residual_std_iterated']:.4f} |\n\n"
            f"Per-pixel mean over {r['num_draws']} draws, closed vs iterated: mean gap {r['per_pixel_mean_gap_mean']:.4f}, "
            f"largest gap {r['per_pixel_mean_gap_max']:.4f}. Sampling noise alone predicts a mean gap of "
            f"{r['per_pixel_mean_gap_expected']:.4f}, shrinking as 1/√draws.\n\n"
            f"One closed-form draw minus one iterated draw: mean {r['one_pair_diff_mean']:+.4f}, std "
            f"{r['one_pair_diff_std']:.4f}. Two independent draws should differ by N(0, 2(1−ᾱ_t)), std "
            f"{r['one_pair_diff_std_expected']:.4f}: the routes draw different noise, so single images differ, "
            "but their distributions are the same.")


@user_errors
def refresh(source, label, index, upload, schedule_a, schedule_b, T, t, noise_seed):
    """Everything on the image tab: x_0, both x_t, the numbers, both strips, the table, the plot, and the film the
    browser draws the slider's frames from."""
    try:
        shown = show_source(source, label, index, upload)
    except UploadProblem as err:
        if upload:
            gr.Warning(err.message)
        return (None, f"⚠ {err.message}") + (gr.update(),) * 9  # keep the rest of the page as it was
    shown_frame = frame(source, label, index, upload, schedule_a, schedule_b, T, t, noise_seed)
    shown_strips = strips(source, label, index, upload, schedule_a, schedule_b, T, noise_seed)
    return (*shown, *shown_frame, *shown_strips, schedule_plot(schedule_a, schedule_b, T, t),
            film_data(source, label, index, upload, schedule_a, schedule_b, T, noise_seed))


def frame_or_keep(*args):
    """frame() for the slider: while there is no usable upload, leave the pictures as they are."""
    try:
        return frame(*args)
    except UploadProblem:
        return (gr.update(),) * 3


@user_errors
def export_gif(source, label, index, upload, schedule_a, schedule_b, T, noise_seed):
    schedules = _schedules(schedule_a, schedule_b, T)
    x0, _ = pick_x0(source, label, index, upload)
    noise = _noise(x0, noise_seed)
    scale = viz.fit_scale(x0.shape[-1], 168)
    frames = []
    for t in np.linspace(0, schedules[0].num_steps, GIF_FRAMES).round().astype(int):
        panels = [viz.captioned(viz.image_grid(noise_at(s, x0[None], int(t), noise[None]), scale=scale, pad=2),
                            f"{s.name} t={t}") for s in schedules]
        frames.append(np.concatenate(panels, axis=1))
    return str(viz.save_gif(frames, export_path("forward", ".gif"), fps=PLAY_FPS))


@user_errors
def toy_cloud(dataset, schedule, T, t, seed):
    """The whole 2D dataset at time t, with its marginals against N(0, 1), and its moments vs theory."""
    check_choice(dataset, "dataset", data.TOY2D)
    T = check_int(T, "T", T_CHOICES[0], T_CHOICES[-1])
    s = _schedule(schedule, T)
    t = check_int(t, "t", 0, T)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    ds = data.load_toy2d(dataset, "train", n=1500, seed=seed)
    x_t = noise_at(s, ds.x, t, matched_noise(tuple(ds.x.shape), seed))
    alpha_bar = s.alpha_bar_at(t)
    m = cloud_moments(ds.x, x_t, alpha_bar)  # measured against eq. 4's prediction
    figure = viz.scatter_with_marginals(x_t.numpy(), ds.y.numpy(), title=f"{dataset} under the {s.name} schedule, "
                                        f"t = {t} of {T} (ᾱ_t = {alpha_bar:.3f})")
    table = ("| axis | measured mean | predicted √ᾱ_t·E[x_0] | measured variance | predicted ᾱ_t·Var[x_0] + (1−ᾱ_t) | N(0, 1) |\n"
             "|---|---|---|---|---|---|\n" +
             "\n".join(f"| {axis} | {m['mean'][i]:+.3f} | {m['predicted_mean'][i]:+.3f} | {m['var'][i]:.3f} | "
                       f"{m['predicted_var'][i]:.3f} | mean 0, variance 1 |" for i, axis in enumerate("xy")))
    return figure, f"{len(ds):,} points; colours are the classes. {ds.source}.\n\n" + table


def on_T(T_value, t_value):
    """A new T moves the t slider's end, keeping t where it was if it still fits."""
    T_value = check_int(T_value, "T", T_CHOICES[0], T_CHOICES[-1])
    return gr.update(maximum=T_value, value=min(int(t_value or 0), T_value))


ABOUT = ("You are looking at the **forward process** of a diffusion model. Step by step, a little Gaussian noise is "
         "mixed into a clean image x₀ until nothing of it is left. Nothing here is learned: the *schedule* "
         "β₁ … β_T alone decides how fast the signal fades. Both views below use the **same noise**, so any "
         "difference you see comes from the schedule. A diffusion model is trained to run this film backwards.")


def build(page: gr.Blocks) -> None:
    """Lay out /forward inside `page` (the app's route, or a Blocks of its own)."""
    about("Forward diffusion: watch a picture dissolve into noise", ABOUT,
          "$q(x_t \\mid x_0) = \\mathcal{N}(\\sqrt{\\bar\\alpha_t}\\,x_0,\\ (1-\\bar\\alpha_t)\\,I)$, with "
          "$\\bar\\alpha_t = \\prod_{s\\le t}(1-\\beta_s)$, so $x_t = \\sqrt{\\bar\\alpha_t}\\,x_0 + "
          "\\sqrt{1-\\bar\\alpha_t}\\,\\varepsilon$.",
          "Ho, Jain & Abbeel 2020, Denoising Diffusion Probabilistic Models, eq. 4 · "
          "Nichol & Dhariwal 2021, Improved DDPM, eq. 17 (cosine schedule)")
    with gr.Tabs():
        with gr.Tab("An image", id="image"):
            _build_image_tab(page)
        with gr.Tab("A whole 2D distribution", id="toy"):
            _build_toy_tab(page)


def _build_image_tab(page: gr.Blocks) -> None:
    # the pictures and the t slider first, so that on a projector (1280×800) they are on the first screen
    with gr.Row():
        original = gr.Image(label="x₀, the clean image", format="png", interactive=False, height=220,
                            elem_id="forward-x0")
        image_a = gr.Image(label="x_t under schedule A", format="png", interactive=False, height=220, elem_id="forward-a")
        image_b = gr.Image(label="x_t under schedule B", format="png", interactive=False, height=220, elem_id="forward-b")
    with gr.Row(equal_height=True):
        t = gr.Slider(0, 1000, value=0, step=1, label="t: noising steps applied (0 = the clean image)", scale=6,
                      elem_id="forward-t")
        play_button = gr.Button("▶ Play", variant="primary", scale=1, min_width=90, elem_id="forward-play")
        stop_button = gr.Button("■ Stop", scale=1, min_width=90)
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            source = gr.Radio(list(SOURCES), value="Fashion-MNIST", label="Source", elem_id="forward-source")
            upload = gr.File(label="Your image: any format, mode or size", type="filepath", visible=False,
                             elem_id="forward-upload", height=120)
        with gr.Column(scale=1, min_width=240):
            label = gr.Dropdown(_class_choices("Fashion-MNIST"), value=7, label="Class")
            index = gr.Number(0, precision=0, minimum=0, label="Index within the class (test split)")
        with gr.Column(scale=1, min_width=260):
            schedule_a = gr.Dropdown(SCHEDULE_CHOICES, value="linear", label="Schedule A")
            schedule_b = gr.Dropdown(SCHEDULE_CHOICES, value="cosine", label="Schedule B")
        with gr.Column(scale=1, min_width=240):
            T = gr.Dropdown(list(T_CHOICES), value=1000, label="T, the number of noising steps")
            noise_seed = gr.Number(0, precision=0, minimum=0, label="Noise seed (same noise for A and B)")
    source_info = gr.Markdown()
    numbers = gr.Markdown(elem_id="forward-numbers")
    film_state = gr.JSON(visible=False)  # x_0, noise and coefficients: the browser draws the slider's frames
    gr.Markdown("### The whole film at a glance")
    strip_caption = gr.Markdown()
    strip_a = gr.Image(label="Schedule A, evenly spaced t", format="png", interactive=False, show_label=True)
    strip_b = gr.Image(label="Schedule B, evenly spaced t", format="png", interactive=False, show_label=True)
    gr.Markdown("### Why the schedules differ\nThe dotted line and the dots mark the current t. "
                "Hover for values. A schedule that keeps ᾱ_t high for longer leaves the model more steps in "
                "which there is still something to see.")
    plot = gr.Plot(label="Schedules over t")
    share_table = gr.Markdown()
    with gr.Accordion("Check: is one jump (eq. 4) the same as t single steps (eq. 2)?", open=False):
        gr.Markdown("Runs t single steps $x_t = \\sqrt{1-\\beta_t}\\,x_{t-1} + \\sqrt{\\beta_t}\\,\\varepsilon$ "
                    "and compares them with one jump of the closed form, on this image, under schedule A at the "
                    "current t.")
        check_button = gr.Button("Run the check")
        check_result = gr.Markdown()
    with gr.Row():
        gif_button = gr.Button("Export the noising sequence as a GIF")
        gif_file = gr.File(label="GIF", interactive=False, height=80)

    picked = [source, label, index, upload]
    schedules = [schedule_a, schedule_b, T]

    def on_source(source_name):
        is_upload = SOURCES.get(source_name) == "upload"
        choices = _class_choices(source_name)
        return (gr.update(choices=choices, value=choices[0][1] if choices else None, visible=not is_upload),
                gr.update(value=0, visible=not is_upload), gr.update(visible=is_upload))

    everything = [original, source_info, image_a, image_b, numbers, strip_a, strip_b, strip_caption, share_table, plot,
                  film_state]
    all_inputs = picked + schedules + [t, noise_seed]
    source.input(on_source, source, [label, index, upload], api_visibility="private").then(
        refresh, all_inputs, everything, api_visibility="private")
    T.input(on_T, [T, t], t, api_visibility="private").then(refresh, all_inputs, everything, api_visibility="private")
    gr.on([label.input, index.submit, index.blur, upload.upload, upload.clear, schedule_a.input, schedule_b.input,
           noise_seed.submit, noise_seed.blur], refresh, all_inputs, everything, api_name="forward_refresh",
          trigger_mode="always_last")
    page.load(refresh, all_inputs, everything, api_visibility="private")

    # Scrubbing: the browser draws each frame itself from the film (no request, so a class scrubbing at once never
    # waits); when the slider is let go (or a typed t is entered), the server draws the exact frame and moves the
    # plot's marker, off the queue's slow path.
    t.input(None, [t, film_state], None, js=FRAME_JS)
    t.release(frame_or_keep, all_inputs, [image_a, image_b, numbers], trigger_mode="always_last",
              api_name="forward_frame", show_progress="hidden", queue=False)
    t.release(schedule_plot, schedules + [t], plot, api_visibility="private", show_progress="hidden",
              trigger_mode="always_last", **CHEAP)
    playing = play_button.click(play, picked + schedules + [t, noise_seed], [t, image_a, image_b, numbers],
                                api_name="forward_play", show_progress="hidden", **CHEAP)
    playing.then(schedule_plot, schedules + [t], plot, api_visibility="private")
    stop_button.click(None, None, None, cancels=[playing])
    check_button.click(closed_form_check, picked + [schedule_a, T, t, noise_seed], check_result,
                       api_name="forward_check", **EXPENSIVE)
    gif_button.click(export_gif, picked + schedules + [noise_seed], gif_file, api_name="forward_gif", **EXPENSIVE)


def _build_toy_tab(page: gr.Blocks) -> None:
    gr.Markdown("Every point of the dataset is noised at once with its own noise. Watch the whole cloud lose its "
                "shape and settle into the standard normal N(0, I): the marginal histograms meet the dashed "
                "N(0, 1) curve, and the table compares the measured moments with what eq. 4 predicts.")
    with gr.Row():
        dataset = gr.Dropdown([(data.toy2d.TOY2D_TITLES[k], k) for k in data.TOY2D], value="moons", label="Dataset")
        schedule = gr.Dropdown(SCHEDULE_CHOICES, value="linear", label="Schedule")
        T = gr.Dropdown(list(T_CHOICES), value=1000, label="T")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (data and noise)")
    t = gr.Slider(0, 1000, value=0, step=1, label="t: noising steps applied", elem_id="toy-t")
    cloud = gr.Plot(label="The cloud at time t", elem_id="toy-cloud")
    moments = gr.Markdown()
    inputs = [dataset, schedule, T, t, seed]

    T.input(on_T, [T, t], t, api_visibility="private")
    gr.on([dataset.input, schedule.input, T.input, seed.submit, t.input], toy_cloud, inputs, [cloud, moments],
          api_name="forward_toy", trigger_mode="always_last", show_progress="hidden", **CHEAP)
    page.load(toy_cloud, inputs, [cloud, moments], api_visibility="private")


def demo() -> gr.Blocks:
    with gr.Blocks(title="Forward diffusion") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
