"""Tab 1: an image as a grid of tokens. Hover a cell for its code; click a cell, then a code of the codebook, to
swap it and watch the decoder redraw that patch. The image and its edits are this browser's session state."""
from __future__ import annotations

from typing import NamedTuple

import gradio as gr
import numpy as np
import torch

from playground import viz, vq
from playground.viz import vq as vq_viz

from ..common import check_int, image_picker, pick_image, session_state, user_errors
from .menu import MENU, bits, colours, get_model, test_usage

CLICK_CELL = ("element.addEventListener('click', (e) => { const td = e.target.closest('td[data-r]'); "
              "if (td) trigger('click', {row: +td.dataset.r, col: +td.dataset.c}); });")
CLICK_CODE = ("element.addEventListener('click', (e) => { const s = e.target.closest('[data-code]'); "
              "if (s) trigger('click', {code: +s.dataset.code}); });")


class TokenView(NamedTuple):
    """The tab's outputs, in order."""

    grid: str  # the token map (HTML: a cell per token, its code on hover)
    palette: str  # the codebook (HTML swatches)
    picture: np.ndarray  # the input, its decode, and the edited decode with |Δ|
    text: str  # what the numbers mean
    state: dict  # this browser's image and token edits: {name, x, description, original, tokens, selected}


class CellClick(NamedTuple):
    """A click on the token map: the view, and the selected cell in the Row / Column / Code inputs."""

    grid: str
    palette: str
    picture: np.ndarray
    text: str
    state: dict
    row: int
    col: int
    code: int


class CodeClick(NamedTuple):
    """A click on a codebook swatch: the view after the swap, and the code in the Code input."""

    grid: str
    palette: str
    picture: np.ndarray
    text: str
    state: dict
    code: int


def _view(name: str, state: dict, my_models: dict | None) -> TokenView:
    """What the tab shows for the image and tokens in `state`."""
    handle = get_model(name, my_models)
    spec, codes, usage = handle.spec, colours(handle), test_usage(handle)
    x, original, t = state["x"], torch.tensor(state["original"]), torch.tensor(state["tokens"])
    edit = vq.decode_edit(handle.model, x, original, t)
    side = viz.fit_scale(x.shape[-1], vq_viz.SIDE)
    images = {"input x": vq_viz.big(x), f"decode(tokens)  MSE {edit['mse']:.4f}": vq_viz.big(edit["recon"])}
    if edit["changed"]:
        images[f"after your {edit['changed']} edit{'s' if edit['changed'] > 1 else ''}"] = vq_viz.big(edit["edited"])
        images["what changed |Δ|"] = viz.error_map(edit["recon"], edit["edited"], scale=side)
    text = (f"**Input:** {state['description']}\n\n**{handle.label}**: this image is {bits(spec)}, against "
            f"{x.numel()} pixels × 8 bits = {x.numel() * 8} bits for the raw image. MSE: mean squared error per "
            f"pixel on the [−1, 1] scale (over the whole test set: {usage['test_mse_per_pixel']:.4f}).")
    selected = state.get("selected")
    if selected is not None:
        r, c = selected
        text += (f"\n\n**Selected cell:** row {r}, column {c}, code {int(t[r, c])}"
                 + (f" (was {int(original[r, c])})" if original[r, c] != t[r, c] else "")
                 + ". Click a code in the codebook below to put it there.")
    else:
        text += "\n\n**Click a cell** of the token map to select it, then click a code in the codebook to swap it in."
    caption = f"token map: {spec.grid}×{spec.grid} code indices (colour: the code's place in the codebook)"
    grid = viz.token_map_html(t.numpy(), codes, selected, caption=caption)
    chosen = int(t[selected[0], selected[1]]) if selected is not None else None
    palette = viz.codebook_palette_html(codes, chosen, usage["counts"].numpy())
    return TokenView(grid, palette, viz.labelled_strip(images), text, state)


@user_errors
def encode_image(name, source, label, index, upload, my_models=None) -> TokenView:
    """Encode an image: its token map, the codebook, the input and its decode, and what the numbers mean."""
    handle = get_model(name, my_models)
    x, description = pick_image(source, label, index, upload, handle.dataset)
    t = vq.tokens(handle.model, x[None])[0].cpu()
    state = {"name": name, "x": x, "description": description, "original": t.tolist(), "tokens": t.tolist(),
             "selected": None}
    return _view(name, state, my_models)


def _state(name, state) -> dict:
    if not isinstance(state, dict) or state.get("name") != name or "tokens" not in state:
        raise gr.Error("Encode an image first (the button above the token map).")
    return state


@user_errors
def set_code(name, state, row, col, code, my_models=None) -> TokenView:
    """Put `code` in cell (row, col) of this browser's token map and decode again."""
    state = _state(name, state)
    spec = get_model(name, my_models).spec
    row, col = check_int(row, "row", 0, spec.grid - 1), check_int(col, "column", 0, spec.grid - 1)
    code = check_int(code, "code", 0, spec.codebook_size - 1)
    t = vq.edit_token(torch.tensor(state["tokens"]), row, col, code, spec.codebook_size)
    return _view(name, {**state, "tokens": t.tolist(), "selected": (row, col)}, my_models)


def click_cell(name, state, evt: gr.EventData, my_models=None) -> CellClick:
    """A click on the token map selects that cell: its row, column and current code go into the inputs."""
    state = _state(name, state)
    grid = get_model(name, my_models).spec.grid
    info = getattr(evt, "_data", None) or {}
    row = check_int(info.get("row"), "row", 0, grid - 1)
    col = check_int(info.get("col"), "column", 0, grid - 1)
    view = _view(name, {**state, "selected": (row, col)}, my_models)
    return CellClick(*view, row, col, state["tokens"][row][col])


def click_code(name, state, row, col, evt: gr.EventData, my_models=None) -> CodeClick:
    """A click on a codebook swatch puts that code into the selected cell."""
    state = _state(name, state)
    if state.get("selected") is None:
        raise gr.Error("Click a cell of the token map first, then a code.")
    code = (getattr(evt, "_data", None) or {}).get("code")
    return CodeClick(*set_code(name, state, row, col, code, my_models), code)


@user_errors
def reset_edits(name, state, my_models=None) -> TokenView:
    """Undo every edit of this browser's token map."""
    state = _state(name, state)
    return _view(name, {**state, "tokens": state["original"], "selected": None}, my_models)


def build(page: gr.Blocks, my_models: gr.State) -> gr.Dropdown:
    """The tab's layout and events; returns its model menu (the training panel adds to it)."""
    gr.Markdown("Encode an image and see its tokens. **Hover** a cell for its code; **click** a cell, then a "
                "code of the codebook, to swap it and watch the decoder redraw that patch.")
    # One row of controls, so that on a projector (1280×800) the token map and the decode are on the first screen.
    with gr.Row(equal_height=True):
        with gr.Column(scale=0, min_width=330):
            model = gr.Dropdown(MENU.choices(), value="vq-fashion", label="Model", allow_custom_value=True,
                                elem_id="vq-tok-model")
        with gr.Column(scale=1, min_width=420):
            pick = image_picker("vq-tok", 0)
        with gr.Column(scale=0, min_width=110):
            encode = gr.Button("Encode", variant="primary", elem_id="vq-encode")
    state = session_state({})
    with gr.Row():
        with gr.Column(scale=2, min_width=300):
            grid = gr.HTML(elem_id="vq-token-map", js_on_load=CLICK_CELL)
        with gr.Column(scale=5):
            picture = gr.Image(label="The input, its decode, and your edit", format="png", interactive=False,
                               show_label=False, elem_id="vq-tok-image")
    text = gr.Markdown(elem_id="vq-tok-text")
    gr.Markdown("**The codebook** (click a code to put it in the selected cell; a crossed-out code is never "
                "used on the test set):")
    palette = gr.HTML(elem_id="vq-palette", js_on_load=CLICK_CODE)
    with gr.Row():
        row = gr.Number(0, precision=0, minimum=0, label="Row", elem_id="vq-row")
        col = gr.Number(0, precision=0, minimum=0, label="Column", elem_id="vq-col")
        code = gr.Number(0, precision=0, minimum=0, label="Code", elem_id="vq-code")
        set_button = gr.Button("Set this code", elem_id="vq-set")
        reset = gr.Button("Undo all edits")

    view = [grid, palette, picture, text, state]  # TokenView's order
    encode.click(encode_image, [model, *pick, my_models], view, api_name="vq_tokens")
    model.change(encode_image, [model, *pick, my_models], view, api_visibility="private")
    grid.click(click_cell, [model, state, my_models], [*view, row, col, code], api_visibility="private",
               show_progress="hidden")
    palette.click(click_code, [model, state, row, col, my_models], [*view, code], api_visibility="private",
                  show_progress="hidden")
    set_button.click(set_code, [model, state, row, col, code, my_models], view, api_name="vq_set_code")
    reset.click(reset_edits, [model, state, my_models], view, api_visibility="private")
    page.load(encode_image, [model, *pick, my_models], view, api_visibility="private")
    return model
