"""/reverse "Learned variance" with the shipped improved-DDPM models: the card's figures on open, quality against
respaced DDPM steps for β̃, β and the learned Σ_θ, the likelihood bound in bits/dim measured live, bad input refused
(directly and through the HTTP API), and the tab in a real browser."""
import os
import shutil

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from pages.reverse import variance

CHROMIUM = shutil.which("chromium")


def _rows(markdown: str, start: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines() if line.startswith(start)]


def test_the_card_shows_the_bound_for_all_three_variances_and_the_fixed_model():
    text, quality, v_plot, terms_plot, steps_plot = variance.card_view("ddpm-moons-learned")
    bits = {row[0]: float(row[1]) for row in _rows(text, "| this model") + _rows(text, "| ddpm-moons-cosine")}
    assert set(bits) == {f"this model, {v}" for v in variance.dviz.VARIANCE_NAMES.values()} | {
        "ddpm-moons-cosine (L_simple), σ² = β̃ (fixed)", "ddpm-moons-cosine (L_simple), σ² = β (fixed)"}
    # the learned variance bounds the likelihood better than the β̃ the sampler uses by default
    assert bits["this model, Σ_θ learned"] < bits["this model, σ² = β̃ (fixed)"]
    steps = [row for row in _rows(quality, "| ") if row[0].isdigit()]  # one row per K, a column per variance
    assert [row[0] for row in steps] == [str(k) for k in variance.STEPS] and all(len(row) == 4 for row in steps)
    assert float(steps[0][3]) < min(float(steps[0][1]), float(steps[0][2]))  # K = 25: the learned Σ is closest
    assert v_plot is not None and terms_plot is not None and steps_plot is not None


def test_quality_against_steps_streams_a_row_per_variance():
    updates = list(variance.measure_steps("ddpm-ring8-learned", [25], 200, 0))
    status, table, figure = updates[-1]
    assert "75 of 75 network calls — done." in status
    rows = [row for row in _rows(table, "| ") if row[0].isdigit()]
    assert len(rows) == 1 and rows[0][0] == "25" and all(0 < float(cell) < 1 for cell in rows[0][1:])
    assert "σ² = β̃ (fixed) | σ² = β (fixed) | Σ_θ learned" in table and figure is not None


def test_the_bound_is_measured_live_one_t_at_a_time():
    updates = list(variance.measure_bound("ddpm-moons-learned", 100, 0))
    table, v_plot, terms_plot = updates[-1]
    assert "partial" not in table and "100 test examples" in table
    assert "partial" in updates[0][0]  # the first redraw comes before the last term
    bits = {row[0]: float(row[1]) for row in _rows(table, "| this model")}
    assert len(bits) == 3 and all(-5 < b < 20 for b in bits.values())
    assert v_plot is not None and terms_plot is not None


@pytest.mark.parametrize("call, message", [
    (lambda: variance.card_view("ddpm-moons-cosine"), "learned-variance models"),
    (lambda: list(variance.measure_steps("ddpm-nope", [25], 200, 0)), "learned-variance models"),
    (lambda: list(variance.measure_steps("ddpm-moons-learned", [7], 200, 0)), "step counts"),
    (lambda: list(variance.measure_steps("ddpm-moons-learned", "25", 200, 0)), "step counts"),
    (lambda: list(variance.measure_steps("ddpm-moons-learned", [25], 10**6, 0)), "samples"),
    (lambda: list(variance.measure_steps("ddpm-moons-learned", [25], 200, -3)), "seed"),
    (lambda: list(variance.measure_bound("ddpm-moons-learned", float("nan"), 0)), "test examples"),
])
def test_bad_input_is_refused_with_a_clear_message(call, message):
    with pytest.raises(gr.Error, match=message):
        call()


@pytest.mark.skipif("ddpm-fashion-learned" not in variance._learned_models(), reason="ddpm-fashion-learned not shipped")
def test_the_cost_cap_refuses_a_full_fashion_comparison():
    with pytest.raises(gr.Error, match="network calls"):
        list(variance.measure_steps("ddpm-fashion-learned", [25, 50, 100, 1000], 64, 0))
    with pytest.raises(gr.Error, match="network calls"):
        list(variance.measure_bound("ddpm-fashion-learned", 64, 0))


@pytest.mark.parametrize("args, api, message", [
    (("ddpm-moons-learned; rm -rf /", [25], 200, 0), "/reverse_variance_steps", "learned-variance models"),
    (("ddpm-moons-learned", 10**7, 0), "/reverse_variance_bound", "test examples"),
])
def test_the_api_refuses_bad_requests(server_url, args, api, message):
    client = Client(server_url, verbose=False)
    with pytest.raises(AppError, match=message + "|greater than maximum|less than minimum|not in the list") as info:
        client.predict(*args, api_name=api)
    assert "Traceback" not in str(info.value) and "rm -rf" not in str(info.value)[200:]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_learned_variance_tab_shows_the_card_and_measures(server_url, artifacts_dir):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1280, "height": 800})
        pg.goto(server_url + "/reverse")
        pg.get_by_role("tab", name="Learned variance").click()
        pg.locator("#variance-card").get_by_text("bits/dim (bound)").wait_for(timeout=60_000)
        pg.get_by_label("Learned-variance model").click()
        pg.get_by_role("option", name="two moons · cosine schedule, learned variance (shipped)").click()
        pg.locator("#variance-card").get_by_text("ddpm-moons-cosine (L_simple)").first.wait_for(timeout=30_000)
        pg.get_by_text("Measure it again, live, on this server").click()
        pg.locator("#variance-steps-run").click()
        pg.locator("#variance-status").get_by_text("done").wait_for(timeout=120_000)
        rows = pg.locator("#variance-live-table tr").count()
        assert rows == 1 + 3  # header + K = 25, 50, 100 (a column per variance)
        pg.screenshot(path=os.path.join(artifacts_dir, "reverse-variance.png"), full_page=True)
        browser.close()
