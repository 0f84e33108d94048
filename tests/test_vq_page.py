"""/vq: every tab's handler on the shipped models (and the claims the page makes, measured), bad values straight
to the handlers and through the HTTP API, live training, two sessions apart, and a real browser: the token map,
then a sample drawn token by token; two browsers at once, each editing only its own token map."""
import math
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
from plotly.graph_objects import Figure

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
    out = page.encode_image("vq-fashion", *FASHION)
    codes = _cells(out.grid)
    assert len(codes) == 49 and all(0 <= k < 64 for k in codes)
    assert codes == [k for row in out.state["tokens"] for k in row]
    assert out.palette.count("data-code=") == 64
    assert out.picture.ndim == 3 and "294 bits" in out.text  # 49 × log2(64)


def test_editing_a_cell_changes_the_decode():
    state = page.encode_image("vq-fashion", *FASHION).state
    old = state["tokens"][3][3]
    new = (old + 7) % 64
    out = page.set_code("vq-fashion", state, 3, 3, new)
    assert out.state["tokens"][3][3] == new and out.state["original"][3][3] == old
    assert f"(was {old})" in out.text
    model = page.get_model("vq-fashion").model
    before = vq.decode_tokens(model, torch.tensor(state["tokens"]))
    after = vq.decode_tokens(model, torch.tensor(out.state["tokens"]))
    assert (after - before).abs().max() > 0.05  # the decoder redrew that patch
    assert out.picture.shape[1] > page.encode_image("vq-fashion", *FASHION).picture.shape[1]  # edit and |Δ| appear
    reset = page.reset_edits("vq-fashion", out.state).state
    assert reset["tokens"] == reset["original"]


def test_clicks_on_the_map_and_the_codebook_go_through_event_data():
    state = page.encode_image("vq-fashion", *FASHION).state
    out = page.click_cell("vq-fashion", state, SimpleNamespace(_data={"row": 2, "col": 5}))
    assert (out.row, out.col, out.code) == (2, 5, state["tokens"][2][5]) and out.state["selected"] == (2, 5)
    out = page.click_code("vq-fashion", out.state, 2, 5, SimpleNamespace(_data={"code": 11}))
    assert out.state["tokens"][2][5] == 11 and out.code == 11


def test_two_sessions_edit_their_own_token_maps_and_keep_their_own_samples():
    a = page.encode_image("vq-fashion", *FASHION).state
    b = page.encode_image("vq-fashion", "Fashion-MNIST", 2, 0, None).state  # another browser, another image
    b_before = [row[:] for row in b["tokens"]]
    a = page.set_code("vq-fashion", a, 3, 3, (a["tokens"][3][3] + 7) % 64).state
    b = page.set_code("vq-fashion", b, 1, 1, (b["tokens"][1][1] + 5) % 64).state
    assert a["tokens"][1][1] == a["original"][1][1] and b["tokens"][3][3] == b_before[3][3]  # neither sees the other's
    assert page.reset_edits("vq-fashion", a).state["tokens"] == a["original"] and b["tokens"] != b["original"]
    frames_a = list(page.sample_live(-1, 1.0, 0, 1, 1000))[-1].frames
    frames_b = list(page.sample_live(7, 1.0, 0, 2, 1000))[-1].frames
    assert "Token 49 of 49" in page.scrub(frames_a, 49).text
    assert not np.array_equal(frames_a[-1]["tokens"], frames_b[-1]["tokens"])
    assert page.scrub(frames_a, 30).grid != page.scrub(frames_b, 30).grid


@pytest.mark.parametrize("row, col, code, message", [
    (7, 0, 1, "row must be"), (0, -1, 1, "column must be"), (0, 0, 64, "code must be"), (0, 0, 1.5, "code must be")])
def test_bad_edits_get_a_clear_message(row, col, code, message):
    state = page.encode_image("vq-fashion", *FASHION).state
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
    assert len(_cells(page.encode_image("vq-fashion", "upload", 0, 0, str(rgba)).grid)) == 49
    junk = tmp_path / "notes.png"
    junk.write_text("not an image")
    with pytest.raises(gr.Error, match="Try another file"):
        page.encode_image("vq-fashion", "upload", 0, 0, str(junk))


def test_quantisation_is_nearest_code_and_close_to_kmeans():
    out = page.quantisation("vq-fashion", 5, 0)
    lines, z_e = out.plot.data[0], out.plot.data[1]
    assert len(z_e.x) == 5 * 49 and len(lines.x) == 3 * 5 * 49
    learned, kmeans = (float(v) for v in re.findall(r"\*\*(\d+\.\d+)\*\*", out.text)[:2])
    assert kmeans <= learned < 3 * kmeans  # the learned codebook is a near-k-means solution
    with pytest.raises(gr.Error, match="images must be"):
        page.quantisation("vq-fashion", 0, 0)


def test_ema_and_restarts_cure_dead_codes_measured():
    out = page.compare_health()
    plain, cured = (page.test_usage(page.get_model(name)) for name in ("vq-k512-plain-fashion", "vq-k512-fashion"))
    assert cured["dead_codes"] < plain["dead_codes"] and cured["perplexity"] > 2 * plain["perplexity"]
    assert len(out.usage.data) == 2 and len(out.curves.data) == 4
    assert f"| {plain['dead_codes']} |" in out.text
    one = page.measure_health("vq-k16-fashion")
    assert "| 16 |" in one.text and len(one.usage.data[0].y) == 16


def test_a_bigger_codebook_reconstructs_better():
    out = page.compare_sizes(4, 0)
    mse = {int(m.group(1)): float(m.group(2))
           for m in re.finditer(r"^\| (\d+) \| 16 \| \d+ \| (\d\.\d+) \|", out.text, re.M)}
    assert set(mse) == {16, 64, 512} and mse[16] > mse[64] > mse[512]
    assert out.picture.ndim == 3


def test_sampling_streams_one_token_at_a_time_and_a_seed_repeats_it():
    updates = list(page.sample_live(-1, 1.0, 0, 3, 1000))
    assert len(updates) == 50  # 49 tokens, then the replay controls
    first_grid = updates[0].grid
    assert len(_cells(first_grid)) == 1 and first_grid.count("not sampled yet") == 48
    frames = updates[-1].frames
    assert len(frames) == 49 and len(_cells(updates[-1].grid)) == 49
    again = list(page.sample_live(-1, 1.0, 0, 3, 1000))[-1].frames
    assert all(np.array_equal(a["tokens"], b["tokens"]) for a, b in zip(frames, again))
    frame = page.scrub(frames, 10)
    assert len(_cells(frame.grid)) == 10 and "Token 10 of 49" in frame.text
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
    frames = list(page.sample_live(-1, 1.0, 1, 0, 1000))[-1].frames
    assert all(f["p"] == pytest.approx(1.0) for f in frames)


def test_a_drawn_token_never_reads_as_probability_zero():
    """Issue 18, item 10: "drew code 43, to which the prior gave probability 0.00"."""
    frames = list(page.sample_live(-1, 1.0, 0, 0, 1000))[-1].frames
    unlikely = [{**f, "p": 3.1e-4, "top": [(1, 0.9), (2, 0.0042), (3, 2.7e-5)]} if k == 4 else f
                for k, f in enumerate(frames)]
    text = page.scrub(unlikely, 5).text
    assert "probability **0.00031** (log-probability ln p = -8.08)" in text and "0.00*" not in text
    assert "1 (0.90), 2 (0.0042), 3 (2.7e-05)" in text
    for frame in frames:  # every real draw: its probability shown non-zero, and its log-probability
        shown = page.scrub(frames, frame["position"] + 1).text
        p = float(re.search(r"probability \*\*([^*]+)\*\*", shown).group(1))
        assert 0 < p == pytest.approx(frame["p"], rel=0.05, abs=0.005)
        assert f"ln p = {math.log(frame['p']):.2f}" in shown


def test_the_prior_draws_garments_of_the_asked_class():
    card = checkpoints.card("prior-fashion")["metrics"]
    assert card["test_bits_per_image"] < 0.8 * card["uniform_bits_per_image"]
    assert card["class_accuracy"] > 0.5
    out = page.sample_grid(7, 1.0, 0, 0, 16)
    assert out.picture.ndim == 3 and "classified as Sneaker" in out.text


def test_temperature_is_measured():
    out = page.temperature_sweep(-1, 0, 0)
    conf = [float(v) for v in re.findall(r"^\| [\d.]+ \| (\d\.\d+) \|", out.text, re.M)]
    assert len(conf) == 6 and conf[0] > conf[-1]  # a colder prior makes more confident-looking garments


def test_gumbel_relaxation_leaks_at_moderate_tau_and_blurs_at_high_tau():
    out = page.gumbel(*FASHION, 1.0, 0, True)
    relaxed, hard, drawn = list(out.plot.data[0].y), out.plot.data[1].y, out.plot.data[2].y
    assert relaxed[0] == pytest.approx(drawn[0], rel=0.05)  # τ = 0.05: one code, argmax(logits + g) ...
    differ = float(re.search(r"the two differ in ([\d.]+)% of cells", out.text).group(1))
    assert differ > 1 and "a *sample*" in out.text  # ... a Gumbel-max sample, not the argmax (the tokens)
    assert "not with DALL·E's logit-Laplace" in out.text  # the dVAE's loss is said to be MSE
    assert min(relaxed) < relaxed[0]  # a blend of codes passes more than a token: a lower error ...
    assert relaxed[-1] > 3 * relaxed[0]  # ... until τ = 100 blends them all and the image is lost
    assert f"least at τ = {out.plot.data[0].x[relaxed.index(min(relaxed))]:g}" in out.text
    quiet = page.gumbel(*FASHION, 1.0, 0, False)  # no noise: τ → 0 is the argmax itself
    assert "the argmax code, the token itself" in quiet.text and list(quiet.plot.data[1].y) == list(quiet.plot.data[2].y)
    with pytest.raises(gr.Error, match="τ must be"):
        page.gumbel(*FASHION, 0.0, 0, True)


def test_live_training_streams_health_and_keeps_the_model_in_this_session_only():
    job = page.make_job("digits", "ema-restart", 16, 4, 0.25, True, 40, 32, 1e-3, 0)
    updates = list(page.run_job(job, {}, page.MENU))
    assert any("Step 40 of 40" in u.status and "perplexity" in u.status for u in updates[:-1])
    heat = [u.plot for u in updates[:-1] if isinstance(u.plot, Figure)]
    assert heat and any(trace.type == "heatmap" for trace in heat[-1].data)  # usage over training
    final = updates[-1]
    assert final.status.startswith("Done: 40 steps")
    name = final.menu["value"]
    assert len(_cells(page.encode_image(name, "Fashion-MNIST", 3, 0, None, final.my_models).grid)) == 16  # 4×4
    assert "perplexity" in page.train_summary(final.my_models)
    with pytest.raises(gr.Error, match="another browser"):
        page.encode_image(name, "Fashion-MNIST", 3, 0, None, {})


@pytest.mark.parametrize("args, message", [
    (("digits", "ema", 1, 4, 0.25, False, 10, 32, 1e-3, 0), "K must be"),
    (("digits", "ema", 16, 4, 0.25, False, 99999, 32, 1e-3, 0), "steps must be"),
    (("digits", "kmeans", 16, 4, 0.25, False, 10, 32, 1e-3, 0), "quantiser must be"),
    (("fashion", "ema", 16, 4, 0.25, False, 10, 512, 1e-3, 0), "batch size must be")])
def test_bad_training_values_get_a_clear_message(args, message):
    with pytest.raises(gr.Error, match=message):
        page.make_job(*args)


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


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_projector_first_screen(browser, server_url, artifacts_dir):
    """On a 1280×800 projector, after Encode, the token map, the decode and Encode are on the first screen."""
    from browsing import assert_in_first_screen
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        p = context.new_page()
        p.goto(server_url + "/vq")
        p.locator("#vq-token-map td[data-r='3'][data-c='2']").wait_for(timeout=60_000)
        p.get_by_label("Index in its class (test set)").fill("1")
        p.locator("#vq-encode").click()
        p.wait_for_function("() => document.querySelector('#vq-tok-text').innerText.includes('item 1 of')",
                            timeout=60_000)
        p.screenshot(path=os.path.join(artifacts_dir, "vq-projector.png"))
        for selector in ("#vq-token-map", "#vq-tok-image", "#vq-encode", "#vq-tok-model"):
            assert_in_first_screen(p, selector, min_visible=250)
    finally:
        context.close()


def _open(browser, server_url):
    """A fresh browser context (another student) on /vq, recording console errors."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    p = context.new_page()
    p.console_errors = []
    p.on("console", lambda m: p.console_errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: p.console_errors.append(str(e)))
    p.goto(server_url + "/vq")
    p.locator("#vq-token-map td[data-r='3'][data-c='2']").wait_for(timeout=60_000)
    return context, p


def _code_at(p, r, c) -> int:
    return int(p.locator(f"#vq-token-map td[data-r='{r}'][data-c='{c}']").inner_text().strip())


def _swap(p, r, c, shift) -> tuple[int, int]:
    """Click cell (r, c), then the code `shift` further on in the codebook; wait for the redraw."""
    p.locator(f"#vq-token-map td[data-r='{r}'][data-c='{c}']").click()
    p.wait_for_function(f"() => document.querySelector('#vq-row input').value === '{r}' && "
                        f"document.querySelector('#vq-col input').value === '{c}'", timeout=30_000)
    old = int(p.locator("#vq-code input").input_value())
    new = (old + shift) % 64
    p.locator(f"#vq-palette [data-code='{new}']").click()
    p.wait_for_function(f"() => document.querySelector('#vq-tok-text').innerText.includes('(was {old})')",
                        timeout=30_000)
    return old, new


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_two_students_edit_their_own_token_maps(browser, server_url, artifacts_dir):
    (ctx_a, a), (ctx_b, b) = _open(browser, server_url), _open(browser, server_url)
    try:
        b.get_by_label("Index in its class (test set)").fill("1")  # B tokenises another image
        b.locator("#vq-encode").click()
        b.wait_for_function("() => document.querySelector('#vq-tok-text').innerText.includes('item 1 of')",
                            timeout=60_000)
        a_before, b_before = _code_at(a, 1, 1), _code_at(b, 3, 2)
        _, a_new = _swap(a, 3, 2, 9)
        _, b_new = _swap(b, 1, 1, 5)
        # A's next click redraws from A's own session: its edit is there, B's is not (and the other way round)
        a.locator("#vq-token-map td[data-r='1'][data-c='1']").click()
        a.wait_for_function("() => document.querySelector('#vq-tok-text').innerText.includes('row 1, column 1')",
                            timeout=30_000)
        b.locator("#vq-token-map td[data-r='3'][data-c='2']").click()
        b.wait_for_function("() => document.querySelector('#vq-tok-text').innerText.includes('row 3, column 2')",
                            timeout=30_000)
        assert _code_at(a, 3, 2) == a_new and _code_at(a, 1, 1) == a_before and "item 0 of" in a.inner_text("#vq-tok-text")
        assert _code_at(b, 1, 1) == b_new and _code_at(b, 3, 2) == b_before and "item 1 of" in b.inner_text("#vq-tok-text")
        a.screenshot(path=os.path.join(artifacts_dir, "vq-two-browsers-a.png"), full_page=True)
        assert a.console_errors == [] and b.console_errors == [], (a.console_errors, b.console_errors)
    finally:
        ctx_a.close()
        ctx_b.close()


def test_the_test_set_usage_comes_from_the_card_and_the_card_is_what_vq_usage_measures():
    """A first visit reads each shipped model's test-set usage from its card instead of encoding 10,000 images; the
    card's figures must be exactly what vq.usage measures on those weights (a stale card fails here)."""
    from pages.vq.menu import test_usage
    from playground import data
    handle = checkpoints.load("vq-k16-fashion", device="cpu")
    carded = test_usage(handle)
    measured = vq.usage(handle.model, data.load("fashion", "test").x)
    assert torch.equal(carded["counts"], measured["counts"].cpu()) and int(carded["counts"].sum()) == 10_000 * 49
    assert carded["dead_codes"] == measured["dead_codes"]
    assert carded["perplexity"] == pytest.approx(measured["perplexity"], rel=1e-9)
    assert carded["test_mse_per_pixel"] == pytest.approx(measured["test_mse_per_pixel"], rel=1e-6)
    from playground.models import Loaded
    trained_here = Loaded.trained(handle.model, handle.spec, "fashion", "mine", "1")  # no card figures: measured
    assert torch.equal(test_usage(trained_here)["counts"].cpu(), measured["counts"].cpu())


def test_every_vq_card_holds_consistent_test_set_counts():
    """/vq shows each shipped tokenizer's code counts from its card: they must add up to every test token, leave
    exactly the card's dead codes at zero, and give the card's perplexity."""
    for name in checkpoints.available():
        card = checkpoints.card(name)
        if card["family"] != "vq":
            continue
        m = card["metrics"]
        counts = torch.tensor(m["test_code_counts"])
        from playground.families import spec_from_card
        grid = spec_from_card(card).grid
        assert len(counts) == card["spec"]["codebook_size"], name
        assert int(counts.sum()) == m["eval_images"] * grid ** 2, name
        assert int((counts == 0).sum()) == m["test_dead_codes"], name
        assert vq.perplexity(counts) == pytest.approx(m["test_perplexity"], rel=1e-9), name
