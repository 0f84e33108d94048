"""Tab 5: sample token by token. A small causal transformer prior p(tᵢ | t₍<ᵢ₎, class) over vq-fashion's tokens
writes the 49 tokens in reading order; the decoder draws the image as they arrive. The recorded sample (for the
replay slider and the GIF) is this browser's session state."""
from __future__ import annotations

import math
import tempfile
import time
from typing import Any, NamedTuple

import gradio as gr
import numpy as np
import torch

from playground import data, prior, viz, vq
from playground.evaluate import unconditional_quality
from playground.metrics import class_fidelity, features_and_probs
from playground.viz import vq as vq_viz

from ..common import check_float, check_int, check_seed, metric_classifier, real_data, session_state, shipped, user_errors
from .menu import colours, test_usage

PRIOR = "prior-fashion"
TEMPERATURES = (0.5, 0.7, 0.85, 1.0, 1.2, 1.5)
SWEEP_N = 200  # samples per temperature


class Frame(NamedTuple):
    """One token of the live sample (and the replay), in the outputs' order."""

    grid: str  # the token map so far (HTML)
    image: np.ndarray  # what the decoder draws so far
    text: str  # which token was drawn, with what probability


class LiveSample(NamedTuple):
    """What sampling streams, in the outputs' order."""

    grid: str
    image: np.ndarray
    text: str
    scrub: Any  # the replay slider (shown at the end)
    frames: list  # this browser's recorded sample: one dict per token (prior.fill_steps)


class Grid(NamedTuple):
    picture: np.ndarray  # n samples
    text: str  # the settings and measured figures


class Sweep(NamedTuple):
    plot: object  # a Plotly figure from viz.vq: confidence and diversity against T
    text: str  # the measured table


def _prior():
    """(prior handle, tokenizer handle): the tokenizer is the shipped VQ-VAE the prior's spec names."""
    handle = shipped(PRIOR)
    return handle, shipped(handle.spec.vq)


def _blank() -> int:
    """The code most used over the test set (the black background): what a not-yet-sampled cell decodes as."""
    return int(test_usage(_prior()[1])["counts"].argmax())


def _label(value):
    return None if value in (None, -1, "any") else check_int(value, "class", 0, 9)


def _settings(label, temperature, top_k, seed):
    return (_label(label), check_float(temperature, "temperature", 0.05, 3.0), check_int(top_k, "top-k", 0, 4096),
            check_seed(seed))


def probability(p: float) -> str:
    """A probability with two significant digits however small (0.43, 0.0031, 2.7e-05), so a drawn token, whose
    probability is never 0, never reads as 0.00; an exact 0 (a code cut by top-k) reads as 0."""
    return "0" if p == 0 else f"{p:.2f}" if p >= 0.01 else f"{p:.2g}"


def _frame_view(frame: dict, total: int) -> Frame:
    i, g = frame["position"], int(math.isqrt(total))
    text = (f"**Token {i + 1} of {total}** (row {i // g}, column {i % g}): drew code **{frame['chosen']}**, to which "
            f"the prior gave probability **{probability(frame['p'])}** (log-probability ln p = "
            f"{math.log(frame['p']) if frame['p'] > 0 else -math.inf:.2f}). Its top candidates here: "
            + ", ".join(f"{k} ({probability(p)})" for k, p in frame["top"]) + "."
            + (" Grey cells are not sampled yet; the image decodes them as the background code "
               f"{_blank()} (the most used one)." if i + 1 < total else ""))
    grid = viz.token_map_html(frame["tokens"], colours(_prior()[1]), (i // g, i % g), cell=34)
    return Frame(grid, vq_viz.big(frame["image"]), text)


@user_errors
def sample_live(label, temperature, top_k, seed, speed):
    """Fill a token grid in raster order, streaming the grid and its decode after every token (paced at `speed`
    tokens per second, at most 60 shown per second); then the recorded frames, for scrubbing and the GIF."""
    label, temperature, top_k, seed = _settings(label, temperature, top_k, seed)
    speed = check_float(speed, "speed", 1, 1000)
    model, tokenizer = _prior()
    frames, began = [], time.perf_counter()
    for frame in prior.fill_steps(model.model, tokenizer.model, temperature, top_k, label,
                                  torch.Generator().manual_seed(seed), blank=_blank()):
        frames.append(frame)
        wait = began + len(frames) / speed - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        yield LiveSample(*_frame_view(frame, model.spec.length), gr.update(), frames)
    yield LiveSample(*_frame_view(frames[-1], model.spec.length),
                     gr.update(maximum=len(frames), value=len(frames), visible=True), frames)


def scrub(frames, position) -> Frame:
    """Show a recorded frame of this browser's sample again, without sampling."""
    if not frames:
        raise gr.Error("Sample an image first.")
    position = check_int(position, "token", 1, len(frames))
    return _frame_view(frames[position - 1], len(frames))


def export_gif(frames) -> str:
    """This browser's recorded sample, filling token by token, as a GIF."""
    if not frames:
        raise gr.Error("Sample an image first.")
    codes = colours(_prior()[1])
    pictures = [vq_viz.token_frame(f["tokens"], codes, f["image"]) for f in frames]
    path = tempfile.NamedTemporaryFile(suffix=".gif", delete=False, prefix="tokens-").name
    return str(viz.save_gif(pictures, path, fps=12, hold_last=2.0))


def _decode(tokenizer, grids: torch.Tensor) -> torch.Tensor:
    return vq.decode_tokens(tokenizer.model, grids).cpu()


def _measure(samples: torch.Tensor, label) -> dict:
    """Classifier confidence, diversity and Fréchet distance against as many real test images (of that class)."""
    classifier = metric_classifier()
    if classifier is None:
        return {}
    real = real_data("fashion", "test")
    real = real.of_class(label) if label is not None else real  # compare a class's samples with that class
    out = unconditional_quality(samples, classifier, real.head(len(samples)))
    if label is not None:
        out["class_accuracy"] = class_fidelity(features_and_probs(classifier, samples)[1], [label] * len(samples))["accuracy"]
    return out


@user_errors
def sample_grid(label, temperature, top_k, seed, n) -> Grid:
    """n samples at these settings, as a grid, with measured figures."""
    label, temperature, top_k, seed = _settings(label, temperature, top_k, seed)
    n = check_int(n, "samples", 4, 64)
    model, tokenizer = _prior()
    samples = _decode(tokenizer, prior.sample(model.model, n, temperature, top_k, label,
                                              torch.Generator().manual_seed(seed)))
    m = _measure(samples, label)
    what = data.FASHION_CLASSES[label] if label is not None else "any class"
    real = f"real {what} images" if label is not None else "real test images"
    text = (f"{n} samples, {what}, temperature {temperature:g}, top-k {top_k or 'off'}, seed {seed}."
            + (f" Classifier confidence {m['confidence']:.2f} ({real}: {m['real_confidence']:.2f}); "
               f"diversity {m['diversity']:.2f} ({real}: {m['real_diversity']:.2f})" if m else "")
            + (f"; {m['class_accuracy']:.0%} are classified as {what}" if "class_accuracy" in m else "") + ".")
    return Grid(viz.labelled_grid(samples, 8, [""] * ((n + 7) // 8), f"prior samples: {what}", scale=2), text)


@user_errors
def temperature_sweep(label, top_k, seed) -> Sweep:
    """SWEEP_N samples at each of several temperatures: how real and how varied they are."""
    label, _, top_k, seed = _settings(label, 1.0, top_k, seed)
    model, tokenizer = _prior()
    rows, curves = [], {"classifier confidence": [], "diversity": []}
    for temperature in TEMPERATURES:
        samples = _decode(tokenizer, prior.sample(model.model, SWEEP_N, temperature, top_k, label,
                                                  torch.Generator().manual_seed(seed)))
        m = _measure(samples, label)
        if not m:
            raise gr.Error("The metric classifier is not shipped in this copy; train it with "
                           "`python -m playground train classifier-fashion`.")
        rows.append(f"| {temperature:g} | {m['confidence']:.2f} | {m['diversity']:.2f} | {m['frechet_distance']:.1f} |"
                    + (f" {m['class_accuracy']:.0%} |" if label is not None else ""))
        curves["classifier confidence"].append(m["confidence"])
        curves["diversity"].append(m["diversity"])
    head = (f"| temperature T | classifier confidence | diversity | Fréchet distance to {SWEEP_N} real |"
            + (" share of the asked class |" if label is not None else "") + "\n|---|---|---|---|"
            + ("---|" if label is not None else "") + "\n")
    nll = model.card["metrics"]
    text = (head + "\n".join(rows) + f"\n\nReal test images: confidence {m['real_confidence']:.2f}, diversity "
            f"{m['real_diversity']:.2f}. Each token is drawn from softmax(logits / T): a low T sharpens the prior "
            "towards its favourite tokens (cleaner, more alike), a high T flattens it (more varied, more broken). "
            f"The prior's test likelihood: {nll['test_nll_nats_per_token']:.2f} nats per token = "
            f"{nll['test_bits_per_image']:.0f} bits per image, against {nll['uniform_bits_per_image']:.0f} bits for "
            "uniform guessing. Confidence and features come from the shipped Fashion-MNIST classifier; diversity is "
            "the mean feature distance between samples.")
    return Sweep(vq_viz.temperature_figure(list(TEMPERATURES), curves, SWEEP_N), text)


def build() -> None:
    """The tab's layout and events."""
    gr.Markdown("A small causal transformer (4 layers, 0.8 M parameters) learned p(tᵢ | t₍<ᵢ₎, class) over "
                "vq-fashion's tokens. It writes the 49 tokens in reading order, one at a time; the decoder "
                "draws the image as they arrive.")
    with gr.Row():
        label = gr.Dropdown([("any class", -1), *[(c, k) for k, c in enumerate(data.FASHION_CLASSES)]],
                            value=-1, label="Class token")
        temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature T")
        top_k = gr.Slider(0, 64, value=0, step=1, label="Top-k (0 = all tokens)")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="vq-sample-seed")
        speed = gr.Slider(2, 60, value=15, step=1, label="Animation: tokens per second")
    button = gr.Button("Sample one image token by token", variant="primary", elem_id="vq-sample")
    frames = session_state([])
    with gr.Row():
        with gr.Column(scale=2, min_width=280):
            grid = gr.HTML(elem_id="vq-sample-map")
        with gr.Column(scale=2):
            image = gr.Image(label="Decoded so far", format="png", interactive=False, show_label=False,
                             elem_id="vq-sample-image")
        with gr.Column(scale=3):
            text = gr.Markdown(elem_id="vq-sample-text")
            replay = gr.Slider(1, 49, value=49, step=1, label="Replay: tokens drawn (no resampling)", visible=False,
                               elem_id="vq-scrub")
            gif_button = gr.Button("Export the filling as a GIF")
            gif = gr.File(label="GIF", interactive=False, height=80)
    with gr.Row():
        n = gr.Slider(4, 64, value=32, step=4, label="Samples in a grid")
        grid_button = gr.Button("Sample a grid at these settings")
        sweep_button = gr.Button(f"Measure the temperature ({SWEEP_N} samples × {len(TEMPERATURES)} values of T)")
    grid_picture = gr.Image(label="Samples", format="png", interactive=False, show_label=False)
    grid_text = gr.Markdown()
    sweep_plot = gr.Plot(label="Temperature, measured")
    sweep_text = gr.Markdown()

    settings = [label, temperature, top_k, seed]
    button.click(sample_live, [*settings, speed], [grid, image, text, replay, frames], api_name="vq_sample")
    replay.input(scrub, [frames, replay], [grid, image, text], api_visibility="private", trigger_mode="always_last",
                 show_progress="hidden")
    gif_button.click(export_gif, frames, gif, api_visibility="private")
    grid_button.click(sample_grid, [*settings, n], [grid_picture, grid_text], api_name="vq_sample_grid")
    sweep_button.click(temperature_sweep, [label, top_k, seed], [sweep_plot, sweep_text], api_name="vq_temperature")
