"""What the /dalle tabs share: the shipped parts of each system, loaded once per process, the prompt check (the
caption grammar's words only), and the settings every tab checks again on the server."""
from __future__ import annotations

import functools

import gradio as gr
import torch

from playground import checkpoints, systems, vq

from ..common import check_float, check_int, shipped

DEFAULT_PROMPT = "a small red circle at the top left"


def parts() -> systems.Parts:
    """Every system's models, each loaded from the shipped checkpoints when first used."""
    return systems.load_parts(shipped)


def check_prompt(text, what: str = "the prompt") -> str:
    """A prompt of the caption grammar, or a message naming what is wrong (empty, too long, unknown words)."""
    try:
        return shipped("clip-scenes").spec.tokenizer.check(text, what)[0]
    except ValueError as err:
        raise gr.Error(str(err)) from None


def check_prompts(text, lo: int, hi: int, what: str) -> list[str]:
    """One prompt per line, checked."""
    if not isinstance(text, str):
        raise gr.Error(f"{what}: type one prompt per line")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lo <= len(lines) <= hi:
        raise gr.Error(f"{what}: give from {lo} to {hi} prompts, one per line; got {len(lines)}")
    return [check_prompt(line, f"{what}, line {k + 1}") for k, line in enumerate(lines)]


def check_scale(w) -> float:
    return check_float(w, "guidance scale", 0.0, 20.0)


def check_steps(steps) -> int:
    return check_int(steps, "steps", 1, 250)


@functools.lru_cache(maxsize=1)
def token_colours():
    """A colour per code of vq-scenes for the token maps: the mean colour its decoder paints for a grid of that code
    alone (most codes of a scene are one colour of one shape's part, or the background)."""
    return vq.decoded_colours(shipped("vq-scenes").model)


@functools.lru_cache(maxsize=1)
def blank_code() -> int:
    """The code vq-scenes uses most on test scenes (the dark background): what an undrawn cell decodes as."""
    from playground import data
    tokens = vq.tokens(shipped("vq-scenes").model, data.load("scenes", "test", n=200).x.to(shipped("vq-scenes").device))
    return int(torch.bincount(tokens.flatten().cpu()).argmax())


def card(name: str) -> dict:
    """A shipped checkpoint's card ({} when it is not shipped)."""
    return checkpoints.card(name) if name in checkpoints.available() else {}
