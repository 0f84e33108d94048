"""What the /text-to-image tabs share: the model menu (the shipped latent model and its pixel-space twin), the
prompt controls, the CLIP model that scores images, and the checks of what a browser sends (every value is
checked here again, since a client can bypass the sliders)."""
from __future__ import annotations

import functools

import gradio as gr

from playground import checkpoints, text_to_image as t2i
from playground.families import spec_from_card
from playground.models import Loaded

from ..common import ModelMenu, check_choice, check_float, check_int, check_seed, shipped

MENU = ModelMenu({"ldm-scenes": "latent diffusion (8×8×4 latents, shipped)",
                  "pixel-scenes": "pixel-space diffusion (32×32×3, shipped, for comparison)"})
DEFAULT_PROMPT = "a small red circle at the top left"
SAMPLER_CHOICES = [("DDIM (deterministic, any number of steps)", "ddim"), ("DDPM (ancestral, all 1000 steps)", "ddpm")]


def default_model() -> str | None:
    return next(iter(MENU.available()), None)


def model_menu(elem_id: str, scale: int = 2) -> gr.Dropdown:
    return gr.Dropdown(MENU.choices(), value=default_model(), label="Model", elem_id=elem_id, scale=scale)


def get_model(name) -> Loaded:
    if name is None and not MENU.available():
        raise gr.Error("No text-to-image model is shipped in this copy: make one with `python -m playground train "
                       "ldm-scenes` (it needs kl-scenes and clip-scenes).")
    return MENU.get(name)


@functools.lru_cache(maxsize=1)
def clip_model():
    """The shipped mini-CLIP that scores images (CLIPScore), or None when it is not shipped."""
    try:
        return shipped("clip-scenes").model
    except gr.Error:
        return None


def check_prompt(handle: Loaded, text, what: str = "the prompt") -> str:
    """The prompt, checked (empty, too long, unknown words: a message that says which)."""
    t2i.prompt_ids(handle, text, what)
    return text.strip()


def check_negative(handle: Loaded, text) -> str:
    """A negative prompt: blank is allowed (the empty prompt is then CFG's unconditional input)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return ""
    return check_prompt(handle, text, "the negative prompt")


def check_common(handle: Loaded, scale, steps, sampler, seed, n, max_n: int = t2i.MAX_IMAGES):
    """(scale, steps, sampler, seed, n) from the controls, checked on the server."""
    scale = check_float(scale, "guidance scale", 0.0, t2i.MAX_SCALE)
    sampler = check_choice(sampler, "sampler", [value for _, value in SAMPLER_CHOICES])
    steps = check_int(steps, "steps", 1, min(t2i.MAX_STEPS, handle.schedule.num_steps))
    return scale, steps, sampler, check_seed(seed), check_int(n, "number of images", 1, max_n)


def prompt_row(prefix: str, prompt: str = DEFAULT_PROMPT, negative: bool = True):
    """The prompt box (and the negative prompt box)."""
    with gr.Row():
        text = gr.Textbox(prompt, label="Prompt", elem_id=f"{prefix}-prompt", scale=3, max_lines=1)
        neg = gr.Textbox("", label="Negative prompt (blank: the empty prompt)", elem_id=f"{prefix}-negative",
                         scale=2, max_lines=1, visible=negative)
    return text, neg


def vocabulary_note(handle: Loaded | None = None) -> str:
    """The words a prompt may use."""
    if handle is None:
        name = default_model()
        if name is None:
            return ""
        spec = spec_from_card(checkpoints.card(name))  # the card is enough: no weights loaded at start-up
    else:
        spec = handle.spec
    words = [w for w in spec.tokenizer.itos[3:]]
    return ("The model reads the caption grammar's words only: " + ", ".join(words) +
            ". For example “a large blue square on the left”, “a red circle left of a green square”.")
