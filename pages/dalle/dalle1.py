"""The DALL·E 1 tab: a prompt written into image tokens one at a time by one causal transformer (the live token
map and its decode, and where each image token looked in the prompt); the sparse attention masks the real model
used, as pictures; and CLIP reranking of N candidates, with what it buys measured."""
from __future__ import annotations

import functools
import math
import time
from typing import Any, NamedTuple

import gradio as gr
import torch

from playground import dalle, viz, vq
from playground.data.truth import scene_truth
from playground.text_to_image import describe, judge, prompt_facts
from playground.viz import dalle as dalle_viz
from playground.viz import vq as vq_viz

from ..clip.shared import pick_scene, scene_picker
from ..common import CHEAP, EXPENSIVE, check_float, check_int, check_seed, session_state, shipped, user_errors
from .shared import DEFAULT_PROMPT, blank_code, card, check_prompt, token_colours

EXPLAIN = ("**How DALL·E 1 writes an image.** The tokenizer (a VQ-VAE here, `vq-scenes`; a dVAE in the paper) "
           "turns every 32×32 scene into an 8×8 grid of codes from a codebook of K = 512. One causal transformer "
           "reads the prompt's 16 token positions and then the image's 64 codes as one stream, and learns "
           "p(s_i | s_<i) for every position; text and image positions have separate position embeddings. To make "
           "an image, the prompt is fed in and the image codes are drawn one at a time in reading order, each from "
           "softmax(logits / T) over the K codes. The decoder turns the grid into pixels; undrawn cells show as the "
           "background code.")
SPARSE = ("**Sparse attention in the real model.** DALL·E's 12-billion-parameter transformer read 256 text tokens "
          "and 32×32 = 1,024 image tokens, and a dense causal mask over 1,280 positions was too costly, so its 64 "
          "layers used sparse masks (Ramesh et al. 2021, App. B.1, Fig. 11): *row* attention (an image token sees the "
          "earlier tokens of its own row), *column* attention (the same column in earlier rows) and, in the last "
          "layer, *convolutional* attention (a neighbourhood around it). Every image token still sees the whole "
          "prompt. Below, the masks for this miniature's 16 + 64 positions: row = the position attending, column = "
          "the position it may attend to; dark = allowed, blue = text. This miniature uses the dense causal mask "
          "in all 4 layers, since 80 positions are cheap.")
RERANK = ("**CLIP reranking.** DALL·E drew 512 candidates per prompt and kept the ones CLIP scored best. Here: draw "
          "N candidates, score each with mini-CLIP (CLIPScore = 2.5 · max(cos, 0), higher = a better match), and "
          "sort. ✓ / ✗ is scene truth's verdict on shape and colour (the pixels read back, not CLIP's opinion).")


class Frame(NamedTuple):
    grid: str  # the token map so far (HTML)
    image: Any  # the decode so far
    text: str  # which token was drawn, with what probability


class Written(NamedTuple):
    grid: str
    image: Any
    text: str
    attention: Any  # where each image token looked, once the image is done
    replay: Any  # the replay slider
    frames: list  # this browser's recorded sample


class Reranked(NamedTuple):
    grid: Any
    text: str


def probability(p: float) -> str:
    return "0" if p == 0 else f"{p:.2f}" if p >= 0.01 else f"{p:.2g}"


def _frame_view(frame: dict, total: int) -> Frame:
    i, g = frame["position"], int(math.isqrt(total))
    text = (f"**Image token {i + 1} of {total}** (row {i // g}, column {i % g}): drew code **{frame['chosen']}** "
            f"with probability **{probability(frame['p'])}**. Likeliest here: "
            + ", ".join(f"{k} ({probability(p)})" for k, p in frame["top"]) + "."
            + (f" Grey cells are not drawn yet; the image shows them as the background code {blank_code()}."
               if i + 1 < total else ""))
    grid = viz.token_map_html(frame["tokens"], token_colours(), (i // g, i % g), cell=30)
    return Frame(grid, vq_viz.big(frame["image"], 224), text)


def _settings(prompt, temperature, top_k, seed):
    return (check_prompt(prompt), check_float(temperature, "temperature", 0.05, 3.0), check_int(top_k, "top-k", 0, 512),
            check_seed(seed))


def _attention_view(prompt: str, frames: list) -> tuple[Any, str]:
    m = shipped("dalle-scenes")
    labels, groups = dalle.attention_groups(m.model, prompt, [f["attention"] for f in frames])
    picture = dalle_viz.word_attention(frames[-1]["image"], labels, groups, m.spec.grid)
    verdict = judge(frames[-1]["image"], prompt_facts(prompt))
    mean = groups.mean(0)
    text = (f"Scene truth reads **{describe(verdict['found'])}** — shape and colour "
            f"{'right ✓' if verdict['shape_colour'] else 'wrong ✗'}. Each overlay lights the cells whose token "
            "paid attention to that word when it was drawn (mean over the 4 layers and 4 heads); the percentage is "
            "the mean share over the 64 tokens: " + ", ".join(f"“{w}” {s:.0%}" for w, s in zip(labels, mean)).replace("<", "&lt;")
            + ".")
    return picture, text


@user_errors
def tokens(source, index, upload, light):
    """A scene (or an upload) as vq-scenes' 8×8 token map, with the image and its decode through the tokens."""
    image, what, _ = pick_scene(source, index, upload, light)
    tok = shipped("vq-scenes")
    grid = vq.tokens(tok.model, image[None].to(tok.device))[0].cpu()
    decoded = vq.decode_tokens(tok.model, grid[None].to(tok.device))[0].clamp(-1, 1).cpu()
    k, g = tok.spec.codebook_size, tok.spec.grid
    before, after = describe(scene_truth(image)), describe(scene_truth(decoded))
    text = (f"{what}. **{g}×{g} = {g * g} tokens** of a codebook of K = {k}: {g * g} × log₂{k} = "
            f"{g * g * math.log2(k):.0f} bits, against 32 × 32 × 3 × 8 = 24,576 for the raw image. Each cell shows its "
            "code's index, coloured by the colour its decoder paints. Scene truth reads the input as "
            f"**{before}** and the decode as **{after}**{' — the same' if before == after else ''}. DALL·E 1's "
            "transformer writes exactly such grids, one cell at a time.")
    pictures = dalle_viz.path_strip([image, decoded], ["input", "decoded from the tokens"], side=160)
    return viz.token_map_html(grid.numpy(), token_colours(), cell=34), pictures, text


@user_errors
def write(prompt, temperature, top_k, seed, speed, frames=None):
    """Draw the 64 image tokens for the prompt, streaming the token map and its decode; then the attention."""
    prompt, temperature, top_k, seed = _settings(prompt, temperature, top_k, seed)
    speed = check_float(speed, "speed", 1, 1000)
    m, tok = shipped("dalle-scenes"), shipped("vq-scenes")
    frames, began = [], time.perf_counter()
    for frame in dalle.fill_steps(m, tok, prompt, temperature, top_k, torch.Generator().manual_seed(seed),
                                  blank=blank_code()):
        frames.append(frame)
        wait = began + len(frames) / speed - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        yield Written(*_frame_view(frame, m.spec.image_length), gr.update(), gr.update(), frames)
    picture, text = _attention_view(prompt, frames)
    last = _frame_view(frames[-1], m.spec.image_length)
    yield Written(last.grid, last.image, last.text + "\n\n" + text, picture,
                  gr.update(maximum=len(frames), value=len(frames), visible=True), frames)


@user_errors
def replay(position, frames=None) -> Frame:
    if not frames:
        raise gr.Error("Write an image first.")
    return _frame_view(frames[check_int(position, "token", 1, len(frames)) - 1], len(frames))


@user_errors
def rerank(prompt, n, seed):
    """N candidates, sorted by CLIP score, each with scene truth's verdict."""
    prompt, n, seed = check_prompt(prompt), check_int(n, "candidates N", 1, dalle.MAX_CANDIDATES), check_seed(seed)
    began = time.perf_counter()
    out = dalle.rerank(shipped("dalle-scenes"), shipped("vq-scenes"), shipped("clip-scenes"), prompt, n, seed)
    seconds = time.perf_counter() - began
    facts = prompt_facts(prompt)
    right = [judge(x, facts)["shape_colour"] for x in out["images"]]
    captions = [f"#{k + 1} {s:.2f} {'✓' if r else '✗'}" for k, (s, r) in enumerate(zip(out["scores"].tolist(), right))]
    text = (f"**{n} candidates in {seconds:.1f} s**, best CLIP score first. CLIP's top pick: "
            f"{'right ✓' if right[0] else 'wrong ✗'}; of all {n}, **{sum(right) / n:.0%}** have the prompt's shape and "
            f"colour, so a random pick is right {sum(right) / n:.0%} of the time. Scores from {out['scores'].min():.2f} "
            f"to {out['scores'].max():.2f}.")
    return Reranked(dalle_viz.scored_grid(out["images"], captions, side=88), text)


def _measured_gain() -> dict | None:
    return card("dalle-scenes").get("metrics", {}).get("rerank")


def gain_view():
    """The card's measured reranking gain, as a figure and a sentence."""
    gain = _measured_gain()
    return (dalle_viz.rerank_figure(gain) if gain else None), _gain_text(gain)


def _gain_text(gain: dict | None) -> str:
    """The measured gain in a sentence (or where it will appear once measured)."""
    if not gain:
        return "The measured gain appears here once `dalle-scenes` is trained (`python -m playground train dalle-scenes`)."
    text = (f"**Measured** when `dalle-scenes` was trained ({gain['prompts']} prompts, {max(gain['n'])} candidates "
            f"each, judged by scene truth): a random candidate has the right shape and colour **{gain['random']:.0%}** "
            "of the time; CLIP's top-1 of N: " + ", ".join(f"N = {k}: **{a:.0%}**" for k, a in zip(gain["n"], gain["top1"]))
            + (f". Everything the prompt names right (size and place too): random {gain['random_correct']:.0%}, "
               "top-1: " + ", ".join(f"N = {k}: {a:.0%}" for k, a in zip(gain["n"], gain["top1_correct"]))
               if "top1_correct" in gain else "")
            + f". With {gain['prompts']} prompts, one prompt is {1 / gain['prompts']:.0%}.")
    return text


def build(page: gr.Blocks) -> None:
    frames = session_state([])
    gr.Markdown(EXPLAIN)
    with gr.Tabs():
        with gr.Tab("Tokens", id="tokens"):
            source, index, upload, light = scene_picker("d1-tok")
            t_button = gr.Button("Tokenize", variant="primary", elem_id="d1-tok-run")
            with gr.Row(equal_height=False):
                t_grid = gr.HTML(elem_id="d1-tok-grid")
                t_pictures = gr.Image(show_label=False, interactive=False, elem_id="d1-tok-pictures", height=200)
            t_info = gr.Markdown(elem_id="d1-tok-info")
            t_button.click(tokens, [source, index, upload, light], [t_grid, t_pictures, t_info],
                           api_name="dalle1_tokens", **CHEAP)
            page.load(tokens, [source, index, upload, light], [t_grid, t_pictures, t_info], api_visibility="private",
                      **CHEAP)
        with gr.Tab("Write an image", id="write"):
            with gr.Row():
                prompt = gr.Textbox(DEFAULT_PROMPT, label="Prompt", elem_id="d1-prompt", scale=3, max_lines=1)
                button = gr.Button("Write it, token by token", variant="primary", elem_id="d1-write", scale=1)
                stop = gr.Button("Stop", elem_id="d1-stop", scale=0, min_width=80)
            with gr.Row():
                temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature T", elem_id="d1-temperature")
                top_k = gr.Slider(0, 512, value=0, step=1, label="Top-k (0 = every code)", elem_id="d1-topk")
                seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="d1-seed")
                speed = gr.Slider(2, 200, value=40, step=1, label="Tokens shown per second", elem_id="d1-speed")
            with gr.Row(equal_height=False):
                grid = gr.HTML(elem_id="d1-grid")
                image = gr.Image(label="What the tokenizer's decoder draws from the tokens so far", interactive=False,
                                 elem_id="d1-image", height=240, scale=1)
            info = gr.Markdown(elem_id="d1-info")
            position = gr.Slider(1, 64, value=64, step=1, label="Replay: show the grid after token …", visible=False,
                                 elem_id="d1-replay")
            attention = gr.Image(label="Where each image token looked in the prompt", interactive=False,
                                 elem_id="d1-attention", height=180)
            go = button.click(write, [prompt, temperature, top_k, seed, speed, frames],
                              [grid, image, info, attention, position, frames], api_name="dalle1_write", **EXPENSIVE)
            stop.click(None, None, None, cancels=[go], queue=False)
            position.input(replay, [position, frames], [grid, image, info], api_name="dalle1_replay", **CHEAP)
        with gr.Tab("CLIP rerank", id="rerank"):
            gr.Markdown(RERANK)
            with gr.Row():
                r_prompt = gr.Textbox(DEFAULT_PROMPT, label="Prompt", elem_id="d1-r-prompt", scale=3, max_lines=1)
                r_n = gr.Slider(1, dalle.MAX_CANDIDATES, value=16, step=1, label="Candidates N", elem_id="d1-r-n")
                r_seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="d1-r-seed", scale=0, min_width=90)
                r_button = gr.Button("Draw and rerank", variant="primary", elem_id="d1-r-run", scale=1)
            r_info = gr.Markdown(elem_id="d1-r-info")
            r_grid = gr.Image(label="Candidates, best CLIP score first: rank, CLIPScore, scene truth",
                              interactive=False, elem_id="d1-r-grid")
            gain = _measured_gain()
            gr.Markdown(_gain_text(gain), elem_id="d1-r-gain")
            if gain:  # drawn as the page opens: no plotting while the app starts
                gain_plot = gr.Plot(show_label=False, elem_id="d1-r-gain-plot")
                page.load(functools.partial(dalle_viz.rerank_figure, gain), None, gain_plot, api_visibility="private",
                          **CHEAP)
            r_button.click(rerank, [r_prompt, r_n, r_seed], [r_grid, r_info], api_name="dalle1_rerank", **EXPENSIVE)
        with gr.Tab("Sparse attention", id="sparse"):
            gr.Markdown(SPARSE)
            gr.Image(dalle_viz.mask_pictures(dalle.sparse_masks(), 16), show_label=False, interactive=False,
                     elem_id="d1-masks")
