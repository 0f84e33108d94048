"""/dalle with the shipped models: DALL·E 1 writing, replay and rerank; DALL·E 2's stages, prior, variations,
interpolation and upsamplers; the systems compared; bad input refused (directly and through the HTTP API); and
the page in a real browser."""
import os
import shutil

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from pages.dalle import compare, dalle1, dalle2
from playground import systems

CHROMIUM = shutil.which("chromium")
PROMPT = "a large red circle in the centre"


def test_tokens_shows_a_scene_as_its_token_map():
    grid, pictures, text = dalle1.tokens("test scene", 3, None, True)
    assert grid.count("<td") == 64 and "64 × log₂512 = 576 bits" in text and pictures.ndim == 3
    with pytest.raises(gr.Error, match="upload"):
        dalle1.tokens("upload", 0, None, True)


def test_an_upload_of_any_kind_is_tokenized_or_refused(tmp_path):
    from PIL import Image
    path = tmp_path / "drawing.png"
    Image.new("RGBA", (300, 120), (255, 255, 255, 255)).save(path)
    grid, _, text = dalle1.tokens("upload", 0, str(path), True)
    assert grid.count("<td") == 64 and "your upload" in text
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(gr.Error, match="Try another file"):
        dalle1.tokens("upload", 0, str(bad), True)


def test_write_streams_64_tokens_then_shows_where_they_looked():
    updates = list(dalle1.write(PROMPT, 1.0, 0, 0, 1000, []))
    assert len(updates) == 65
    first, last = updates[0], updates[-1]
    assert first.grid.count("not sampled yet") == 63 and "Image token 1 of 64" in first.text
    assert last.grid.count("not sampled yet") == 0 and len(last.frames) == 64
    assert isinstance(last.attention, np.ndarray) and "Scene truth reads" in last.text and "“red”" in last.text
    again = dalle1.replay(10, last.frames)
    assert "Image token 10 of 64" in again.text and again.grid.count("not sampled yet") == 54


def test_the_same_seed_writes_the_same_image():
    a = list(dalle1.write(PROMPT, 1.0, 0, 7, 1000, []))[-1]
    b = list(dalle1.write(PROMPT, 1.0, 0, 7, 1000, []))[-1]
    assert a.grid == b.grid


@pytest.mark.parametrize("call, message", [
    (lambda: list(dalle1.write("a purple circle", 1.0, 0, 0, 100, [])), "never learned"),
    (lambda: list(dalle1.write("", 1.0, 0, 0, 100, [])), "empty"),
    (lambda: list(dalle1.write(PROMPT, 0.0, 0, 0, 100, [])), "temperature"),
    (lambda: list(dalle1.write(PROMPT, 1.0, 9999, 0, 100, [])), "top-k"),
    (lambda: dalle1.replay(3, []), "Write an image first"),
    (lambda: dalle1.rerank(PROMPT, 65, 0), "candidates N"),
    (lambda: dalle1.rerank(PROMPT, float("nan"), 0), "candidates N"),
    (lambda: list(dalle2.pipeline(PROMPT, True, 99, 10, 2, 0)), "guidance scale"),
    (lambda: list(dalle2.pipeline(PROMPT, True, 3, 10, 99, 0)), "images"),
    (lambda: dalle2.variations("upload", 0, None, True, 2, 3, 0), "upload"),
    (lambda: dalle2.interpolate(0, 9999, 3, 3, 0), "test scene"),
    (lambda: dalle2.compare_upsamplers(0, 0.5, 0), "noise level"),
    (lambda: list(compare.compare("", "", 0)), "Prompts"),
    (lambda: list(compare.compare("\n".join([PROMPT] * 9), "", 0)), "from 1 to 8"),
])
def test_bad_input_is_refused_with_a_clear_message(call, message):
    with pytest.raises(gr.Error, match=message):
        call()


def test_rerank_sorts_by_clip_score_and_judges_each():
    out = dalle1.rerank(PROMPT, 8, 0)
    assert "8 candidates" in out.text and "CLIP's top pick" in out.text
    assert isinstance(out.grid, np.ndarray) and out.grid.shape[1] > 600


def test_the_dalle2_pipeline_shows_every_stage():
    updates = list(dalle2.pipeline(PROMPT, True, 3, 10, 2, 0))
    assert any("Decoder step" in u.text for u in updates) and "Upsampling" in updates[-2].text
    last = updates[-1]
    assert "Scene truth" in last.text and "cos(ẑ_i, z_t)" in last.text and last.grid.shape[0] > last.tiles.shape[0]
    without = list(dalle2.pipeline(PROMPT, False, 3, 10, 2, 0))[-1]
    assert "z_t itself (no prior)" in without.text and "cos(ẑ_i, z_t) = 1.00, 1.00" in without.text


def test_variations_interpolation_upsamplers_and_the_prior():
    picture, text = dalle2.variations("test scene", 3, None, True, 3, 3, 0)
    assert picture.ndim == 3 and "variations decoded from its CLIP" in text
    strip, text = dalle2.interpolate(0, 5, 3, 3, 0)
    assert "s = 0.00" in text and "s = 1.00" in text
    grid, text = dalle2.compare_upsamplers(0, 0.15, 0)
    assert "without augmentation" in text and grid.shape[0] > 300
    text = dalle2.measure_prior(16, 0)
    assert "with the prior" in text and "no prior" in text


def test_the_cards_figures_are_on_the_page():
    assert "cos" not in dalle2.prior_card_text() or "test pairs" in dalle2.prior_card_text()
    assert "appear here once" not in dalle2.prior_card_text()
    assert "| augmented |" in dalle2.upsampler_card_text()
    figure, text = dalle1.gain_view()
    assert figure is not None and "N = 64" in text


def test_compare_runs_every_system_and_tabulates_them():
    updates = list(compare.compare(PROMPT, "a red circle left of a blue square\na blue circle left of a red square", 0))
    assert len(updates) == len(systems.SYSTEMS)
    table = updates[-1].table
    for system in systems.SYSTEMS:
        assert f"| {system} |" in table
    assert "Running" not in table and updates[-1].pairs is not None


@pytest.mark.parametrize("args, api, message", [
    (("a purple circle", 1.0, 0, 0, 100), "/dalle1_write", "never learned"),
    (("a red circle", 1.0, 0, 0, 10_000), "/dalle1_write", "speed|greater than maximum"),
    (("a red circle", 1000, 0), "/dalle1_rerank", "candidates|greater than maximum"),
    (("a red circle", True, 3, 10, 1000, 0), "/dalle2_generate", "images|greater than maximum"),
])
def test_the_api_refuses_bad_requests(server_url, args, api, message):
    client = Client(server_url, verbose=False)
    with pytest.raises(AppError, match=message + "|greater than maximum|less than minimum") as info:
        client.predict(*args, api_name=api)
    assert "Traceback" not in str(info.value)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_dalle_writes_reranks_and_runs_the_pipeline(server_url, artifacts_dir):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1280, "height": 800})
        pg.goto(server_url + "/dalle")
        pg.locator("#d1-tok-info").get_by_text("tokens").first.wait_for(timeout=60_000)  # the Tokens tab, on load
        assert pg.locator("#d1-tok-grid td").count() == 64
        pg.get_by_role("tab", name="Write an image").click()
        pg.locator("#d1-speed input[type=number]").fill("200")
        pg.locator("#d1-speed input[type=number]").press("Enter")
        pg.locator("#d1-write").click()
        pg.locator("#d1-info").get_by_text("Scene truth reads").wait_for(timeout=120_000)
        assert pg.locator("#d1-grid td").count() == 64 and pg.locator("#d1-attention img").count() == 1
        pg.screenshot(path=os.path.join(artifacts_dir, "dalle1-write.png"), full_page=True)
        pg.get_by_role("tab", name="CLIP rerank").click()
        pg.locator("#d1-r-run").click()
        pg.locator("#d1-r-info").get_by_text("CLIP's top pick").wait_for(timeout=120_000)
        pg.screenshot(path=os.path.join(artifacts_dir, "dalle1-rerank.png"), full_page=True)
        pg.get_by_role("tab", name="DALL·E 2").click()
        pg.locator("#d2-steps input[type=number]").fill("20")
        pg.locator("#d2-steps input[type=number]").press("Enter")
        pg.locator("#d2-run").click()
        pg.locator("#d2-info").get_by_text("Scene truth").wait_for(timeout=120_000)
        assert pg.locator("#d2-grid img").count() == 1 and pg.locator("#d2-tiles img").count() == 1
        pg.screenshot(path=os.path.join(artifacts_dir, "dalle2-pipeline.png"), full_page=True)
        browser.close()


def test_the_cli_samples_both_systems(tmp_path, capsys):
    from playground.__main__ import main
    out = tmp_path / "d1.npy"
    assert main(["sample", "dalle-scenes", "--prompt", PROMPT, "--rerank", "4", "--n", "2", "--out", str(out),
                 "--device", "cpu"]) == 0
    assert np.load(out).shape == (2, 3, 32, 32)
    out2 = tmp_path / "d2.npy"
    assert main(["sample", "unclip-decoder", "--prompt", PROMPT, "--no-prior", "--steps", "5", "--n", "2",
                 "--out", str(out2), "--device", "cpu"]) == 0
    assert np.load(out2).shape == (2, 3, 32, 32)
    assert main(["sample", "unclip-prior", "--prompt", PROMPT, "--rerank", "4", "--out", str(out2)]) == 2
    assert "--rerank is for dalle-scenes" in capsys.readouterr().err
    assert main(["sample", "dalle-scenes", "--prompt", PROMPT, "--rerank", "100", "--out", str(out)]) == 2
    assert "candidates" in capsys.readouterr().err
