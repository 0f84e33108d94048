"""/text-to-image, tabs "Cross-attention", "Guidance scale" and "Negative prompt": the handlers on a tiny random
model (named results, the recorded maps re-shown without sampling, closed-form checks of where attention falls,
identical rows where the equation says so), bad input refused with clear messages directly and through the HTTP
API, and a browser run of each tab's main button on the shipped model."""
import math
import os

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError

from pages.text_to_image import attention, guidance, negative
from playground import checkpoints, text_to_image as t2i
from playground.data import Scene, SceneObject, render
from playground.models import Loaded

from test_text_to_image import tiny_spec

SHIPPED = "ldm-scenes" in checkpoints.available()
needs_model = pytest.mark.skipif(not SHIPPED, reason="ldm-scenes is not shipped")
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)
CARD = {"metrics": {"single_object_by_scale": {
    "1.0": {"n": 256, "shape_colour": 0.5, "correct": 0.25, "clip_score": 1.1},
    "3.0": {"n": 256, "shape_colour": 0.75, "correct": 0.5, "clip_score": 1.3}}}}


@pytest.fixture(scope="module")
def tiny():
    """A tiny random text-to-image model (50 steps, the caption grammar's words), with a card holding figures."""
    torch.manual_seed(0)
    spec = tiny_spec()
    return Loaded("tiny", spec.build().eval(), spec, card=CARD)


@pytest.fixture
def on_tiny(tiny, monkeypatch):
    """The tabs' handlers see the tiny model whatever the model menu says."""
    for module in (attention, guidance, negative):
        monkeypatch.setattr(module, "get_model", lambda name, *_: tiny)
    return tiny


# ---- cross-attention ---------------------------------------------------------------------------------------------

PROMPT = "a red circle on the left"


def test_attention_records_every_step_and_shows_another_without_sampling(on_tiny, monkeypatch):
    out = attention.attention(None, PROMPT, 0, 3, 2, attention.ALL)
    run = out.run
    assert isinstance(out.picture, np.ndarray) and out.picture.ndim == 3
    assert run.tokens == ["a", "red", "circle", "on", "the", "left", "<eot>"] and run.steps == 3
    names = t2i.attention_layers(on_tiny)
    assert list(run.layers) == names and out.layer["choices"][0] == (attention.ALL_LABEL, attention.ALL)
    for maps in run.layers.values():  # at each position a softmax over the tokens: the weights sum to 1
        assert maps.shape[:2] == (3, 7)
        torch.testing.assert_close(maps.float().sum(1), torch.ones_like(maps[:, 0].float()), atol=3e-3, rtol=0)
    assert "DDIM step **2 of 3**" in out.text and "softmax(QKᵀ/√d)" in out.text and "averaged over 2 heads" in out.text
    assert "all 5 cross-attention layers" in out.text and "“red”" in out.text and "left half" in out.text
    # the recorded step k is what attention_maps records when asked for step k alone
    alone = t2i.attention_maps(on_tiny, PROMPT, 2, steps=3, seed=0)
    for name in names:
        torch.testing.assert_close(run.layers[name][1].float(), alone["layers"][name], atol=1e-3, rtol=0)

    def no_sampling(*args, **kwargs):
        raise AssertionError("showing a recorded step must not sample")
    monkeypatch.setattr(t2i, "generate_steps", no_sampling)
    picture, text = attention.show(1, names[0], run)
    assert picture.ndim == 3 and f"layer {names[0]}" in text and "step **1 of 3**" in text


def test_attention_inside_an_object_and_a_half_in_closed_form():
    image = torch.from_numpy(np.array(render(Scene((SceneObject("circle", "red", "large", 0, 0),))))).permute(2, 0, 1)
    image = image.float() / 127.5 - 1
    tokens = ["red", "circle", "left", "right", "blue", "<eot>"]
    maps = torch.ones(len(tokens), 8, 8)  # uniform: the share inside equals the object's area share
    maps[2, :, 4:] = 0  # "left" looks only at the left half
    maps[0] = 0
    maps[0, 1, 1] = 1  # "red" looks only at one cell well inside the circle (pixels 4–7 of a circle of radius 11.5)
    found = t2i.attention_inside(maps, tokens, image)
    assert found["red"]["share"] == pytest.approx(1.0) and found["red"]["objects"] == 1
    assert found["circle"]["share"] == pytest.approx(found["circle"]["chance"])
    assert 0.1 < found["circle"]["chance"] < 0.5
    assert found["left"]["share"] == pytest.approx(1.0) and found["right"]["share"] == pytest.approx(0.5)
    assert found["blue"]["share"] is None and "<eot>" not in found
    line = attention.measured_line(found)
    assert "“red”: **100%** on the red object" in line and "no blue object" in line and "(uniform: 50%)" in line


@pytest.mark.parametrize("args, message", [
    (("", 0, 3, 2, "all"), "empty"), (("a purple unicorn", 0, 3, 2, "all"), "never learned"),
    ((PROMPT, -1, 3, 2, "all"), "seed"), ((PROMPT, 0, 0, 1, "all"), "DDIM steps must be"),
    ((PROMPT, 0, 3, 4, "all"), "step to inspect must be"), ((PROMPT, 0, 3, 2, "up 99×99"), "layer must be one of"),
    ((PROMPT, 0, float("nan"), 2, "all"), "DDIM steps must be")])
def test_attention_refuses_bad_input(on_tiny, args, message):
    with pytest.raises(gr.Error, match=message):
        attention.attention(None, *args)


def test_showing_needs_a_recorded_run_and_a_step_inside_it(on_tiny):
    picture, text = attention.show(1, attention.ALL, None)  # the slider moved before any run: a hint, no error
    assert picture == gr.update() and "Press **Show where each word looks** first" in text
    run = attention.attention(None, PROMPT, 0, 2, 1, attention.ALL).run
    picture, text = attention.show(5, attention.ALL, run)
    assert picture == gr.update() and "has 2 DDIM steps, so there is no step 5" in text
    for step in (0, float("nan"), -1):
        with pytest.raises(gr.Error, match="step must be"):
            attention.show(step, attention.ALL, run)
    with pytest.raises(gr.Error, match="layer must be one of"):
        attention.show(1, "nope", run)


# ---- guidance scale ------------------------------------------------------------------------------------------------

def test_scales_are_parsed_and_checked():
    assert guidance.parse_scales("0, 1, 3, 5, 8") == [0, 1, 3, 5, 8]
    assert guidance.parse_scales(" 2;4  7.5 ") == [2, 4, 7.5]
    for text, message in [("", "numbers separated by commas"), ("1, two", "Could not read 'two'"),
                          ("nan", "not a finite number"), ("1, inf", "not a finite number"),
                          ("1 2 3 4 5 6 7 8 9", "from 1 to 8 guidance scales; got 9"), ("25", "from 0 to 20; got 25"),
                          ("-1", "from 0 to 20; got -1"), ("1," * 500, "characters"), (None, "numbers separated")]:
        with pytest.raises(gr.Error, match=message):
            guidance.parse_scales(text)


def test_the_grid_streams_rows_and_measures_each_scale(on_tiny, monkeypatch):
    monkeypatch.setattr(guidance, "UPDATE_EVERY_S", 0.0)  # a redraw for every row
    updates = list(guidance.scale_grid(None, "a red circle", "", "1, 4, 1", 2, 2))
    assert len(updates) == 4 and ["done (w =" in u.info for u in updates] == [True] * 3 + [False]
    heights = [u.grid.shape[0] for u in updates[:3]]
    assert heights[0] < heights[1] < heights[2] == updates[-1].grid.shape[0]  # a row more each time
    last = updates[-1]
    assert isinstance(last.table, pd.DataFrame) and list(last.table.columns) == guidance.COLUMNS
    assert list(last.table["w"]) == ["1", "4", "1"] and list(last.table["images"]) == [2, 2, 2]
    # rows 1 and 3 share the scale and the starting noises: DDIM (η = 0) makes them the same images
    assert last.table.iloc[0].tolist() == last.table.iloc[2].tolist()
    assert isinstance(last.plot, go.Figure)
    names = [trace.name for trace in last.plot.data]
    assert "shape + colour right (here)" in names and "exactly right (card, 256 prompts)" in names
    assert "3 scales × 2 seeds" in last.info and "The model's card" in last.info
    assert "w = 1: 50% shape + colour, 25% exactly right, CLIP 1.10" in last.info


def test_the_grid_thresholds_dynamically_when_asked(on_tiny, monkeypatch):
    from playground import text_to_image as t2i
    from playground.diffusion.samplers import DynamicThreshold
    seen = []
    real = t2i.clipping
    monkeypatch.setattr(t2i, "clipping", lambda m, mode="static": seen.append(mode) or real(m, mode))
    last = list(guidance.scale_grid(None, "a red circle", "", "8", 1, 2, "dynamic"))[-1]
    assert seen == ["dynamic"] and "dynamically thresholded" in last.info
    assert real(on_tiny, "dynamic") == DynamicThreshold(0.995, bound=on_tiny.spec.clip_x0 if on_tiny.spec.latent else 1.0)
    with pytest.raises(gr.Error, match="clipping"):
        list(guidance.scale_grid(None, "a red circle", "", "8", 1, 2, "sometimes"))


def test_the_grid_says_when_the_card_has_no_figures(on_tiny, monkeypatch):
    monkeypatch.setattr(on_tiny, "card", {})
    monkeypatch.setattr(guidance, "clip_model", lambda: None)
    last = list(guidance.scale_grid(None, "a circle", "red", "0", 1, 1))[-1]
    assert "records no figures" in last.info and "w = 0 samples ε(“red”) alone" in last.info
    assert last.table["CLIP score"].tolist() == ["no CLIP model"]
    assert guidance.row_label(0, "red") == "w = 0 (neg only)" and guidance.row_label(1) == "w = 1 (prompt only)"


def test_before_a_grid_the_card_figures_are_drawn(on_tiny, monkeypatch):
    plot, text = guidance.show_card(None)
    assert [trace.name for trace in plot.data] == ["shape + colour right (card, 256 prompts)",
                                                   "exactly right (card, 256 prompts)", "CLIP score (card)"]
    assert list(plot.data[0].x) == [1.0, 3.0] and list(plot.data[0].y) == [0.5, 0.75]
    assert "256 single-object test prompts" in text and "Press **Sample the grid**" in text

    def missing(name, *_):
        raise gr.Error("No text-to-image model is shipped")
    monkeypatch.setattr(guidance, "get_model", missing)
    assert guidance.show_card(None) == (None, "")  # on load with no model: nothing, and no error


@pytest.mark.parametrize("args, message", [
    (("", "", "1", 1, 2), "empty"), (("a red circle", "a dragon", "1", 1, 2), "negative prompt has words"),
    (("a red circle", "", "nan", 1, 2), "not a finite number"), (("a red circle", "", "1", 0, 2), "seeds must be"),
    (("a red circle", "", "1", 9, 2), "seeds must be"), (("a red circle", "", "1", 1, 0), "DDIM steps must be"),
    (("a red circle", "", "0 1 2 3 4 5 6 7", 8, 50), "This grid asks for 64 samples × 100")])
def test_the_grid_refuses_bad_input(on_tiny, args, message, monkeypatch):
    monkeypatch.setattr("pages.common.jobs.MAX_IMAGE_STEPS", 6_000)
    with pytest.raises(gr.Error, match=message):
        list(guidance.scale_grid(None, *args))


# ---- negative prompt -------------------------------------------------------------------------------------------

def test_negative_prompt_compares_the_same_seeds(on_tiny):
    out = negative.negative(None, "a circle", "red", 3.0, 0, 2, 2)
    assert out.picture.ndim == 3
    effect = t2i.negative_effect(on_tiny, "a circle", "red", 2, 3.0, 2, 0)  # the same run, straight from the library
    row = (f"| images showing a red object (unwanted) | {effect['without']['shows_unwanted']:.0%} | "
           f"**{effect['with']['shows_unwanted']:.0%}** |")
    assert row in out.text and "with the prompt's shape and colour" in out.text and "same noise x_T" in out.text


def test_at_scale_one_the_negative_prompt_changes_nothing(on_tiny):
    # ε̃ = ε(neg) + 1 · (ε(prompt) − ε(neg)) = ε(prompt): whatever neg is, both rows are the same images
    effect = t2i.negative_effect(on_tiny, "a circle", "large red", 2, 1.0, 2, 0)
    torch.testing.assert_close(effect["with"]["images"], effect["without"]["images"], atol=1e-5, rtol=0)
    out = negative.negative(None, "a circle", "large red", 1.0, 0, 2, 2)
    w, wn = effect["without"], effect["with"]
    assert w["shows_unwanted"] == wn["shows_unwanted"] and w["meets_prompt"] == wn["meets_prompt"]
    assert "images showing a large red object (unwanted)" in out.text


@pytest.mark.parametrize("args, message", [
    (("a circle", "", 3, 0, 2, 2), "Type a negative prompt"), (("a circle", "  ", 3, 0, 2, 2), "Type a negative"),
    (("a circle", "the", 3, 0, 2, 2), "names no colour, shape or size"),
    (("a circle", "a dragon", 3, 0, 2, 2), "negative prompt has words"), (("", "red", 3, 0, 2, 2), "empty"),
    (("a circle", "red", math.nan, 0, 2, 2), "guidance scale"), (("a circle", "red", 21, 0, 2, 2), "guidance scale"),
    (("a circle", "red", 3, 0, 0, 2), "number of images"), (("a circle", "red", 3, 0, 17, 2), "number of images"),
    (("a circle", "red", 3, 0, 2, 0), "DDIM steps"), (("a circle", "red", 3, 2**40, 2, 2), "seed")])
def test_negative_refuses_bad_input(on_tiny, args, message):
    with pytest.raises(gr.Error, match=message):
        negative.negative(None, *args)


# ---- the shipped model: the card's figures, and the HTTP API --------------------------------------------------

@needs_model
def test_the_shipped_models_card_figures_are_shown():
    card, text = guidance.card_figures(guidance.get_model("ldm-scenes"))
    if card is None:
        assert "records no figures" in text
    else:
        assert "The model's card" in text and "single-object test prompts" in text


@needs_model
def test_the_api_answers_and_refuses_bad_input(server_url):
    client = Client(server_url, verbose=False)
    picture, text, *_ = client.predict("ldm-scenes", "a red circle", 0, 2, 2, "all", api_name="/t2i_attention")
    assert "DDIM step **2 of 2**" in text
    for args, message in [(("", 0, 2, 1, "all"), "empty"), (("a red circle", 0, 2, 1, "nope"), "layer must be one of")]:
        with pytest.raises(AppError, match=message) as info:
            client.predict("ldm-scenes", *args, api_name="/t2i_attention")
        assert "Traceback" not in str(info.value)
    for scales, message in [("nan", "not a finite number"), ("1, x", "Could not read"), ("99", "from 0 to 20")]:
        with pytest.raises(AppError, match=message):
            client.predict("ldm-scenes", "a red circle", "", scales, 1, 2, api_name="/t2i_guidance_grid")
    with pytest.raises(AppError, match="Type a negative prompt"):
        client.predict("ldm-scenes", "a circle", "", 3, 0, 2, 2, api_name="/t2i_negative")
    with pytest.raises(AppError, match="guidance scale|greater than maximum"):  # Gradio's slider check or ours
        client.predict("ldm-scenes", "a circle", "red", 25, 0, 2, 2, api_name="/t2i_negative")
    with pytest.raises(AppError, match="the negative prompt has words"):
        client.predict("ldm-scenes", "a circle", "a dragon", 3, 0, 2, 2, api_name="/t2i_negative")


# ---- in a browser ---------------------------------------------------------------------------------------------

@pytest.fixture()
def browser_page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1280, "height": 800})
        pg.console_errors = []
        pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
        yield pg
        browser.close()


def _fill(pg, elem_id, value):
    box = pg.locator(f"#{elem_id} textarea, #{elem_id} input[type=number], #{elem_id} input[type=text]").first
    box.fill(str(value))
    box.press("Enter")


@needs_model
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_attention_guidance_and_negative_tabs(browser_page, server_url, artifacts_dir):
    from browsing import assert_in_first_screen
    pg = browser_page
    pg.goto(server_url + "/text-to-image")
    pg.get_by_role("tab", name="Cross-attention").click()
    _fill(pg, "t2i-att-steps", 6)  # the step slider follows: at most 6
    pg.wait_for_function("document.querySelector('#t2i-att-step input[type=number]').value == '6'")
    pg.locator("#t2i-att-run").click()
    pg.locator("#t2i-att-info").get_by_text("DDIM step 6 of 6").wait_for(timeout=120_000)
    assert pg.locator("#t2i-att-strip img").count() == 1
    assert_in_first_screen(pg, "#t2i-att-run")
    assert_in_first_screen(pg, "#t2i-att-strip", min_visible=150)
    pg.screenshot(path=os.path.join(artifacts_dir, "t2i-attention.png"))
    pg.locator("#t2i-att-layer input").click()  # another layer, from the recorded run
    pg.get_by_role("option", name="middle 4×4").click()
    pg.locator("#t2i-att-info").get_by_text("layer middle 4×4").wait_for(timeout=30_000)
    pg.screenshot(path=os.path.join(artifacts_dir, "t2i-attention-layer.png"), full_page=True)

    pg.get_by_role("tab", name="Guidance scale").click()
    _fill(pg, "t2i-gd-scales", "0, 3")
    _fill(pg, "t2i-gd-seeds", 3)
    _fill(pg, "t2i-gd-steps", 4)
    pg.locator("#t2i-gd-run").click()
    pg.locator("#t2i-gd-info").get_by_text("2 scales × 3 seeds").wait_for(timeout=120_000)
    pg.locator("#t2i-gd-plot .js-plotly-plot").wait_for(timeout=30_000)
    assert_in_first_screen(pg, "#t2i-gd-run")
    assert_in_first_screen(pg, "#t2i-gd-grid", min_visible=150)
    pg.screenshot(path=os.path.join(artifacts_dir, "t2i-guidance.png"), full_page=True)

    pg.get_by_role("tab", name="Negative prompt").click()
    _fill(pg, "t2i-neg-n", 3)
    _fill(pg, "t2i-neg-steps", 4)
    pg.locator("#t2i-neg-run").click()
    pg.locator("#t2i-neg-info").get_by_text("measured by scene truth").wait_for(timeout=120_000)
    assert_in_first_screen(pg, "#t2i-neg-run")
    assert_in_first_screen(pg, "#t2i-neg-images", min_visible=150)
    pg.screenshot(path=os.path.join(artifacts_dir, "t2i-negative.png"), full_page=True)
    assert not pg.console_errors

