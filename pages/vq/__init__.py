"""/vq: a VQ-VAE turns an image into a grid of tokens. See the tokens and edit them, see quantisation as
nearest-neighbour snapping, check the codebook's health (plain vs EMA + restarts), compare codebook sizes,
sample new images token by token with a transformer prior, try the dVAE's Gumbel-softmax, and train your own."""
from __future__ import annotations

import functools
import math
import tempfile
import time
import uuid

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch

from playground import data, prior, viz, vq
from playground.evaluate import unconditional_quality
from playground.metrics import features_and_probs
from playground.train import train
from playground.vq import VQSpec

from .common import (MAX_SEED, ModelMenu, about, check_choice, check_float, check_int, image_picker, in_thread,
                     keep, metric_classifier, pick_image, real_data, shipped, stoppable, train_controls, user_errors)

SHIPPED = {"vq-fashion": "VQ-VAE · K = 64 · EMA + restarts", "vq-k16-fashion": "VQ-VAE · K = 16 · EMA + restarts",
           "vq-k512-fashion": "VQ-VAE · K = 512 · EMA + restarts",
           "vq-k512-plain-fashion": "VQ-VAE · K = 512 · plain codebook loss", "dvae-fashion": "dVAE (Gumbel) · K = 64"}
SIZES = ("vq-k16-fashion", "vq-fashion", "vq-k512-fashion")  # the K comparison (D = 16 for all)
HEALTH = ("vq-k512-plain-fashion", "vq-k512-fashion")  # plain vs EMA + restarts, same K
PRIOR = "prior-fashion"
LIVE_CAPS = {"fashion": dict(steps=2000, batch=256), "digits": dict(steps=3000, batch=256)}
QUANTISERS = {"plain": ("VQ, plain codebook loss", dict(quantizer="vq", ema=False, restart=False)),
              "ema": ("VQ, EMA codebook", dict(quantizer="vq", ema=True, restart=False)),
              "ema-restart": ("VQ, EMA codebook + dead-code restarts", dict(quantizer="vq", ema=True, restart=True)),
              "gumbel": ("dVAE, Gumbel-softmax", dict(quantizer="gumbel"))}
SIDE = 224  # on-screen size of one image
CLICK_CELL = ("element.addEventListener('click', (e) => { const td = e.target.closest('td[data-r]'); "
              "if (td) trigger('click', {row: +td.dataset.r, col: +td.dataset.c}); });")
CLICK_CODE = ("element.addEventListener('click', (e) => { const s = e.target.closest('[data-code]'); "
              "if (s) trigger('click', {code: +s.dataset.code}); });")


# ---- models ----------------------------------------------------------------------------------------------

MENU = ModelMenu(SHIPPED)
USER_MODELS = MENU.user  # model id -> a model someone trained here (last 32)
get_model, model_choices = MENU.get, MENU.choices


@functools.lru_cache(maxsize=32)
def _colours(name: str) -> np.ndarray:
    return vq.codebook_colours(get_model(name)["model"].codebook)


@functools.lru_cache(maxsize=32)
def _test_usage(name: str) -> dict:
    """Code usage, perplexity, dead codes and MSE over the model's whole test set (measured once)."""
    entry = get_model(name)
    return vq.usage(entry["model"], real_data(entry["spec"].dataset, "test").x)


def _big(x: torch.Tensor) -> np.ndarray:
    return viz.upscale(viz.to_uint8(x), viz.fit_scale(x.shape[-1], SIDE))


def _bits(spec) -> str:
    return f"{spec.grid}×{spec.grid} = {spec.grid ** 2} tokens × log₂{spec.codebook_size} = {spec.grid ** 2 * math.log2(spec.codebook_size):.0f} bits"


# ---- 1. an image as tokens, and editing them ----------------------------------------------------------------

def _token_view(name: str, state: dict, note: str = ""):
    """(token map, palette, picture, text, state) for the image and tokens in `state`."""
    entry = get_model(name)
    model, spec, colours = entry["model"], entry["spec"], _colours(name)
    original, t = torch.tensor(state["original"]), torch.tensor(state["tokens"])
    x = state["x"]
    recon, edited = vq.decode_tokens(model, original)[0], vq.decode_tokens(model, t)[0]
    changed = int((original != t).sum())
    images = {"input x": _big(x), f"decode(tokens)  MSE {float(((recon - x) ** 2).mean()):.4f}": _big(recon)}
    if changed:
        images[f"after your {changed} edit{'s' if changed > 1 else ''}"] = _big(edited)
        images["what changed |Δ|"] = viz.error_map(recon, edited, scale=viz.fit_scale(x.shape[-1], SIDE))
    selected = state.get("selected")
    usage = _test_usage(name)
    text = (f"**Input:** {state['description']}\n\n**{entry['label']}**: this image is {_bits(spec)}, against "
            f"{x.numel()} pixels × 8 bits = {x.numel() * 8} bits for the raw image. MSE: mean squared error per "
            f"pixel on the [−1, 1] scale (over the whole test set: {usage['test_mse_per_pixel']:.4f}).")
    if selected is not None:
        r, c = selected
        text += (f"\n\n**Selected cell:** row {r}, column {c}, code {int(t[r, c])}"
                 + (f" (was {int(original[r, c])})" if original[r, c] != t[r, c] else "")
                 + ". Click a code in the codebook below to put it there.")
    else:
        text += "\n\n**Click a cell** of the token map to select it, then click a code in the codebook to swap it in."
    caption = f"token map: {spec.grid}×{spec.grid} code indices (colour: the code's place in the codebook)"
    grid = viz.token_map_html(t.numpy(), colours, selected, caption=caption)
    chosen = int(t[selected[0], selected[1]]) if selected is not None else None
    palette = viz.codebook_palette_html(colours, chosen, usage["counts"].numpy())
    return grid, palette, viz.labelled_strip(images), text + (f"\n\n{note}" if note else ""), state


@user_errors
def encode_image(name, source, label, index, upload):
    """Encode an image: its token map, the codebook, the input and its decode, and what the numbers mean."""
    spec = get_model(name)["spec"]
    x, description = pick_image(source, label, index, upload, spec.dataset)
    t = vq.tokens(get_model(name)["model"], x[None])[0]
    state = {"name": name, "x": x, "description": description, "original": t.tolist(), "tokens": t.tolist(),
             "selected": None}
    return _token_view(name, state)


def _state(name, state) -> dict:
    if not isinstance(state, dict) or state.get("name") != name or "tokens" not in state:
        raise gr.Error("Encode an image first (the button above the token map).")
    return state


@user_errors
def set_code(name, state, row, col, code):
    """Put `code` in cell (row, col) of the current token map and decode again."""
    state = _state(name, state)
    spec = get_model(name)["spec"]
    row, col = check_int(row, "row", 0, spec.grid - 1), check_int(col, "column", 0, spec.grid - 1)
    code = check_int(code, "code", 0, spec.codebook_size - 1)
    t = vq.edit_token(torch.tensor(state["tokens"]), row, col, code, spec.codebook_size)
    state = {**state, "tokens": t.tolist(), "selected": (row, col)}
    return _token_view(name, state)


def click_cell(name, state, evt: gr.EventData):
    """A click on the token map selects that cell: its row, column and current code go into the inputs."""
    state = _state(name, state)
    spec = get_model(name)["spec"]
    info = getattr(evt, "_data", None) or {}
    row = check_int(info.get("row"), "row", 0, spec.grid - 1)
    col = check_int(info.get("col"), "column", 0, spec.grid - 1)
    state = {**state, "selected": (row, col)}
    return (*_token_view(name, state), row, col, state["tokens"][row][col])


def click_code(name, state, row, col, evt: gr.EventData):
    """A click on a codebook swatch puts that code into the selected cell."""
    state = _state(name, state)
    if state.get("selected") is None:
        raise gr.Error("Click a cell of the token map first, then a code.")
    code = (getattr(evt, "_data", None) or {}).get("code")
    return (*set_code(name, state, row, col, code), code)


@user_errors
def reset_edits(name, state):
    state = _state(name, state)
    return _token_view(name, {**state, "tokens": state["original"], "selected": None})


# ---- 2. quantisation is a nearest-neighbour lookup ----------------------------------------------------------

@user_errors
def quantisation(name, n, seed):
    """The z_e of n test images and the codebook in one 2-D PCA plane, a line from each z_e to its code."""
    n = check_int(n, "images", 1, 50)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    entry = get_model(name)
    model, spec, colours = entry["model"], entry["spec"], _colours(name)
    test = real_data(spec.dataset, "test").x
    x = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]]
    z = vq.encoder_outputs(model, x)
    index = torch.cdist(z, model.codebook.detach()).argmin(1).numpy()
    z, e = z.numpy(), model.codebook.detach().numpy()
    if z.shape[1] > 2:
        from sklearn.decomposition import PCA
        pca = PCA(n_components=2).fit(z)
        zp, ep, held = pca.transform(z), pca.transform(e), float(pca.explained_variance_ratio_.sum())
    else:
        zp, ep, held = z, e, 1.0
    lines = np.full((3 * len(zp), 2), np.nan)
    lines[0::3], lines[1::3] = zp, ep[index]
    used = np.unique(index)
    unused = np.setdiff1d(np.arange(len(e)), used)
    fig = go.Figure([
        go.Scattergl(x=lines[:, 0], y=lines[:, 1], mode="lines", line=dict(color="rgba(120,120,120,0.35)", width=1),
                     name="z_e → its code", hoverinfo="skip"),
        go.Scattergl(x=zp[:, 0], y=zp[:, 1], mode="markers", name=f"z_e: {len(zp)} encoder outputs",
                     marker=dict(size=5, color=[f"rgb{tuple(int(v) for v in colours[k])}" for k in index],
                                 line=dict(width=0.5, color="#333")),
                     customdata=index, hovertemplate="z_e → code %{customdata}<extra></extra>"),
        go.Scatter(x=ep[used, 0], y=ep[used, 1], mode="markers+text", name="codes used here",
                   text=[str(k) for k in used], textposition="top center", textfont=dict(size=9),
                   marker=dict(symbol="diamond", size=11, color=[f"rgb{tuple(int(v) for v in colours[k])}" for k in used],
                               line=dict(width=1.5, color="black")),
                   customdata=used, hovertemplate="code %{customdata}<extra></extra>"),
        go.Scatter(x=ep[unused, 0], y=ep[unused, 1], mode="markers", name="codes not used by these images",
                   marker=dict(symbol="x", size=6, color="#bbbbbb"), customdata=unused,
                   hovertemplate="code %{customdata} (unused here)<extra></extra>")])
    axes = ("z₁", "z₂") if spec.code_dim <= 2 else ("PC 1", "PC 2")
    fig.update_layout(title=f"{entry['label']}: encoder outputs snap to their nearest code", height=520,
                      template="plotly_white", margin=dict(l=40, r=10, t=50, b=40), xaxis_title=axes[0],
                      yaxis_title=axes[1], legend=dict(orientation="h", y=-0.12))
    km = vq.kmeans_distortion(model, x, seed)
    what = ("z_e: the encoder's output at each cell" if spec.quantizer == "vq" else
            "for the dVAE, the mixture Σ softmax(logits)ₖ eₖ at each cell (its encoder gives logits, not a vector)")
    text = (f"Each dot is one cell of one image ({n} images × {spec.grid ** 2} cells = {len(zp)} dots; {what}). "
            f"Each diamond is a code eₖ of the codebook; the grey line joins each z_e to the code it is replaced "
            f"by, its nearest in all D = {spec.code_dim} dimensions. "
            + (f"The picture is the plane of the first two principal components of z_e, which holds {held:.0%} of "
               "their variance, so a line can look longer than it is." if spec.code_dim > 2 else "")
            + f"\n\n**It is k-means.** Mean squared distance ‖z_e − nearest code‖² on these vectors: **{km['learned_codebook']:.4f}** "
            f"with the learned codebook, **{km['kmeans']:.4f}** with scikit-learn's k-means (K = {spec.codebook_size}) "
            f"fitted to exactly these {km['vectors']} vectors, which is close to the best any {spec.codebook_size} "
            "codes can do for them (the fewer the images, the more k-means fits their quirks). Training moves each "
            "code towards the mean of the z_e that snap to it, which is k-means' own update; "
            f"{len(used)} of the {spec.codebook_size} codes are used by these images.")
    return fig, text


# ---- 3. codebook health ----------------------------------------------------------------------------------

def _health_row(name: str) -> str:
    use, spec = _test_usage(name), get_model(name)["spec"]
    return (f"| {get_model(name)['label']} | {spec.codebook_size} | {use['perplexity']:.1f} | {use['dead_codes']} | "
            f"{use['test_mse_per_pixel']:.4f} |")


HEALTH_HEAD = ("| model | K | perplexity | dead codes | MSE per pixel |\n|---|---|---|---|---|\n")
HEALTH_NOTE = ("Measured on every test image ({n} images, {t} tokens). **Perplexity** = exp(entropy of code usage): "
               "the number of codes in effective use (K if all are used equally, 1 if one does all the work). "
               "**Dead codes**: codes no test token uses. **MSE**: through the tokens, per pixel on [−1, 1].")


@user_errors
def health(name):
    """One model's usage histogram over the whole test set, with its perplexity and dead codes."""
    spec = get_model(name)["spec"]
    use = _test_usage(name)
    fig = viz.usage_figure({get_model(name)["label"]: use["counts"].numpy()}, "share of test tokens per code")
    n = len(real_data(spec.dataset, "test"))
    return fig, HEALTH_HEAD + _health_row(name) + "\n\n" + HEALTH_NOTE.format(n=n, t=int(use["counts"].sum()))


@user_errors
def compare_health():
    """Plain codebook loss vs EMA + dead-code restarts at K = 512: usage, and perplexity during training."""
    fig = viz.usage_figure({SHIPPED[n]: _test_usage(n)["counts"].numpy() for n in HEALTH},
                           "the same K = 512, two ways of learning the codebook: share of test tokens per code")
    curves = go.Figure()
    for k, name in enumerate(HEALTH):
        c = get_model(name)["card"].get("curves", {})
        if c:
            colour = viz.PALETTE[k]
            curves.add_trace(go.Scatter(x=c["step"], y=c["perplexity"], name=f"{SHIPPED[name]}: perplexity (batch)",
                                        line=dict(color=colour)))
            curves.add_trace(go.Scatter(x=c["step"], y=c["codes_used"], name=f"{SHIPPED[name]}: codes used (batch)",
                                        line=dict(color=colour, dash="dot")))
    curves.update_layout(title="during training (mean of each 50 steps, from the checkpoint cards)", height=340,
                         template="plotly_white", margin=dict(l=50, r=10, t=40, b=40), xaxis_title="step",
                         yaxis_title="codes", legend=dict(orientation="h", y=-0.25))
    n = len(real_data("fashion", "test"))
    table = HEALTH_HEAD + "\n".join(_health_row(name) for name in HEALTH)
    plain, cured = (_test_usage(name) for name in HEALTH)
    text = (table + f"\n\nWith the plain codebook loss, only the codes that win some z_e early get pulled along; "
            f"the rest never move and stay dead ({plain['dead_codes']} of 512 here). EMA updates plus restarts, which "
            f"move a code that falls out of use onto a random z_e of the batch, leave {cured['dead_codes']} dead and "
            f"raise the perplexity from {plain['perplexity']:.0f} to {cured['perplexity']:.0f}.\n\n"
            + HEALTH_NOTE.format(n=n, t=int(plain["counts"].sum())))
    return fig, curves, text


# ---- 4. codebook size --------------------------------------------------------------------------------------

@user_errors
def compare_sizes(n, seed):
    """The same test images through K = 16, 64 and 512 (D = 16), with the measured figures."""
    n = check_int(n, "images", 2, 12)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    test = real_data("fashion", "test").x
    x = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]]
    rows, labels, lines = [x], ["test images"], []
    for name in SIZES:
        entry = get_model(name)
        rows.append(vq.reconstruct(entry["model"], x))
        spec, use = entry["spec"], _test_usage(name)
        labels.append(f"K = {spec.codebook_size}")
        lines.append(f"| {spec.codebook_size} | {spec.code_dim} | {spec.grid ** 2 * math.log2(spec.codebook_size):.0f} | "
                     f"{use['test_mse_per_pixel']:.4f} | {use['perplexity']:.1f} | {use['dead_codes']} |")
    table = ("| K (codes) | D (code length) | bits per image (49 × log₂K) | MSE per pixel | perplexity | dead codes |\n"
             "|---|---|---|---|---|---|\n" + "\n".join(lines) +
             "\n\nAll on the full test set. A bigger codebook gives each cell more choices, so more bits per image "
             "and a smaller error; the prior then has a larger vocabulary to learn. To compare code lengths D, "
             "train two models that differ only in D in the last tab.")
    return viz.labelled_grid(torch.cat(rows), n, labels, "reconstructions through the tokens", scale=3), table


# ---- 5. sampling token by token ------------------------------------------------------------------------------

def _prior():
    model, spec, card = shipped(PRIOR)
    return model, spec, card, prior.tokenizer(spec.vq), _colours(spec.vq)


@functools.lru_cache(maxsize=1)
def _blank() -> int:
    """The code most used over the test set (the black background): what a not-yet-sampled cell decodes as."""
    return int(_test_usage(shipped(PRIOR)[1].vq)["counts"].argmax())


def _label(value):
    return None if value in (None, -1, "any") else check_int(value, "class", 0, 9)


def _sampling_settings(label, temperature, top_k, seed):
    return (_label(label), check_float(temperature, "temperature", 0.05, 3.0), check_int(top_k, "top-k", 0, 4096),
            check_int(seed, "seed", 0, MAX_SEED))


def _frame_view(frame: dict, total: int, colours) -> tuple:
    i = frame["position"]
    g = int(math.isqrt(total))
    text = (f"**Token {i + 1} of {total}** (row {i // g}, column {i % g}): drew code **{frame['chosen']}**, to which "
            f"the prior gave probability **{frame['p']:.2f}**. Its top candidates here: "
            + ", ".join(f"{k} ({p:.2f})" for k, p in frame["top"]) + "."
            + (" Grey cells are not sampled yet; the image decodes them as the background code "
               f"{_blank()} (the most used one)." if i + 1 < total else ""))
    return viz.token_map_html(frame["tokens"], colours, (i // g, i % g), cell=34), frame["image"], text


@user_errors
def sample_live(label, temperature, top_k, seed, speed):
    """Fill a token grid in raster order, streaming the grid and its decode after every token; then the recorded
    frames (for scrubbing and the GIF)."""
    label, temperature, top_k, seed = _sampling_settings(label, temperature, top_k, seed)
    speed = check_float(speed, "speed", 1, 1000)
    model, spec, _, tokenizer, colours = _prior()
    frames, began = [], time.perf_counter()
    steps = prior.sample_steps(model, 1, temperature, top_k, label, torch.Generator().manual_seed(seed))
    for step in steps:
        t = step["tokens"][0]
        image = _big(vq.decode_tokens(tokenizer, torch.where(t < 0, _blank(), t))[0])
        probs = step["probs"][0]
        top = probs.topk(5)
        frames.append({"position": step["position"], "tokens": t.numpy(), "image": image,
                       "chosen": int(step["chosen"][0]), "p": float(probs[step["chosen"][0]]),
                       "top": [(int(k), float(p)) for p, k in zip(top.values, top.indices)]})
        wait = began + len(frames) / speed - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        yield (*_frame_view(frames[-1], spec.length, colours), gr.update(), frames)
    yield (*_frame_view(frames[-1], spec.length, colours),
           gr.update(maximum=len(frames), value=len(frames), visible=True), frames)


def scrub(frames, position):
    """Show a recorded frame again, without sampling."""
    if not frames:
        raise gr.Error("Sample an image first.")
    position = check_int(position, "token", 1, len(frames))
    return _frame_view(frames[position - 1], len(frames), _prior()[4])


def export_gif(frames):
    if not frames:
        raise gr.Error("Sample an image first.")
    colours = _prior()[4]
    pictures = [viz.side_by_side([viz.token_map_image(f["tokens"], colours, cell=32), f["image"]]) for f in frames]
    path = tempfile.NamedTemporaryFile(suffix=".gif", delete=False, prefix="tokens-").name
    return str(viz.save_gif(pictures, path, fps=12, hold_last=2.0))


def _measure(samples: torch.Tensor, label) -> dict:
    classifier = metric_classifier()
    if classifier is None:
        return {}
    real = real_data("fashion", "test")
    real = real.of_class(label) if label is not None else real  # compare a class's samples with that class
    out = unconditional_quality(samples, classifier, real.subset(torch.arange(min(len(real), len(samples)))))
    if label is not None:
        out["class_accuracy"] = float((features_and_probs(classifier, samples)[1].argmax(1) == label).mean())
    return out


@user_errors
def sample_grid(label, temperature, top_k, seed, n):
    """n samples at these settings, as a grid, with measured figures."""
    label, temperature, top_k, seed = _sampling_settings(label, temperature, top_k, seed)
    n = check_int(n, "samples", 4, 64)
    model, _, card, tokenizer, _ = _prior()
    grids = prior.sample(model, n, temperature, top_k, label, torch.Generator().manual_seed(seed))
    samples = vq.decode_tokens(tokenizer, grids)
    m = _measure(samples, label)
    what = data.FASHION_CLASSES[label] if label is not None else "any class"
    real = f"real {what} images" if label is not None else "real test images"
    text = (f"{n} samples, {what}, temperature {temperature:g}, top-k {top_k or 'off'}, seed {seed}."
            + (f" Classifier confidence {m['confidence']:.2f} ({real}: {m['real_confidence']:.2f}); "
               f"diversity {m['diversity']:.2f} ({real}: {m['real_diversity']:.2f})" if m else "")
            + (f"; {m['class_accuracy']:.0%} are classified as {what}" if "class_accuracy" in m else "") + ".")
    return viz.labelled_grid(samples, 8, [""] * ((n + 7) // 8), f"prior samples: {what}", scale=2), text


TEMPERATURES = (0.5, 0.7, 0.85, 1.0, 1.2, 1.5)


@user_errors
def temperature_sweep(label, top_k, seed):
    """200 samples at each of several temperatures: how real and how varied they are."""
    label, _, top_k, seed = _sampling_settings(label, 1.0, top_k, seed)
    model, _, card, tokenizer, _ = _prior()
    rows, curves = [], {"confidence": [], "diversity": []}
    for temperature in TEMPERATURES:
        samples = vq.decode_tokens(tokenizer, prior.sample(model, 200, temperature, top_k, label,
                                                           torch.Generator().manual_seed(seed)))
        m = _measure(samples, label)
        if not m:
            raise gr.Error("The metric classifier is not shipped in this copy; train it with "
                           "`python -m playground train classifier-fashion`.")
        rows.append(f"| {temperature:g} | {m['confidence']:.2f} | {m['diversity']:.2f} | {m['frechet_distance']:.1f} |"
                    + (f" {m['class_accuracy']:.0%} |" if label is not None else ""))
        for key in curves:
            curves[key].append(m[key])
    head = ("| temperature T | classifier confidence | diversity | Fréchet distance to 200 real |"
            + (" share of the asked class |" if label is not None else "") + "\n|---|---|---|---|"
            + ("---|" if label is not None else "") + "\n")
    nll = card["metrics"]
    text = (head + "\n".join(rows) + f"\n\nReal test images: confidence {m['real_confidence']:.2f}, diversity "
            f"{m['real_diversity']:.2f}. Each token is drawn from softmax(logits / T): a low T sharpens the prior "
            "towards its favourite tokens (cleaner, more alike), a high T flattens it (more varied, more broken). "
            f"The prior's test likelihood: {nll['test_nll_nats_per_token']:.2f} nats per token = "
            f"{nll['test_bits_per_image']:.0f} bits per image, against {nll['uniform_bits_per_image']:.0f} bits for "
            "uniform guessing. Confidence and features come from the shipped Fashion-MNIST classifier; diversity is "
            "the mean feature distance between samples.")
    fig = viz.loss_figure(list(TEMPERATURES), {"classifier confidence": curves["confidence"],
                                               "diversity": curves["diversity"]}, "measured, 200 samples each", log=False)
    fig.update_layout(xaxis_title="temperature T")
    return fig, text


# ---- 6. the dVAE's Gumbel-softmax ------------------------------------------------------------------------

@user_errors
def gumbel(source, label, index, upload, tau, seed, noise):
    """One image through the VQ-VAE, the dVAE (argmax codes) and the dVAE's relaxation at temperature τ."""
    x, description = pick_image(source, label, index, upload)
    tau = check_float(tau, "τ", 0.01, 100.0)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    dvae, vqvae = get_model("dvae-fashion"), get_model("vq-fashion")
    g = torch.Generator().manual_seed(seed)
    hard = vq.reconstruct(dvae["model"], x[None])[0]
    soft = vq.gumbel_decode(dvae["model"], x[None], tau, g, bool(noise))[0]
    via_vq = vq.reconstruct(vqvae["model"], x[None])[0]
    confidence = vq.code_confidence(dvae["model"], x[None])[0]
    heat = viz.upscale(np.repeat((confidence.numpy() * 255).round().astype(np.uint8)[..., None], 3, -1),
                       SIDE // confidence.shape[-1])

    def mse(y):
        return float(((y - x) ** 2).mean())
    images = {"input x": _big(x), f"VQ-VAE  MSE {mse(via_vq):.4f}": _big(via_vq),
              f"dVAE, argmax codes  {mse(hard):.4f}": _big(hard),
              f"dVAE relaxed, τ = {tau:g}  {mse(soft):.4f}": _big(soft),
              "dVAE: max softmax per cell": heat}
    test = real_data("fashion", "test", 200).x
    taus = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
    sweep = [float(((vq.gumbel_decode(dvae["model"], test, t, torch.Generator().manual_seed(seed), bool(noise))
                     - test) ** 2).mean()) for t in taus]
    hard_mse = float(((vq.reconstruct(dvae["model"], test) - test) ** 2).mean())
    fig = viz.loss_figure(taus, {"relaxed decode, 200 test images": sweep, "argmax codes (τ → 0)": [hard_mse] * len(taus)},
                          "MSE of the dVAE's decode against τ (log scales)")
    fig.update_layout(xaxis_type="log", xaxis_title="τ (relaxation temperature)")
    rows = []
    for name in ("vq-fashion", "dvae-fashion"):
        use = _test_usage(name)
        rows.append(f"| {SHIPPED[name]} | {use['test_mse_per_pixel']:.4f} | {use['perplexity']:.1f} | {use['dead_codes']} |")
    best = taus[int(np.argmin(sweep))]
    text = (f"**Input:** {description}\n\nThe dVAE's encoder gives, at each of the 7×7 cells, a probability for each "
            "of the K = 64 codes. During training the decoder sees the mixture y = softmax((logits + g)/τ) of codes, "
            "g being Gumbel noise, with τ annealed from 1 to 0.1; a token is the argmax. As τ → 0 the mixture becomes "
            f"one code, and the error matches the argmax's ({sweep[0]:.4f} against {hard_mse:.4f} on 200 test images). "
            f"A moderate τ gives a *lower* error (least at τ = {best:g}: {min(sweep):.4f}): a blend of codes carries "
            "more than one token's worth of information, which a grid of tokens cannot pass on — the reason DALL·E "
            f"anneals τ down. A large τ blends nearly all codes alike and the image is lost ({sweep[-1]:.4f} at "
            f"τ = {taus[-1]:g}). The grey map is the encoder's top probability per cell (white = sure).\n\n"
            "| model | MSE per pixel (test set) | perplexity | dead codes |\n|---|---|---|---|\n" + "\n".join(rows)
            + "\n\nThe dVAE has no dead-code restarts, and a weak pull to use all codes (the KL term's weight is "
            "5·10⁻⁴), so it uses fewer codes than the VQ-VAE.")
    return viz.labelled_strip(images), fig, text


# ---- 7. train your own ---------------------------------------------------------------------------------------

@user_errors
def train_live(dataset, quantiser, k, d, commitment, kmeans, steps, batch, lr, seed, my_models, request: gr.Request = None):
    """Train a VQ-VAE or dVAE from scratch; streams progress, loss split, codebook health, usage and previews."""
    dataset = check_choice(dataset, "dataset", list(LIVE_CAPS))
    quantiser = check_choice(quantiser, "quantiser", list(QUANTISERS))
    caps = LIVE_CAPS[dataset]
    spec = VQSpec(**QUANTISERS[quantiser][1], codebook_size=check_int(k, "K", 2, 512), code_dim=check_int(d, "D", 1, 64),
                  commitment=check_float(commitment, "β (commitment)", 0.0, 2.0), kmeans_init=bool(kmeans),
                  image_size=28 if dataset == "fashion" else 8, downsample=4 if dataset == "fashion" else 2,
                  width=16, dataset=dataset, batch_size=check_int(batch, "batch size", 8, caps["batch"]),
                  lr=check_float(lr, "learning rate", 1e-5, 1e-1))
    steps = check_int(steps, "steps", 1, caps["steps"])
    seed = check_int(seed, "seed", 0, MAX_SEED)
    ds = real_data(dataset, "train")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = spec.build()
    optimizers = [torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=spec.lr)]
    every, snap = max(1, steps // 10), max(1, steps // 60)
    history, usage_steps, usage = {}, [], []
    began = time.perf_counter()

    def work(push, should_stop):
        def callback(step, total, metrics, preview):
            push((step, total, metrics, preview, model.quantizer.usage.clone() if step % snap == 0 or step == total else None))
        return train(spec, ds, steps, seed=seed, preview_every=every, preview_n=8, should_stop=should_stop,
                     callback=callback, resume=(model, optimizers))

    def show(item):
        step, total, metrics, preview, snapshot = item
        history.setdefault("step", []).append(step)
        for key, value in metrics.items():
            history.setdefault(key, []).append(value)
        if snapshot is not None:
            usage_steps.append(step)
            usage.append(snapshot.numpy())
        if preview is None and snapshot is None:
            return None
        text = (f"Step {step} of {total}: reconstruction {metrics['recon']:.4f}, perplexity {metrics['perplexity']:.1f} "
                f"of K = {spec.codebook_size}, {metrics['dead_codes']:.0f} dead codes, "
                f"{step / (time.perf_counter() - began):.1f} steps/s")
        if spec.quantizer == "gumbel":
            losses = {"reconstruction ‖x − D(z_q)‖²": history["recon"],
                      f"w·KL(q ‖ uniform), w = {spec.kl_weight:g}": [spec.kl_weight * v for v in history["kl"]]}
            text += f", τ = {metrics['tau']:.2f}"
        else:
            losses = {"reconstruction ‖x − D(z_q)‖²": history["recon"],
                      "codebook ‖sg[z_e] − e‖²" + (" (not trained on: EMA updates the codebook)" if spec.ema else ""):
                          history["codebook"],
                      f"β·commitment, β·‖z_e − sg[e]‖², β = {spec.commitment:g}": [spec.commitment * v for v in history["commitment"]]}
        health_fig = viz.loss_figure(history["step"], {"perplexity (this batch)": history["perplexity"],
                                                       "codes used (this batch)": history["codes_used"],
                                                       "dead codes (running usage below threshold)": history["dead_codes"]},
                                     "codebook health (number of codes)", log=False)
        image = gr.update()
        if preview is not None:
            image = viz.labelled_grid(preview, 8, ["input", "decode(tokens)"], f"step {step}",
                                      scale=3 if dataset == "fashion" else 10)
        loss_fig = viz.loss_figure(history["step"], losses, "loss terms (per element)")
        for fig in (loss_fig, health_fig):
            fig.update_layout(legend=dict(orientation="h", y=-0.25), height=340)
        return (text, loss_fig, health_fig,
                viz.usage_heatmap(usage_steps, usage, "each code's share of recent tokens, over training"), image,
                gr.update(), gr.update(), gr.update(), my_models)

    with stoppable(request) as stop:
        for done, update in in_thread(work, show, stop):
            if not done:
                yield update
                continue
            model, run = update
            model_id = uuid.uuid4().hex[:12]
            title = (f"yours: {QUANTISERS[quantiser][0]}, K = {spec.codebook_size}, D = {spec.code_dim}, {dataset}, "
                     f"{len(run['step'])} steps ({model_id[:4]})")
            keep(USER_MODELS, model_id, {"model": model.eval(), "spec": spec, "card": {}, "label": title}, 32)
            mine = [*(my_models or []), (title, f"user:{model_id}")]
            stopped = " (stopped early; the model so far is kept)" if run["stopped_early"] else ""
            use = _test_usage(f"user:{model_id}")
            choice = gr.update(choices=model_choices(mine), value=f"user:{model_id}")
            yield (f"Done: {len(run['step'])} steps in {run['wall_time_s']:.1f} s{stopped}. On the whole test set: "
                   f"perplexity {use['perplexity']:.1f} of K = {spec.codebook_size}, {use['dead_codes']} dead codes, "
                   f"MSE {use['test_mse_per_pixel']:.4f} per pixel. It is now in the model lists of the first three "
                   f"tabs as “{title}”.", gr.update(), gr.update(), gr.update(), gr.update(), choice, choice, choice, mine)


# ---- layout ------------------------------------------------------------------------------------------------

ABOUT = ("A **VQ-VAE** encodes a 28×28 image as a 7×7 grid of vectors z_e and replaces each by the nearest of K "
         "learned code vectors: the image becomes 49 **tokens**, whole numbers from 0 to K − 1, and the decoder "
         "rebuilds it from those codes alone. Picking the nearest code has no gradient, so training copies the "
         "decoder's gradient straight through to the encoder. A sentence of tokens is what a transformer can write: "
         "the **prior** below writes new images one token at a time, as DALL·E 1 did with its **dVAE** (which "
         "relaxes the choice with Gumbel-softmax instead).")


def build(page: gr.Blocks) -> None:
    about("VQ-VAE: images as tokens", ABOUT,
          "$z_q(x) = e_k,\\ k = \\arg\\min_j \\lVert z_e(x) - e_j \\rVert_2$ and $\\mathcal{L} = \\lVert x - D(z_q) "
          "\\rVert^2 + \\lVert \\mathrm{sg}[z_e(x)] - e \\rVert^2 + \\beta \\lVert z_e(x) - \\mathrm{sg}[e] \\rVert^2$ "
          "(sg: stop-gradient); the prior $p(t) = \\prod_i p(t_i \\mid t_{<i})$.",
          "van den Oord, Vinyals & Kavukcuoglu 2017, Neural Discrete Representation Learning, eq. 1–3 and Appendix A.1 "
          "(EMA) · Dhariwal et al. 2020, Jukebox (code restarts) · Jang et al. 2017 and Ramesh et al. 2021, "
          "Zero-Shot Text-to-Image Generation (Gumbel-softmax dVAE)")
    my_models = gr.State([])
    with gr.Tabs():
        with gr.Tab("Tokens", id="tokens"):
            gr.Markdown("Encode an image and see its tokens. **Hover** a cell for its code; **click** a cell, then a "
                        "code of the codebook, to swap it and watch the decoder redraw that patch.")
            with gr.Row():
                tok_model = gr.Dropdown(model_choices(), value="vq-fashion", label="Model", scale=2,
                                        allow_custom_value=True, elem_id="vq-tok-model")
            tok_pick = image_picker("vq-tok", 0)
            tok_button = gr.Button("Encode", variant="primary", elem_id="vq-encode")
            tok_state = gr.State({})
            with gr.Row():
                with gr.Column(scale=2, min_width=300):
                    tok_grid = gr.HTML(elem_id="vq-token-map", js_on_load=CLICK_CELL)
                with gr.Column(scale=5):
                    tok_image = gr.Image(label="The input, its decode, and your edit", format="png", interactive=False,
                                         show_label=False, elem_id="vq-tok-image")
            tok_text = gr.Markdown(elem_id="vq-tok-text")
            gr.Markdown("**The codebook** (click a code to put it in the selected cell; a crossed-out code is never "
                        "used on the test set):")
            tok_palette = gr.HTML(elem_id="vq-palette", js_on_load=CLICK_CODE)
            with gr.Row():
                tok_row = gr.Number(0, precision=0, minimum=0, label="Row", elem_id="vq-row")
                tok_col = gr.Number(0, precision=0, minimum=0, label="Column", elem_id="vq-col")
                tok_code = gr.Number(0, precision=0, minimum=0, label="Code", elem_id="vq-code")
                tok_set = gr.Button("Set this code", elem_id="vq-set")
                tok_reset = gr.Button("Undo all edits")

        with gr.Tab("Nearest code", id="quantise"):
            gr.Markdown("Every encoder output z_e is replaced by its nearest code. Plot them together.")
            with gr.Row():
                q_model = gr.Dropdown(model_choices(), value="vq-fashion", label="Model", allow_custom_value=True)
                q_n = gr.Slider(1, 50, value=10, step=1, label="Test images")
                q_seed = gr.Number(0, precision=0, minimum=0, label="Seed (which images)")
            q_button = gr.Button("Project", variant="primary", elem_id="vq-project")
            q_plot = gr.Plot(label="z_e and the codebook, 2-D PCA")
            q_text = gr.Markdown()

        with gr.Tab("Codebook health", id="health"):
            gr.Markdown("How many codes does a model really use? Plain codebook loss against EMA updates with dead-code "
                        "restarts, at the same K = 512; or any one model.")
            hc_button = gr.Button("Compare plain vs EMA + restarts (K = 512)", variant="primary", elem_id="vq-health-compare")
            hc_usage = gr.Plot(label="Usage over the test set")
            hc_curves = gr.Plot(label="During training")
            hc_text = gr.Markdown(elem_id="vq-health-text")
            with gr.Row():
                h_model = gr.Dropdown(model_choices(), value="vq-fashion", label="One model", allow_custom_value=True)
                h_button = gr.Button("Measure its usage")
            h_plot = gr.Plot(label="Usage over the test set")
            h_text = gr.Markdown()

        with gr.Tab("Codebook size", id="sizes"):
            gr.Markdown("Three shipped VQ-VAEs that differ only in K, the number of codes (D = 16 each).")
            with gr.Row():
                k_n = gr.Slider(2, 12, value=8, step=1, label="Images")
                k_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            k_button = gr.Button("Compare K", variant="primary")
            k_image = gr.Image(label="Test images and their decodes for K = 16, 64, 512", format="png", interactive=False,
                               show_label=False)
            k_text = gr.Markdown()

        with gr.Tab("Sample token by token", id="sample"):
            gr.Markdown("A small causal transformer (4 layers, 0.8 M parameters) learned p(tᵢ | t₍<ᵢ₎, class) over "
                        "vq-fashion's tokens. It writes the 49 tokens in reading order, one at a time; the decoder "
                        "draws the image as they arrive.")
            with gr.Row():
                s_label = gr.Dropdown([("any class", -1), *[(c, k) for k, c in enumerate(data.FASHION_CLASSES)]],
                                      value=-1, label="Class token")
                s_temp = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature T")
                s_topk = gr.Slider(0, 64, value=0, step=1, label="Top-k (0 = all tokens)")
                s_seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="vq-sample-seed")
                s_speed = gr.Slider(2, 60, value=15, step=1, label="Animation: tokens per second")
            s_button = gr.Button("Sample one image token by token", variant="primary", elem_id="vq-sample")
            s_frames = gr.State([])
            with gr.Row():
                with gr.Column(scale=2, min_width=280):
                    s_grid = gr.HTML(elem_id="vq-sample-map")
                with gr.Column(scale=2):
                    s_image = gr.Image(label="Decoded so far", format="png", interactive=False, show_label=False,
                                       elem_id="vq-sample-image")
                with gr.Column(scale=3):
                    s_text = gr.Markdown(elem_id="vq-sample-text")
                    s_scrub = gr.Slider(1, 49, value=49, step=1, label="Replay: tokens drawn (no resampling)",
                                        visible=False, elem_id="vq-scrub")
                    s_gif_button = gr.Button("Export the filling as a GIF")
                    s_gif = gr.File(label="GIF", interactive=False)
            with gr.Row():
                s_n = gr.Slider(4, 64, value=32, step=4, label="Samples in a grid")
                s_grid_button = gr.Button("Sample a grid at these settings")
                s_sweep_button = gr.Button("Measure the temperature (200 samples × 6 values of T)")
            s_grid_image = gr.Image(label="Samples", format="png", interactive=False, show_label=False)
            s_grid_text = gr.Markdown()
            s_sweep_plot = gr.Plot(label="Temperature, measured")
            s_sweep_text = gr.Markdown()

        with gr.Tab("dVAE (Gumbel)", id="gumbel"):
            gr.Markdown("DALL·E 1's tokenizer: the same grid of K-way choices, learned with a soft, noisy relaxation "
                        "instead of nearest-code + straight-through. Move τ to see what the decoder saw in training.")
            gb_pick = image_picker("vq-gb", 0)
            with gr.Row():
                gb_tau = gr.Slider(0.05, 100, value=1.0, step=0.05, label="τ (relaxation temperature; type any value)")
                gb_seed = gr.Number(0, precision=0, minimum=0, label="Seed (Gumbel noise)")
                gb_noise = gr.Checkbox(True, label="Add Gumbel noise g")
            gb_button = gr.Button("Compare", variant="primary")
            gb_image = gr.Image(label="Input, VQ-VAE, dVAE (argmax), dVAE relaxed at τ, the dVAE's certainty",
                                format="png", interactive=False, show_label=False)
            with gr.Row():
                gb_plot = gr.Plot(label="MSE against τ")
                gb_text = gr.Markdown()

        with gr.Tab("Train", id="train"):
            gr.Markdown("The same loop and losses as the shipped models, from scratch. Digits (8×8, 4×4 tokens) learn "
                        "in seconds; Fashion-MNIST in a minute or two. Your model is kept for this browser session "
                        "only and never replaces a shipped one.")
            with gr.Row():
                tr_dataset = gr.Dropdown([("Fashion-MNIST: 7×7 tokens", "fashion"), ("digits: 4×4 tokens", "digits")],
                                         value="digits", label="Dataset", scale=2)
                tr_quant = gr.Dropdown([(title, key) for key, (title, _) in QUANTISERS.items()], value="ema-restart",
                                       label="Quantiser", scale=3)
                tr_k = gr.Slider(2, 512, value=64, step=1, label="K (codes)")
                tr_d = gr.Slider(1, 64, value=16, step=1, label="D (code length)")
                tr_beta = gr.Slider(0, 2, value=0.25, step=0.05, label="β (commitment)")
                tr_kmeans = gr.Checkbox(False, label="k-means init (first batch)")
            tr_steps, tr_batch, tr_lr, tr_seed, tr_button, tr_text = train_controls("vq", LIVE_CAPS, tr_dataset, 1000)
            with gr.Row():
                tr_loss = gr.Plot(label="Loss terms")
                tr_health = gr.Plot(label="Perplexity and dead codes")
            with gr.Row():
                tr_usage = gr.Plot(label="Usage over training")
                tr_image = gr.Image(label="Preview: inputs and decodes", format="png", interactive=False,
                                    show_label=False)

    # ---- events ----
    token_outputs = [tok_grid, tok_palette, tok_image, tok_text, tok_state]
    tok_button.click(encode_image, [tok_model, *tok_pick], token_outputs, api_name="vq_tokens")
    tok_model.change(encode_image, [tok_model, *tok_pick], token_outputs, api_visibility="private")
    tok_grid.click(click_cell, [tok_model, tok_state], [*token_outputs, tok_row, tok_col, tok_code],
                   api_visibility="private", show_progress="hidden")
    tok_palette.click(click_code, [tok_model, tok_state, tok_row, tok_col], [*token_outputs, tok_code],
                      api_visibility="private", show_progress="hidden")
    tok_set.click(set_code, [tok_model, tok_state, tok_row, tok_col, tok_code], token_outputs, api_name="vq_set_code")
    tok_reset.click(reset_edits, [tok_model, tok_state], token_outputs, api_visibility="private")
    q_button.click(quantisation, [q_model, q_n, q_seed], [q_plot, q_text], api_name="vq_quantisation")
    hc_button.click(compare_health, None, [hc_usage, hc_curves, hc_text], api_name="vq_compare_health")
    h_button.click(health, h_model, [h_plot, h_text], api_name="vq_health")
    k_button.click(compare_sizes, [k_n, k_seed], [k_image, k_text], api_name="vq_sizes")
    settings = [s_label, s_temp, s_topk, s_seed]
    s_button.click(sample_live, [*settings, s_speed], [s_grid, s_image, s_text, s_scrub, s_frames], api_name="vq_sample")
    s_scrub.input(scrub, [s_frames, s_scrub], [s_grid, s_image, s_text], api_visibility="private",
                  trigger_mode="always_last", show_progress="hidden")
    s_gif_button.click(export_gif, s_frames, s_gif, api_visibility="private")
    s_grid_button.click(sample_grid, [*settings, s_n], [s_grid_image, s_grid_text], api_name="vq_sample_grid")
    s_sweep_button.click(temperature_sweep, [s_label, s_topk, s_seed], [s_sweep_plot, s_sweep_text], api_name="vq_temperature")
    gb_button.click(gumbel, [*gb_pick, gb_tau, gb_seed, gb_noise], [gb_image, gb_plot, gb_text], api_name="vq_gumbel")
    gb_tau.release(gumbel, [*gb_pick, gb_tau, gb_seed, gb_noise], [gb_image, gb_plot, gb_text], api_visibility="private")

    tr_button.click(train_live, [tr_dataset, tr_quant, tr_k, tr_d, tr_beta, tr_kmeans, tr_steps, tr_batch, tr_lr, tr_seed,
                                 my_models],
                    [tr_text, tr_loss, tr_health, tr_usage, tr_image, tok_model, q_model, h_model, my_models],
                    api_name="vq_train")
    page.load(encode_image, [tok_model, *tok_pick], token_outputs, api_visibility="private")


def demo() -> gr.Blocks:
    with gr.Blocks(title="VQ-VAE") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
