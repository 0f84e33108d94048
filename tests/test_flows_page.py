"""/flows with the shipped models: RealNVP's report (density, layers, z, likelihood, the log-det check), flow
matching's paths and step-through, the guided Fashion grid, the comparison with DDIM, live training, bad input
refused (directly and through the HTTP API), and the page in a real browser."""
import os
import shutil

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from pages.flows import compare, matching, realnvp

CHROMIUM = shutil.which("chromium")


def _rows(markdown: str, start: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines() if line.startswith(start)]


def test_realnvp_report_checks_the_logdet_and_the_likelihood_on_the_ring():
    view = realnvp.show_flow("realnvp-ring8", {})
    checks = _rows(view.logdet, "| (")
    assert len(checks) == realnvp.CHECK_POINTS
    for _, layers, brute, difference in checks:
        assert abs(float(layers) - float(brute)) < 1e-5 and float(difference) < 1e-9
    assert "the true density" in view.likelihood and "KL(data ‖ flow)" in view.likelihood
    nats = {row[0]: float(row[1]) for row in _rows(view.likelihood, "| the") + _rows(view.likelihood, "| kernel")}
    truth, flow = nats["the true density (a mixture of 8 Gaussians)"], nats["the flow, exact log p(x)"]
    assert truth - 0.3 < flow < truth + 0.05  # the flow's test log-likelihood is close to the truth, not above it
    assert "Is f(data) ~ N(0, I)?" in view.base_text and "parameters" in view.cost
    assert view.density is not None and view.layers is not None and view.base is not None


def test_flow_matching_paths_step_through_and_reflow_straightens_them():
    update = matching.sample_paths("fm-moons", "heun", 8, 200, 0, {})
    run = update.run
    assert run["path"].states.shape == (9, 200, 2) and run["path"].nfe == 16
    assert "Path length ÷ distance" in update.text and "Step 8 of 8" in update.text
    figure, text = matching.show_frame(3, run)
    assert "Step 3 of 8" in text and figure is not None
    assert 1.05 < float(run["path"].straightness.median()) < 1.5  # independent pairs: the average paths bend
    reflowed = matching.sample_paths("fm-moons-reflow", "heun", 8, 200, 0, {}).run["path"]
    assert float(reflowed.straightness.median()) < 1.01


def test_the_guided_fashion_grid_streams_to_the_last_step():
    updates = list(matching.generate_fashion(7, "0, 1, 3", 3, "heun", 4))
    assert "step 4 of 4" in updates[-1].text and "16 network evaluations" in updates[-1].text
    assert updates[-1].x.shape[2] == 3 and updates[-1].x0 is not None


def test_compare_measures_every_method_from_the_same_noise():
    updates = list(compare.measure("ring8", [5, 10], 200, 0))
    table = updates[-1][0]
    for method in ("flow matching, Euler", "flow matching, Heun", "DDPM (cosine), DDIM", "DDPM (linear), DDIM"):
        assert f"| {method} | 5 |" in table and f"| {method} | 10 |" in table
    heun = _rows(table, "| flow matching, Heun | 10 |")[0]
    assert heun[2] == "20"  # Heun: two network evaluations a step


def test_training_a_realnvp_live_adds_it_to_this_browsers_menu():
    job = realnvp.make_job("moons", 3, True, 30, 64, 1e-3, 0)
    from pages.common import run_job
    updates = list(run_job(job, {}, realnvp.REALNVP_MENU))
    mine = updates[-1].my_models
    assert len(mine) == 1
    view = realnvp.show_flow("user:" + next(iter(mine)), mine)
    assert "3 coupling layers" in view.cost


@pytest.mark.parametrize("call, message", [
    (lambda: realnvp.show_flow("realnvp-nope", {}), "model must be one of"),
    (lambda: realnvp.show_flow("user:abc", {}), "another browser session"),
    (lambda: realnvp.make_job("moons", 40, True, 30, 64, 1e-3, 0), "coupling layers"),
    (lambda: realnvp.make_job("moons", 4, "yes", 30, 64, 1e-3, 0), "ActNorm"),
    (lambda: matching.sample_paths("fm-moons", "rk4", 8, 200, 0, {}), "solver"),
    (lambda: matching.sample_paths("fm-moons", "euler", 8, 10**6, 0, {}), "points"),
    (lambda: matching.show_frame(3, None), "Sample first"),
    (lambda: list(matching.generate_fashion(12, "1, 3", 4, "euler", 6)), "class"),
    (lambda: list(matching.generate_fashion(7, "1, nan", 4, "euler", 6)), "finite"),
    (lambda: list(matching.generate_fashion(7, "1, 3", 40, "euler", 6)), "seeds"),
    (lambda: list(matching.generate_fashion(7, "1, 2, 3, 4, 5, 6, 7, 8", 8, "heun", 100)), "network calls"),
    (lambda: list(compare.measure("fashion", [5, 10, 20, 50], 100, 0)), "network calls"),
    (lambda: list(compare.measure("ring8", [7], 100, 0)), "step counts"),
])
def test_bad_input_is_refused_with_a_clear_message(call, message):
    with pytest.raises(gr.Error, match=message):
        call()


@pytest.mark.parametrize("args, api, message", [
    (("realnvp-moons; rm -rf /",), "/flows_realnvp", "model must be one of|not in the list of choices"),
    (("fm-moons", "euler", 10_000, 100, 0), "/flows_paths", "steps|greater than maximum"),
    ((7, "1, 1000", 4, "euler", 10), "/flows_fashion", "within"),
])
def test_the_api_refuses_bad_requests(server_url, args, api, message):
    client = Client(server_url, verbose=False)
    with pytest.raises(AppError, match=message + "|greater than maximum|less than minimum") as info:
        client.predict(*args, api_name=api)
    assert "Traceback" not in str(info.value)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_flows_shows_a_realnvp_samples_paths_and_compares(server_url, artifacts_dir):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1280, "height": 800})
        pg.goto(server_url + "/flows")
        pg.locator("#flows-nvp-logdet").get_by_text("brute force").wait_for(timeout=60_000)  # shown on load
        pg.locator("#flows-nvp-density .js-plotly-plot").wait_for(timeout=30_000)  # Plotly draws after the text
        assert pg.locator("#flows-nvp-density .js-plotly-plot").count() == 1
        pg.screenshot(path=os.path.join(artifacts_dir, "flows-realnvp.png"), full_page=True)
        pg.get_by_role("tab", name="Flow matching").click()
        pg.locator("#flows-fm-sample").click()
        pg.locator("#flows-fm-text").get_by_text("Path length").wait_for(timeout=60_000)
        pg.locator("#flows-fm-paths .js-plotly-plot").wait_for(timeout=30_000)
        pg.locator("#flows-fm-generate").click()
        pg.locator("#flows-fm-grid-text").get_by_text("step 20 of 20").wait_for(timeout=120_000)
        pg.locator("#flows-fm-x img").wait_for(timeout=30_000)
        pg.screenshot(path=os.path.join(artifacts_dir, "flows-matching.png"), full_page=True)
        pg.get_by_role("tab", name="Against diffusion").click()
        pg.locator("#flows-compare-run").click()
        pg.locator("#flows-compare-table").get_by_text("DDPM (linear), DDIM").first.wait_for(timeout=120_000)
        pg.screenshot(path=os.path.join(artifacts_dir, "flows-compare.png"), full_page=True)
        browser.close()


def test_the_cli_samples_both_flow_families(tmp_path, capsys):
    import numpy as np
    from playground.__main__ import main
    out = tmp_path / "fm.npy"
    assert main(["sample", "fm-fashion", "--label", "7", "--guidance", "2", "--sampler", "heun", "--steps", "4",
                 "--n", "3", "--out", str(out)]) == 0
    assert np.load(out).shape == (3, 1, 28, 28)
    assert main(["sample", "realnvp-moons", "--n", "5", "--out", str(tmp_path / "nvp.npy")]) == 0
    assert np.load(tmp_path / "nvp.npy").shape == (5, 2)
    assert main(["sample", "realnvp-moons", "--label", "1", "--out", str(tmp_path / "x.npy")]) == 2
    assert main(["sample", "fm-fashion", "--label", "12", "--out", str(tmp_path / "x.npy")]) == 2
    assert main(["sample", "ddpm-moons-cosine", "--sampler", "heun", "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert "unconditional RealNVP" in err and "--label must be a class" in err and "ODE solver" in err
