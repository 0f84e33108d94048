"""Choosing an image: a test image by class and index, or an upload of any format."""
from __future__ import annotations

import functools

import gradio as gr
import torch

from playground import data

from .checks import check_choice, check_int


def upload_path(upload) -> str | None:
    """The file path of a gr.File value (a path, a FileData or its dict), or None when nothing was uploaded."""
    if not upload:
        return None
    return upload if isinstance(upload, str) else getattr(upload, "path", None) or upload.get("path")


@functools.lru_cache(maxsize=16)
def _upload(path: str, size: int) -> tuple:
    x = data.load_image(path, size=size, channels=1)
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=-1)
    inverted = bool(border.mean() > 0)  # Fashion-MNIST and digits are light on black: flip dark-on-light pictures
    return (-x if inverted else x), inverted


def pick_image(source, label, index, upload, dataset: str = "fashion") -> tuple:
    """A (1, side, side) gray image in [-1, 1] of `dataset` (fashion 28×28, digits 8×8) and a line saying what it is."""
    check_choice(source, "source", ["Fashion-MNIST", "upload"])
    side = 28 if dataset == "fashion" else 8
    if source == "upload":
        path = upload_path(upload)
        if path is None:
            raise gr.Error("Choose an image file to upload first.")
        try:
            x, inverted = _upload(path, side)
        except data.ImageError as err:
            raise gr.Error(f"{err}. Try another file.") from None
        return x, (f"your upload, centre-cropped to {side}×{side} gray" +
                   (", and inverted (light on black, like the training images)" if inverted else ""))
    label = check_int(label, "class", 0, 9)
    index = check_int(index, "index", 0, data.class_count(dataset, label) - 1)
    return data.example(dataset, label, index)


def image_picker(prefix: str, default_label: int = 0):
    """Source (test image or upload), class, index and upload controls; returns the four components."""
    with gr.Row():
        source = gr.Radio(["Fashion-MNIST", "upload"], value="Fashion-MNIST", label="Image", scale=2)
        label = gr.Dropdown([(c, k) for k, c in enumerate(data.FASHION_CLASSES)], value=default_label,
                            label="Class", scale=2)
        index = gr.Number(0, precision=0, minimum=0, label="Index in its class (test set)", scale=1)
        upload = gr.File(label="Your image: any format, mode or size", type="filepath", visible=False, scale=3,
                         elem_id=f"{prefix}-upload", height=110)
    source.change(lambda s: (gr.update(visible=s == "upload"), gr.update(visible=s != "upload"),
                             gr.update(visible=s != "upload")), source, [upload, label, index], api_visibility="private")
    return source, label, index, upload
