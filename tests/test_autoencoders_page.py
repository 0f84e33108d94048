"""/autoencoders: every tab's handler on the shipped models (and the claims the page makes, measured),
bad values straight to the handlers and through the HTTP API, live training into this session's menu only,
and real browsers: one moving the latent sliders, two training at once without seeing each other's models."""
import os
import re

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from pages import autoencoders as page_ae
from pages.common import run_job
from playground import checkpoints

NEEDED = ("ae-fashion", "dae-fashion", "vae-fashion", "vae-fashion-lowbeta", "ae2-fashion", "vae2-fashion")
pytestmark = pytest.mark.skipif(not set(NEEDED) <= set(checkpoints.available()),
                                reason="the autoencoder checkpoints are not shipped here")
FASHION = ("Fashion-MNIST", 7, 0, None)  # source, class (Sneaker), index, upload
GRADIO_CHECK = "|greater than maximum|less than minimum|not in the list of choices"


def _table_row(text: str, row: str) -> list[float]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {row} |"))
    return [float(v) for v in re.findall(r"\d+\.\d+", line)]


def test_reconstruct_shows_all_three_models_with_their_errors():
    out = page_ae.reconstruct_all(*FASHION)
    assert out.image.ndim == 3 and out.image.shape[1] > 4 * 168  # input + three columns
    for title in ("AE", "denoising AE", "VAE"):
        here, mean = _table_row(out.text, title)
        assert 0 < here < 0.1 and 0 < mean < 0.1


def test_the_denoising_ae_restores_better_than_the_plain_ae():
    text = page_ae.restore(*FASHION, 0.6, 0.3, 0).text
    corrupted = _table_row(text, "corrupted input x̃ (nothing done)")[1]
    plain = _table_row(text, "AE: D(E(x̃))")[1]
    denoising = _table_row(text, "denoising AE: D(E(x̃))")[1]
    assert denoising < plain and denoising < corrupted  # averaged over 200 test images


def test_vae_prior_samples_look_like_garments_and_the_ae_ones_do_not():
    ae_card, vae_card = checkpoints.card("ae-fashion")["metrics"], checkpoints.card("vae-fashion")["metrics"]
    assert vae_card["prior_confidence"] > ae_card["prior_confidence"]
    assert vae_card["prior_frechet_distance"] < ae_card["prior_frechet_distance"]
    out = page_ae.prior(16, 0)
    assert out.image.ndim == 3 and "Fréchet distance" in out.text and out.text.count("\n| ") >= 3


def test_beta_trades_reconstruction_for_a_better_prior():
    high, low = checkpoints.card("vae-fashion")["metrics"], checkpoints.card("vae-fashion-lowbeta")["metrics"]
    assert low["test_mse_per_pixel"] < high["test_mse_per_pixel"] and low["test_kl_nats"] > high["test_kl_nats"]
    out = page_ae.beta_compare(4, 0)
    assert out.image.ndim == 3 and "| 0.1 |" in out.text and "| 1 |" in out.text


def test_beta_tab_shows_the_decoder_variance_and_the_collapsed_dimensions():
    """The β tab's measured s² and per-dimension KL, recomputed here by hand on the same 1000 test images."""
    import torch
    from torch.distributions import Normal, kl_divergence

    from pages.common import real_data
    x = real_data("fashion", "test", 1000).x
    vae = page_ae.model("vae-fashion").model
    with torch.no_grad():
        mu, logvar = vae.encode(x)
        kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean(0)
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
        s2 = float(((vae.decode(z) - x) ** 2).mean())
        s2_mean = float(((vae.decode(mu) - x) ** 2).mean())
    collapsed = [j for j in range(16) if kl[j] < 0.15]
    assert 0.03 < s2 < 0.1 and 0.03 < s2_mean < s2  # far below the ½ the loss assumes
    assert 3 <= len(collapsed) <= 6  # a real finding about the shipped checkpoint
    out = page_ae.beta_compare(4, 0)
    row = next(line for line in out.loss_text.splitlines() if line.startswith("| 1 |"))
    assert f"| 0.5 | {s2:.4f} | {s2_mean:.4f} | {1 / (2 * s2):.1f} |" in row
    assert f"{len(collapsed)} of 16: " + ", ".join(f"z{j + 1}" for j in collapsed) in row
    assert "0 of 16: none" in next(line for line in out.loss_text.splitlines() if line.startswith("| 0.1 |"))
    assert "Posterior collapse is a lesson in itself" in out.loss_text and "N(x; x̂, s² I)" in out.loss_text
    bars = {trace.name: trace for trace in out.plot.data}
    (beta1,) = [t for name, t in bars.items() if name.startswith("β = 1 ")]
    np.testing.assert_allclose(beta1.y, kl.numpy(), atol=1e-4)
    assert f"({len(collapsed)} collapsed)" in beta1.name
    assert [t for t, y in zip(beta1.text, beta1.y) if y < 0.15] == ["collapsed"] * len(collapsed)
    prior_text = page_ae.prior(4, 0).text
    assert "std near 1" not in prior_text and "not μ alone" in prior_text and "z = μ + σ ⊙ ε" in prior_text


def test_latent_map_sliders_and_clicks_decode_points():
    out = page_ae.latent_map("vae2-fashion", "pca", False)
    assert out.map.ndim == 3 and "own 2-D code" in out.note and out.z1["minimum"] <= -3 and out.z1["maximum"] >= 3
    a = page_ae.decode_point("vae2-fashion", "pca", 0.0, 0.0, False)
    b = page_ae.decode_point("vae2-fashion", "pca", 2.5, -2.5, True)
    assert "z = (0.00, 0.00)" in a.text and not np.array_equal(a.decoded, b.decoded)
    plane = page_ae.shown(page_ae.model("vae2-fashion"), "pca").plane
    px, py = plane.to_pixel(1.0, -0.5)
    clicked = page_ae.click_map("vae2-fashion", "pca", gr.SelectData(None, {"index": [px, py], "value": None}))
    assert (clicked.z1, clicked.z2) == pytest.approx((1.0, -0.5), abs=0.01)
    assert page_ae.manifold("vae2-fashion", "pca", 5).ndim == 3


def test_a_16d_model_is_projected_with_pca_and_with_tsne():
    assert "principal components" in page_ae.latent_map("vae-fashion", "pca", False).note
    assert "PCA point" in page_ae.decode_point("vae-fashion", "pca", 0.1, 0.1, False).text
    assert "no way back" in page_ae.latent_map("ae-fashion", "tsne", False).note
    assert "nearest test image" in page_ae.decode_point("ae-fashion", "tsne", 0.0, 0.0, False).text
    with pytest.raises(gr.Error, match="t-SNE has no inverse"):
        page_ae.manifold("ae-fashion", "tsne", 5)


def test_reparameterisation_and_interpolation():
    out = page_ae.reparam(*FASHION, 4, 0)
    assert out.image.ndim == 3 and len(out.plot.data) == 4 and "near-identical" in out.text
    assert out.text.count("\n| z") == 16  # one row per latent dimension
    path = page_ae.interpolate_pair(7, 0, 9, 0, 5)
    assert path.image.ndim == 3 and "VAE" in path.text


def test_upload_any_picture_and_refuse_a_non_image(tmp_path):
    light = np.full((40, 60, 4), 255, np.uint8)
    light[10:30, 20:40, :3] = 30  # a dark shape on a white, partly transparent page
    Image.fromarray(light, "RGBA").save(tmp_path / "photo.png")
    assert "inverted" in page_ae.reconstruct_all("upload", 0, 0, str(tmp_path / "photo.png")).text
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(gr.Error, match="Try another file"):
        page_ae.reconstruct_all("upload", 0, 0, str(tmp_path / "notes.txt"))
    with pytest.raises(gr.Error, match="upload first"):
        page_ae.reconstruct_all("upload", 0, 0, None)


@pytest.mark.parametrize("call, message", [
    (lambda: page_ae.decode_point("vae2-fashion", "pca", float("nan"), 0.0, False), "z₁ must be a number"),
    (lambda: page_ae.decode_point("vae2-fashion", "pca", 0.0, 1e6, False), "z₂ must be a number"),
    (lambda: page_ae.decode_point("no-such-model", "pca", 0.0, 0.0, False), "model must be one of"),
    (lambda: page_ae.latent_map("vae2-fashion", "umap", False), "projection must be one of"),
    (lambda: page_ae.reconstruct_all("Fashion-MNIST", 99, 0, None), "class must be"),
    (lambda: page_ae.reconstruct_all("Fashion-MNIST", 0, 10**6, None), "index must be"),
    (lambda: page_ae.restore(*FASHION, -1.0, 0.0, 0), "noise σ must be"),
    (lambda: page_ae.restore(*FASHION, 0.5, 1.0, 0), "masked share must be"),
    (lambda: page_ae.prior(1000, 0), "number of samples must be"),
    (lambda: page_ae.reparam(*FASHION, 0, 0), "number of draws must be"),
    (lambda: page_ae.interpolate_pair(7, 0, 9, 0, 100), "steps must be"),
    (lambda: page_ae.manifold("vae2-fashion", "pca", 500), "grid size must be"),
])
def test_bad_values_get_a_clear_message(call, message):
    with pytest.raises(gr.Error, match=message):
        call()


@pytest.mark.parametrize("change, message", [
    ({"lr": 0}, "learning rate must be"), ({"lr": float("nan")}, "learning rate must be"),
    ({"steps": 10**6}, "steps must be"), ({"kind": "gan"}, "kind must be one of"),
    ({"beta": 1e9}, "β must be"), ({"dataset": "imagenet"}, "dataset must be one of"), ({"latent_dim": 0}, "latent size"),
])
def test_training_refuses_bad_values(change, message):
    args = dict(kind="vae", dataset="digits", latent_dim=2, beta=1.0, noise=0.5, mask=0.2, steps=20, batch=32,
                lr=1e-3, seed=0)
    with pytest.raises(gr.Error, match=message):
        page_ae.make_job(**{**args, **change})


def _train(my_models, steps=60, seed=0):
    """Train a tiny 2-D VAE on digits in a session whose models are `my_models`; every update, by name."""
    return list(run_job(page_ae.make_job("vae", "digits", 2, 1.0, 0.5, 0.2, steps, 64, 3e-3, seed), my_models,
                        page_ae.MENU))


def test_live_training_streams_and_adds_a_model_to_explore():
    updates = _train({})
    assert any(isinstance(u.status, str) and u.status.startswith("Step ") for u in updates[:-1])
    assert any("KL" in u.status for u in updates[:-1])
    previews = [u.image for u in updates[:-1] if isinstance(u.image, np.ndarray)]
    assert previews and previews[-1].ndim == 3
    done = updates[-1]
    assert done.status.startswith("Done: 60 steps") and len(done.my_models) == 1
    (handle,) = done.my_models.values()
    assert done.menu["value"] == handle.name and handle.name.startswith("user:")
    assert handle.name in [value for _, value in done.menu["choices"]]
    out = page_ae.latent_map(handle.name, "pca", False, done.my_models)  # its own dataset's test images, its own 2-D code
    assert "own 2-D code" in out.note
    assert page_ae.decode_point(handle.name, "pca", 0.0, 0.0, False, done.my_models).decoded.ndim == 3
    assert handle.dataset == "digits" and "β = 1" in handle.label


def test_two_sessions_keep_their_own_models():
    """Each browser's models live in its own state: A's model is not in B's menu, and B cannot decode with it."""
    mine_a = _train({}, steps=20, seed=1)[-1].my_models
    mine_b = _train({}, steps=20, seed=2)[-1].my_models
    (a,), (b,) = mine_a.values(), mine_b.values()
    assert a.name != b.name and a.model is not b.model
    menu_a = [value for _, value in page_ae.MENU.choices(mine_a)]
    menu_b = [value for _, value in page_ae.MENU.choices(mine_b)]
    assert a.name in menu_a and b.name not in menu_a and b.name in menu_b and a.name not in menu_b
    seen_a = page_ae.decode_point(a.name, "pca", 0.5, 0.5, False, mine_a).decoded
    seen_b = page_ae.decode_point(b.name, "pca", 0.5, 0.5, False, mine_b).decoded
    assert not np.array_equal(seen_a, seen_b)  # two different models, each decoding for its own session
    with pytest.raises(gr.Error, match="another browser session"):
        page_ae.decode_point(a.name, "pca", 0.0, 0.0, False, mine_b)
    with pytest.raises(gr.Error, match="another browser session"):
        page_ae.latent_map(b.name, "pca", False, {})


# ---- through the HTTP API ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


def test_decode_through_the_http_api(client):
    image, decoded, text = client.predict("vae2-fashion", "pca", 0.5, 0.5, False, api_name="/ae_decode")
    assert os.path.isfile(decoded) and "z = (0.50, 0.50)" in text


@pytest.mark.parametrize("args, message", [
    (("vae2-fashion", "pca", 1e6, 0.0, False), "z₁ must be|greater than maximum"),
    (("nope", "pca", 0.0, 0.0, False), "model must be one of" + GRADIO_CHECK),
])
def test_decode_bad_values_through_the_http_api(client, args, message):
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name="/ae_decode")


def test_train_bad_values_through_the_http_api(client):
    with pytest.raises(AppError, match="learning rate must be"):
        client.predict("vae", "digits", 2, 1.0, 0.5, 0.2, 20, 32, 0, 0, api_name="/ae_train")
    with pytest.raises(AppError, match="class must be" + GRADIO_CHECK):
        client.predict("Fashion-MNIST", 99, 0, None, api_name="/ae_reconstruct")


# ---- in a real browser --------------------------------------------------------------------------

from test_browser import CHROMIUM, _src, _wait_src_change, browser, page  # noqa: E402,F401


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_latent_sliders_change_the_decoded_image(page, server_url, artifacts_dir):
    page.goto(server_url + "/autoencoders")
    _src(page, "ae-rec-image")  # the first tab fills itself on load
    page.screenshot(path=os.path.join(artifacts_dir, "autoencoders.png"), full_page=True)
    page.get_by_role("tab", name="Latent space").click()
    before = _src(page, "ae-lat-decoded")
    number = page.locator("#ae-z1 input[type='number']")
    number.fill("2.5")
    number.press("Enter")
    after = _wait_src_change(page, "ae-lat-decoded", before)
    assert after != before
    page.get_by_text("Decoded z = (2.50").first.wait_for(timeout=30_000)
    page.screenshot(path=os.path.join(artifacts_dir, "autoencoders-latent.png"), full_page=True)


def _start_training(pg):
    """Start training a tiny 2-D VAE on digits: the Train tab's defaults, but 30 steps of batch 32."""
    pg.get_by_role("tab", name="Train").click()
    for label, value in (("Steps (capped)", "30"), ("Batch size (capped)", "32")):
        box = pg.get_by_label(f"number input for {label}")
        box.fill(value)
        box.press("Enter")
    pg.locator("#ae-train").click()


def _trained_label(pg) -> str:
    done = pg.locator("#ae-train-text").get_by_text("Done:")
    done.wait_for(timeout=120_000)
    return re.search(r"model menu as “(.+?)”", done.inner_text()).group(1)


def _menu(pg) -> tuple[str, list[str]]:
    """The latent-space menu: its value and its options."""
    pg.get_by_role("tab", name="Latent space").click()
    menu = pg.locator("#ae-lat-model input[role=combobox]")
    value = menu.input_value()
    menu.click()
    options = pg.locator("#ae-lat-model [role=option]")
    options.first.wait_for(timeout=30_000)
    labels = [o.inner_text().replace("✓", "").strip() for o in options.all()]  # the chosen one is ticked
    pg.keyboard.press("Escape")
    return value, labels


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_two_sessions_train_and_see_only_their_own_models(browser, server_url, artifacts_dir):
    """Two browsers on /autoencoders at once each train a model; each menu lists its own model, not the other's,
    and each decodes points with the model it trained."""
    contexts = [browser.new_context(viewport={"width": 1280, "height": 800}) for _ in range(2)]
    pages = [context.new_page() for context in contexts]
    errors = []
    for pg in pages:
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server_url + "/autoencoders")
        _src(pg, "ae-rec-image")
    for pg in pages:  # both runs are in flight together
        _start_training(pg)
    labels = [_trained_label(pg) for pg in pages]
    assert labels[0] != labels[1]
    for k, pg in enumerate(pages):
        value, options = _menu(pg)
        assert value == labels[k]  # selected on arrival
        assert labels[k] in options and labels[1 - k] not in options, options
        assert "VAE β = 1 · 2-D latent" in options  # the shipped models are everyone's
    for value, pg in zip(("1.5", "-1.5"), pages):  # each decodes a different point, with its own model
        before = _src(pg, "ae-lat-decoded")
        number = pg.locator("#ae-z1 input[type='number']")
        number.fill(value)
        number.press("Enter")
        _wait_src_change(pg, "ae-lat-decoded", before)
    pages[0].get_by_text("Decoded z = (1.50").first.wait_for(timeout=30_000)
    pages[1].get_by_text("Decoded z = (-1.50").first.wait_for(timeout=30_000)
    for k, pg in enumerate(pages):
        pg.screenshot(path=os.path.join(artifacts_dir, f"autoencoders-session-{k}.png"), full_page=True)
    for context in contexts:
        context.close()
    assert errors == []


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_beta_tab_shows_the_kl_per_dimension(page, server_url, artifacts_dir):
    page.goto(server_url + "/autoencoders")
    _src(page, "ae-rec-image")
    page.get_by_role("tab", name="β").click()
    page.get_by_role("button", name="Compare β").click()
    page.locator("#ae-beta-loss").get_by_text("Posterior collapse is a lesson in itself").wait_for(timeout=60_000)
    page.locator("#ae-beta-kl .js-plotly-plot").wait_for(timeout=30_000)
    page.screenshot(path=os.path.join(artifacts_dir, "autoencoders-beta.png"), full_page=True)
