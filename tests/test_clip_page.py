"""/clip: zero-shot, retrieval both ways, the embedding space, the binding test, the CLIP score calibrated and live
training, through the handlers (named results); bad inputs refused with clear messages, directly and through the
HTTP API; two browsers' trained models kept apart; and a browser run of zero-shot, retrieval, the binding test
and training."""
import os
import re

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

from pages import clip as page_clip
from pages.common import run_job
from playground import checkpoints

pytestmark = pytest.mark.skipif("clip-scenes" not in checkpoints.available(), reason="clip-scenes is not shipped")
GRADIO_CHECK = "|greater than maximum|less than minimum|not in the list of choices"


@pytest.fixture(scope="module")
def drawing(tmp_path_factory):
    """A red circle drawn on white paper, as a student might upload."""
    path = tmp_path_factory.mktemp("clip") / "circle.png"
    image = Image.new("RGB", (300, 300), (250, 250, 250))
    ImageDraw.Draw(image).ellipse([96, 96, 204, 204], fill=(220, 30, 30))
    image.save(path)
    return str(path)


@pytest.fixture(scope="module")
def not_an_image(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "notes.png"
    path.write_text("not an image at all")
    return str(path)


# ---- handlers --------------------------------------------------------------------------------------------------

def test_zero_shot_names_the_shape_and_expands_templates():
    out = page_clip.classify("a {shape}", "test scene", 0)  # scene 0: "a large blue square on the right"
    assert out.picture.shape == (192, 192, 3) and isinstance(out.chart, go.Figure)
    assert list(out.chart.data[0].y) == ["a circle", "a square", "a triangle", "a diamond"]
    assert "Most likely: “a square”" in out.text and "large blue square" in out.text
    assert abs(sum(out.chart.data[0].x) - 1) < 1e-5
    assert "shape 100.0%, colour 100.0% on test scenes" in out.text  # the card's zero-shot accuracy
    assert len(page_clip.expand_prompts("a photo of a {colour} {shape}")) == 24
    expanded = page_clip.expand_prompts("a circle\n\n  a {size} square ")
    assert expanded == ["a circle", "a small square", "a large square"]


def test_unknown_words_are_reported_and_a_text_of_only_unknown_words_refused():
    out = page_clip.classify("a circle\na photograph of a square")
    assert "'photograph'" in out.text and "<unk>" in out.text and "It knows:" in out.text
    with pytest.raises(gr.Error, match="has no word this model knows"):
        page_clip.classify("a zebra\na circle")
    with pytest.raises(gr.Error, match="has no word this model knows"):
        page_clip.text_to_image("the giraffe")


def test_an_upload_drawn_on_white_is_classified_and_a_non_image_refused(drawing, not_an_image):
    out = page_clip.classify("a {shape}", "upload", 0, drawing)
    assert "light background made dark" in out.text and "Most likely: “a circle”" in out.text
    colour = page_clip.classify("a {colour} shape", "upload", 0, drawing)
    assert "Most likely: “a red shape”" in colour.text
    with pytest.raises(gr.Error, match="not an image that can be read"):
        page_clip.classify("a {shape}", "upload", 0, not_an_image)
    with pytest.raises(gr.Error, match="Choose an image file"):
        page_clip.classify("a {shape}", "upload", 0, None)
    with pytest.raises(gr.Error, match="not an image that can be read"):
        page_clip.score_image("a red circle", "upload", 0, not_an_image)


PROMPT_ERRORS = [
    ("", "prompt box is empty"), ("   \n  ", "prompt box is empty"),
    ("x" * 10_000 + "\na circle", "prompt 1 is 10,000 characters long; the limit is 200"),
    ("a circle", "got 1 .*softmax over one prompt"), ("\n".join(["a circle"] * 500), "got 500 lines"),
    ("a {animal}", r"\{animal\}"), ("a {colour} {shape}\na {size} {shape}\na {colour} shape", "more than 32"),
    ("x" * 30_000, "30,000 characters; the limit is 20,000"),
]


@pytest.mark.parametrize("prompts, message", PROMPT_ERRORS)
def test_bad_prompts_get_a_clear_message(prompts, message):
    with pytest.raises(gr.Error, match=message):
        page_clip.classify(prompts)


@pytest.mark.parametrize("call, message", [
    (lambda: page_clip.text_to_image(""), "the caption is empty"),
    (lambda: page_clip.text_to_image("x" * 10_000), "10,000 characters long"),
    (lambda: page_clip.text_to_image("a red circle", 0), "k \\(results\\) must be"),
    (lambda: page_clip.image_to_text(5000), "test scene must be"),
    (lambda: page_clip.classify("a {shape}", "test scene", -1), "test scene must be"),
    (lambda: page_clip.classify("a {shape}", "imagenet"), "image source must be one of"),
    (lambda: page_clip.embedding_space(10**6), "pairs must be"),
    (lambda: page_clip.embedding_space(100, "tsne"), "axes must be one of"),
    (lambda: page_clip.binding_test("train"), "scenes must be one of"),
    (lambda: page_clip.score_image(""), "the text is empty"),
    (lambda: page_clip.classify("a {shape}", model="clip-huge"), "model must be one of"),
    (lambda: page_clip.make_job(10**5, 64, 1e-3, 0), "steps must be"),
    (lambda: page_clip.make_job(10, 4096, 1e-3, 0), "batch size must be"),
    (lambda: page_clip.make_job(10, 64, float("nan"), 0), "learning rate must be"),
])
def test_bad_values_get_a_clear_message(call, message):
    with pytest.raises(gr.Error, match=message):
        call()


def test_retrieval_both_ways_with_recall_next_to_chance():
    found = page_clip.text_to_image("a large red circle at the top left", 5)
    assert len(found.gallery) == len(found.shown) == 5 and found.gallery[0][0].ndim == 3
    assert "with exactly this caption" in found.text
    assert "94.7%" in found.recall and "held-out" in found.recall and "chance" in found.recall
    captions = page_clip.image_to_text(found.shown[0], 4)
    assert captions.scene == found.shown[0] and captions.picture.ndim == 3
    assert re.search(r"the true caption ranks \*\*1\*\*", captions.text) and captions.text.count("\n| ") == 5


def test_embedding_space_shows_the_modality_gap():
    out = page_clip.embedding_space(100, "gap")
    assert isinstance(out.plot, go.Figure) and "Modality gap" in out.text
    gap = float(re.search(r"= (\d\.\d+)\*\*", out.text).group(1))
    centres = out.plot.data[-1]
    assert abs(abs(centres.x[0] - centres.x[1]) - gap) < 1e-3  # along the gap, the plane shows it at full length
    assert len(out.plot.data) == 4 and len(page_clip.embedding_space(100, "pca", False).plot.data) == 3


def test_binding_test_against_chance_with_examples():
    out = page_clip.binding_test("test", 6, False)
    share = float(re.search(r"\*\*(\d+\.\d)% of \d+ two-object", out.text).group(1))
    assert 55 < share < 95 and "chance: 50 %" in out.text and out.examples.ndim == 3
    failures = page_clip.binding_test("heldout", 4, True)
    assert failures.text.count("✗ swap") == 4 and "✓ truth" not in failures.text


def test_clip_score_is_calibrated_higher_is_better():
    out = page_clip.calibrate(200)
    means = {trace.name.split(" (mean")[0]: float(trace.name.split("mean ")[1].rstrip(")")) for trace in out.plot.data}
    assert means["real pairs"] > means["colours swapped (two-object scenes)"] > means["shuffled pairs"]
    assert "higher means the image matches the text better" in out.text
    right = page_clip.score_image("a large blue square on the right", "test scene", 0)
    wrong = page_clip.score_image("a small red circle at the top left", "test scene", 0)
    score = lambda text: float(re.search(r"CLIPScore (\d\.\d+)", text).group(1))  # noqa: E731
    assert score(right.text) > score(wrong.text) and right.picture.ndim == 3


def test_live_training_streams_the_similarity_matrix_and_joins_the_menus():
    updates = list(run_job(page_clip.make_job(10, 16, 2e-3, 0), {}, page_clip.MENU))
    previews = [u.image for u in updates[:-1] if isinstance(u.image, np.ndarray)]
    assert len(previews) >= 2 and previews[0].shape[0] > 400  # redrawn during the run
    assert "temperature τ" in updates[-2].status and "in-batch top-1 accuracy" in updates[-2].status
    done = updates[-1]
    assert done.status.startswith("Done: 10 steps") and len(done.my_models) == 1
    mine = done.menu["value"]
    assert mine.startswith("user:") and done.menu["choices"][0][1] == mine
    out = page_clip.classify("a {shape}", model=mine, my_models=done.my_models)
    assert "yours: mini-CLIP" in out.text
    assert "measured here" in page_clip.text_to_image("a red circle", 3, mine, done.my_models).recall
    assert "Binding test" in page_clip.train_summary(done.my_models)


def test_two_sessions_trained_models_are_independent():
    a = list(run_job(page_clip.make_job(10, 8, 2e-3, 0), {}, page_clip.MENU))[-1]
    b = list(run_job(page_clip.make_job(10, 8, 2e-3, 1), {}, page_clip.MENU))[-1]
    model_a, model_b = a.menu["value"], b.menu["value"]
    assert model_a != model_b and set(a.my_models).isdisjoint(b.my_models)
    assert a.my_models[model_a[5:]].model is not b.my_models[model_b[5:]].model
    assert model_b not in [value for _, value in a.menu["choices"]]  # A's menu never lists B's model
    with pytest.raises(gr.Error, match="trained in another browser session"):
        page_clip.classify("a {shape}", model=model_b, my_models=a.my_models)


# ---- through the HTTP API --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


def _zero_shot(client, prompts, source="test scene", index=0, upload=None):
    return client.predict(prompts, source, index, upload, True, "clip-scenes", api_name="/clip_zero_shot")


def test_the_api_answers_and_refuses_bad_input(client, not_an_image, drawing):
    picture, chart, text = _zero_shot(client, "a {shape}")
    assert "Most likely" in text
    _, _, text = _zero_shot(client, "a {shape}", "upload", 0, handle_file(drawing))
    assert "Most likely: “a circle”" in text
    for prompts, message in [("", "prompt box is empty"), ("x" * 10_000 + "\na circle", "10,000 characters long"),
                             ("a circle", "got 1"), ("\n".join(["a circle"] * 500), "got 500 lines"),
                             ("a zebra\na circle", "has no word this model knows")]:
        with pytest.raises(AppError, match=message) as info:
            _zero_shot(client, prompts)
        assert "Traceback" not in str(info.value)
    with pytest.raises(AppError, match="not an image that can be read"):
        _zero_shot(client, "a {shape}", "upload", 0, handle_file(not_an_image))
    with pytest.raises(AppError, match="test scene must be" + GRADIO_CHECK):
        _zero_shot(client, "a {shape}", "test scene", 10**6)
    with pytest.raises(AppError, match="the caption is empty"):
        client.predict("", 5, "clip-scenes", api_name="/clip_text_to_image")
    with pytest.raises(AppError, match="10,000 characters long"):
        client.predict("x" * 10_000, 5, "clip-scenes", api_name="/clip_text_to_image")
    with pytest.raises(AppError, match="steps must be" + GRADIO_CHECK):
        client.predict(10**6, 64, 1e-3, 0, api_name="/clip_train")


# ---- in a browser ----------------------------------------------------------------------------------------------

from browsing import assert_in_first_screen  # noqa: E402
from test_browser import CHROMIUM, _src, browser, page  # noqa: E402,F401


def _tab(pg, name):
    pg.get_by_role("tab", name=name).click()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_zero_shot_retrieval_binding_and_training(page, server_url, artifacts_dir):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(server_url + "/clip")
    page.locator("#clip-zs-text").get_by_text("Most likely: “a square”").wait_for(timeout=60_000)  # on load
    page.locator("#clip-zs-prompts textarea").fill("a {colour} shape")
    page.locator("#clip-zs-run").click()
    page.locator("#clip-zs-text").get_by_text("Most likely: “a blue shape”").wait_for(timeout=30_000)
    assert_in_first_screen(page, "#clip-zs-chart", min_visible=250)
    assert_in_first_screen(page, "#clip-zs-run")
    page.screenshot(path=os.path.join(artifacts_dir, "clip-zero-shot.png"))

    _tab(page, "Retrieval")  # opening the tab searches at once
    page.locator("#clip-rt-text").get_by_text("closest to").wait_for(timeout=60_000)
    page.locator("#clip-rt-caption :is(input, textarea)").fill("a green triangle")
    page.locator("#clip-rt-run").click()
    page.locator("#clip-rt-text").get_by_text("closest to “a green triangle”").wait_for(timeout=60_000)
    page.locator("#clip-rt-gallery button").nth(2).click()  # image → text
    page.locator("#clip-rt-captions").get_by_text("the true caption ranks").wait_for(timeout=30_000)
    assert_in_first_screen(page, "#clip-rt-gallery")
    page.screenshot(path=os.path.join(artifacts_dir, "clip-retrieval.png"), full_page=True)

    _tab(page, "Attribute binding")
    page.locator("#clip-bd-run").click()
    page.locator("#clip-bd-text").get_by_text("prefer the true caption").wait_for(timeout=60_000)
    page.locator("#clip-bd-plot .js-plotly-plot").wait_for(timeout=30_000)
    assert_in_first_screen(page, "#clip-bd-plot")
    page.screenshot(path=os.path.join(artifacts_dir, "clip-binding.png"), full_page=True)

    _tab(page, "Train it live")
    page.get_by_label("Steps (capped)").first.fill("40")
    page.locator("#clip-train").click()
    page.locator("#clip-train-text").get_by_text("Step").wait_for(timeout=60_000)
    _src(page, "clip-train-preview")  # the similarity matrix is drawn while it trains
    assert_in_first_screen(page, "#clip-train-preview", min_visible=200)
    assert_in_first_screen(page, "#clip-train-stop")
    page.locator("#clip-train-text").get_by_text("Done: 40 steps").wait_for(timeout=120_000)
    page.screenshot(path=os.path.join(artifacts_dir, "clip-train.png"), full_page=True)
    _tab(page, "Zero-shot")  # the trained model is in this browser's menu, and chosen
    page.wait_for_function("() => document.querySelector('#clip-zs-model input').value.startsWith('yours: mini-CLIP')",
                           timeout=30_000)
