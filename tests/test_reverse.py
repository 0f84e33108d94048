"""/reverse: sampling streams and is recorded once, frames come from the cache, the comparisons and the
live training work, and bad values (straight to the handlers, through the HTTP API) get a clear error."""
import json
import math
import os
import re
import urllib.request

import gradio as gr
import plotly.graph_objects as go
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError

from pages import reverse
from playground import checkpoints
from playground.diffusion.ddpm import DiffusionSpec
from playground.nn import MLPConfig

TOY = "ddpm-moons-cosine"
TOY_TITLE = "two moons · cosine schedule (shipped)"
HAVE_FASHION = "ddpm-fashion-cosine" in checkpoints.available()
needs_fashion = pytest.mark.skipif(not HAVE_FASHION, reason="the Fashion-MNIST checkpoints are not shipped here")
# Gradio checks a value against its component (slider range, dropdown choices) before our handler does;
# either way the caller gets a message that names the problem (see tests/test_app.py).
GRADIO_CHECK = "|greater than maximum|less than minimum|not in the list of choices"


def _run(gen) -> list:
    """Drain a generator handler (errors surface on the first step)."""
    return list(gen)


def _generate(model=TOY, seed=0, sampler="ddim", steps=10, eta=0.0, n=200, label=-1) -> list:
    return _run(reverse.generate(model, seed, sampler, steps, eta, n, label))


def _fig_json(fig):
    return None if fig is None else fig.to_json()


@pytest.fixture(scope="module")
def toy_run():
    """One DDIM-10 run of 200 points on the moons model: (all yields, run id)."""
    updates = _generate()
    return updates, updates[-1][3]


# ---- generate, step through, export -------------------------------------------------------------

def test_generate_streams_then_hands_back_a_run_id(toy_run):
    updates, run_id = toy_run
    assert len(updates) > 1  # live frames before the final one
    assert all(u[3] is None for u in updates[:-1]) and isinstance(run_id, str) and run_id in reverse.RUNS
    assert any(isinstance(u[2], str) and u[2].startswith("Sampling: step") for u in updates[:-1])
    image, plot, text, _ = updates[-1]
    assert image is None and isinstance(plot, go.Figure) and text.startswith("Done: ddim-10")
    trajectory = reverse.RUNS[run_id]["trajectory"]
    assert len(trajectory) == 11 and tuple(trajectory.final.shape) == (200, 2)
    assert torch.isfinite(trajectory.final).all()


def test_show_frame_first_middle_last(toy_run):
    _, run_id = toy_run
    last = len(reverse.RUNS[run_id]["trajectory"]) - 1
    for k in (0, last // 2, last):
        x, eps, x0, figure, info, plot = reverse.show_frame(run_id, k)
        assert x is None and eps is None and x0 is None  # a 2D model: no image views
        assert isinstance(figure, go.Figure) and isinstance(plot, go.Figure)
        assert f"frame {k} of {last}" in info.lower()
        if k < last:
            assert "ᾱ_t" in info
        else:
            assert "Finished sample" in info and "ᾱ = 1" in info
    with pytest.raises(gr.Error, match="frame must be"):
        reverse.show_frame(run_id, last + 1)
    assert reverse._step(run_id, 0, -1) == 0 and reverse._step(run_id, 0, 1) == 1
    assert reverse._step(run_id, last, 1) == last


def test_show_frame_reads_the_cache_and_never_resamples(toy_run, monkeypatch):
    _, run_id = toy_run
    run = reverse.RUNS[run_id]
    batch_sizes = []
    model = run["entry"]["model"]

    def counting(x, t, y=None):
        batch_sizes.append(x.shape[0])
        return model(x, t, y)

    def no_sampling(*args, **kwargs):
        raise AssertionError("show_frame must not sample again")

    monkeypatch.setitem(run["entry"], "model", counting)
    monkeypatch.setattr(reverse, "record", no_sampling)
    monkeypatch.setattr(reverse, "denoise_steps", no_sampling, raising=False)
    first, second = reverse.show_frame(run_id, 3), reverse.show_frame(run_id, 3)
    assert first[4] == second[4]
    assert _fig_json(first[3]) == _fig_json(second[3]) and _fig_json(first[5]) == _fig_json(second[5])
    # The 2D view draws the model's score field on a 17×17 grid (one call per frame); the 200 samples
    # themselves are never pushed through the model again.
    assert 200 not in batch_sizes and len(batch_sizes) <= 2


def test_ddim_eta0_is_deterministic_and_seed_matters():
    a, b, c = (_generate(seed=s, n=100)[-1][3] for s in (7, 7, 8))
    final = {k: reverse.RUNS[k]["trajectory"].final for k in (a, b, c)}
    assert a != b and torch.equal(final[a], final[b])
    assert not torch.equal(final[a], final[c])


def test_ddpm_records_capped_frames():
    updates = _generate(sampler="ddpm", steps=10, n=50)  # DDPM ignores the DDIM steps: all T = 1000
    trajectory = reverse.RUNS[updates[-1][3]]["trajectory"]
    assert trajectory.sampler == "ddpm-1000"
    assert len(trajectory) == min(1000, 200) + 1 <= 201  # 200 evenly spaced steps + the finished sample
    assert trajectory.ts[0] == 999 and trajectory.ts[-2] == 0 and trajectory.ts[-1] == -1
    assert len(updates) > 10


def test_export_gif(toy_run):
    _, run_id = toy_run
    path = reverse.export_gif(run_id)
    assert path.endswith(".gif") and os.path.getsize(path) > 0
    with open(path, "rb") as f:
        assert f.read(6) in (b"GIF87a", b"GIF89a")
    with pytest.raises(gr.Error, match="not in memory"):
        reverse.export_gif("no-such-run")


# ---- comparisons ----------------------------------------------------------------------------------

def test_compare_samplers_table_and_determinism_note():
    image, figure, table, note = reverse.compare_samplers(TOY, 0, 64, 0.0, -1)
    assert image is None and isinstance(figure, go.Figure)
    names = re.findall(r"^\| (DD[A-Z]+-\d+) \|", table, flags=re.M)
    assert names == ["DDPM-1000", "DDIM-5", "DDIM-10", "DDIM-20", "DDIM-50", "DDIM-100"]
    assert "largest difference 0.00e+00" in note
    with pytest.raises(gr.Error, match="η must be"):
        reverse.compare_samplers(TOY, 0, 64, 2.0, -1)


def test_compare_schedules_table():
    image, figure, table = reverse.compare_schedules("moons", 0, 64, 20, -1)
    assert image is None and isinstance(figure, go.Figure)
    assert re.findall(r"^\| (linear|cosine) \|", table, flags=re.M) == ["linear", "cosine"]
    with pytest.raises(gr.Error, match="must be shipped"):
        reverse.compare_schedules("mnist", 0, 64, 20, -1)
    with pytest.raises(gr.Error, match="DDIM steps must be"):
        reverse.compare_schedules("moons", 0, 64, 0, -1)


# ---- train your own -----------------------------------------------------------------------------

def test_train_live_registers_a_model_generate_can_use():
    updates = _run(reverse.train_live("moons", "cosine", 60, 64, 2e-3, 0, []))
    assert len(updates) > 2 and any(str(u[0]).startswith("Step ") for u in updates[:-1])
    text, *_, model_update, mine = updates[-1]
    value = model_update["value"]
    assert text.startswith("Done: 60 steps") and value.startswith("user:")
    assert (mine[-1][1] == value) and any(v == value for _, v in model_update["choices"])
    final = _generate(model=value, n=100)[-1]
    trajectory = reverse.RUNS[final[3]]["trajectory"]
    assert tuple(trajectory.final.shape) == (100, 2) and torch.isfinite(trajectory.final).all()


GOOD_TRAIN = dict(dataset="moons", schedule="cosine", steps=60, batch=64, lr=2e-3, seed=0, my_models=[])


@pytest.mark.parametrize("change, message", [
    ({"steps": 0}, "steps must be a whole number"), ({"steps": 10**9}, "steps must be a whole number"),
    ({"batch": 10**6}, "batch size must be"), ({"lr": 0}, "learning rate must be"),
    ({"lr": float("nan")}, "learning rate must be"), ({"dataset": "imagenet"}, "dataset must be one of"),
    ({"schedule": "quadratic"}, "schedule must be one of"),
])
def test_train_live_rejects_bad_values(change, message):
    with pytest.raises(gr.Error, match=message):
        _run(reverse.train_live(**{**GOOD_TRAIN, **change}))


# ---- bad values straight to the handlers --------------------------------------------------------

@pytest.fixture
def conditional_model(monkeypatch):
    """A tiny (untrained) class-conditional 2D model, registered as a user model, for the label checks."""
    spec = DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=16, num_layers=2, num_classes=3))
    entry = {"model": spec.build().eval(), "spec": spec, "dataset": "moons", "label": "test", "card": {}}
    monkeypatch.setitem(reverse.USER_MODELS, "conditional-test", entry)
    return "user:conditional-test"


@pytest.mark.parametrize("change, message", [
    ({"steps": 0}, "DDIM steps must be"), ({"steps": 10**9}, "DDIM steps must be"),
    ({"eta": -0.1}, "η must be"), ({"eta": 1.5}, "η must be"), ({"eta": float("nan")}, "η must be"),
    ({"model": "ddpm-moons-quadratic"}, "model must be one of"), ({"model": "user:nobody"}, "model must be one of"),
    ({"n": 0}, "number of samples must be"), ({"n": 10**6}, "number of samples must be"),
    ({"sampler": "euler"}, "sampler must be one of"), ({"seed": -1}, "seed must be"),
])
def test_generate_rejects_bad_values(change, message):
    with pytest.raises(gr.Error, match=message):
        _generate(**change)


def test_class_label_checked_for_a_conditional_model(conditional_model):
    for bad in (3, 10, -2, 1.5):
        with pytest.raises(gr.Error, match="class label must be"):
            _generate(model=conditional_model, n=10, label=bad)
    run_id = _generate(model=conditional_model, n=10, label=2)[-1][3]
    assert reverse.RUNS[run_id]["y"] == 2


def test_show_frame_rejects_unknown_run():
    for bad in ("no-such-run", None, ""):
        with pytest.raises(gr.Error, match="not in memory"):
            reverse.show_frame(bad, 0)


# ---- the HTTP API -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


API_GOOD = dict(model=TOY, seed=0, sampler="ddim", steps=10, eta=0.0, n=16, label=-1)


def test_generate_and_frame_through_the_http_api(client):
    final = client.predict(*API_GOOD.values(), api_name="/reverse_generate")  # a generator: the last output
    run_id = final[3]
    assert re.fullmatch(r"[0-9a-f]{32}", run_id) and final[2].startswith("Done: ddim-10")
    for k in (0, 1):
        *_, info, _ = client.predict(run_id, k, api_name="/reverse_frame")
        assert f"Frame {k} of 10" in info and "ᾱ_t" in info
    gif = client.predict(run_id, api_name="/reverse_gif")
    with open(gif, "rb") as f:
        assert f.read(6) in (b"GIF87a", b"GIF89a")


@pytest.mark.parametrize("change, message", [
    ({"steps": 0}, "DDIM steps must be"), ({"steps": 10**9}, "DDIM steps must be"),
    ({"eta": -0.1}, "η must be"), ({"eta": 1.5}, "η must be"),
    ({"model": "no-such-model"}, "model must be one of"),
    ({"n": 0}, "number of samples must be"), ({"n": 10**6}, "number of samples must be"),
])
def test_generate_bad_values_through_the_http_api(client, change, message):
    with pytest.raises(AppError, match=message + GRADIO_CHECK) as info:
        client.predict(*{**API_GOOD, **change}.values(), api_name="/reverse_generate")
    assert "Traceback" not in str(info.value)


def _raw_call(server_url, api, data) -> str:
    """Gradio's plain HTTP API, for values gradio_client refuses to send (NaN is not valid strict JSON)."""
    request = urllib.request.Request(f"{server_url}/gradio_api/call/{api}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{server_url}/gradio_api/call/{api}/{event_id}", timeout=60) as response:
        return response.read().decode()


def test_nan_eta_through_the_http_api(server_url):
    stream = _raw_call(server_url, "reverse_generate", [*{**API_GOOD, "eta": math.nan}.values()])
    assert "event: error" in stream and "Traceback" not in stream
    assert "must be a number from 0 to 1" in json.loads(stream.split("data:")[-1])["error"]


@needs_fashion
def test_class_label_out_of_range_through_the_http_api(client):
    with pytest.raises(AppError, match="class label must be" + GRADIO_CHECK):
        client.predict(*{**API_GOOD, "model": "ddpm-fashion-cosine", "label": 10}.values(),
                       api_name="/reverse_generate")


def test_unknown_run_through_the_http_api(client):
    with pytest.raises(AppError, match="not in memory") as info:
        client.predict("no-such-run", 0, api_name="/reverse_frame")
    assert "Traceback" not in str(info.value)


# ---- regressions: bugs found in review, now fixed ------------------------------------------------

def test_api_reaches_every_recorded_frame(client):
    run_id = client.predict(*API_GOOD.values(), api_name="/reverse_generate")[3]
    *_, info, _ = client.predict(run_id, 10, api_name="/reverse_frame")
    assert "Finished sample" in info


def test_api_samples_more_than_64_points_of_a_2d_model(client):
    final = client.predict(*{**API_GOOD, "n": 200}.values(), api_name="/reverse_generate")
    assert final[2].startswith("Done")


def test_stop_after_training_has_finished_says_so():
    list(reverse.train_live("moons", "linear", 20, 64, 1e-3, 0, []))
    assert reverse.stop_training() == "Nothing is training."


# ---- the browser --------------------------------------------------------------------------------

from test_browser import CHROMIUM, _src, _wait_src_change, browser, page  # noqa: E402,F401

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def _wait_frame(pg, k):
    pg.get_by_text(re.compile(rf"Frame {k} of \d+")).first.wait_for(timeout=60_000)


@needs_chromium
def test_browser_generate_and_step_through(page, server_url, artifacts_dir):
    page.goto(server_url + "/reverse")
    page.locator("#reverse-model input").click()
    page.get_by_role("option", name=TOY_TITLE).click()
    page.locator("#reverse-generate").click()
    _wait_frame(page, 0)
    page.locator("#reverse-next").click()
    _wait_frame(page, 1)
    page.locator("#reverse-prev").click()
    _wait_frame(page, 0)
    assert page.get_by_text(re.compile(r"Frame 1 of \d+")).count() == 0
    page.screenshot(path=os.path.join(artifacts_dir, "reverse.png"), full_page=True)


@needs_chromium
@needs_fashion
def test_browser_fashion_next_changes_the_picture(page, server_url, artifacts_dir):
    page.goto(server_url + "/reverse")
    page.locator("#reverse-generate").click()
    _wait_frame(page, 0)
    before = _src(page, "reverse-xt")
    page.locator("#reverse-next").click()
    _wait_frame(page, 1)
    assert _wait_src_change(page, "reverse-xt", before) != before
    page.screenshot(path=os.path.join(artifacts_dir, "reverse-fashion.png"), full_page=True)
