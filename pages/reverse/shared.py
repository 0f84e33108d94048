"""What the /reverse tabs share: the model menu (shipped DDPM checkpoints, labelled from their cards, plus this
browser's own models), the checks of the sampling settings, and the tables of measured figures."""
from __future__ import annotations

import gradio as gr

from playground import checkpoints, data
from playground.diffusion.samplers import DynamicThreshold
from playground.families import spec_from_card
from playground.models import Loaded

from ..common import ModelMenu, check_choice, check_cost, check_float, check_int, quoted

MAX_IMAGES, MAX_POINTS = 64, 2000  # samples per run
DATASET_TITLES = {"fashion": "Fashion-MNIST", **data.toy2d.TOY2D_TITLES}
DATASET_ORDER = ["fashion", *data.TOY2D]


def shipped_label(name: str) -> str:
    """How the menu shows a shipped denoiser, from its card and spec: "two moons · cosine schedule (shipped)",
    "two moons · cosine schedule, class-conditional (shipped)", "… cosine schedule, learned variance (shipped)",
    "Fashion-MNIST · cosine schedule, class-conditional, v-prediction, 7,000 steps (shipped)"."""
    card = checkpoints.card(name)
    spec = spec_from_card(card)
    parts = [f"{spec.schedule} schedule"] + (["class-conditional"] if spec.num_classes else [])
    if spec.network == "unet" or spec.prediction != "eps":  # images come in two recipes: ε with L_simple, or v
        parts.append(f"{'ε' if spec.prediction == 'eps' else spec.prediction}-prediction")
    if getattr(spec, "learn_variance", False):
        parts.append("learned variance")
    if spec.network == "unet":
        parts.append(f"{card.get('steps_trained', 0):,} steps")
    return f"{DATASET_TITLES.get(card['dataset'], card['dataset'])} · {', '.join(parts)} (shipped)"


def _shipped_labels() -> dict[str, str]:
    def order(name):
        dataset = checkpoints.card(name)["dataset"]
        return DATASET_ORDER.index(dataset) if dataset in DATASET_ORDER else 99, name
    names = sorted((n for n in checkpoints.available() if n.startswith("ddpm-")), key=order)
    return {name: shipped_label(name) for name in names}


MENU = ModelMenu(_shipped_labels())


def default_model() -> str | None:
    names = MENU.available()
    return "ddpm-fashion-cosine" if "ddpm-fashion-cosine" in names else (names[0] if names else None)


def check_sampling(model: Loaded, sampler, steps, eta, n, label) -> tuple[int, float, int, int | None]:
    """(steps, η, n, class label or None) checked against the model; DDPM always takes all T steps."""
    check_choice(sampler, "sampler", ["ddpm", "ddim"])
    total = model.schedule.num_steps
    steps = total if sampler == "ddpm" else check_int(steps, "DDIM steps", 1, total)
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 <= eta <= 1:  # NaN fails too
        raise gr.Error(f"η must be a number from 0 to 1; got {quoted(eta)}.")
    n = check_int(n, "number of samples", 1, MAX_POINTS if model.modality == "points" else MAX_IMAGES)
    check_cost(n, steps, model.modality, f"{sampler.upper()}-{steps}")
    if label in (None, "", -1) or not model.num_classes:
        return steps, float(eta), n, None
    return steps, float(eta), n, check_int(label, "class label", 0, model.num_classes - 1)


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table (numbers already formatted by the caller)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


# ---- clipping x̂₀: the switch /reverse and /guidance share ---------------------------------------------------------
CLIPPING = {"off": "off", "static": "static [−1, 1]", "dynamic": "dynamic (Imagen), percentile p"}
PERCENTILE_RANGE, PERCENTILE_DEFAULT = (0.9, 0.9999), 0.995
CLIPPING_NOTE = ("<small>Before each step the sampler can clip its guess x̂₀: *static* to [−1, 1], or *dynamic* "
                 "(Saharia et al. 2022, Imagen §2.3: per sample s = max(1, p-quantile of |x̂₀|), "
                 "x̂₀ ← clip(x̂₀, −s, s)/s). Ho et al.'s eq. 11 (and DDIM's eq. 12) is followed exactly only when "
                 "clipping is off or never acts (0 % changed).</small>")


def check_clipping(mode, percentile) -> bool | DynamicThreshold:
    """The clip_x0 the samplers take, from the switch and the percentile: False, True or DynamicThreshold(p)."""
    check_choice(mode, "clipping of x̂₀", list(CLIPPING))
    if mode == "dynamic":
        return DynamicThreshold(check_float(percentile, "dynamic thresholding percentile p", *PERCENTILE_RANGE))
    return mode == "static"


def clipping_name(clip_x0) -> str:
    if isinstance(clip_x0, DynamicThreshold):
        return f"dynamic thresholding (p = {clip_x0.percentile:g})"
    return "static clipping to [−1, 1]" if clip_x0 else "no clipping"


def percent(share: float) -> str:
    """A share as a percentage that never shows a small non-zero share as 0 %."""
    value = 100 * float(share)
    return "0 %" if value == 0 else (f"{value:.2g} %" if value < 1 else f"{value:.1f} %")


def clipping_controls(prefix: str):
    """The switch, the percentile (used by "dynamic") and the one-sentence note, in a closed accordion so that the
    page's first screen keeps its outputs; returns (switch, percentile)."""
    with gr.Accordion("Clip x̂₀ (static by default)", open=False,
                      elem_id=f"{prefix}-clipping-box"):
        return _clipping_inputs(prefix)


def _clipping_inputs(prefix: str):
    mode = gr.Radio([(label, key) for key, label in CLIPPING.items()], value="static", label="Clip x̂₀",
                    elem_id=f"{prefix}-clipping")
    p = gr.Slider(*PERCENTILE_RANGE, value=PERCENTILE_DEFAULT, step=0.0001, label="Percentile p (dynamic only)",
                  elem_id=f"{prefix}-percentile")
    gr.Markdown(CLIPPING_NOTE)
    return mode, p
