"""/text-to-image, tabs img2img and inpainting: the handlers on a tiny model (and on the shipped one when present),
closed-form checks (t = strength · T; a pixel-space model leaves the unmasked pixels exactly as they were; the
painted canvas read by the >50 % rule), bad input refused with clear messages, directly and through the HTTP API,
and a browser run of both tabs (painting a mask with the mouse)."""
import os
import re

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

from pages.text_to_image import img2img, inpaint
from playground import checkpoints, text_to_image as t2i
from playground.models import Loaded
from test_text_to_image import tiny_spec

SHIPPED = "ldm-scenes" in checkpoints.available()
needs_shipped = pytest.mark.skipif(not SHIPPED, reason="ldm-scenes is not shipped yet")


def _tiny(latent_space: bool) -> Loaded:
    torch.manual_seed(0)
    spec = tiny_spec(latent_space)
    return Loaded("tiny", spec.build().eval(), spec)


@pytest.fixture(scope="module", params=["latent", "pixel"])
def tiny(request):
    return _tiny(request.param == "latent")


@pytest.fixture
def use(monkeypatch):
    """use(handle): the tabs' model menu answers with this handle (a tiny model: fast, and here before any ship)."""
    def _use(handle):
        for module in (img2img, inpaint):
            monkeypatch.setattr(module, "get_model", lambda name, handle=handle: handle)
        monkeypatch.setattr(inpaint, "clip_model", lambda: None)
        return handle
    return _use


def _edit(**kw):
    args = dict(model="ldm-scenes", source="test scene", index=0, upload=None, light=True,
                prompt="a large green square in the centre", negative="", strength=0.5, scale=3.0, steps=4, seed=0)
    args.update(kw)
    return list(img2img.edit(**args))


def _inpaint(**kw):
    args = dict(model="ldm-scenes", source="test scene", index=0, upload=None, light=True, mask_choice="left half",
                painted=None, prompt="a small red circle on the left", negative="", scale=3.0, steps=3, seed=0, n=2)
    args.update(kw)
    return list(inpaint.inpaint(**args))


def _number(pattern, text):
    return float(re.search(pattern, text).group(1))


# ---- img2img -------------------------------------------------------------------------------------------------

def test_img2img_starts_at_strength_times_T_and_measures_the_change(tiny, use):
    use(tiny)
    T = tiny.schedule.num_steps  # 50
    updates = _edit(strength=0.5, steps=8)
    assert all(u.picture.ndim == 3 for u in updates) and updates[0].info.startswith("Step ")
    text = updates[-1].info
    assert f"t = round(0.5 · {T}) = {T // 2}" in text and "4 DDIM steps" in text  # 0.5 · 8 steps over [t, 0]
    # the measured change is that of the library's own run with these settings
    image = img2img.pick_scene("test scene", 0, None)[0]
    step = list(t2i.img2img_steps(tiny, image, "a large green square in the centre", 0.5, 3.0, 8, 0))[-1]
    result = tiny.model.decode(step.x_t)[0].clamp(-1, 1)
    assert _number(r"Mean \|pixel change\| from the input: (\d\.\d+)", text) == pytest.approx(
        float((result - image).abs().mean()), abs=6e-4)
    assert "Scene truth reads the result as" in text and "autoencoder alone" in text


def test_the_strength_sweep_streams_rows_and_plots_the_trade_off(use):
    tiny = use(_tiny(True))
    updates = list(img2img.sweep("ldm-scenes", "test scene", 3, None, True, "a red circle", "", 3.0, 2))
    assert len(updates) == len(img2img.SWEEP_STRENGTHS)
    heights = [u.grid.shape[0] for u in updates]
    assert heights == sorted(heights) and heights[0] < heights[-1]  # the grid grows a row per strength
    last = updates[-1]
    assert isinstance(last.plot, go.Figure) and list(last.plot.data[0].x) == list(img2img.SWEEP_STRENGTHS)
    reference = t2i.strength_sweep(tiny, img2img.pick_scene("test scene", 3, None)[0], "a red circle", (0.2, 1.0),
                                   3.0, 2, img2img.SWEEP_SEEDS)
    assert last.plot.data[0].y[0] == pytest.approx(reference["distance"][0])
    assert last.plot.data[0].y[-1] == pytest.approx(reference["distance"][-1])
    assert all(0 <= y <= 1 for y in last.plot.data[1].y) and "The trade-off, measured" in last.info


def test_an_upload_of_any_format_is_edited_and_inpainted_and_a_non_image_refused(use, tmp_path):
    use(_tiny(True))
    drawing = tmp_path / "drawing.gif"
    picture = Image.new("RGB", (300, 200), (250, 250, 250))  # light paper, not square
    ImageDraw.Draw(picture).ellipse([110, 60, 190, 140], fill=(220, 30, 30))
    picture.convert("P").save(drawing)  # as a palette GIF
    text = _edit(source="upload", upload=str(drawing), steps=2)[-1].info
    assert "your upload, centre-cropped to 32×32" in text and "light background made dark" in text
    assert "your upload" in _inpaint(source="upload", upload=str(drawing), n=1)[-1].info
    junk = tmp_path / "notes.png"
    junk.write_text("not an image")
    with pytest.raises(gr.Error, match="not an image that can be read"):
        _edit(source="upload", upload=str(junk))


@pytest.mark.parametrize("kw, message", [
    (dict(strength=0), "strength must be a number from 0.05 to 1"), (dict(strength=1.5), "strength must be"),
    (dict(strength=float("nan")), "strength must be"), (dict(steps=0), "steps must be"),
    (dict(scale=-1), "guidance scale must be"), (dict(seed=-3), "seed must be"),
    (dict(prompt=""), "empty"), (dict(prompt="a red unicorn"), "never learned: 'unicorn'"),
    (dict(source="imagenet"), "image source must be one of"), (dict(index=10**6), "test scene must be"),
    (dict(source="upload"), "Choose an image file"),
])
def test_img2img_refuses_bad_input_clearly(use, kw, message):
    use(_tiny(True))
    with pytest.raises(gr.Error, match=message):
        _edit(**kw)


# ---- inpainting ----------------------------------------------------------------------------------------------

def _editor(mask_rows: int = 0, side: int = 256, background: int | None = 256) -> dict:
    """An editor value whose layer is painted (alpha 255) over its first `mask_rows` canvas rows."""
    layer = np.zeros((side, side, 4), dtype=np.uint8)
    layer[:mask_rows] = (255, 0, 255, 255)
    bg = None if background is None else np.zeros((background, background, 3), dtype=np.uint8)
    return {"background": bg, "layers": [layer], "composite": None}


def test_the_painted_canvas_is_read_by_the_more_than_half_rule():
    assert not inpaint.painted_mask(_editor(4)).any()  # 4 of a block's 8 rows painted: exactly half, not masked
    mask = inpaint.painted_mask(_editor(5))  # 5 of 8: more than half
    assert mask.shape == (32, 32) and mask[0].all() and not mask[1:].any()
    assert inpaint.painted_mask(_editor(64)).sum() == 8 * 32
    small = inpaint.painted_mask(_editor(3, side=32, background=None))  # a 32×32 layer is read pixel for pixel
    assert small[:3].all() and not small[3:].any()
    for name, rows in [("left half", None), ("top half", slice(0, 16)), ("centre square", slice(8, 24))]:
        mask = inpaint.preset_mask(name)
        assert mask.sum() == (256 if name == "centre square" else 512)
        if rows is not None:
            assert mask[rows].any(dim=1).all()
    value = inpaint.canvas(torch.zeros(3, 32, 32), "left half")  # the preset is tinted on the picture
    assert value["background"].shape[:2] == (256, 256) and value["layers"] == []
    grey = value["background"][:, 128:]  # a picture of zeros is mid-grey; the tinted half is magenta-ish
    assert (grey == 128).all() and (value["background"][:, :128, 0] > value["background"][:, :128, 1] + 100).all()


def test_a_pixel_model_leaves_the_unmasked_pixels_exactly_and_a_latent_one_whole_cells(use):
    use(_tiny(False))
    updates = _inpaint(mask_choice="centre square", n=2)
    assert updates[0].info.startswith("Step ") and updates[-1].picture.ndim == 3
    text = updates[-1].info
    assert "outside it: 0.000" in text and "256 of 1024 pixels masked" in text and "256 regenerated" in text
    assert _number(r"inside the mask: (\d\.\d+)", text) > 0.01
    # a latent model: one painted pixel regenerates its whole 4×4 cell
    use(_tiny(True))
    one = np.zeros((256, 256, 4), dtype=np.uint8)
    one[40:48, 72:80] = 255  # the 32×32 pixel (5, 9)
    text = _inpaint(mask_choice=inpaint.PAINTED, painted={"background": None, "layers": [one]}, n=1)[-1].info
    assert "1 of 1024 pixels masked" in text and "16 regenerated as whole 4×4 latent cells" in text
    assert "outside every regenerated cell" in text and "What the judge read: 1." in text


def test_the_editor_follows_the_picture_and_painting_adds_to_the_tinted_preset():
    out = inpaint.show_canvas("test scene", 2, None, True, "top half")
    assert out.base == "top half" and out.editor["background"].shape == (256, 256, 3)
    assert inpaint.show_canvas("test scene", 2, None, True, inpaint.PAINTED).base is None
    assert inpaint.show_canvas("upload", 0, None, True, "left half") == (gr.update(), gr.update())
    strokes = _editor(64)  # the top 8 pixel rows painted, over the tinted "left half"
    both = inpaint.read_mask(inpaint.PAINTED, strokes, base="left half")
    assert both.sum() == 512 + 8 * 16 and both[:8].all() and both[:, :16].all()
    assert inpaint.read_mask(inpaint.PAINTED, strokes).sum() == 8 * 32  # on a clean picture: the strokes alone
    assert inpaint.read_mask(inpaint.PAINTED, None, base="left half").sum() == 512  # not painted yet: the preset
    assert inpaint.read_mask("centre square", strokes).sum() == 256  # a preset ignores the strokes
    assert inpaint.on_paint(strokes) == inpaint.PAINTED and inpaint.on_paint(_editor(0)) == gr.update()


@pytest.mark.parametrize("kw, message", [
    (dict(mask_choice=inpaint.PAINTED, painted=_editor(0)), "The mask is empty"),
    (dict(mask_choice=inpaint.PAINTED, painted=None), "Nothing is painted"),
    (dict(mask_choice=inpaint.PAINTED, painted=_editor(64, side=28, background=None)), "must be square, at least 32"),
    (dict(mask_choice=inpaint.PAINTED, painted=_editor(64, side=128)), "got 128×128, 256×256"),
    (dict(mask_choice="a circle"), "mask must be one of"), (dict(n=9), "number of images must be"),
    (dict(prompt="a red unicorn"), "never learned"), (dict(negative="zebra"), "never learned"),
    (dict(steps=10**6), "steps must be"),
])
def test_inpainting_refuses_bad_input_clearly(use, kw, message):
    use(_tiny(True))
    with pytest.raises(gr.Error, match=message):
        _inpaint(**kw)


@needs_shipped
def test_the_shipped_model_keeps_more_of_the_picture_at_low_strength():
    low = _edit(strength=0.2, steps=20)[-1].info
    high = _edit(strength=1.0, steps=20)[-1].info
    change = lambda text: _number(r"from the input: (\d\.\d+)", text)  # noqa: E731
    assert change(low) < change(high)


# ---- through the HTTP API --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


@pytest.fixture(scope="module")
def wrong_size(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inpaint")
    Image.new("RGBA", (28, 30), (255, 0, 255, 255)).save(folder / "layer.png")
    Image.new("RGB", (256, 256)).save(folder / "background.png")
    Image.new("RGBA", (256, 256), (0, 0, 0, 0)).save(folder / "empty.png")
    return folder


@needs_shipped
def test_the_api_edits_inpaints_and_refuses_bad_input(client, wrong_size):
    picture, info = client.predict("ldm-scenes", "test scene", 0, None, True, "a red circle", "", 0.3, 3.0, 5, 0,
                                   api_name="/t2i_img2img")
    assert "Mean |pixel change| from the input" in info and os.path.exists(picture)
    for strength, message in [(0.0, "strength must be"), (2.0, "strength must be")]:
        with pytest.raises(AppError, match=message + "|greater than maximum|less than minimum") as err:
            client.predict("ldm-scenes", "test scene", 0, None, True, "a red circle", "", strength, 3.0, 5, 0,
                           api_name="/t2i_img2img")
        assert "Traceback" not in str(err.value)

    def fill(mask_choice, painted, prompt="a red circle"):
        return client.predict("ldm-scenes", "test scene", 0, None, True, mask_choice, painted, prompt, "", 3.0, 3, 0,
                              1, api_name="/t2i_inpaint")
    _, info = fill("right half", None)
    assert "inside the mask" in info
    background = handle_file(str(wrong_size / "background.png"))
    for layer, message in [("layer.png", "must be square, at least 32×32"), ("empty.png", "The mask is empty")]:
        with pytest.raises(AppError, match=message) as err:
            fill(inpaint.PAINTED, {"background": background, "layers": [handle_file(str(wrong_size / layer))],
                                   "composite": None})
        assert "Traceback" not in str(err.value)
    with pytest.raises(AppError, match="never learned"):
        fill("left half", None, "a purple unicorn")


# ---- in a browser ----------------------------------------------------------------------------------------------

from browsing import assert_in_first_screen  # noqa: E402
from test_browser import CHROMIUM, browser, page  # noqa: E402,F401


@needs_shipped
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_img2img_and_a_painted_inpainting(page, server_url, artifacts_dir):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(server_url + "/text-to-image")
    page.get_by_role("tab", name="img2img").click()
    page.locator("#t2i-i2i-steps input[type=number]").fill("10")
    page.locator("#t2i-i2i-steps input[type=number]").press("Enter")
    page.locator("#t2i-i2i-run").click()
    page.locator("#t2i-i2i-info").get_by_text("Mean |pixel change| from the input").wait_for(timeout=60_000)
    page.evaluate("() => window.scrollTo(0, 0)")  # filling the steps box may have scrolled it into view
    assert_in_first_screen(page, "#t2i-i2i-run")
    assert_in_first_screen(page, "#t2i-i2i-picture", min_visible=180)
    page.screenshot(path=os.path.join(artifacts_dir, "t2i-img2img.png"))
    page.locator("#t2i-i2i-sweep").click()
    page.locator("#t2i-i2i-sweep-info").get_by_text("The trade-off, measured").wait_for(timeout=120_000)
    page.locator("#t2i-i2i-plot .js-plotly-plot").wait_for(timeout=30_000)
    page.screenshot(path=os.path.join(artifacts_dir, "t2i-img2img-sweep.png"), full_page=True)

    page.evaluate("() => window.scrollTo(0, 0)")
    page.get_by_role("tab", name="Inpainting").click()
    page.locator("#t2i-inp-steps input[type=number]").fill("10")
    page.locator("#t2i-inp-steps input[type=number]").press("Enter")
    canvas = page.locator("#t2i-inp-editor canvas").first
    canvas.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    assert page.locator("#t2i-inp-mask input").input_value() == "left half"  # showing the canvas is not painting
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5, steps=12)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('#t2i-inp-mask input').value === 'painted on the picture'",
                           timeout=15_000)
    page.locator("#t2i-inp-run").click()
    page.locator("#t2i-inp-info").get_by_text("inside the mask").wait_for(timeout=60_000)
    page.evaluate("() => window.scrollTo(0, 0)")
    assert "(painted on the picture)" in page.locator("#t2i-inp-info").inner_text()
    page.screenshot(path=os.path.join(artifacts_dir, "t2i-inpaint.png"))
    assert_in_first_screen(page, "#t2i-inp-run")
    assert_in_first_screen(page, "#t2i-inp-picture", min_visible=150)
    assert not page.console_errors, page.console_errors
