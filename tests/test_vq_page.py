"""/vq: every tab's handler on the shipped models (and the claims the page makes, measured), bad values straight
to the handlers and through the HTTP API, live training, and a real browser: the token map, then a sample drawn
token by token."""
import os
import re
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from pages import vq as page
from playground import checkpoints, vq

NEEDED = ("vq-fashion", "vq-k16-fashion", "vq-k512-fashion", "vq-k512-plain-fashion", "dvae-fashion", "prior-fashion")
pytestmark = pytest.mark.skipif(not set(NEEDED) <= set(checkpoints.available()),
                                reason="the VQ checkpoints are not shipped here")
FASHION = ("Fashion-MNIST", 7, 0, None)  # source, class (Sneaker), index, upload
GRADIO_CHECK = "|greater than maximum|less than minimum|not in the list of choices"


def _cells(html: str) -> list[int]:
    return [int(k) for k in re.findall(r'title="row \d+, column \d+: code (\d+)"', html)]


def test_an_image_becomes_a_7x7_token_map_with_the_index_on_hover():
    grid, palette, picture, text, state = page.encode_image("vq-fashion", *FASHION)
    codes = _cells(grid)
    assert len(codes) == 49 and all(0 <= k < 64 for k in codes)
    assert codes == [k for row in state["tokens"] for k in row]
    assert palette.count("data-code=") == 64
    assert picture.ndim == 3 and "294 bits" in text  # 49 × log2(64)


def test_editing_a_cell_changes_the_decode():
    *_, state = page.encode_image("vq-fashion", *FASHION)
    old = state["tokens"][3][3]
    new = (old + 7) % 64
    grid, _, picture, text, edited = page.set_code("vq-fashion", state, 3, 3, new)
    assert edited["tokens"][3][3] == new and edited["original"][3][3] == old
    assert f"(was {old})" in text
    before = vq.decode_tokens(page.get_model("vq-fashion")["model"], torch.tensor(state["tokens"]))
    after = vq.decode_tokens(page.get_model("vq-fashion")["model"], torch.tensor(edited["tokens"]))
    assert (after - before).abs().max() > 0.05  # the decoder redrew that patch
    assert picture.shape[1] > page.encode_image("vq-fashion", *FASHION)[2].shape[1]  # the edit and |Δ| columns appear
    reset = page.reset_edits("vq-fashion", edited)[4]
    assert reset["tokens"] == reset["original"]


def test_clicks_on_the_map_and_the_codebook_go_through_event_data():
    *_, state = page.encode_image("vq-fashion", *FASHION)
    out = page.click_cell("vq-fashion", state, SimpleNamespace(_data={"row": 2, "col": 5}))
    assert out[-3:] == (2, 5, state["tokens"][2][5]) and out[4]["selected"] == (2, 5)
    out = page.click_code("vq-fashion", out[4], 2, 5, SimpleNamespace(_data={"code": 11}))
    assert out[4]["tokens"][2][5] == 11 and out[-1] == 11


@pytest.mark.parametrize("row, col, code, message", [
    (7, 0, 1, "row must be"), (0, -1, 1, "column must be"), (0, 0, 64, "code must be"), (0, 0, 1.5, "code must be")])
def test_bad_edits_get_a_clear_message(row, col, code, message):
    *_, state = page.encode_image("vq-fashion", *FASHION)
    with pytest.raises(gr.Error, match=message):
        page.set_code("vq-fashion", state, row, col, code)


def test_editing_before_encoding_and_unknown_models_are_refused():
    with pytest.raises(gr.Error, match="Encode an image first"):
        page.set_code("vq-fashion", {}, 0, 0, 1)
    with pytest.raises(gr.Error, match="model must be one of"):
        page.encode_image("vq-nope", *FASHION)


def test_uploads_of_any_kind_are_tokenised_or_refused(tmp_path):
    rgba = tmp_path / "shirt.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 90, 4), dtype=np.uint8), "RGBA").save(rgba)
    grid, *_ = page.encode_image("vq-fashion", "upload", 0, 0, str(rgba))
    assert len(_cells(grid)) == 49
    junk = tmp_path / "notes.png"
    junk.write_text("not an image")
    with pytest.raises(gr.Error, match="Try another file"):
        page.encode_image("vq-fashion", "upload", 0, 0, str(junk))


def test_quantisation_is_nearest_code_and_close_to_kmeans():
    fig, text = page.quantisation("vq-fashion", 5, 0)
    lines, z_e = fig.data[0], fig.data[1]
    assert len(z_e.x) == 5 * 49 and len(lines.x) == 3 * 5 * 49
    learned, kmeans = (float(v) for v in re.findall(r"\*\*(\d+\.\d+)\*\*", text)[:2])
    assert kmeans <= learned < 3 * kmeans  # the learned codebook is a near-k-means solution
    with pytest.raises(gr.Error, match="images must be"):
        page.quantisation("vq-fashion", 0, 0)


def test_ema_and_restarts_cure_dead_codes_measured():
    usage_fig, curves, text = page.compare_health()
    plain, cured = page._test_usage("vq-k512-plain-fashion"), page._test_usage("vq-k512-fashion")
    assert cured["dead_codes"] < plain["dead_codes"] and cured["perplexity"] > 2 * plain["perplexity"]
    assert len(usage_fig.data) == 2 and len(curves.data) == 4
    assert f"| {plain['dead_codes']} |" in text
    fig, one = page.health("vq-k16-fashion")
    assert "| 16 |" in one and len(fig.data[0].y) == 16


def test_a_bigger_codebook_reconstructs_better():
    image, text = page.compare_sizes(4, 0)
    mse = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"^\| (\d+) \| 16 \| \d+ \| (\d\.\d+) \|", text, re.M)}
    assert set(mse) == {16, 64, 512} and mse[16] > mse[64] > mse[512]
    assert image.ndim == 3


def test_sampling_streams_one_token_at_a_time_and_a_seed_repeats_it():
    updates = list(page.sample_live(-1, 1.0, 0, 3, 1000))
    assert len(updates) == 50  # 49 tokens, then the replay controls
    first_grid = updates[0][0]
    assert len(_cells(first_grid)) == 1 and first_grid.count("not sampled yet") == 48
    frames = updates[-1][-1]
    assert len(frames) == 49 and len(_cells(updates[-1][0])) == 49
    again = list(page.sample_live(-1, 1.0, 0, 3, 1000))[-1][-1]
    assert all(np.array_equal(a["tokens"], b["tokens"]) for a, b in zip(frames, again))
    grid, image, text = page.scrub(frames, 10)
    assert len(_cells(grid)) == 10 and "Token 10 of 49" in text
    assert page.export_gif(frames).endswith(".gif")
    with pytest.raises(gr.Error, match="token must be"):
        page.scrub(frames, 50)


@pytest.mark.parametrize("args, message", [
    ((-1, 0.0, 0, 0, 10), "temperature must be"), ((-1, 1.0, -1, 0, 10), "top-k must be"),
    ((12, 1.0, 0, 0, 10), "class must be"), ((-1, 1.0, 0, -5, 10), "seed must be")])
def test_bad_sampling_settings_get_a_clear_message(args, message):
    with pytest.raises(gr.Error, match=message):
        next(page.sample_live(*args))


def test_top_k_1_always_takes_the_likeliest_token():
    frames = list(page.sample_live(-1, 1.0, 1, 0, 1000))[-1][-1]
    assert all(f["p"] == pytest.approx(1.0) for f in frames)


def test_the_prior_draws_garments_of_the_asked_class():
    card = checkpoints.card("prior-fashion")["metrics"]
    assert card["test_bits_per_image"] < 0.8 * card["uniform_bits_per_image"]
    assert card["class_accuracy"] > 0.5
    image, text = page.sample_grid(7, 1.0, 0, 0, 16)
    assert image.ndim == 3 and "classified as Sneaker" in text


def test_temperature_is_measured():
    fig, text = page.temperature_sweep(-1, 0, 0)
    conf = [float(v) for v in re.findall(r"^\| [\d.]+ \| (\d\.\d+) \|", text, re.M)]
    assert len(conf) == 6 and conf[0] > conf[-1]  # a colder prior makes more confident-looking garments


def test_gumbel_relaxation_leaks_at_moderate_tau_and_blurs_at_high_tau():
    image, fig, text = page.gumbel(*FASHION, 1.0, 0, True)
    relaxed, hard = list(fig.data[0].y), fig.data[1].y
    assert relaxed[0] == pytest.approx(hard[0], rel=0.1)  # τ = 0.05: one code, as the argmax
    assert min(relaxed) < relaxed[0]  # a blend of codes passes more than a token: a lower error ...
    assert relaxed[-1] > 3 * relaxed[0]  # ... until τ = 100 blends them all and the image is lost
    assert f"least at τ = {fig.data[0].x[relaxed.index(min(relaxed))]:g}" in text
    with pytest.raises(gr.Error, match="τ must be"):
        page.gumbel(*FASHION, 0.0, 0, True)


def test_live_training_streams_health_and_keeps_the_model():
    updates = list(page.train_live("digits", "ema-restart", 16, 4, 0.25, True, 40, 32, 1e-3, 0, []))
    assert any("Step 40 of 40" in u[0] for u in updates[:-1])
    final = updates[-1]
    assert final[0].startswith("Done: 40 steps") and "perplexity" in final[0]
    name = final[-1][-1][1]
    grid, *_ = page.encode_image(name, "Fashion-MNIST", 3, 0, None)
    assert len(_cells(grid)) == 16  # a digits model: 4×4 tokens


@pytest.mark.parametrize("args, message", [
    (("digits", "ema", 1, 4, 0.25, False, 10, 32, 1e-3, 0), "K must be"),
    (("digits", "ema", 16, 4, 0.25, False, 99999, 32, 1e-3, 0), "steps must be"),
    (("digits", "kmeans", 16, 4, 0.25, False, 10, 32, 1e-3, 0), "quantiser must be"),
    (("fashion", "ema", 16, 4, 0.25, False, 10, 512, 1e-3, 0), "batch size must be")])
def test_bad_training_values_get_a_clear_message(args, message):
    with pytest.raises(gr.Error, match=message):
        next(page.train_live(*args, []))


@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


@pytest.mark.parametrize("args, api, message", [
    (("vq-fashion", 99, 0), "/vq_quantisation", "images must be" + GRADIO_CHECK),
    ((-1, 5.0, 0, 0, 16), "/vq_sample_grid", "temperature must be" + GRADIO_CHECK),
])
def test_bad_values_through_the_http_api(client, args, api, message):
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name=api)


from test_browser import CHROMIUM, browser, page as browser_page  # noqa: E402,F401


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_token_map_edit_then_sample_token_by_token(browser_page, server_url, artifacts_dir):
    p = browser_page
    p.goto(server_url + "/vq")
    p.locator("#vq-token-map td[data-r='3'][data-c='2']").wait_for(timeout=60_000)
    cell = p.locator("#vq-token-map td[data-r='3'][data-c='2']")
    assert re.fullmatch(r"row 3, column 2: code \d+", cell.get_attribute("title"))  # the index on hover
    cell.click()
    p.wait_for_function("() => document.querySelector('#vq-row input').value === '3' && "
                        "document.querySelector('#vq-col input').value === '2'", timeout=30_000)
    old = int(p.locator("#vq-code input").input_value())
    new = (old + 9) % 64
    p.locator(f"#vq-palette [data-code='{new}']").click()
    p.wait_for_function(f"() => document.querySelector('#vq-tok-text').innerText.includes('(was {old})')", timeout=30_000)
    assert p.locator("#vq-token-map td[data-r='3'][data-c='2']").inner_text().strip() == str(new)
    p.get_by_role("tab", name="Sample token by token").click()
    p.locator("#vq-sample").click()
    p.wait_for_function("() => /Token [1-9]\\d* of 49/.test(document.querySelector('#vq-sample-text').innerText)",
                        timeout=60_000)
    partial = p.locator("#vq-sample-map td[title*='not sampled yet']").count()
    assert 0 < partial < 49  # caught mid-way: the grid fills as tokens arrive
    p.wait_for_function("() => document.querySelector('#vq-sample-text').innerText.includes('Token 49 of 49')",
                        timeout=60_000)
    assert p.locator("#vq-sample-map td[title*='not sampled yet']").count() == 0
    p.screenshot(path=os.path.join(artifacts_dir, "vq-sample.png"), full_page=True)
