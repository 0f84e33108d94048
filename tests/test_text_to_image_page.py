"""/text-to-image, prompt to image, the latent-vs-pixel comparison and the compositional tab: the handlers (named
results, streamed steps, the step-through of a recorded run), bad input refused with clear messages directly and
through the HTTP API (leaving nothing behind), and a browser run of Generate with its step-through."""
import math
import os

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from pages import text_to_image as page
from pages.text_to_image import compare, compositional
from playground import checkpoints

pytestmark = pytest.mark.skipif("ldm-scenes" not in checkpoints.available(), reason="ldm-scenes is not shipped")
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)
PROMPT = "a large blue square on the right"


def _run(**kw):
    args = dict(model="ldm-scenes", prompt=PROMPT, negative="", scale=3.0, steps=6, sampler="ddim", seed=0, n=2, runs={})
    args.update(kw)
    return list(page.generate_images(**args))


def test_generate_streams_steps_then_measures_and_records_the_run():
    updates = _run()
    assert len(updates) >= 2 and "Step" in updates[0].info
    last = updates[-1]
    assert last.images.shape[2] == 3 and last.latents is not None
    assert "Scene truth" in last.info and "CLIP score" in last.info and "What the judge read" in last.info
    runs = last.runs
    tr = runs[last.run_id].trajectory
    assert tr.x_t.shape == (7, 2, 4, 8, 8) and tr.ts[-2] == 0 and tr.ts[-1] == -1  # 6 steps and the result
    strip, text = page.show_step(last.run_id, 3, 2, runs)
    assert strip.ndim == 3 and "ᾱ_t" in text and "Step 3 of 6" in text


def test_two_browsers_keep_their_own_runs():
    a, b = _run()[-1], _run(seed=1)[-1]
    assert set(a.runs) == {a.run_id} and set(b.runs) == {b.run_id}
    with pytest.raises(gr.Error, match="not in this browser's memory"):
        page.show_step(a.run_id, 1, 1, b.runs)


@pytest.mark.parametrize("kw, message", [
    (dict(prompt=""), "empty"), (dict(prompt="a purple unicorn"), "never learned: 'purple', 'unicorn'"),
    (dict(prompt="x" * 5000), "characters long"), (dict(negative="a dragon"), "negative prompt has words"),
    (dict(scale=float("nan")), "guidance scale"), (dict(scale=1e309), "guidance scale"), (dict(steps=0), "steps"),
    (dict(n=99), "number of images"), (dict(sampler="euler"), "sampler"), (dict(seed=-3), "seed"),
    (dict(model="nope"), "model must be one of")])
def test_bad_input_is_refused_with_a_clear_message(kw, message):
    with pytest.raises(gr.Error, match=message):
        _run(**kw)


def test_the_step_through_refuses_a_step_outside_the_run():
    last = _run()[-1]
    with pytest.raises(gr.Error, match="step must be"):
        page.show_step(last.run_id, 7, 1, last.runs)


def test_compositional_measures_held_out_seen_and_binding():
    out = compositional.measure("ldm-scenes", n=4, scale=3.0, seed=0)
    assert out.pictures.ndim == 3
    for words in ("Held-out colour–shape pairs", "seen pairs", "Attribute binding", "green triangle"):
        assert words in out.text


@pytest.mark.skipif("pixel-scenes" not in checkpoints.available(), reason="pixel-scenes is not shipped")
def test_why_latents_measures_both_models_on_the_same_prompts():
    out = compare.compare(2, 5, 0)
    assert "GFLOPs per network call" in out.table and "pixel ÷ latent" in out.table
    ratio = float(out.table.split("the pixel model costs **")[1].split("×")[0])
    assert ratio > 1  # a pixel sample costs more FLOPs than a latent one


def test_why_latents_says_what_is_missing_without_both_models(monkeypatch):
    monkeypatch.setattr(compare.MENU, "available", lambda: ["ldm-scenes"])
    with pytest.raises(gr.Error, match="needs both ldm-scenes and pixel-scenes"):
        compare.compare(2, 5, 0)


# ---- the HTTP API: every parameter checked on the server ------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (("ldm-scenes", "", "", 3, 5, "ddim", 0, 1), "empty"),
    (("ldm-scenes", "a red circle", "", 99, 5, "ddim", 0, 1), "guidance scale|greater than maximum"),
    (("ldm-scenes", "a red circle", "", 3, 5, "ddim", 0, 10_000), "number of images"),
    (("ldm-scenes", "a red circle " * 300, "", 3, 5, "ddim", 0, 1), "characters"),
])
def test_the_api_refuses_bad_generate_requests(server_url, args, message):
    client = Client(server_url, verbose=False)
    with pytest.raises(AppError, match=message + "|greater than maximum|less than minimum") as info:
        client.predict(*args, api_name="/t2i_generate")
    assert "Traceback" not in str(info.value)


def test_a_nan_guidance_scale_through_the_plain_http_api_is_refused(server_url):
    """gradio_client will not send NaN (not strict JSON); Gradio's plain HTTP API takes it."""
    import json
    import urllib.request
    data = ["ldm-scenes", "a red circle", "", math.nan, 5, "ddim", 0, 1]
    request = urllib.request.Request(f"{server_url}/gradio_api/call/t2i_generate", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{server_url}/gradio_api/call/t2i_generate/{event_id}", timeout=60) as response:
        stream = response.read().decode()
    assert "event: error" in stream and "Traceback" not in stream
    assert "guidance scale must be a number" in json.loads(stream.split("data:")[-1])["error"]


# ---- the browser ------------------------------------------------------------------------------------------------

@pytest.fixture()
def browser_page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1280, "height": 800})
        yield pg
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_generate_streams_images_and_steps_through(browser_page, server_url, artifacts_dir):
    from tests.browsing import assert_in_first_screen
    pg = browser_page
    pg.goto(server_url + "/text-to-image")
    pg.locator("#t2i-gen-prompt textarea, #t2i-gen-prompt input").first.fill("a large red circle in the centre")
    pg.locator("#t2i-gen-steps input[type=number]").fill("10")
    pg.locator("#t2i-gen-steps input[type=number]").press("Enter")
    pg.locator("#t2i-gen-run").click()
    pg.locator("#t2i-gen-info").get_by_text("Scene truth").wait_for(timeout=120_000)
    assert pg.locator("#t2i-gen-images img").count() == 1 and pg.locator("#t2i-gen-latents img").count() == 1
    assert_in_first_screen(pg, "#t2i-gen-run")
    assert_in_first_screen(pg, "#t2i-gen-images", min_visible=150)
    pg.screenshot(path=os.path.join(artifacts_dir, "t2i-generate.png"), full_page=True)
    pg.get_by_text("Step through the last run").click()
    pg.locator("#t2i-gen-strip img").wait_for(timeout=60_000)
    pg.screenshot(path=os.path.join(artifacts_dir, "t2i-step.png"), full_page=True)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_two_students_generate_their_own_and_stop_stops(server_url):
    """Two browser contexts generate different prompts and each sees only its own result; Stop ends a DDPM run
    (1000 steps) long before it would finish, and a fresh Generate then runs."""
    import re
    import time

    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pages = []
        for prompt in ("a large red circle in the centre", "a large blue square on the left"):
            pg = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            pg.goto(server_url + "/text-to-image")
            pg.locator("#t2i-gen-prompt textarea, #t2i-gen-prompt input").first.fill(prompt)
            pg.locator("#t2i-gen-steps input[type=number]").fill("8")
            pg.locator("#t2i-gen-steps input[type=number]").press("Enter")
            pages.append(pg)
        for pg in pages:
            pg.locator("#t2i-gen-run").click()
        for pg, colour in zip(pages, ("red circle", "blue square")):
            pg.locator("#t2i-gen-info").get_by_text("Scene truth").wait_for(timeout=120_000)
            info = pg.locator("#t2i-gen-info").inner_text()
            assert colour in info and ({"red circle", "blue square"} - {colour}).pop() not in info
        pg = pages[0]
        pg.get_by_label("Sampler").click()
        pg.get_by_role("option", name="DDPM (ancestral, all 1000 steps)").click()
        pg.locator("#t2i-gen-run").click()
        pg.locator("#t2i-gen-info").get_by_text(re.compile(r"Step \d+ of 1000")).wait_for(timeout=60_000)
        pg.locator("#t2i-gen-stop").click()
        stopped = time.perf_counter()
        pg.wait_for_timeout(3000)
        text = pg.locator("#t2i-gen-info").inner_text()
        assert "Scene truth" not in text  # the 1000-step run did not finish
        step = int(text.split("Step ")[1].split(" ")[0])
        pg.wait_for_timeout(2000)
        assert int(pg.locator("#t2i-gen-info").inner_text().split("Step ")[1].split(" ")[0]) == step  # no more steps
        assert step < 1000 and time.perf_counter() - stopped < 10
        browser.close()
