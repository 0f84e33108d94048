"""Tab "Why latents": the latent model against the pixel-space model on the same prompts and seeds — what a
sample costs (parameters, the numbers the sampler carries, FLOPs and activations of one network call, measured
seconds) and what it is worth (scene truth, CLIP score)."""
from __future__ import annotations

import time
from typing import Any, NamedTuple

import gradio as gr

from playground import checkpoints, text_to_image as t2i
from playground.viz import text_to_image as t2i_viz

from ..common import EXPENSIVE, check_cost, check_int, check_seed, user_errors
from .shared import MENU, clip_model, get_model

MODELS = ("ldm-scenes", "pixel-scenes")


class Compared(NamedTuple):
    pictures: Any  # the same prompts and seeds, one row per model
    table: Any  # markdown: cost and quality, side by side
    card: Any  # markdown: the cards' figures over 128 prompts


def card_table() -> str:
    """The shipped cards' figures (128 single-object prompts, guidance 3, 50 DDIM steps), when present."""
    rows = []
    for name in MODELS:
        if name not in MENU.available():
            continue
        card = checkpoints.card(name)  # no weights loaded: the page builds at start-up
        single = card.get("metrics", {}).get("single_object_by_scale", {}).get("3.0")
        if single is None:
            continue
        rows.append(f"| {name} | {single['shape_colour']:.1%} | {single['correct']:.1%} | "
                    f"{single.get('clip_score', float('nan')):.2f} | {card.get('steps_trained', '?')} | "
                    f"{card.get('wall_time_s', float('nan')) / 60:.0f} min |")
    if not rows:
        return ""
    return ("**From the checkpoints' cards** (128 single-object test prompts, one image each, w = 3, 50 DDIM steps):\n\n"
            "| model | shape and colour right | exactly right | CLIP score (0–2.5) | training steps | training time (CPU) |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows))


@user_errors
def compare(n_prompts=8, steps=50, seed=0) -> Compared:
    """Both models on the same n prompts (one image each, the same seeds): their cost, measured now, and quality."""
    n_prompts = check_int(n_prompts, "number of prompts", 2, 32)
    steps = check_int(steps, "DDIM steps", 1, 200)
    seed = check_seed(seed)
    available = [name for name in MODELS if name in MENU.available()]
    if len(available) < 2:
        raise gr.Error("The comparison needs both ldm-scenes and pixel-scenes; train the missing one with "
                       "`python -m playground train NAME`.")
    check_cost(2 * n_prompts, 2 * steps, "image", "This comparison")
    prompts = t2i.single_object_prompts(n_prompts, seed=seed)
    rows, pictures = [], []
    for name in available:
        handle = get_model(name)
        began = time.perf_counter()  # the samples are timed as they are made: one run gives both
        images = t2i.images_for(handle, prompts, 3.0, steps, seed)
        cost = {**t2i.network_cost(handle), "seconds_per_sample": (time.perf_counter() - began) / n_prompts}
        quality = t2i.accuracy_of(images, prompts, clip_model())
        pictures.append(images)
        rows.append((name, cost, quality))
    latent, pixel = rows[0][1], rows[1][1]
    table = ("| | " + " | ".join(name for name, _, _ in rows) + " | pixel ÷ latent |\n|---|---|---|---|\n"
             + _row("denoiser parameters", [c["parameters"] for _, c, _ in rows], "{:,}")
             + _row("numbers per sample the sampler carries", [c["numbers_per_sample"] for _, c, _ in rows], "{:,}")
             + _row("GFLOPs per network call, per sample", [c["gflops_per_call"] for _, c, _ in rows], "{:.3f}")
             + _row("activations per network call (MB, the sum of every layer's output)",
                    [c["activation_mb_per_call"] for _, c, _ in rows], "{:.2f}")
             + _row(f"seconds per sample, measured now ({steps} DDIM steps × 2 calls for guidance, decoding included)",
                    [c["seconds_per_sample"] for _, c, _ in rows], "{:.3f}")
             + _row("shape and colour right (scene truth)", [q["shape_colour"] for _, _, q in rows], "{:.0%}", ratio=False)
             + _row("exactly right", [q["correct"] for _, _, q in rows], "{:.0%}", ratio=False)
             + _row("CLIP score (0–2.5, higher = better match)", [q.get("clip_score", float("nan")) for _, _, q in rows],
                    "{:.2f}", ratio=False))
    text = (f"{table}\n\nOn these {n_prompts} prompts the pixel model costs **{pixel['gflops_per_call'] / latent['gflops_per_call']:.1f}×** "
            f"the FLOPs and **{pixel['seconds_per_sample'] / latent['seconds_per_sample']:.1f}×** the time of the latent "
            "model per sample — although it is the narrower network (half the base width, one ResBlock per level), "
            "because every layer runs on 32×32 positions instead of 8×8. The first stage's encoder runs once per "
            "image and its decoder once per sample, outside the loop of steps. The prompts (one image each): "
            + "; ".join(f"{k + 1}. “{p}”" for k, p in enumerate(prompts)) + ".")
    grid = t2i_viz.scale_grid(pictures, [name for name, _, _ in rows], "the same prompts and seeds, one per column")
    return Compared(grid, text, card_table())


def _row(what: str, values: list, fmt: str, ratio: bool = True) -> str:
    shown = [fmt.format(v) for v in values]
    times = f"{values[1] / values[0]:.1f}×" if ratio and values[0] else "—"
    return f"| {what} | {shown[0]} | {shown[1]} | {times} |\n"


def build(page: gr.Blocks) -> None:
    gr.Markdown("Latent diffusion's point, measured: the same text encoder, schedule, guidance and training steps, "
                "run on 8×8×4 latents (256 numbers) or on 32×32×3 pixels (3,072 numbers).")
    with gr.Row(equal_height=True):
        n = gr.Slider(2, 32, value=8, step=1, label="Prompts (one image each)", elem_id="t2i-cmp-n")
        steps = gr.Slider(5, 100, value=50, step=5, label="DDIM steps")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
        button = gr.Button("Measure both models", variant="primary", elem_id="t2i-cmp-run")
    pictures = gr.Image(show_label=False, interactive=False, elem_id="t2i-cmp-images", height=240)
    table = gr.Markdown(elem_id="t2i-cmp-table")
    card = gr.Markdown(card_table(), elem_id="t2i-cmp-card")
    button.click(compare, [n, steps, seed], [pictures, table, card], api_name="t2i_compare", **EXPENSIVE)
