"""/gan: the live 2D run (train, pause, single D/G steps, presets), the measured collapse comparison, the
shipped DCGAN's tabs, bad values through the handlers and the HTTP API, and a browser run that is stopped."""
import os
import re

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError

from pages import gan as page_gan
from pages.common import run_job
from playground import checkpoints, gan
from playground.viz import gan as gan_viz

SETTINGS = dict(dataset="ring8", loss="nonsaturating", lr=1e-3, d_lr=1e-3, d_steps=1, latent=8, seed=0)
HAVE_DCGAN = "gan-fashion" in checkpoints.available()
needs_dcgan = pytest.mark.skipif(not HAVE_DCGAN, reason="the DCGAN checkpoint is not shipped here")
GRADIO_CHECK = "|greater than maximum|less than minimum|not in the list of choices"


def test_live_run_streams_counts_modes_and_resumes():
    first = page_gan.reset2d(**SETTINGS)
    assert first.field.ndim == 3 and "Iteration 0" in first.status and "0 of 8 modes" in first.status
    assert isinstance(first.losses, go.Figure) and first.losses.layout.xaxis.title.text == "iteration"  # titled, empty
    updates = list(page_gan.train2d(**SETTINGS, iters=400, run=first.run))
    assert len(updates) >= 3  # redrawn while training, not only at the end
    assert "Iteration 400" in updates[-1].status and updates[-1].run is first.run
    covered = int(re.search(r"(\d) of 8 modes covered", updates[-1].status).group(1))
    assert covered >= 4  # the non-saturating loss spreads over the ring within a few hundred iterations
    assert updates[-1].field.ndim == 3 and isinstance(updates[-1].losses, go.Figure)  # the last redraw has both plots
    assert sum(isinstance(u.losses, go.Figure) for u in updates) < len(updates)  # plots redraw less often than the picture
    more = list(page_gan.train2d(**SETTINGS, iters=50, run=updates[-1].run))  # same settings: it goes on
    assert "Iteration 450" in more[-1].status


def test_pause_then_single_steps_act_on_the_model_just_trained():
    """The issue's bug: after Pause, "One D step" showed "Iteration 2" and an untrained picture."""
    start = page_gan.reset2d(**SETTINGS)
    training = page_gan.train2d(**SETTINGS, iters=5000, run=start.run)
    for last in training:  # redraws come at most 5 times a second, however fast it trains
        if last.run.iteration >= 20:
            break
    training.close()  # what Pause does (Gradio closes the cancelled event's generator)
    run = last.run
    shown = page_gan.paused(run)  # the run exactly where the cancelled training left it
    n = int(re.search(r"Iteration (\d+)", shown.status).group(1))
    assert 0 < n < 5000 and f"({n} D updates, {n} G updates)" in shown.status
    d_before = [p.detach().clone() for p in run.model.discriminator.parameters()]
    g_before = [p.detach().clone() for p in run.model.generator.parameters()]
    d = page_gan.single_step("D", **SETTINGS, run=shown.run)
    assert d.run is run and f"Iteration {n} ({n + 1} D updates, {n} G updates)" in d.status
    assert any(not torch.equal(a, b) for a, b in zip(d_before, run.model.discriminator.parameters()))  # D moved on
    assert all(torch.equal(a, b) for a, b in zip(g_before, run.model.generator.parameters()))  # G held fixed
    g = page_gan.single_step("G", **SETTINGS, run=d.run)
    assert f"Iteration {n + 1} ({n + 1} D updates, {n + 1} G updates)" in g.status
    again = list(page_gan.train2d(**SETTINGS, iters=10, run=g.run))
    assert f"Iteration {n + 11}" in again[-1].status  # Train resumes from the same place


def test_two_browsers_runs_are_independent():
    a, b = page_gan.reset2d(**SETTINGS), page_gan.reset2d(**SETTINGS)
    assert a.run is not b.run and a.run.model is not b.run.model
    a_trained = list(page_gan.train2d(**SETTINGS, iters=30, run=a.run))[-1]
    b_stepped = page_gan.single_step("D", **SETTINGS, run=b.run)
    assert "Iteration 0 (1 D updates, 0 G updates)" in b_stepped.status
    assert "Iteration 30 (30 D updates, 30 G updates)" in a_trained.status
    a_reset = page_gan.reset2d(**SETTINGS)  # Reset in A makes A a fresh run and leaves B alone
    b_more = page_gan.single_step("G", **SETTINGS, run=b_stepped.run)
    assert "Iteration 0 (0 D updates" in a_reset.status and "Iteration 1 (1 D updates, 1 G updates)" in b_more.status


def test_single_d_and_g_steps_and_a_changed_setting_starts_over():
    run = page_gan.reset2d(**SETTINGS).run
    d = page_gan.single_step("D", **SETTINGS, run=run)
    assert "(1 D updates, 0 G updates)" in d.status and "Iteration 0" in d.status
    g = page_gan.single_step("G", **SETTINGS, run=d.run)
    assert "(1 D updates, 1 G updates)" in g.status and "Iteration 1" in g.status
    points_before = run.model.generator(run.view_z).detach()
    page_gan.single_step("G", **SETTINGS, run=run)
    assert not np.allclose(run.model.generator(run.view_z).detach(), points_before)  # a G step moves the points
    other = page_gan.single_step("D", **{**SETTINGS, "loss": "wgan-gp"}, run=run)
    assert "(1 D updates, 0 G updates)" in other.status and "WGAN-GP" in other.status and other.run is not run


def test_a_step_while_training_waits_then_refuses():
    run = page_gan.reset2d(**SETTINGS).run
    training = page_gan.train2d(**SETTINGS, iters=100, run=run)
    next(training), next(training)  # training holds the run until it is closed (Pause) or done
    with pytest.raises(gr.Error, match="The run is training: press Pause first"):
        page_gan.single_step("D", **SETTINGS, run=run)  # waits a moment for a Pause, then says why not
    training.close()
    assert "(" in page_gan.single_step("D", **SETTINGS, run=run).status  # free again after Pause


def test_the_green_arrows_are_labelled_as_the_force_not_the_motion():
    """Issue 18, item 4: the arrows are −∇ₓ L_G at G(z); the page must not call them where the points move."""
    run = page_gan.reset2d(**SETTINGS).run
    view = run.view()
    x = torch.tensor(view.points, requires_grad=True)
    grad, = torch.autograd.grad(gan.g_loss(run.spec.loss, run.model.discriminator(x)) * len(x), x)
    assert np.allclose(view.pull, -grad.numpy(), atol=1e-6)  # what is drawn is −∇ₓ L_G (its sum over the batch)
    with gr.Blocks() as page:
        page_gan.build(page)
    field = next(b for b in page.blocks.values() if getattr(b, "elem_id", None) == "gan-field")
    for words in (field.label, gan_viz.PUSH_LEGEND, page_gan.ABOUT):
        assert "L_G" in words and "force" in words and "not its motion" in words, words
        assert "push" not in words, words


def test_presets_set_the_controls_and_differ_in_spectral_norm_alone():
    covers, collapses = page_gan.preset("covers"), page_gan.preset("collapses")
    assert covers[:2] == ("ring8", "nonsaturating") and covers[-1] is False and collapses[-1] is True
    assert covers[:-1] == collapses[:-1]  # what the ablation supports: spectral norm on D is the cause, not the loss


def test_spectral_norm_and_wgan_gps_optimiser_reach_the_run():
    run = page_gan.reset2d(**SETTINGS, spectral_norm=True).run
    assert run.spec.spectral_norm and "spectral norm on D" in page_gan.reset2d(**SETTINGS, spectral_norm=True).status
    wgan = page_gan.reset2d(**{**SETTINGS, "loss": "wgan-gp"}).run
    assert (wgan.spec.adam_beta1, wgan.spec.adam_beta2) == (0.0, 0.9)
    with pytest.raises(gr.Error, match="spectral norm must be on or off"):
        page_gan.reset2d(**SETTINGS, spectral_norm="yes")


def test_the_collapse_preset_covers_fewer_modes_than_the_covering_one():
    out = page_gan.collapse_side_by_side(1000, 0)
    table = out.table
    final = {row.split(" | ")[0].strip("| "): int(re.search(r"(\d) of 8", row).group(1))
             for row in table.splitlines() if re.match(r"\| (covers|collapses) \|", row)}
    assert final["covers"] >= 7 and final["collapses"] <= 2, table
    assert len(out.plot.data) == 2


@pytest.mark.parametrize("change, message", [
    ({"lr": 0}, "G learning rate must be"), ({"d_lr": float("nan")}, "D learning rate must be"),
    ({"lr": 1e6}, "G learning rate must be"), ({"loss": "lsgan"}, "loss must be one of"),
    ({"d_steps": 100}, "D steps per G step must be"), ({"dataset": "mnist"}, "dataset must be one of"),
    ({"latent": 0}, "latent size must be"), ({"seed": -1}, "seed must be"),
])
def test_bad_values_get_a_clear_message(change, message):
    with pytest.raises(gr.Error, match=message):
        page_gan.reset2d(**{**SETTINGS, **change})
    with pytest.raises(gr.Error, match=message):
        list(page_gan.train2d(**{**SETTINGS, **change}, iters=10))


def test_too_many_iterations_are_refused():
    with pytest.raises(gr.Error, match="iterations must be"):
        list(page_gan.train2d(**SETTINGS, iters=10**7))


@needs_dcgan
def test_dcgan_tabs():
    samples = page_gan.dcgan_samples(20, 0)
    assert samples.image.ndim == 3 and "Fréchet distance" in samples.text
    assert page_gan.dcgan_interpolate(0, 1, 5).ndim == 3
    patches = page_gan.patch_maps(0, 0, 0)
    assert patches.image.ndim == 3 and "real" in patches.text
    compared = page_gan.compare_families(16, 0)
    assert compared.image.ndim == 3 and all(name in compared.text for name in ("GAN", "VAE", "DDPM", "real test images"))
    with pytest.raises(gr.Error, match="steps must be"):
        page_gan.make_job("nonsaturating", 10**5, 32, 2e-4, 0)
    with pytest.raises(gr.Error, match="That model was trained in another browser"):
        page_gan.dcgan_samples(4, 0, "user:nobody", {})


@needs_dcgan
def test_dcgan_live_training_streams_samples():
    updates = list(run_job(page_gan.make_job("hinge", 6, 8, 2e-4, 0), {}, page_gan.MENU))
    assert any(isinstance(u.image, np.ndarray) for u in updates[:-1])
    done = updates[-1]
    assert done.status.startswith("Done: 6 steps") and len(done.my_models) == 1
    mine = done.menu["value"]  # the new model is chosen in this browser's menu, and the DCGAN tab can use it
    samples = page_gan.dcgan_samples(4, 0, mine, done.my_models)
    assert samples.image.ndim == 3 and "trained 6 steps here" in samples.text
    assert page_gan.dcgan_interpolate(0, 1, 3, mine, done.my_models).ndim == 3


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


from browsing import assert_in_first_screen  # noqa: E402
from test_browser import CHROMIUM, _src, browser, page  # noqa: E402,F401


STATUS = re.compile(r"Iteration (\d+) \((\d+) D updates, (\d+) G updates\)")


def _counts(pg) -> tuple[int, int, int]:
    return tuple(int(v) for v in STATUS.search(pg.locator("#gan-status").inner_text()).groups())


def _settled(pg) -> tuple[int, int, int]:
    """The counts once they stop changing (after Pause, the last redraw and the paused view arrive)."""
    before = None
    while (now := _counts(pg)) != before:
        before = now
        pg.wait_for_timeout(1500)
    return now


def _click_and_wait(pg, button: str, counts: tuple[int, int, int]) -> None:
    pg.locator(f"#{button}").click()
    text = "Iteration {} ({} D updates, {} G updates)".format(*counts)
    pg.wait_for_function("t => document.querySelector('#gan-status').innerText.includes(t)", arg=text, timeout=60_000)


@pytest.fixture
def two_pages(browser, server_url):
    """Two browser contexts (two students), each on /gan, with their console errors recorded."""
    contexts, pages = [], []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1300, "height": 1000})
        pg = context.new_page()
        pg.console_errors = []
        pg.on("console", lambda m, pg=pg: pg.console_errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e, pg=pg: pg.console_errors.append(str(e)))
        pg.goto(server_url + "/gan")
        contexts.append(context)
        pages.append(pg)
    for pg in pages:
        pg.locator("#gan-status").get_by_text("Iteration 0").wait_for(timeout=60_000)
    yield pages
    for pg, context in zip(pages, contexts):
        assert pg.console_errors == [], pg.console_errors
        context.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_two_students_train_pause_and_step_their_own_runs(two_pages, artifacts_dir):
    a, b = two_pages
    before = _src(a, "gan-field")
    a.locator("#gan-train").click()
    a.wait_for_function("() => /Iteration [1-9]\\d*/.test(document.querySelector('#gan-status').innerText)",
                        timeout=60_000)
    a.wait_for_timeout(1500)
    a.locator("#gan-pause").click()
    n, d, g = _settled(a)
    assert 0 < n < 2000 and d == g == n  # stopped before the 2000 iterations of one press; nothing moves after Pause
    assert _src(a, "gan-field") != before  # the heat map was redrawn

    _click_and_wait(b, "gan-d-step", (0, 1, 0))  # B steps its own fresh run while A's stays paused
    _click_and_wait(b, "gan-d-step", (0, 2, 0))
    _click_and_wait(a, "gan-d-step", (n, n + 1, n))  # A's steps go on from the model it just trained
    _click_and_wait(a, "gan-g-step", (n + 1, n + 1, n + 1))
    _click_and_wait(b, "gan-reset", (0, 0, 0))  # B's Reset clears B's run only
    _click_and_wait(a, "gan-d-step", (n + 1, n + 2, n + 1))
    _click_and_wait(b, "gan-g-step", (1, 0, 1))
    assert _counts(a) == (n + 1, n + 2, n + 1)
    a.screenshot(path=os.path.join(artifacts_dir, "gan.png"), full_page=True)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_projector_shows_the_picture_and_its_buttons_while_training(page, server_url, artifacts_dir):
    """Issue 14: on a 1280×800 projector, after Train, the heat map (its top 300 px at least) and the buttons that
    drive it are on the first screen, without scrolling."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(server_url + "/gan")
    page.locator("#gan-status").get_by_text("Iteration 0").wait_for(timeout=60_000)
    page.locator("#gan-train").click()
    page.wait_for_function("() => /Iteration [1-9]\\d*/.test(document.querySelector('#gan-status').innerText)",
                           timeout=60_000)
    assert_in_first_screen(page, "#gan-field", min_visible=300)
    for button in ("gan-train", "gan-pause", "gan-d-step", "gan-g-step"):
        assert_in_first_screen(page, f"#{button}")
    page.screenshot(path=os.path.join(artifacts_dir, "gan-projector.png"))
    page.locator("#gan-pause").click()
    n, d, g = _settled(page)
    assert 0 < n < 2000 and d == g == n
