"""The page's output pictures, each with its label above it: Gradio draws an image's label over the picture's
top-left corner, which is where these pictures put their captions, titles and axis names."""
from __future__ import annotations

import gradio as gr


def picture(label: str, elem_id: str | None = None) -> gr.Image:
    gr.Markdown(f"**{label}**")
    return gr.Image(label=label, show_label=False, format="png", interactive=False, elem_id=elem_id)
