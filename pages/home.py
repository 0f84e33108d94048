"""/ : the map of the playground: the path through the pages, one line each on what you will see."""
from __future__ import annotations

import gradio as gr


def build(page: gr.Blocks, pages: list[dict]) -> None:
    """pages: [{"route", "title", "teaches", "family"}] for every page the app serves, in journey order."""
    path = " → ".join(f"[{p['title']}]({p['route'].lstrip('/')})" for p in pages)
    rows = "\n".join(f"{k}. **[{p['title']}]({p['route'].lstrip('/')})** ({p['family']}). {p['teaches']}"
                     for k, p in enumerate(pages, start=1))
    gr.Markdown(
        "# Generative Models Playground\n\n"
        "Watch a picture dissolve into noise and a model pull a new picture back out, step by step. Every page "
        "wraps a small but real PyTorch model from the `playground` library: the same code a notebook can "
        "`import playground` to use. Everything runs on this machine; nothing is fetched from the internet.\n\n"
        f"**The path:** {path}.\n\n" + rows + "\n\n"
        "Every page has a fixed seed, so what you show today can be shown again exactly, and a “Next” link at "
        "the bottom to the page after it.")
