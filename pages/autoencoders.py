"""/autoencoders: an AE, a denoising AE and a VAE on Fashion-MNIST — reconstructions, corruption and
restoration, latent maps you can click, prior samples, the reparameterisation trick, interpolation, β, and
training your own."""
from __future__ import annotations

import functools
import time
import uuid

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch

from playground import autoencoders as ae
from playground import data, viz
from playground.autoencoders import AutoencoderSpec
from playground.evaluate import unconditional_quality
from playground.metrics import features_and_probs
from playground.train import train

from .common import (MAX_SEED, ModelMenu, about, check_choice, check_float, check_int, image_picker, in_thread,
                     keep, metric_classifier, pick_image, real_data, stoppable, train_controls, user_errors)

TRIO = {"ae-fashion": "AE", "dae-fashion": "denoising AE", "vae-fashion": "VAE"}
SHIPPED = {"ae2-fashion": "AE · 2-D latent", "vae2-fashion": "VAE β = 1 · 2-D latent",
           "ae-fashion": "AE · 16-D latent", "dae-fashion": "denoising AE · 16-D latent",
           "vae-fashion": "VAE β = 1 · 16-D latent", "vae-fashion-lowbeta": "VAE β = 0.1 · 16-D latent"}
LIVE_CAPS = {"fashion": dict(steps=2000, batch=256), "digits": dict(steps=4000, batch=256)}
MAP_POINTS = 1000  # test images on a latent map
SCALE = 6  # on-screen pixels per image pixel (28 -> 168)
METHODS = {"PCA (a linear projection; any point of the plane decodes)": "pca",
           "t-SNE (keeps neighbours; no inverse, so a click decodes the nearest image's code)": "tsne"}


# ---- models ----------------------------------------------------------------------------------------------

MENU = ModelMenu(SHIPPED)
USER_MODELS = MENU.user  # model id -> a model someone trained here (last 32)
get_model, model_choices = MENU.get, MENU.choices


def _class_names(dataset: str) -> list[str]:
    return data.FASHION_CLASSES if dataset == "fashion" else [str(k) for k in range(10)]


def _big(x: torch.Tensor) -> np.ndarray:
    """One (C, H, W) image as an upscaled (H', W', 3) uint8 picture."""
    return viz.upscale(viz.to_uint8(x), viz.fit_scale(x.shape[-1], 168))


# ---- reconstruct, corrupt and restore ----------------------------------------------------------------------

def _column(caption: str, x: torch.Tensor, reference: torch.Tensor | None) -> tuple[str, np.ndarray]:
    """An image over its error map against `reference` (or over blank space)."""
    top = _big(x)
    bottom = viz.error_map(reference, x, scale=top.shape[0] // x.shape[-1]) if reference is not None else \
        np.full_like(top, 255)
    return caption, viz.stack([top, bottom])


@user_errors
def reconstruct_all(source, label, index, upload):
    """Input, and each of AE / DAE / VAE's reconstruction over its error map; a table of errors."""
    x, description = pick_image(source, label, index, upload)
    columns, rows = [_column("input x", x, None)], []
    for name, title in TRIO.items():
        entry = get_model(name)
        x_hat = ae.reconstruct(entry["model"], x[None])[0]
        mse = float(((x_hat - x) ** 2).mean())
        columns.append(_column(f"{title}: x̂  (MSE {mse:.4f})", x_hat, x))
        rows.append(f"| {title} | {mse:.4f} | {entry['card']['metrics']['test_mse_per_pixel']:.4f} |")
    table = ("| model | MSE on this image | mean MSE on 1000 test images |\n|---|---|---|\n" + "\n".join(rows) +
             "\n\nMSE: mean squared error per pixel on the [−1, 1] scale. Lower row of the picture: |x − x̂|, "
             "black = 0, bright yellow ≥ 1.")
    return viz.labelled_strip(dict(columns)), f"**Input:** {description}\n\n{table}"


@user_errors
def restore(source, label, index, upload, noise, mask, seed):
    """Corrupt the input; the AE and the DAE each try to restore it. Errors against the clean image, also averaged
    over 200 test images corrupted the same way."""
    x, description = pick_image(source, label, index, upload)
    noise = check_float(noise, "noise σ", 0.0, 2.0)
    mask = check_float(mask, "masked share", 0.0, 0.95)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    g = torch.Generator().manual_seed(seed)
    x_tilde = ae.corrupt(x[None], noise, mask, g)[0]
    test = real_data("fashion", "test", 200).x
    test_tilde = ae.corrupt(test, noise, mask, torch.Generator().manual_seed(seed))
    columns = [_column("clean x", x, None), _column(f"corrupted x̃ (MSE {float(((x_tilde - x) ** 2).mean()):.3f})",
                                                    x_tilde, x)]
    rows = [f"| corrupted input x̃ (nothing done) | {float(((x_tilde - x) ** 2).mean()):.4f} | "
            f"{float(((test_tilde - test) ** 2).mean()):.4f} |"]
    for name in ("ae-fashion", "dae-fashion"):
        model = get_model(name)["model"]
        out = ae.reconstruct(model, x_tilde[None])[0]
        mse = float(((out - x) ** 2).mean())
        columns.append(_column(f"{TRIO[name]} restores (MSE {mse:.3f})", out, x))
        rows.append(f"| {TRIO[name]}: D(E(x̃)) | {mse:.4f} | {float(((ae.reconstruct(model, test_tilde) - test) ** 2).mean()):.4f} |")
    table = ("| output | MSE to the clean image | mean over 200 test images, same corruption |\n|---|---|---|\n"
             + "\n".join(rows) + f"\n\nCorruption: Gaussian noise σ = {noise:g}, then {mask:.0%} of pixels blacked "
             "out. The DAE was trained on σ up to 0.8 and up to 50 % masking; the AE only ever saw clean images.")
    return viz.labelled_strip(dict(columns)), f"**Input:** {description}\n\n{table}"


# ---- latent space ------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _view(name: str, method: str) -> dict:
    """Codes of MAP_POINTS test images, their 2-D coordinates, and the map's frame."""
    entry = get_model(name)
    spec = entry["spec"]
    test = real_data(spec.dataset, "test", MAP_POINTS)
    codes = ae.latents(entry["model"], test.x).numpy()
    points, projector = ae.project_2d(codes, method)
    lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    pad = 0.08 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    if spec.kind == "vae" and spec.latent_dim == 2:  # show the whole prior's bulk, ±3σ
        lo, hi = np.minimum(lo, -3), np.maximum(hi, 3)
    return {"codes": codes, "points": points, "projector": projector, "labels": test.y.numpy(),
            "thumbs": viz.to_uint8(test.x), "map": viz.LatentMap((lo[0], hi[0]), (lo[1], hi[1])),
            "names": _class_names(spec.dataset), "axes": ("z₁", "z₂") if codes.shape[1] == 2 else
            (("PC 1", "PC 2") if method == "pca" else ("t-SNE 1", "t-SNE 2"))}


def _method(method) -> str:
    return check_choice(method, "projection", list(METHODS.values()))


def _draw(view, marker, thumbnails) -> np.ndarray:
    return view["map"].draw(view["points"], view["labels"], view["names"], view["axes"], marker,
                            view["thumbs"] if thumbnails else None)


@user_errors
def latent_map(model_name, method, thumbnails):
    """The map, the sliders' ranges (set to the map's frame), and a note on what the axes are."""
    view = _view(model_name, _method(method))
    (x0, x1), (y0, y1) = view["map"].x_range, view["map"].y_range
    dim = view["codes"].shape[1]
    if dim == 2:
        note = "The axes are the model's own 2-D code z = (z₁, z₂): nothing is projected."
    elif view["projector"] is not None:
        share = view["projector"].explained_variance_ratio_.sum()
        note = (f"The codes have {dim} dimensions; this is the plane of their first two principal components, which "
                f"holds {share:.0%} of their variance. A point of the plane decodes as mean code + its PCA offset.")
    else:
        note = (f"The codes have {dim} dimensions; t-SNE places similar codes near each other but has no way back, "
                "so a click decodes the code of the nearest test image.")
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (_draw(view, None, thumbnails), gr.update(minimum=round(x0, 2), maximum=round(x1, 2), value=round(cx, 2)),
            gr.update(minimum=round(y0, 2), maximum=round(y1, 2), value=round(cy, 2)), note)


@user_errors
def decode_point(model_name, method, z1, z2, thumbnails):
    """Decode the point (z1, z2) of the map: the map with a cross, the decode, and the nearest test image."""
    view = _view(model_name, _method(method))
    (x0, x1), (y0, y1) = view["map"].x_range, view["map"].y_range
    z1 = check_float(z1, "z₁", x0 - (x1 - x0), x1 + (x1 - x0))
    z2 = check_float(z2, "z₂", y0 - (y1 - y0), y1 + (y1 - y0))
    nearest = int(np.argmin(((view["points"] - np.array([z1, z2])) ** 2).sum(1)))
    if view["codes"].shape[1] == 2:
        code, how = np.array([z1, z2]), f"z = ({z1:.2f}, {z2:.2f})"
    elif view["projector"] is not None:
        code, how = view["projector"].inverse_transform(np.array([[z1, z2]]))[0], f"PCA point ({z1:.2f}, {z2:.2f})"
    else:
        code, how = view["codes"][nearest], "t-SNE has no inverse: the code of the nearest test image"
    decoded = get_model(model_name)["model"].decode(torch.as_tensor(code, dtype=torch.float32)[None]).detach()[0]
    near = view["thumbs"][nearest]
    picture = viz.labelled_strip({"decoded": _big(decoded),
                                  f"nearest: {view['names'][view['labels'][nearest]]}":
                                  viz.upscale(near, 168 // near.shape[0])})
    return _draw(view, (z1, z2), thumbnails), picture, f"Decoded {how}."


def click_map(model_name, method, evt: gr.SelectData):
    """A click on the map (pixels) -> the point of the plane, put into the two sliders."""
    view = _view(model_name, _method(method))
    z1, z2 = view["map"].to_plane(*evt.index[:2])
    return round(z1, 2), round(z2, 2)


@user_errors
def manifold(model_name, method, n):
    """Decodes of an n × n grid over the map's frame (2-D codes, or the PCA plane)."""
    n = check_int(n, "grid size", 3, 20)
    view = _view(model_name, _method(method))
    model, (x0, x1), (y0, y1) = get_model(model_name)["model"], view["map"].x_range, view["map"].y_range
    if view["codes"].shape[1] != 2 and view["projector"] is None:
        raise gr.Error("t-SNE has no inverse, so there is no plane to decode: choose PCA or a 2-D model.")
    xs, ys = np.linspace(x0, x1, n), np.linspace(y1, y0, n)
    plane = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    codes = plane if view["codes"].shape[1] == 2 else view["projector"].inverse_transform(plane)
    images = model.decode(torch.as_tensor(codes, dtype=torch.float32)).detach()
    title = f"{get_model(model_name)['label']}: decodes over the plane ({view['axes'][0]} →, {view['axes'][1]} ↑)"
    return viz.labelled_grid(images, n, [f"{y:+.1f}" for y in ys], title, [f"{x:+.1f}" for x in xs], scale=2)


# ---- the prior, the reparameterisation, interpolation, β --------------------------------------------------

@user_errors
def prior(n, seed):
    """z ~ N(0, I) decoded by the AE and by the VAE (the same z for both), with measured figures."""
    n = check_int(n, "number of samples", 2, 64)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    grids, rows = [], []
    real = real_data("fashion", "test", 1000)
    for name in ("ae-fashion", "vae-fashion"):
        entry = get_model(name)
        samples = ae.prior_samples(entry["model"], n, torch.Generator().manual_seed(seed))
        live = unconditional_quality(samples, metric_classifier(), real.subset(torch.arange(n))) if metric_classifier() else None
        grids.append(viz.labelled_grid(samples, 8, [""] * ((n + 7) // 8), f"{entry['label']}: decode(z), z ~ N(0, I)", scale=2))
        card = entry["card"]["metrics"]
        codes = ae.latents(entry["model"], real.x[:500])
        live_cells = f"{live['confidence']:.2f} | {live['diversity']:.2f}" if live else "– | –"
        rows.append(f"| {entry['label']} | {live_cells} | {card.get('prior_confidence', float('nan')):.2f} | "
                    f"{card.get('prior_frechet_distance', float('nan')):.1f} | {codes.std(0).min():.2f}–{codes.std(0).max():.2f} |")
    ref = get_model("vae-fashion")["card"]["metrics"]
    table = ("| model | confidence (these samples) | diversity (these) | confidence (1000 samples) | "
             "Fréchet distance (1000) | spread of its codes: std per dimension |\n|---|---|---|---|---|---|\n" +
             "\n".join(rows) + f"\n| real test images | | | {ref.get('prior_real_confidence', float('nan')):.2f} | 0 | |\n\n"
             "**Confidence**: the shipped Fashion-MNIST classifier's mean probability for its top class — high when "
             "a sample looks like *some* garment. **Fréchet distance**: between the classifier's features of the "
             "samples and of 1000 real test images (lower is closer). **Spread of its codes**: the VAE's KL term "
             "pulls its codes towards N(0, I) (std near 1); the AE's codes live wherever training put them, so "
             "most N(0, I) draws land where no image was ever encoded.")
    return viz.side_by_side(grids), table


@functools.lru_cache(maxsize=1)
def _same_class_gap() -> float:
    """Mean |pixel difference| between two test images of the same class (20 pairs per class)."""
    test = real_data("fashion", "test", 1000)
    return float(np.mean([(test.of_class(k).x[:20] - test.of_class(k).x[20:40]).abs().mean().item() for k in range(10)]))


@user_errors
def reparam(source, label, index, upload, k, seed):
    """μ and σ of the VAE for one image, k draws of ε, and the decoded z = μ + σ ⊙ ε."""
    x, description = pick_image(source, label, index, upload)
    k = check_int(k, "number of draws", 1, 16)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    model = get_model("vae-fashion")["model"]
    out = ae.reparameterised_draws(model, x[None], k, torch.Generator().manual_seed(seed))
    mu, sigma = out["mu"].numpy(), out["sigma"].numpy()
    dims = [f"z{j + 1}" for j in range(len(mu))]
    fig = go.Figure(go.Bar(x=dims, y=mu, error_y=dict(type="data", array=sigma, thickness=1.5), name="μ ± σ",
                           marker_color=viz.PALETTE[0]))
    for i in range(min(k, 3)):
        fig.add_trace(go.Scatter(x=dims, y=out["z"][i].numpy(), mode="markers", name=f"z⁽{i + 1}⁾ = μ + σ ⊙ ε⁽{i + 1}⁾",
                                 marker=dict(size=8, symbol="x", color=viz.PALETTE[(i + 1) % len(viz.PALETTE)])))
    fig.update_layout(title="q(z | x) = N(μ, σ²) per latent dimension (bars: μ, whiskers: ±σ; crosses: draws)",
                      height=320, margin=dict(l=40, r=10, t=40, b=30), template="plotly_white")
    images = {"input x": _big(x), "decode(μ)": _big(out["mean_decoded"][0])}
    images.update({f"z⁽{i + 1}⁾": _big(out["decoded"][i]) for i in range(min(k, 6))})
    spread = float((out["decoded"] - out["mean_decoded"]).abs().mean())
    rows = "\n".join(f"| z{j + 1} | {mu[j]:+.2f} | {sigma[j]:.2f} | " +
                     " | ".join(f"{out['eps'][i, j].item():+.2f} → {out['z'][i, j].item():+.2f}" for i in range(min(k, 3)))
                     + " |" for j in range(len(mu)))
    head = "| dim | μ | σ | " + " | ".join(f"ε⁽{i + 1}⁾ → z⁽{i + 1}⁾" for i in range(min(k, 3))) + " |\n" + \
        "|---" * (3 + min(k, 3)) + "|\n"
    text = (f"**Input:** {description}\n\nThe {k} decoded draws differ from decode(μ) by {spread:.3f} per pixel on "
            f"average; two different test images of the same class differ by {_same_class_gap():.3f}. The encoder's σ is small "
            f"(mean {sigma.mean():.2f}, against 1 for the prior), so the noise makes near-identical variants.\n\n"
            + head + rows)
    return viz.labelled_strip(images), fig, text


@user_errors
def interpolate_pair(label_a, index_a, label_b, index_b, steps):
    """Decoded straight-line paths between two images' codes, for the AE and the VAE."""
    steps = check_int(steps, "steps", 3, 16)
    x_a, _ = pick_image("Fashion-MNIST", label_a, index_a, None)
    x_b, _ = pick_image("Fashion-MNIST", label_b, index_b, None)
    rows, lines, classifier = [], [], metric_classifier()
    for name in ("ae-fashion", "vae-fashion"):
        entry = get_model(name)
        path = ae.interpolate(entry["model"], x_a, x_b, steps)
        rows.append(path)
        if classifier is not None:
            probs = features_and_probs(classifier, path[1:-1])[1]
            lines.append(f"| {entry['label']} | {probs.max(1).mean():.2f} | "
                         f"{float((path[1:] - path[:-1]).abs().mean(dim=(1, 2, 3)).max()):.3f} |")
    lam = [f"λ={v:.2f}" for v in np.linspace(0, 1, steps)]
    picture = viz.labelled_grid(torch.cat(rows), steps, [TRIO[n] for n in ("ae-fashion", "vae-fashion")],
                                f"decode((1 − λ) μ(a) + λ μ(b)): {data.FASHION_CLASSES[label_a]} → "
                                f"{data.FASHION_CLASSES[label_b]}", lam, scale=3)
    table = ("| model | classifier confidence on the in-between images | largest jump between neighbours (mean |Δpixel|) "
             "|\n|---|---|---|\n" + "\n".join(lines)) if lines else ""
    return picture, table


@user_errors
def beta_compare(n, seed):
    """β = 1 against β = 0.1: reconstructions of the same test images, prior samples, and the cards' figures."""
    n = check_int(n, "number of images", 2, 12)
    seed = check_int(seed, "seed", 0, MAX_SEED)
    test = real_data("fashion", "test", 1000).x
    x = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]]
    rows, labels, lines = [x], ["test images"], []
    for name in ("vae-fashion", "vae-fashion-lowbeta"):
        entry = get_model(name)
        rows += [ae.reconstruct(entry["model"], x), ae.prior_samples(entry["model"], n, torch.Generator().manual_seed(seed))]
        beta = entry["spec"].beta
        labels += [f"β = {beta:g}: reconstruction", f"β = {beta:g}: decode(z ~ N(0, I))"]
        m = entry["card"]["metrics"]
        lines.append(f"| {beta:g} | {m['test_mse_per_pixel']:.4f} | {m.get('test_kl_nats', float('nan')):.1f} | "
                     f"{m.get('prior_confidence', float('nan')):.2f} | {m.get('prior_frechet_distance', float('nan')):.1f} |")
    table = ("| β | reconstruction MSE per pixel | KL(q(z|x) ‖ N(0, I)), nats | prior samples: classifier confidence | "
             "prior samples: Fréchet distance |\n|---|---|---|---|---|\n" + "\n".join(lines) +
             "\n\nMeasured on 1000 test images and 1000 prior samples (from each model's card). A smaller β lets the "
             "codes carry more information (more nats of KL): sharper reconstructions, but the codes drift away "
             "from N(0, I), so decoding prior draws gets worse.")
    return viz.labelled_grid(torch.cat(rows), n, labels, scale=3), table


# ---- train your own ----------------------------------------------------------------------------------------

@user_errors
def train_live(kind, dataset, latent_dim, beta, noise, mask, steps, batch, lr, seed, my_models, request: gr.Request = None):
    """Train an AE, DAE or VAE from scratch; streams (progress, loss curve, preview, model list, my models)."""
    kind = check_choice(kind, "kind", ae.KINDS)
    dataset = check_choice(dataset, "dataset", list(LIVE_CAPS))
    latent_dim = check_int(latent_dim, "latent size", 2, 32)
    caps = LIVE_CAPS[dataset]
    spec = AutoencoderSpec(kind=kind, latent_dim=latent_dim, image_size=28 if dataset == "fashion" else 8,
                           dataset=dataset, beta=check_float(beta, "β", 0.0, 10.0) if kind == "vae" else 1.0,
                           noise_std=check_float(noise, "noise σ", 0.0, 2.0) if kind == "dae" else 0.0,
                           mask_prob=check_float(mask, "masked share", 0.0, 0.95) if kind == "dae" else 0.0,
                           batch_size=check_int(batch, "batch size", 2, caps["batch"]),
                           lr=check_float(lr, "learning rate", 1e-5, 1e-1))
    steps = check_int(steps, "steps", 1, caps["steps"])
    seed = check_int(seed, "seed", 0, MAX_SEED)
    ds = real_data(dataset, "train")
    every, history, began = max(1, steps // 10), {"step": [], "recon": [], "kl": [], "loss": []}, time.perf_counter()
    scale = 3 if dataset == "fashion" else 8

    def work(push, should_stop):
        return train(spec, ds, steps, seed=seed, preview_every=every, preview_n=8, should_stop=should_stop,
                     callback=lambda *a: push(a))

    def show(item):
        step, total, metrics, preview = item
        history["step"].append(step)
        for key in ("recon", "kl", "loss"):
            history[key].append(metrics.get(key, float("nan")))
        if preview is None and step % max(1, total // 50) and step != total:
            return None
        text = (f"Step {step} of {total}: loss {metrics['loss']:.2f} (reconstruction {metrics['recon']:.2f}"
                + (f", KL {metrics['kl']:.2f} nats, β·KL {spec.beta * metrics['kl']:.2f}" if kind == "vae" else "")
                + f"), {step / (time.perf_counter() - began):.1f} steps/s")
        curves = {"reconstruction Σ(x − x̂)²": history["recon"]}
        if kind == "vae":
            curves.update({"KL (nats)": history["kl"], "total = recon + β·KL": history["loss"]})
        image = gr.update()
        if preview is not None:
            image = viz.labelled_grid(preview, 8, ["input" if kind != "dae" else "corrupted", "reconstruction",
                                                   "decode(z ~ N(0, I))"], f"step {step}", scale=scale)
        return text, viz.loss_figure(history["step"], curves, "training loss (per image)"), image, gr.update(), my_models

    with stoppable(request) as stop:
        for done, update in in_thread(work, show, stop):
            if not done:
                yield update
                continue
            model, run = update
            model_id = uuid.uuid4().hex[:12]
            title = (f"yours: {ae.KIND_TITLES[kind]}, {latent_dim}-D, {dataset}"
                     + (f", β = {spec.beta:g}" if kind == "vae" else "") + f", {len(run['step'])} steps ({model_id[:4]})")
            keep(USER_MODELS, model_id, {"model": model, "spec": spec, "card": {}, "label": title}, 32)
            mine = [*(my_models or []), (title, f"user:{model_id}")]
            stopped = " (stopped early; the model so far is kept)" if run["stopped_early"] else ""
            yield (f"Done: {len(run['step'])} steps in {run['wall_time_s']:.1f} s{stopped}. Explore it in the "
                   f"**Latent space** tab: it is in the model list as “{title}”.", gr.update(), gr.update(),
                   gr.update(choices=model_choices(mine), value=f"user:{model_id}"), mine)


# ---- layout ------------------------------------------------------------------------------------------------

ABOUT = ("An **autoencoder** squeezes a 28×28 image (784 numbers) through a bottleneck of 16 (or 2) numbers, the "
         "code z, and rebuilds it. A **denoising autoencoder** is given a corrupted image and must rebuild the clean "
         "one — the seed of diffusion, which learns to undo noise step by step. A **variational autoencoder** "
         "encodes each image as a small Gaussian cloud N(μ, σ²) instead of a point, and is penalised (KL) when "
         "that cloud strays from N(0, I); so a random z ~ N(0, I) decodes to a real-looking garment. Each tab "
         "below shows one of these claims with the shipped models, measured.")


def build(page: gr.Blocks) -> None:
    about("Autoencoders: AE, denoising AE and VAE", ABOUT,
          "$\\mathcal{L}_{\\text{VAE}} = \\lVert x - D(z) \\rVert^2 + \\beta\\,\\mathrm{KL}\\big(N(\\mu, \\sigma^2)\\,"
          "\\Vert\\,N(0, I)\\big)$ with $z = \\mu + \\sigma \\odot \\varepsilon,\\ \\varepsilon \\sim N(0, I)$ and "
          "$\\mathrm{KL} = -\\tfrac12 \\sum_j (1 + \\log\\sigma_j^2 - \\mu_j^2 - \\sigma_j^2)$.",
          "Kingma & Welling 2014, Auto-Encoding Variational Bayes, eq. 10 and Appendix B · Vincent et al. 2008, "
          "denoising autoencoders · Higgins et al. 2017, β-VAE")
    my_models = gr.State([])
    with gr.Tabs():
        with gr.Tab("Reconstruct", id="reconstruct"):
            gr.Markdown("One image through all three shipped models (16-D codes). Top: the reconstruction x̂ = D(E(x)); "
                        "bottom: where it is wrong.")
            rec = image_picker("ae-rec")
            rec_button = gr.Button("Reconstruct", variant="primary", elem_id="ae-reconstruct")
            rec_image = gr.Image(label="Input, then each model's reconstruction over its error map", format="png",
                                 interactive=False, elem_id="ae-rec-image")
            rec_text = gr.Markdown()

        with gr.Tab("Corrupt and restore", id="restore"):
            gr.Markdown("Add noise and black out pixels; the plain AE and the denoising AE each try to give back "
                        "the clean image. The table measures it on this image and on 200 test images.")
            res = image_picker("ae-res", 7)
            with gr.Row():
                res_noise = gr.Slider(0, 2, value=0.5, step=0.05, label="Noise σ (added to pixels in [−1, 1])")
                res_mask = gr.Slider(0, 0.95, value=0.25, step=0.05, label="Share of pixels masked (set to black)")
                res_seed = gr.Number(0, precision=0, minimum=0, label="Seed (the corruption)")
            res_button = gr.Button("Corrupt and restore", variant="primary")
            res_image = gr.Image(label="Clean, corrupted, the AE's and the DAE's restorations (error maps below)",
                                 format="png", interactive=False)
            res_text = gr.Markdown()

        with gr.Tab("Latent space", id="latent"):
            gr.Markdown(f"{MAP_POINTS} test images placed at their codes, coloured by class. **Click the map** or "
                        "move the two sliders: that point is decoded at once. A 2-D model is drawn as it is; a "
                        "16-D one is projected.")
            with gr.Row():
                lat_model = gr.Dropdown(model_choices(), value="vae2-fashion", label="Model", scale=3,
                                        allow_custom_value=True, elem_id="ae-lat-model")
                lat_method = gr.Dropdown([(k, v) for k, v in METHODS.items()], value="pca",
                                         label="Projection (16-D models)", scale=3)
                lat_thumbs = gr.Checkbox(False, label="Draw some images on the map", scale=1)
            with gr.Row():
                with gr.Column(scale=3):
                    lat_map = gr.Image(label="Latent map (click to decode a point)", format="png", interactive=False,
                                       elem_id="ae-lat-map")
                with gr.Column(scale=2):
                    lat_z1 = gr.Slider(-3, 3, value=0, step=0.01, label="z₁ (horizontal)", elem_id="ae-z1")
                    lat_z2 = gr.Slider(-3, 3, value=0, step=0.01, label="z₂ (vertical)", elem_id="ae-z2")
                    lat_decoded = gr.Image(label="Decoded point, and the nearest test image", format="png",
                                           interactive=False, elem_id="ae-lat-decoded")
                    lat_text = gr.Markdown()
            lat_note = gr.Markdown()
            with gr.Row():
                lat_n = gr.Slider(3, 20, value=12, step=1, label="Grid size")
                lat_grid_button = gr.Button("Decode a grid over the whole plane (the manifold)")
            lat_grid = gr.Image(label="The decoder's manifold", format="png", interactive=False)

        with gr.Tab("Sample from the prior", id="prior"):
            gr.Markdown("Draw z ~ N(0, I) and decode it — the same z for both models. The VAE was trained to make "
                        "this work; the AE never was.")
            with gr.Row():
                pr_n = gr.Slider(2, 64, value=32, step=1, label="Samples")
                pr_seed = gr.Number(0, precision=0, minimum=0, label="Seed (z)")
            pr_button = gr.Button("Sample", variant="primary")
            pr_image = gr.Image(label="AE (left) and VAE (right) decoding the same z ~ N(0, I)", format="png",
                                interactive=False)
            pr_text = gr.Markdown()

        with gr.Tab("Reparameterisation", id="reparam"):
            gr.Markdown("The VAE's encoder gives a mean μ and a spread σ for each of the 16 code dimensions. A code "
                        "is *sampled* as z = μ + σ ⊙ ε with ε ~ N(0, I), so the randomness sits in ε and gradients "
                        "flow through μ and σ. Each draw decodes to a slightly different image.")
            rp = image_picker("ae-rp", 9)
            with gr.Row():
                rp_k = gr.Slider(1, 16, value=6, step=1, label="Draws of ε")
                rp_seed = gr.Number(0, precision=0, minimum=0, label="Seed (ε)")
            rp_button = gr.Button("Encode and draw", variant="primary")
            rp_image = gr.Image(label="Input, decode(μ), and decodes of the first draws", format="png", interactive=False)
            rp_plot = gr.Plot(label="μ, σ and the draws, per dimension")
            rp_text = gr.Markdown()

        with gr.Tab("Interpolate", id="interpolate"):
            gr.Markdown("Walk a straight line between the codes of two test images and decode each point.")
            with gr.Row():
                ip_a = gr.Dropdown([(c, k) for k, c in enumerate(data.FASHION_CLASSES)], value=7, label="Image A: class")
                ip_ai = gr.Number(0, precision=0, minimum=0, label="A: index")
                ip_b = gr.Dropdown([(c, k) for k, c in enumerate(data.FASHION_CLASSES)], value=9, label="Image B: class")
                ip_bi = gr.Number(0, precision=0, minimum=0, label="B: index")
                ip_steps = gr.Slider(3, 16, value=9, step=1, label="Steps")
            ip_button = gr.Button("Interpolate", variant="primary")
            ip_image = gr.Image(label="AE (top) and VAE (bottom) paths", format="png", interactive=False)
            ip_text = gr.Markdown()

        with gr.Tab("β: sharp or sampleable", id="beta"):
            gr.Markdown("Two shipped VAEs, identical but for β, the weight of the KL term. Train more values "
                        "yourself in the last tab.")
            with gr.Row():
                bt_n = gr.Slider(2, 12, value=8, step=1, label="Images")
                bt_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            bt_button = gr.Button("Compare β", variant="primary")
            bt_image = gr.Image(label="Reconstructions and prior samples for β = 1 and β = 0.1", format="png",
                                interactive=False)
            bt_text = gr.Markdown()

        with gr.Tab("Train one yourself", id="train"):
            gr.Markdown("The same loop and loss as the shipped models, from scratch. Digits (8×8) learn in seconds; "
                        "Fashion-MNIST takes a minute or two. Your model is kept for this browser session only and "
                        "never replaces a shipped one.")
            with gr.Row():
                tr_kind = gr.Radio([("AE", "ae"), ("denoising AE", "dae"), ("VAE", "vae")], value="vae", label="Model")
                tr_dataset = gr.Dropdown([("Fashion-MNIST (28×28)", "fashion"), ("digits (8×8)", "digits")],
                                         value="digits", label="Dataset")
                tr_latent = gr.Slider(2, 32, value=2, step=1, label="Latent size")
                tr_beta = gr.Slider(0, 10, value=1, step=0.05, label="β (VAE: KL weight)")
                tr_noise = gr.Slider(0, 2, value=0.8, step=0.05, label="DAE: max noise σ")
                tr_mask = gr.Slider(0, 0.95, value=0.5, step=0.05, label="DAE: max masked share")
            tr_steps, tr_batch, tr_lr, tr_seed, tr_button, tr_text = train_controls("ae", LIVE_CAPS, tr_dataset, 1500)
            with gr.Row():
                tr_curve = gr.Plot(label="Loss per image: reconstruction (and KL, for the VAE)")
                tr_image = gr.Image(label="Preview: inputs, reconstructions, prior decodes", format="png",
                                    interactive=False)

    # ---- events ----
    rec_button.click(reconstruct_all, list(rec), [rec_image, rec_text], api_name="ae_reconstruct")
    res_button.click(restore, [*res, res_noise, res_mask, res_seed], [res_image, res_text], api_name="ae_restore")
    map_outputs = [lat_map, lat_z1, lat_z2, lat_note]
    point_inputs, point_outputs = [lat_model, lat_method, lat_z1, lat_z2, lat_thumbs], [lat_map, lat_decoded, lat_text]
    for trigger in (lat_model.change, lat_method.change, lat_thumbs.change, page.load):
        trigger(latent_map, [lat_model, lat_method, lat_thumbs], map_outputs, api_visibility="private").then(
            decode_point, point_inputs, point_outputs, api_visibility="private")
    gr.on([lat_z1.input, lat_z2.input], decode_point, point_inputs, point_outputs, api_name="ae_decode",
          trigger_mode="always_last", show_progress="hidden")
    lat_map.select(click_map, [lat_model, lat_method], [lat_z1, lat_z2], api_visibility="private").then(
        decode_point, point_inputs, point_outputs, api_visibility="private", show_progress="hidden")
    lat_grid_button.click(manifold, [lat_model, lat_method, lat_n], lat_grid, api_name="ae_manifold")
    pr_button.click(prior, [pr_n, pr_seed], [pr_image, pr_text], api_name="ae_prior")
    rp_button.click(reparam, [*rp, rp_k, rp_seed], [rp_image, rp_plot, rp_text], api_name="ae_reparam")
    ip_button.click(interpolate_pair, [ip_a, ip_ai, ip_b, ip_bi, ip_steps], [ip_image, ip_text], api_name="ae_interpolate")
    bt_button.click(beta_compare, [bt_n, bt_seed], [bt_image, bt_text], api_name="ae_beta")

    tr_button.click(train_live, [tr_kind, tr_dataset, tr_latent, tr_beta, tr_noise, tr_mask, tr_steps, tr_batch, tr_lr,
                                 tr_seed, my_models], [tr_text, tr_curve, tr_image, lat_model, my_models], api_name="ae_train")
    page.load(reconstruct_all, list(rec), [rec_image, rec_text], api_visibility="private")


def demo() -> gr.Blocks:
    with gr.Blocks(title="Autoencoders") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
