"""/autoencoders: every tab's handler on the shipped models (and the claims the page makes, measured),
bad values straight to the handlers and through the HTTP API, live training, and a real browser moving the
latent sliders."""
import os
import re

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from pages import autoencoders as page_ae
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
    image, text = page_ae.reconstruct_all(*FASHION)
    assert image.ndim == 3 and image.shape[1] > 4 * 168  # input + three columns
    for title in ("AE", "denoising AE", "VAE"):
        here, mean = _table_row(text, title)
        assert 0 < here < 0.1 and 0 < mean < 0.1


def test_the_denoising_ae_restores_better_than_the_plain_ae():
    _, text = page_ae.restore(*FASHION, 0.6, 0.3, 0)
    corrupted = _table_row(text, "corrupted input x̃ (nothing done)")[1]
    plain = _table_row(text, "AE: D(E(x̃))")[1]
    denoising = _table_row(text, "denoising AE: D(E(x̃))")[1]
    assert denoising < plain and denoising < corrupted  # averaged over 200 test images


def test_vae_prior_samples_look_like_garments_and_the_ae_ones_do_not():
    ae_card, vae_card = checkpoints.card("ae-fashion")["metrics"], checkpoints.card("vae-fashion")["metrics"]
    assert vae_card["prior_confidence"] > ae_card["prior_confidence"]
    assert vae_card["prior_frechet_distance"] < ae_card["prior_frechet_distance"]
    image, text = page_ae.prior(16, 0)
    assert image.ndim == 3 and "Fréchet distance" in text and text.count("\n| ") >= 3


def test_beta_trades_reconstruction_for_a_better_prior():
    high, low = checkpoints.card("vae-fashion")["metrics"], checkpoints.card("vae-fashion-lowbeta")["metrics"]
    assert low["test_mse_per_pixel"] < high["test_mse_per_pixel"] and low["test_kl_nats"] > high["test_kl_nats"]
    image, text = page_ae.beta_compare(4, 0)
    assert image.ndim == 3 and "| 0.1 |" in text and "| 1 |" in text


def test_latent_map_sliders_and_clicks_decode_points():
    picture, z1, z2, note = page_ae.latent_map("vae2-fashion", "pca", False)
    assert picture.ndim == 3 and "own 2-D code" in note and z1["minimum"] <= -3 and z1["maximum"] >= 3
    _, a, text_a = page_ae.decode_point("vae2-fashion", "pca", 0.0, 0.0, False)
    _, b, text_b = page_ae.decode_point("vae2-fashion", "pca", 2.5, -2.5, True)
    assert "z = (0.00, 0.00)" in text_a and not np.array_equal(a, b)
    view = page_ae._view("vae2-fashion", "pca")
    px, py = view["map"].to_pixel(1.0, -0.5)
    clicked = page_ae.click_map("vae2-fashion", "pca", gr.SelectData(None, {"index": [px, py], "value": None}))
    assert clicked == pytest.approx((1.0, -0.5), abs=0.01)
    assert page_ae.manifold("vae2-fashion", "pca", 5).ndim == 3


def test_a_16d_model_is_projected_with_pca_and_with_tsne():
    _, _, _, note = page_ae.latent_map("vae-fashion", "pca", False)
    assert "principal components" in note
    _, _, text = page_ae.decode_point("vae-fashion", "pca", 0.1, 0.1, False)
    assert "PCA point" in text
    _, _, _, note = page_ae.latent_map("ae-fashion", "tsne", False)
    assert "no way back" in note
    _, _, text = page_ae.decode_point("ae-fashion", "tsne", 0.0, 0.0, False)
    assert "nearest test image" in text
    with pytest.raises(gr.Error, match="t-SNE has no inverse"):
        page_ae.manifold("ae-fashion", "tsne", 5)


def test_reparameterisation_and_interpolation():
    image, fig, text = page_ae.reparam(*FASHION, 4, 0)
    assert image.ndim == 3 and len(fig.data) == 4 and "near-identical" in text
    assert text.count("\n| z") == 16  # one row per latent dimension
    image, table = page_ae.interpolate_pair(7, 0, 9, 0, 5)
    assert image.ndim == 3 and "VAE" in table


def test_upload_any_picture_and_refuse_a_non_image(tmp_path):
    light = np.full((40, 60, 4), 255, np.uint8)
    light[10:30, 20:40, :3] = 30  # a dark shape on a white, partly transparent page
    Image.fromarray(light, "RGBA").save(tmp_path / "photo.png")
    _, text = page_ae.reconstruct_all("upload", 0, 0, str(tmp_path / "photo.png"))
    assert "inverted" in text
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
                lr=1e-3, seed=0, my_models=[])
    with pytest.raises(gr.Error, match=message):
        list(page_ae.train_live(**{**args, **change}))


def test_live_training_streams_and_adds_a_model_to_explore():
    updates = list(page_ae.train_live("vae", "digits", 2, 1.0, 0.5, 0.2, 60, 64, 3e-3, 0, []))
    assert any(isinstance(u[0], str) and u[0].startswith("Step ") for u in updates[:-1])
    previews = [u[2] for u in updates[:-1] if isinstance(u[2], np.ndarray)]
    assert previews and previews[-1].ndim == 3
    text, _, _, dropdown, mine = updates[-1]
    assert text.startswith("Done: 60 steps") and len(mine) == 1
    name = mine[0][1]
    assert dropdown["value"] == name and name.startswith("user:")
    _, _, _, note = page_ae.latent_map(name, "pca", False)  # its own dataset's test images, its own 2-D code
    assert "own 2-D code" in note
    _, decoded, _ = page_ae.decode_point(name, "pca", 0.0, 0.0, False)
    assert decoded.ndim == 3
    losses = page_ae.USER_MODELS[name[5:]]
    assert losses["spec"].dataset == "digits" and "β = 1" in losses["label"]


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
