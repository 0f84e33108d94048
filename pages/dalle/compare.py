"""The compare tab: the same prompts through DALL·E 1 (with and without CLIP reranking), DALL·E 2 (with and without
its prior) and the latent diffusion model of /text-to-image, each system's images and figures appearing as it
finishes: scene-truth accuracy, CLIP score, diversity, time per image, and the attribute-binding test."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import checkpoints, systems
from playground.viz import dalle as dalle_viz

from ..common import EXPENSIVE, check_seed, user_errors
from .shared import check_prompts, parts

EXPLAIN = ("**The systems side by side.** Every system gets the same prompts (2 images each) and the same 8 "
           "two-object prompts, whose colours come in swapped pairs (“a red circle left of a blue square” and “a "
           f"blue circle left of a red square”). DALL·E 1 + rerank keeps CLIP's best of {systems.RERANK_N} "
           f"candidates per image; the diffusion systems use guidance w = {systems.SCALE:g} and 50 DDIM steps. "
           "**Right shape + colour** and **everything right** are scene truth's verdicts; **CLIP score** is "
           "mini-CLIP's CLIPScore (0–2.5, higher = a better match); **diversity** is the mean 1 − cos between the "
           "CLIP image embeddings of one prompt's two images (0 = identical); **s / image** is wall time on this "
           "server, everything included; **bound** = both colour–shape pairs as asked, **swapped** = the colours on "
           "each other's shapes.")


class Compared(NamedTuple):
    grid: Any
    table: str
    pairs: Any


@user_errors
def compare(prompts_text, pairs_text, seed):
    """Run every system in turn, streaming the grid and the table."""
    prompts = check_prompts(prompts_text, 1, systems.MAX_PROMPTS, "Prompts")
    pairs = check_prompts(pairs_text, 0, systems.MAX_PROMPTS, "Two-object prompts")
    seed = check_seed(seed)
    lacking = {s: m for s, m in systems.missing(checkpoints.available()).items() if m}
    if lacking:
        raise gr.Error("Not shipped in this copy: " + "; ".join(f"{s} needs {', '.join(m)}" for s, m in lacking.items()))
    results = []
    for result in systems.compare_steps(parts(), prompts, pairs, seed):
        results.append(result)
        grid = dalle_viz.compare_grid(results, prompts, 2)
        bound = dalle_viz.compare_grid([{"system": r["system"], "images": r["pairs_images"]} for r in results], pairs, 1) \
            if pairs else None
        legend = "\n".join(f"{k + 1}. {p}" for k, p in enumerate(prompts))
        yield Compared(grid, systems.table(results) + "\n\nPrompts: " + legend
                       + ("" if len(results) == len(systems.SYSTEMS) else f"\n\n*Running {systems.SYSTEMS[len(results)]}…*"),
                       bound)


def build(page: gr.Blocks) -> None:
    gr.Markdown(EXPLAIN)
    with gr.Row():
        prompts = gr.Textbox("\n".join(systems.PROMPTS), lines=8, label="Prompts (one per line, up to 8)",
                             elem_id="cmp-prompts")
        pairs = gr.Textbox("\n".join(systems.PAIRS), lines=8, label="Two-object prompts for the binding test",
                           elem_id="cmp-pairs")
    with gr.Row():
        seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="cmp-seed")
        button = gr.Button("Run all five systems", variant="primary", elem_id="cmp-run")
        stop = gr.Button("Stop", elem_id="cmp-stop")
    table = gr.Markdown(elem_id="cmp-table")
    grid = gr.Image(label="Rows: systems; columns: the prompts (first image of each)", interactive=False,
                    elem_id="cmp-grid")
    bound = gr.Image(label="The binding test: rows: systems; columns: the two-object prompts", interactive=False,
                     elem_id="cmp-pairs-grid")
    go = button.click(compare, [prompts, pairs, seed], [grid, table, bound], api_name="dalle_compare", **EXPENSIVE)
    stop.click(None, None, None, cancels=[go], queue=False)


__all__ = ["build", "compare"]
