"""Tab "Latent space": a thousand test images at their codes; click the map (or move the sliders) to decode
a point, or decode a whole grid over the plane (the decoder's manifold)."""
from __future__ import annotations

import weakref
from typing import Any, NamedTuple

import gradio as gr
import numpy as np

from playground import autoencoders as ae
from playground import data, viz
from playground.models import Loaded
from playground.viz import autoencoders as ae_viz

from ..common import check_choice, check_float, check_int, real_data, user_errors
from .layout import picture
from .models import MENU, model

MAP_POINTS = 1000  # test images on a latent map
METHODS = {"PCA (a linear projection; any point of the plane decodes)": "pca",
           "t-SNE (keeps neighbours; no inverse, so a click decodes the nearest image's code)": "tsne"}


class Shown(NamedTuple):
    """A model's latent map as the tab draws it."""

    view: ae.LatentView  # codes, their places on the plane, the frame
    plane: viz.LatentMap  # plane <-> pixels of the picture
    thumbs: np.ndarray  # (N, h, w, 3) uint8 test images, drawn on the map on request
    names: list[str]  # class names
    axes: tuple[str, str]  # the axes' names


# A cache, not a store: each model's maps are kept while its handle lives (shipped models: always; a browser's own
# model: until its session drops it), and only a caller holding the handle can reach them.
_SHOWN: weakref.WeakKeyDictionary[Loaded, dict[str, Shown]] = weakref.WeakKeyDictionary()


def shown(handle: Loaded, method: str) -> Shown:
    """The model's map for a projection method ("pca" or "tsne"), computed once."""
    maps = _SHOWN.setdefault(handle, {})
    if method not in maps:
        test = real_data(handle.dataset, "test", MAP_POINTS)
        view = ae.latent_view(handle.model, test.x, test.y, method)
        axes = ("z₁", "z₂") if view.codes.shape[1] == 2 else \
            (("PC 1", "PC 2") if method == "pca" else ("t-SNE 1", "t-SNE 2"))
        maps[method] = Shown(view, viz.LatentMap(view.x_range, view.y_range), viz.to_uint8(test.x),
                             data.class_names(handle.dataset), axes)
    return maps[method]


def _shown(model_name, method, my_models) -> tuple[Loaded, Shown]:
    handle = model(model_name, my_models)
    return handle, shown(handle, check_choice(method, "projection", list(METHODS.values())))


def _draw(map_: Shown, marker, thumbnails) -> np.ndarray:
    return ae_viz.latent_map(map_.view, map_.names, map_.axes, marker, map_.thumbs if thumbnails else None,
                             plane=map_.plane)


class MapUpdate(NamedTuple):
    map: Any  # the latent map, no cross
    z1: Any  # the z₁ slider: range set to the map's frame, at its centre
    z2: Any  # the z₂ slider
    note: str  # what the axes are


class DecodedPoint(NamedTuple):
    map: Any  # the map with a cross at the point
    decoded: Any  # the decode, next to the nearest test image
    text: str  # which code was decoded


class ClickedPoint(NamedTuple):
    z1: float  # the clicked point, for the two sliders
    z2: float


@user_errors
def latent_map(model_name, method, thumbnails, my_models=None) -> MapUpdate:
    """The map, the sliders' ranges (set to the map's frame), and a note on what the axes are."""
    _, map_ = _shown(model_name, method, my_models)
    view = map_.view
    (x0, x1), (y0, y1) = view.x_range, view.y_range
    dim = view.codes.shape[1]
    if dim == 2:
        note = "The axes are the model's own 2-D code z = (z₁, z₂): nothing is projected."
    elif view.explained_variance is not None:
        note = (f"The codes have {dim} dimensions; this is the plane of their first two principal components, which "
                f"holds {view.explained_variance:.0%} of their variance. A point of the plane decodes as mean code + "
                "its PCA offset.")
    else:
        note = (f"The codes have {dim} dimensions; t-SNE places similar codes near each other but has no way back, "
                "so a click decodes the code of the nearest test image.")
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return MapUpdate(_draw(map_, None, thumbnails),
                     gr.update(minimum=round(x0, 2), maximum=round(x1, 2), value=round(cx, 2)),
                     gr.update(minimum=round(y0, 2), maximum=round(y1, 2), value=round(cy, 2)), note)


@user_errors
def decode_point(model_name, method, z1, z2, thumbnails, my_models=None) -> DecodedPoint:
    """Decode the point (z1, z2) of the map: the map with a cross, the decode, and the nearest test image."""
    handle, map_ = _shown(model_name, method, my_models)
    view = map_.view
    (x0, x1), (y0, y1) = view.x_range, view.y_range
    z1 = check_float(z1, "z₁", x0 - (x1 - x0), x1 + (x1 - x0))
    z2 = check_float(z2, "z₂", y0 - (y1 - y0), y1 + (y1 - y0))
    nearest = view.nearest((z1, z2))
    if view.codes.shape[1] == 2:
        how = f"z = ({z1:.2f}, {z2:.2f})"
    elif view.invertible:
        how = f"PCA point ({z1:.2f}, {z2:.2f})"
    else:
        how = "t-SNE has no inverse: the code of the nearest test image"
    decoded = ae.decode(handle.model, view.code_at((z1, z2))[None])[0]
    picture = ae_viz.decoded_and_nearest(decoded, map_.thumbs[nearest], map_.names[view.labels[nearest]])
    return DecodedPoint(_draw(map_, (z1, z2), thumbnails), picture, f"Decoded {how}.")


def click_map(model_name, method, evt: gr.SelectData, my_models=None) -> ClickedPoint:
    """A click on the map (pixels) -> the point of the plane, put into the two sliders."""
    _, map_ = _shown(model_name, method, my_models)
    z1, z2 = map_.plane.to_plane(*evt.index[:2])
    return ClickedPoint(round(z1, 2), round(z2, 2))


@user_errors
def manifold(model_name, method, n, my_models=None):
    """Decodes of an n × n grid over the map's frame (2-D codes, or the PCA plane): one picture."""
    n = check_int(n, "grid size", 3, 20)
    handle, map_ = _shown(model_name, method, my_models)
    xs, ys, codes = map_.view.plane(n)
    title = f"{handle.label}: decodes over the plane ({map_.axes[0]} →, {map_.axes[1]} ↑)"
    return viz.labelled_grid(ae.decode(handle.model, codes), n, [f"{y:+.1f}" for y in ys], title,
                             [f"{x:+.1f}" for x in xs], scale=2)


def build(page: gr.Blocks, my_models: gr.State) -> gr.Dropdown:
    """The tab's layout and events; returns the model menu (the Train tab adds this browser's models to it)."""
    gr.Markdown(f"{MAP_POINTS} test images placed at their codes, coloured by class. **Click the map** or "
                "move the two sliders: that point is decoded at once. A 2-D model is drawn as it is; a "
                "16-D one is projected.")
    with gr.Row():
        model_menu = gr.Dropdown(MENU.choices(), value="vae2-fashion", label="Model", scale=3,
                                 allow_custom_value=True, elem_id="ae-lat-model")
        method = gr.Dropdown([(k, v) for k, v in METHODS.items()], value="pca", label="Projection (16-D models)",
                             scale=3)
        thumbs = gr.Checkbox(False, label="Draw some images on the map", scale=1)
    with gr.Row():
        with gr.Column(scale=3):
            map_image = picture("Latent map (click to decode a point)", "ae-lat-map")
        with gr.Column(scale=2):
            z1 = gr.Slider(-3, 3, value=0, step=0.01, label="z₁ (horizontal)", elem_id="ae-z1")
            z2 = gr.Slider(-3, 3, value=0, step=0.01, label="z₂ (vertical)", elem_id="ae-z2")
            decoded = picture("Decoded point, and the nearest test image", "ae-lat-decoded")
            text = gr.Markdown(elem_id="ae-lat-text")
    note = gr.Markdown()
    with gr.Row():
        n = gr.Slider(3, 20, value=12, step=1, label="Grid size")
        grid_button = gr.Button("Decode a grid over the whole plane (the manifold)")
    grid = picture("The decoder's manifold")

    map_inputs, map_outputs = [model_menu, method, thumbs, my_models], [map_image, z1, z2, note]
    point_inputs, point_outputs = [model_menu, method, z1, z2, thumbs, my_models], [map_image, decoded, text]
    for trigger in (model_menu.change, method.change, thumbs.change, page.load):
        trigger(latent_map, map_inputs, map_outputs, api_visibility="private").then(
            decode_point, point_inputs, point_outputs, api_visibility="private")
    gr.on([z1.input, z2.input], decode_point, point_inputs, point_outputs, api_name="ae_decode",
          trigger_mode="always_last", show_progress="hidden")
    map_image.select(click_map, [model_menu, method, my_models], [z1, z2], api_visibility="private").then(
        decode_point, point_inputs, point_outputs, api_visibility="private", show_progress="hidden")
    grid_button.click(manifold, [model_menu, method, n, my_models], grid, api_name="ae_manifold")
    return model_menu
