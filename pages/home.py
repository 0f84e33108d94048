"""/ : the map of the playground: a picture of every page, in the order of the lesson, with one line on what
you will see there."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

THUMBS = Path(__file__).resolve().parents[1] / "assets" / "screenshots" / "thumbs"  # one per route, from the pages


def build(page: gr.Blocks, pages: list[dict]) -> None:
    """pages: [{"route", "title", "teaches", "family"}] for every page the app serves, in journey order."""
    path = " → ".join(f"[{p['title']}]({p['route'].lstrip('/')})" for p in pages)
    gr.Markdown(
        "# Generative Models Playground\n\n"
        "Watch a picture dissolve into noise and a model pull a new picture back out, step by step. Every page "
        "wraps a small but real PyTorch model from the `playground` library, the same code a notebook can "
        "`import playground` to use, and runs on this machine; nothing is fetched from the internet.\n\n"
        f"**The lesson, in order:** {path}. Every page has a fixed seed, so what you show today can be shown again "
        "exactly, and a “Next” link at its bottom.", elem_id="home-intro")
    for start in range(0, len(pages), 3):
        with gr.Row(equal_height=True):
            for k, p in enumerate(pages[start:start + 3], start=start + 1):
                with gr.Column(min_width=300):
                    thumb = THUMBS / f"{p['route'].strip('/')}.png"
                    if thumb.is_file():
                        gr.Image(str(thumb), show_label=False, interactive=False, height=190, container=False,
                                 buttons=[], elem_classes="home-thumb")
                    gr.Markdown(f"### {k}. [{p['title']}]({p['route'].lstrip('/')})\n*{p['family']}.* {p['teaches']}")
