"""Tab "Learned variance": improved DDPM (Nichol & Dhariwal 2021). A model that also predicts its reverse variance
Σ_θ, trained with L_hybrid, sampled with respaced DDPM at K ≪ T steps against the fixed β̃ and β; and the
likelihood bound in bits per dimension, the paper's headline number. The shipped models' cards hold the figures
measured at training time; the buttons measure them again, live, on this server."""
from __future__ import annotations

import numpy as np
import gradio as gr

from playground import checkpoints, evaluate
from playground.viz import diffusion as dviz

from ..common import (CHEAP, LATEX, EXPENSIVE, check_cost, check_int, check_seed, metric_classifier, shipped, throttle,
                      user_errors)
from .shared import markdown_table, shipped_label

STEPS = evaluate.VARIANCE_STEPS
VARIANCES = ("posterior", "beta", "learned")
MAX_POINTS, MAX_IMAGES = 2000, 64
UPDATE_EVERY_S = 0.5  # how often a live measurement redraws (and so answers Stop within about this long)

LEAD = ("**Improved DDPM** (Nichol & Dhariwal 2021). DDPM fixes the reverse step's variance $\\sigma_t^2$ to "
        "$\\tilde\\beta_t$ or $\\beta_t$ (Ho et al. found both sample equally well at T = 1000). These models also "
        "output a number v per pixel (per coordinate for points) and use "
        "$\\Sigma_\\theta = \\exp(v \\log \\beta_t + (1 - v) \\log \\tilde\\beta_t)$ (eq. 15), trained with "
        "$L_\\text{hybrid} = L_\\text{simple} + \\lambda L_\\text{vlb}$, λ = 0.001 (eq. 16; the bound's gradient "
        "reaches v only). The variance matters when the sampler takes **fewer, longer steps**: DDPM *respaced* to K "
        "of the T indices (§4) uses the betas of that shorter process, $\\beta = 1 - \\bar\\alpha_t / "
        "\\bar\\alpha_{t'}$ from each kept index t to the next smaller kept index t'. The network calls and the noise are the same "
        "for all three variances; only σ differs.")
BOUND_NOTE = ("<small>**Bits per dimension**: the variational bound −log p(x₀) ≤ L_T + Σ L_{t−1} + L₀ (Ho et al. "
              "eq. 5; for the class-conditional Fashion model, of x₀ given its label), averaged over test examples and "
              "divided by ln 2 and by the dimensions (784 pixels; 2 coordinates). For 8-bit images L₀ is the "
              "discretised Gaussian decoder (eq. 13), a probability, so the bound is one on the likelihood of the "
              "real pixels (lower is better). For points L₀ is a density, so the figure can be negative and depends on "
              "the data's units (scaling the points by c shifts it by log₂ c); compare points only with points. The "
              "learned model's ε is trained by L_simple alone (the stop-gradient), so its σ² = β̃ and σ² = β rows "
              "differ from the L_simple model's by training noise; each t takes one noise draw, so differences of a "
              "few hundredths are within the measure's noise (measure again with another seed). A full bound costs "
              "T = 1000 network calls.</small>")
PLOT_NOTE = ("<small>Left: σ_t² for β_t, β̃_t and Σ_θ at the mean v (the band is v's 10th–90th percentile over "
             "coordinates or pixels and test examples). At large t, β_t ≈ β̃_t, so v hardly matters there; the jump "
             "at t = T is the cosine schedule's last β, clipped to 0.999 (Nichol & Dhariwal §3.2). Right: each KL term "
             "of the bound; L₀ and L_T are in the table.</small>")


def _learned_models() -> dict[str, str]:
    """name: menu label, for every shipped learned-variance denoiser in this copy."""
    names = [n for n in checkpoints.available() if n.startswith("ddpm-") and n.endswith("-learned")]
    return {name: shipped_label(name) for name in sorted(names, key=lambda n: (n != "ddpm-fashion-learned", n))}


def _model(name):
    models = _learned_models()
    if not isinstance(name, str) or name not in models:
        raise gr.Error(f"Choose one of the learned-variance models: {', '.join(models) or 'none in this copy'}.")
    return shipped(name)


def _steps_table(rows: list[dict], images: bool) -> str:
    """One row per K, one column per variance: accuracy / Fréchet distance (images) or sliced distance (points)."""
    def cell(row: dict | None) -> str:
        if row is None:
            return "…"
        return f"{row['accuracy']:.1%} / {row['frechet_distance']:.2f}" if images else f"{row['sliced_wasserstein']:.4f}"
    by_key = {(r["steps"], r["variance"]): r for r in rows}
    body = [[k, *(cell(by_key.get((k, v))) for v in VARIANCES)] for k in dict.fromkeys(r["steps"] for r in rows)]
    what = "accuracy / Fréchet distance" if images else "sliced distance to test data"
    return markdown_table([f"K ({what})", *(dviz.VARIANCE_NAMES[v] for v in VARIANCES)], body)


def _steps_figure(rows: list[dict], images: bool, floor: float | None = None):
    metric, label = (("accuracy", "class accuracy (own label), higher is better") if images else
                     ("sliced_wasserstein", "sliced distance to test data, lower is better"))
    return dviz.variance_steps_figure(rows, metric, label, floor)


def _bound_table(bits: dict, decoder: dict, baseline: dict | None = None) -> str:
    """The bound per variance for this model and, when the card has it, the L_simple model (name, bits, decoder)."""
    rows = [[f"this model, {dviz.VARIANCE_NAMES[k]}", f"{v:.3f}", f"{decoder[k]:.3f}"] for k, v in bits.items()]
    if baseline:
        name, base_bits, base_decoder = baseline
        rows += [[f"{name} (L_simple), {dviz.VARIANCE_NAMES[k]}", f"{v:.3f}", f"{base_decoder[k]:.3f}"]
                 for k, v in base_bits.items()]
    return markdown_table(["model and reverse variance", "bits/dim (bound)", "L₀, the decoder's term (in the total)"],
                          rows)


@user_errors
def card_view(name):
    """What the model's card recorded at training time: the bound per variance (and the fixed-variance model's),
    quality against respaced steps, v over t and the bound's terms."""
    model = _model(name)
    metrics, images = model.card.get("metrics", {}), model.modality == "image"
    like = metrics.get("likelihood")
    if not like:
        raise gr.Error(f"{name}'s card has no likelihood figures; make it again with `python -m playground train {name}`.")
    def decoder_terms(measured: dict) -> dict:
        return {k: terms[0] for k, terms in measured["terms_bits_per_dim"].items()}
    base = metrics.get("baseline_likelihood")
    baseline = (metrics.get("baseline"), base["bits_per_dim"], decoder_terms(base)) if base else None
    rows, floor = metrics.get("steps_by_variance", []), metrics.get("sliced_wasserstein_data_vs_data")
    n_rows = like["eval_examples"]
    text = (f"**Measured when it was trained** (`{model.card.get('command', 'python -m playground train ' + name)}`), "
            f"on {n_rows:,} test {'images' if images else 'points'}:\n\n"
            + _bound_table(like["bits_per_dim"], decoder_terms(like), baseline))
    quality = (f"**Respaced DDPM**, {metrics.get('steps_samples', n_rows):,} samples from the same noise"
               + (", own label (classes in turn), no guidance" if images else
                  f"; two draws of the test data are {floor:.4f} apart (the measure's floor)") + ":\n\n"
               + _steps_table(rows, images))
    v = np.asarray(like["v_by_t"], dtype=np.float64) if "v_by_t" in like else None
    return (text, quality, None if v is None else dviz.variance_over_t(model.schedule, v),
            dviz.bound_terms_figure(like["terms_bits_per_dim"]),
            _steps_figure(rows, images, None if images else floor) if rows else None)


@user_errors
def measure_steps(name, steps, n, seed):
    """Sample with respaced DDPM at each chosen K with β̃, β and the learned Σ_θ from the same noise; stream the
    table and the figure as rows arrive."""
    model = _model(name)
    images = model.modality == "image"
    if not isinstance(steps, list) or not steps or any(k not in STEPS for k in steps):
        raise gr.Error(f"Choose one or more step counts of {', '.join(map(str, STEPS))}; got {str(steps)[:80]}.")
    steps = sorted(set(steps))
    n = check_int(n, "samples", 10 if images else 100, MAX_IMAGES if images else MAX_POINTS)
    seed = check_seed(seed)
    total = sum(steps) * len(VARIANCES)
    check_cost(n, total, model.modality, f"Respaced DDPM at K = {', '.join(map(str, steps))} with three variances")
    classifier = metric_classifier() if images else None
    if images and classifier is None:
        raise gr.Error("The metric classifier (classifier-fashion) is not shipped in this copy.")
    ready, shown = throttle(UPDATE_EVERY_S), 0
    for rows, calls in evaluate.variance_rows(model.model, model.spec, model.dataset, steps, VARIANCES, n, seed,
                                              classifier):
        if len(rows) > shown or ready():
            done = len(rows) == len(steps) * len(VARIANCES)
            status = f"{calls:,} of {total:,} network calls" + (" — done." if done else "")
            figure = _steps_figure(rows, images) if len(rows) > shown else gr.update()
            shown = len(rows)
            yield status, _steps_table(rows, images) if rows else "", figure


@user_errors
def measure_bound(name, n, seed):
    """The bound in bits/dim on n test examples with β̃, β and the learned Σ_θ, one t at a time (T calls),
    streaming the table, v over t and the terms."""
    model = _model(name)
    images = model.modality == "image"
    n = check_int(n, "test examples", 10 if images else 100, MAX_IMAGES if images else MAX_POINTS)
    seed = check_seed(seed)
    T = model.schedule.num_steps
    check_cost(n, T, model.modality, f"The bound over all T = {T} steps")
    ready = throttle(UPDATE_EVERY_S)
    for report in evaluate.likelihood_steps(model.model, model.spec, model.dataset, n, seed, VARIANCES):
        if report.done == T or ready():
            decoder = {k: float(terms[0]) for k, terms in report.terms.items()}
            part = "" if report.done == T else f" (partial: {report.done} of {T} terms so far; L₀ comes last)"
            table = _bound_table(report.bits_per_dim, decoder) + f"\n\n{report.n} test examples{part}."
            yield table, dviz.variance_over_t(model.schedule, report.v.numpy()), dviz.bound_terms_figure(
                {k: v.numpy() for k, v in report.terms.items()})


def _samples_for(name) -> int:
    return 16 if isinstance(name, str) and "fashion" in name else 1000


def build(page: gr.Blocks) -> gr.Dropdown:
    """The tab's layout and events; the card's figures show when the page opens."""
    gr.Markdown(LEAD, latex_delimiters=LATEX)
    models = _learned_models()
    first = next(iter(models), None)
    model = gr.Dropdown([(label, name) for name, label in models.items()], value=first, label="Learned-variance model")
    with gr.Row():
        measured = gr.Markdown(elem_id="variance-card")
        quality = gr.Markdown(elem_id="variance-card-steps")
    with gr.Row():
        v_plot = gr.Plot(label="The learned variance over t")
        terms_plot = gr.Plot(label="Where the bits are")
    gr.Markdown(PLOT_NOTE)
    steps_plot = gr.Plot(label="Quality against respaced steps")
    gr.Markdown(BOUND_NOTE)
    with gr.Accordion("Measure it again, live, on this server", open=False):
        with gr.Row():
            steps = gr.CheckboxGroup(list(STEPS), value=[25, 50, 100], label="Respaced DDPM steps K")
            n = gr.Slider(10, MAX_POINTS, value=_samples_for(first), step=2,
                          label=f"Samples / test examples (images: at most {MAX_IMAGES})")
            seed = gr.Number(0, precision=0, minimum=0, label="Seed")
        with gr.Row():
            run_steps = gr.Button("Quality against steps", variant="primary", elem_id="variance-steps-run")
            run_bound = gr.Button("Likelihood bound (bits/dim)", variant="primary", elem_id="variance-bound-run")
            stop = gr.Button("Stop", elem_id="variance-stop")
        status = gr.Markdown(elem_id="variance-status")
        live_table = gr.Markdown(elem_id="variance-live-table")
    outputs = [measured, quality, v_plot, terms_plot, steps_plot]
    model.change(card_view, model, outputs, api_name="reverse_variance_card", **CHEAP)
    page.load(card_view, model, outputs, api_visibility="private", **CHEAP)
    model.change(lambda name: gr.update(value=_samples_for(name)), model, n, api_visibility="private")
    stepping = run_steps.click(measure_steps, [model, steps, n, seed], [status, live_table, steps_plot],
                               api_name="reverse_variance_steps", **EXPENSIVE)
    bounding = run_bound.click(measure_bound, [model, n, seed], [live_table, v_plot, terms_plot],
                               api_name="reverse_variance_bound", **EXPENSIVE)
    stop.click(None, None, None, cancels=[stepping, bounding], queue=False)
    return model
