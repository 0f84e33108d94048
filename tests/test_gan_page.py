"""/gan: the live 2D run (train, pause, single D/G steps, presets), the measured collapse comparison, the
shipped DCGAN's tabs, bad values through the handlers and the HTTP API, and a browser run that is stopped."""
import os
import re

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from pages import gan as page_gan
from playground import checkpoints

SETTINGS = dict(dataset="ring8", loss="nonsaturating", lr=1e-3, d_lr=1e-3, d_steps=1, latent=8, seed=0)
HAVE_DCGAN = "gan-fashion" in checkpoints.available()
needs_dcgan = pytest.mark.skipif(not HAVE_DCGAN, reason="the DCGAN checkpoint is not shipped here")
GRADIO_CHECK = "|greater than maximum|less than minimum|not in the list of choices"


class Session:
    def __init__(self, name):
        self.session_hash = name


def test_live_run_streams_counts_modes_and_resumes():
    who = Session("live")
    first = page_gan.reset2d(**SETTINGS, request=who)
    assert first[0].ndim == 3 and "Iteration 0" in first[3] and "0 of 8 modes" in first[3]
    updates = list(page_gan.train2d(**SETTINGS, iters=400, request=who))
    assert len(updates) >= 3  # redrawn while training, not only at the end
    assert "Iteration 400" in updates[-1][3]
    covered = int(re.search(r"(\d) of 8 modes covered", updates[-1][3]).group(1))
    assert covered >= 4  # the non-saturating loss spreads over the ring within a few hundred iterations
    assert updates[-1][0].ndim == 3 and isinstance(updates[-1][1], go.Figure)  # the last redraw has both plots
    assert sum(isinstance(u[1], go.Figure) for u in updates) < len(updates)  # plots redraw less often than the picture
    more = list(page_gan.train2d(**SETTINGS, iters=50, request=who))  # same settings: it goes on
    assert "Iteration 450" in more[-1][3]


def test_single_d_and_g_steps_and_a_changed_setting_starts_over():
    who = Session("steps")
    page_gan.reset2d(**SETTINGS, request=who)
    d = page_gan.single_step("D", **SETTINGS, request=who)
    assert "(1 D updates, 0 G updates)" in d[3] and "Iteration 0" in d[3]
    g = page_gan.single_step("G", **SETTINGS, request=who)
    assert "(1 D updates, 1 G updates)" in g[3] and "Iteration 1" in g[3]
    run = page_gan.RUNS["steps"]
    points_before = run["model"].generator(run["z"]).detach()
    page_gan.single_step("G", **SETTINGS, request=who)
    assert not np.allclose(run["model"].generator(run["z"]).detach(), points_before)  # a G step moves the points
    other = page_gan.single_step("D", **{**SETTINGS, "loss": "wgan-gp"}, request=who)
    assert "(1 D updates, 0 G updates)" in other[3] and "WGAN-GP" in other[3]


def test_presets_set_the_controls():
    assert page_gan.preset("covers")[:2] == ("ring8", "nonsaturating")
    assert page_gan.preset("collapses")[1] == page_gan.PRESETS["collapses"]["loss"]


def test_the_collapse_preset_covers_fewer_modes_than_the_covering_one():
    fig, points, table = page_gan.collapse_side_by_side(1000, 0)
    final = {row.split(" | ")[0].strip("| "): int(re.search(r"(\d) of 8", row).group(1))
             for row in table.splitlines() if re.match(r"\| (covers|collapses) \|", row)}
    assert final["covers"] >= 7 and final["collapses"] <= 2, table
    assert len(fig.data) == 2


@pytest.mark.parametrize("change, message", [
    ({"lr": 0}, "G learning rate must be"), ({"d_lr": float("nan")}, "D learning rate must be"),
    ({"lr": 1e6}, "G learning rate must be"), ({"loss": "lsgan"}, "loss must be one of"),
    ({"d_steps": 100}, "D steps per G step must be"), ({"dataset": "mnist"}, "dataset must be one of"),
    ({"latent": 0}, "latent size must be"), ({"seed": -1}, "seed must be"),
])
def test_bad_values_get_a_clear_message(change, message):
    with pytest.raises(gr.Error, match=message):
        page_gan.reset2d(**{**SETTINGS, **change}, request=Session("bad"))
    with pytest.raises(gr.Error, match=message):
        list(page_gan.train2d(**{**SETTINGS, **change}, iters=10, request=Session("bad")))


def test_too_many_iterations_are_refused():
    with pytest.raises(gr.Error, match="iterations must be"):
        list(page_gan.train2d(**SETTINGS, iters=10**7, request=Session("bad")))


@needs_dcgan
def test_dcgan_tabs():
    image, text = page_gan.dcgan_samples(20, 0)
    assert image.ndim == 3 and "Fréchet distance" in text
    assert page_gan.dcgan_interpolate(0, 1, 5).ndim == 3
    picture, text = page_gan.patch_maps(0, 0, 0)
    assert picture.ndim == 3 and "real" in text
    grid, table = page_gan.compare_families(16, 0)
    assert grid.ndim == 3 and all(name in table for name in ("GAN", "VAE", "DDPM", "real test images"))
    with pytest.raises(gr.Error, match="steps must be"):
        list(page_gan.dcgan_train(10**5, 32, "nonsaturating", 0))


@needs_dcgan
def test_dcgan_live_training_streams_samples():
    updates = list(page_gan.dcgan_train(6, 8, "hinge", 0))
    assert any(isinstance(u[2], np.ndarray) for u in updates[:-1])
    assert updates[-1][0].startswith("Done: 6 steps")


# ---- through the HTTP API and in a browser ----------------------------------------------------------

@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


@pytest.mark.parametrize("args, message", [
    (("ring8", "nonsaturating", 0, 1e-3, 1, 8, 0), "G learning rate must be"),
    (("ring8", "lsgan", 1e-3, 1e-3, 1, 8, 0), "loss must be one of" + GRADIO_CHECK),
    (("ring8", "nonsaturating", 1e-3, 1e-3, 1, 1000, 0), "latent size must be" + GRADIO_CHECK),
])
def test_bad_values_through_the_http_api(client, args, message):
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name="/gan_reset")


from test_browser import CHROMIUM, _src, browser, page  # noqa: E402,F401


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_trains_sees_the_heat_map_update_and_pauses(page, server_url, artifacts_dir):
    page.goto(server_url + "/gan")
    status = page.locator("#gan-status")
    status.get_by_text("Iteration 0").wait_for(timeout=60_000)
    before = _src(page, "gan-field")
    page.locator("#gan-train").click()
    page.wait_for_function("() => /Iteration [1-9]\\d*/.test(document.querySelector('#gan-status').innerText)",
                           timeout=60_000)
    page.wait_for_timeout(1500)
    page.locator("#gan-pause").click()
    page.wait_for_timeout(1500)
    paused = status.inner_text()
    page.wait_for_timeout(1500)
    assert status.inner_text() == paused  # nothing moves after Pause
    n = int(re.search(r"Iteration (\d+)", paused).group(1))
    assert 0 < n < 2000  # stopped before the 2000 iterations of one press
    assert _src(page, "gan-field") != before  # the heat map was redrawn
    page.screenshot(path=os.path.join(artifacts_dir, "gan.png"), full_page=True)
