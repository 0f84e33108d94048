"""Tab "Corrupt & restore": noise and masking, undone by the plain AE and by the denoising AE."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from playground import autoencoders as ae
from playground.viz import autoencoders as ae_viz

from ..common import check_float, check_seed, image_picker, pick_image, real_data, user_errors
from .layout import picture
from .models import TRIO, model

TEST_IMAGES = 200  # test images the table averages over


class Restoration(NamedTuple):
    image: Any  # clean, corrupted, and each model's restoration over its error map
    text: str  # a table of errors against the clean image


@user_errors
def restore(source, label, index, upload, noise, mask, seed) -> Restoration:
    """Corrupt the input; the AE and the DAE each try to restore it. Errors against the clean image, also averaged
    over TEST_IMAGES test images corrupted the same way."""
    x, description = pick_image(source, label, index, upload)
    noise = check_float(noise, "noise σ", 0.0, 2.0)
    mask = check_float(mask, "masked share", 0.0, 0.95)
    seed = check_seed(seed)
    x_tilde = ae.corrupt(x[None], noise, mask, seed)[0]
    test = real_data("fashion", "test", TEST_IMAGES).x
    test_tilde = ae.corrupt(test, noise, mask, seed)
    corrupted = float(ae.mse(x_tilde, x))
    columns = {"clean x": (x, None), f"corrupted x̃ (MSE {corrupted:.3f})": (x_tilde, x)}
    rows = [f"| corrupted input x̃ (nothing done) | {corrupted:.4f} | {float(ae.mse(test_tilde, test).mean()):.4f} |"]
    for name in ("ae-fashion", "dae-fashion"):
        network = model(name).model
        out = ae.reconstruct(network, x_tilde[None])[0]
        error = float(ae.mse(out, x))
        columns[f"{TRIO[name]} restores (MSE {error:.3f})"] = (out, x)
        mean = float(ae.mse(ae.reconstruct(network, test_tilde), test).mean())
        rows.append(f"| {TRIO[name]}: D(E(x̃)) | {error:.4f} | {mean:.4f} |")
    table = ("| output | MSE to the clean image | mean over 200 test images, same corruption |\n|---|---|---|\n"
             + "\n".join(rows) + f"\n\nCorruption: Gaussian noise σ = {noise:g}, then {mask:.0%} of pixels blacked "
             "out. The DAE was trained on σ up to 0.8 and up to 50 % masking; the AE only ever saw clean images.")
    return Restoration(ae_viz.error_strip(columns), f"**Input:** {description}\n\n{table}")


def build() -> None:
    gr.Markdown("Add noise and black out pixels; the plain AE and the denoising AE each try to give back "
                "the clean image. The table measures it on this image and on 200 test images.")
    picker = image_picker("ae-res", 7)
    with gr.Row():
        noise = gr.Slider(0, 2, value=0.5, step=0.05, label="Noise σ (added to pixels in [−1, 1])")
        mask = gr.Slider(0, 0.95, value=0.25, step=0.05, label="Share of pixels masked (set to black)")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (the corruption)")
    button = gr.Button("Corrupt and restore", variant="primary")
    image = picture("Clean, corrupted, the AE's and the DAE's restorations (error maps below)")
    text = gr.Markdown()
    button.click(restore, [*picker, noise, mask, seed], [image, text], api_name="ae_restore")
