"""Tab "Against diffusion": flow matching (Euler, Heun) against DDIM, the deterministic diffusion sampler, which
solves an ODE too, on the same data with the same network and training recipe (on Fashion-MNIST also the longer
v-prediction DDPM recipe): quality against the number of network evaluations, and how straight the paths are,
measured live from the same starting noise."""
from __future__ import annotations

import gradio as gr

from playground import checkpoints, evaluate, flows
from playground.recipes import FLOW_TOYS
from playground.viz import flows as flow_viz

from ..common import EXPENSIVE, check_choice, check_cost, check_int, check_seed, metric_classifier, shipped, user_errors
from .shared import DATASET_TITLES

STEPS = (1, 2, 5, 10, 20, 50)
MAX_POINTS, MAX_IMAGES = 2000, 100


def _entries(dataset: str) -> dict:
    """label: (model, spec, sampler) for every model of the comparison shipped in this copy."""
    names = flows.comparison_models(dataset)
    present = checkpoints.available()
    missing = sorted({name for name, _ in names.values() if name not in present})
    if missing:
        raise gr.Error(f"This copy lacks {', '.join(missing)}; create them with `python -m playground train NAME`.")
    return {label: (shipped(name).model, shipped(name).spec, sampler) for label, (name, sampler) in names.items()}


def _table(rows: list[dict], images: bool) -> str:
    quality = ("| accuracy | Fréchet distance | diversity |" if images else "| sliced distance to data |")
    head = f"| method | K | NFE {quality} median straightness | seconds |\n|---|---|---{'|---' * (3 if images else 1)}|---|---|"
    lines = []
    for r in rows:
        q = (f"{r['accuracy']:.1%} | {r['frechet_distance']:.2f} | {r['diversity']:.2f}" if images
             else f"{r['sliced_wasserstein']:.4f}")
        lines.append(f"| {r['method']} | {r['steps']} | {r['nfe']} | {q} | {r['straightness']:.3f} | {r['seconds']:.2f} |")
    return head + "\n" + "\n".join(lines)


@user_errors
def measure(dataset, steps, n, seed):
    """Measure every method at each K in `steps`, streaming the table and the figures as rows arrive."""
    check_choice(dataset, "dataset", [*FLOW_TOYS, "fashion"])
    images = dataset == "fashion"
    if not isinstance(steps, list) or not steps or any(k not in STEPS for k in steps):
        raise gr.Error(f"choose one or more step counts of {', '.join(map(str, STEPS))}; got {steps!r}")
    steps = sorted(set(steps))
    n = check_int(n, "samples", 10, MAX_IMAGES if images else MAX_POINTS)
    seed = check_seed(seed)
    check_cost(n, sum(steps) * 5, "image" if images else "points", "This comparison")  # 1 + 2 + 1 + 1 calls a step
    classifier = metric_classifier() if images else None
    if images and classifier is None:
        raise gr.Error("The metric classifier (classifier-fashion) is not shipped in this copy.")
    rows = []
    for label, entry in _entries(dataset).items():
        rows += evaluate.steps_comparison({label: entry}, dataset, steps, n, seed, classifier)
        metric, name = (("accuracy", "class accuracy (own label)") if images else
                        ("sliced_wasserstein", "sliced distance to test data (lower is better)"))
        quality = flow_viz.steps_figure(rows, metric, name)
        straight = flow_viz.steps_figure(rows, "straightness", "median path length ÷ end-to-end distance (1 = straight)")
        yield _table(rows, images), quality, straight


def build() -> None:
    gr.Markdown("DDIM with η = 0 is also an ODE solver: Song et al. 2021 showed it is Euler's method on the "
                "probability-flow ODE in rescaled coordinates. Here both families start from the **same noise**, with "
                "the **same network** and training recipe (the flow-matching models copy the shipped DDPMs' "
                "network, batch, learning rate and steps; on Fashion-MNIST that of `ddpm-fashion-simple`, and the "
                "longer v-prediction recipe of `ddpm-fashion-cosine` is shown beside it), and differ only in what the "
                "network learned to predict and how the sampler steps. NFE counts network evaluations per sample (Heun takes two per step). "
                "**Reflow** retrains the flow on pairs (its own sample, the noise it came from): the new model's "
                "targets no longer cross, so its paths are straight and one Euler step lands near where fifty did. "
                "Straightness is measured on each sampler's own states: flow matching's x_t = (1 − t) x₀ + t ε, where "
                "a straight path is the aim, and DDIM's x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε; on the K-step path, so K = 1 (one "
                "segment) is 1 by definition: read it at K = 20 or 50.")
    with gr.Row():
        dataset = gr.Dropdown([(DATASET_TITLES[d], d) for d in (*FLOW_TOYS, "fashion")], value="moons", label="Data")
        steps = gr.CheckboxGroup(list(STEPS), value=[1, 5, 20], label="Steps K")
        n = gr.Slider(10, MAX_POINTS, value=1000, step=10, label="Samples per row (images: at most 100)")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
    with gr.Row():
        button = gr.Button("Measure", variant="primary", elem_id="flows-compare-run")
        stop = gr.Button("Stop", elem_id="flows-compare-stop")
    table = gr.Markdown(elem_id="flows-compare-table")
    with gr.Row():
        quality = gr.Plot(label="Quality against network evaluations")
        straight = gr.Plot(label="How straight the paths are")
    dataset.input(lambda d: gr.update(value=60 if d == "fashion" else 1000), dataset, n, api_visibility="private")
    measuring = button.click(measure, [dataset, steps, n, seed], [table, quality, straight], api_name="flows_compare",
                             **EXPENSIVE)
    stop.click(None, None, None, cancels=[measuring], queue=False)
