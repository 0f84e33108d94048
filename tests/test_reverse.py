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
from playground.models import Loaded
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


def _generate(model=TOY, seed=0, sampler="ddim", steps=10, eta=0.0, n=200, label=-1, runs=None, my_models=None) -> list:
    return _run(reverse.generate(model, seed, sampler, steps, eta, n, label, runs, my_models))


def _fig_json(fig):
    return None if fig is None else fig.to_json()


@pytest.fixture(scope="module")
def toy_run():
    """One DDIM-10 run of 200 points on the moons model: (all yields, run id, that session's runs)."""
    updates = _generate()
    return updates, updates[-1].run_id, updates[-1].runs


# ---- generate, step through, export -------------------------------------------------------------

def test_generate_streams_then_hands_back_a_run_id(toy_run):
    updates, run_id, runs = toy_run
    assert len(updates) > 1  # live frames before the final one
    assert all(u.run_id is None for u in updates[:-1]) and isinstance(run_id, str) and list(runs) == [run_id]
    # while the shared sampler forms its batch the request is told its place in line; then it streams its steps
    assert any(isinstance(u.status, str) and u.status.startswith(("Sampling: step", "In line for the sampler"))
               for u in updates[:-1])
    final = updates[-1]
    assert final.live is None and isinstance(final.live_points, go.Figure) and final.status.startswith("Done: ddim-10")
    trajectory = runs[run_id]["trajectory"]
    assert len(trajectory) == 11 and tuple(trajectory.final.shape) == (200, 2)
    assert torch.isfinite(trajectory.final).all()


def test_live_progress_and_step_through_name_the_same_t(monkeypatch):
    """Issue 18, item 6: one convention, t = schedule index + 1, live and when stepping through."""
    monkeypatch.setattr(reverse.step_through, "LIVE_EVERY_S", 0.0)  # a live status after every step
    updates = _generate(steps=10, n=16)
    runs, run_id = updates[-1].runs, updates[-1].run_id
    live = [re.search(r"Sampling: step (\d+) of 10 \(t = (\d+) of (\d+)\)", u.status or "") for u in updates[:-1]]
    live = [(int(m[1]), int(m[2]), int(m[3])) for m in live if m]
    assert len(live) == 9  # steps 1 … 9 (the 10th is the finished sample)
    ts = runs[run_id]["trajectory"].ts
    for i, t, num_steps in live:  # step i looked at frame i − 1
        assert t == ts[i - 1] + 1 and 1 <= t <= num_steps
        assert f"at t = {t} of {num_steps} (schedule index {t - 1})" in reverse.show_frame(run_id, i - 1, runs).info


def test_show_frame_first_middle_last(toy_run):
    _, run_id, runs = toy_run
    last = len(runs[run_id]["trajectory"]) - 1
    for k in (0, last // 2, last):
        view = reverse.show_frame(run_id, k, runs)
        assert view.x_t is None and view.eps is None and view.x0 is None  # a 2D model: no image views
        assert isinstance(view.points, go.Figure) and isinstance(view.schedule, go.Figure)
        assert f"frame {k} of {last}" in view.info.lower()
        if k < last:
            assert "ᾱ_t" in view.info
        else:
            assert "Finished sample" in view.info and "ᾱ = 1" in view.info
    with pytest.raises(gr.Error, match="frame must be"):
        reverse.show_frame(run_id, last + 1, runs)
    assert reverse.step_frame(run_id, 0, runs, -1) == 0 and reverse.step_frame(run_id, 0, runs, 1) == 1
    assert reverse.step_frame(run_id, last, runs, 1) == last


def test_show_frame_reads_the_cache_and_never_resamples(toy_run, monkeypatch):
    _, run_id, runs = toy_run
    network = runs[run_id]["model"].model
    batch_sizes = []

    def no_sampling(*args, **kwargs):
        raise AssertionError("show_frame must not sample again")

    monkeypatch.setattr(reverse.step_through.SAMPLING, "steps", no_sampling)
    hook = network.register_forward_pre_hook(lambda module, args: batch_sizes.append(args[0].shape[0]))
    try:
        first, second = reverse.show_frame(run_id, 3, runs), reverse.show_frame(run_id, 3, runs)
    finally:
        hook.remove()
    assert first.info == second.info
    assert _fig_json(first.points) == _fig_json(second.points) and _fig_json(first.schedule) == _fig_json(second.schedule)
    # The 2D view draws the model's score field on a 17×17 grid (one call per frame); the 200 samples
    # themselves are never pushed through the model again.
    assert 200 not in batch_sizes and len(batch_sizes) <= 2


def test_ddim_eta0_is_deterministic_and_seed_matters():
    runs = {}
    ids = []
    for seed in (7, 7, 8):
        final = _generate(seed=seed, n=100, runs=runs)[-1]
        ids.append(final.run_id)
        runs = final.runs
    a, b, c = (runs[k]["trajectory"].final for k in ids)
    assert len(set(ids)) == 3 and torch.equal(a, b)
    assert not torch.equal(a, c)


def test_ddpm_records_capped_frames():
    updates = _generate(sampler="ddpm", steps=10, n=50)  # DDPM ignores the DDIM steps: all T = 1000
    trajectory = updates[-1].runs[updates[-1].run_id]["trajectory"]
    assert trajectory.sampler == "ddpm-1000"
    assert len(trajectory) == min(1000, 200) + 1 <= 201  # 200 evenly spaced steps + the finished sample
    assert trajectory.ts[0] == 999 and trajectory.ts[-2] == 0 and trajectory.ts[-1] == -1
    assert len(updates) >= 2  # live frames (at most every LIVE_EVERY_S) before the final one


def test_export_gif(toy_run):
    _, run_id, runs = toy_run
    path = reverse.export_gif(run_id, runs)
    assert path.endswith(".gif") and os.path.getsize(path) > 0
    with open(path, "rb") as f:
        assert f.read(6) in (b"GIF87a", b"GIF89a")
    with pytest.raises(gr.Error, match="not in this browser's memory"):
        reverse.export_gif("no-such-run", runs)


def test_play_frames_reach_the_end(toy_run):
    _, run_id, runs = toy_run
    frames = list(reverse.play_frames(run_id, 0, runs))
    assert [f.frame for f in frames] == list(range(11)) and "Finished sample" in frames[-1].info


# ---- per-browser state: sessions never share or evict each other's runs ---------------------------

def test_two_sessions_keep_their_own_runs():
    a = _generate(seed=1, n=50, runs={})[-1]
    b = _generate(seed=2, n=50, runs={})[-1]
    assert list(a.runs) == [a.run_id] and list(b.runs) == [b.run_id]
    assert not torch.equal(a.runs[a.run_id]["trajectory"].x_t[0], b.runs[b.run_id]["trajectory"].x_t[0])
    for mine, other in ((a, b), (b, a)):
        with pytest.raises(gr.Error, match="not in this browser's memory"):
            reverse.show_frame(other.run_id, 0, mine.runs)
        assert "Frame 1 of 10" in reverse.show_frame(mine.run_id, 1, mine.runs).info


def test_forty_sessions_each_step_through_their_own_run():
    """Issue 13, "Done when": 40 sessions each record a run and then step through it; none loses its run."""
    sessions = []
    for seed in range(40):
        final = _generate(seed=seed, steps=3, n=8, runs={})[-1]
        sessions.append((seed, final.run_id, final.runs))
    for seed, run_id, runs in sessions:  # only now, after all 40 have recorded, does each step through its run
        assert list(runs) == [run_id]
        assert "Frame 0 of 3" in reverse.show_frame(run_id, 0, runs).info
        frame = 0
        for _ in range(3):
            frame = reverse.step_frame(run_id, frame, runs, 1)
        assert frame == 3 and "Finished sample" in reverse.show_frame(run_id, frame, runs).info
        noise = runs[run_id]["trajectory"].x_t[0].float()
        assert torch.allclose(noise, reverse.MENU.get(TOY).noise(8, seed).cpu(), atol=1e-2)  # its own x_T


def test_a_session_keeps_its_last_runs_and_says_when_it_drops_one():
    runs, notes, ids = {}, [], []
    for seed in range(reverse.MAX_RUNS + 1):
        final = _generate(seed=seed, steps=2, n=5, runs=runs)[-1]
        runs, ids = final.runs, ids + [final.run_id]
        notes.append(final.status)
    assert list(runs) == ids[1:] and "oldest was dropped" in notes[-1] and "dropped" not in notes[-2]


# ---- comparisons ----------------------------------------------------------------------------------

def test_compare_samplers_table_and_determinism_note():
    out = reverse.compare_samplers(TOY, 0, 64, 0.0, -1)
    assert out.image is None and isinstance(out.plot, go.Figure)
    names = re.findall(r"^\| (DD[A-Z]+-\d+) \|", out.table, flags=re.M)
    assert names == ["DDPM-1000", "DDIM-5", "DDIM-10", "DDIM-20", "DDIM-50", "DDIM-100"]
    assert "sliced Wasserstein" in out.table.splitlines()[0]
    assert "largest difference 0.00e+00" in out.note
    with pytest.raises(gr.Error, match="η must be"):
        reverse.compare_samplers(TOY, 0, 64, 2.0, -1)


def test_compare_schedules_table():
    out = reverse.compare_schedules("moons", 0, 64, 20, -1)
    assert out.image is None and isinstance(out.plot, go.Figure)
    assert re.findall(r"^\| (linear|cosine) \|", out.table, flags=re.M) == ["linear", "cosine"]
    with pytest.raises(gr.Error, match="must be shipped"):
        reverse.compare_schedules("mnist", 0, 64, 20, -1)
    with pytest.raises(gr.Error, match="DDIM steps must be"):
        reverse.compare_schedules("moons", 0, 64, 0, -1)


# ---- train your own -----------------------------------------------------------------------------

def test_train_live_registers_a_model_generate_can_use():
    updates = _run(reverse.run_job(reverse.make_job("moons", "cosine", 60, 64, 2e-3, 0), {}, reverse.MENU))
    assert len(updates) >= 2 and any(str(u.status).startswith("Step ") for u in updates[:-1])
    done = updates[-1]
    value = done.menu["value"]
    assert done.status.startswith("Done: 60 steps") and value.startswith("user:")
    assert list(done.my_models) == [value[5:]] and any(v == value for _, v in done.menu["choices"])
    assert "cosine schedule" in done.menu["choices"][0][0]
    final = _generate(model=value, n=100, my_models=done.my_models)[-1]
    trajectory = final.runs[final.run_id]["trajectory"]
    assert tuple(trajectory.final.shape) == (100, 2) and torch.isfinite(trajectory.final).all()
    with pytest.raises(gr.Error, match="another browser session"):  # another browser does not have it
        _generate(model=value, n=10, my_models={})


GOOD_TRAIN = dict(dataset="moons", schedule="cosine", steps=60, batch=64, lr=2e-3, seed=0)


@pytest.mark.parametrize("change, message", [
    ({"steps": 0}, "steps must be a whole number"), ({"steps": 10**9}, "steps must be a whole number"),
    ({"batch": 10**6}, "batch size must be"), ({"lr": 0}, "learning rate must be"),
    ({"lr": float("nan")}, "learning rate must be"), ({"dataset": "imagenet"}, "dataset must be one of"),
    ({"schedule": "quadratic"}, "schedule must be one of"),
])
def test_train_live_rejects_bad_values(change, message):
    with pytest.raises(gr.Error, match=message):
        reverse.make_job(**{**GOOD_TRAIN, **change})


# ---- bad values straight to the handlers --------------------------------------------------------

@pytest.fixture
def conditional_model():
    """A tiny (untrained) class-conditional 2D model, as one browser's own model, for the label checks."""
    spec = DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=16, num_layers=2, num_classes=3))
    return {"conditional-test": Loaded.trained(spec.build(), spec, "moons", "test", "conditional-test")}


@pytest.mark.parametrize("change, message", [
    ({"steps": 0}, "DDIM steps must be"), ({"steps": 10**9}, "DDIM steps must be"),
    ({"eta": -0.1}, "η must be"), ({"eta": 1.5}, "η must be"), ({"eta": float("nan")}, "η must be"),
    ({"model": "ddpm-moons-quadratic"}, "model must be one of"), ({"model": "user:nobody"}, "another browser session"),
    ({"n": 0}, "number of samples must be"), ({"n": 10**6}, "number of samples must be"),
    ({"sampler": "euler"}, "sampler must be one of"), ({"seed": -1}, "seed must be"),
])
def test_generate_rejects_bad_values(change, message):
    with pytest.raises(gr.Error, match=message):
        _generate(**change)


@pytest.mark.parametrize("clipping, percentile, message", [
    ("dynamic", 0.5, "percentile p must be"), ("dynamic", float("nan"), "percentile p must be"),
    ("dynamic", True, "percentile p must be"), ("sometimes", 0.995, "clipping of x̂₀ must be one of"),
    (None, 0.995, "clipping of x̂₀ must be one of")])
def test_generate_rejects_bad_clipping(clipping, percentile, message):
    with pytest.raises(gr.Error, match=message):
        _run(reverse.generate(TOY, 0, "ddim", 5, 0.0, 20, -1, None, None, clipping, percentile))


def test_generate_reports_how_often_clipping_acted():
    """Off: no share anywhere, the steps are the unclipped update; static and dynamic: the mean share after the run
    and the share of each step in the step-through, the same figures the recording holds."""
    runs = {}
    for clipping in ("off", "static", "dynamic"):
        final = _run(reverse.generate(TOY, 0, "ddim", 5, 0.0, 50, -1, runs, None, clipping, 0.99))[-1]
        runs, trajectory = final.runs, final.runs[final.run_id]["trajectory"]
        info = reverse.show_frame(final.run_id, 1, runs).info
        if clipping == "off":
            assert trajectory.clipped is None and "not clipped" in info and "Over the run" in info
        else:
            assert trajectory.clipped.shape == (len(trajectory), 50) and trajectory.clipped_mean.shape == (50,)
            name = "static clipping to [−1, 1]" if clipping == "static" else "dynamic thresholding (p = 0.99)"
            assert f"with {name}, " in info and "of the x̂₀ values were changed per step" in info
            assert "Clipping changed " in info and "at this step" in info


def test_class_label_checked_for_a_conditional_model(conditional_model):
    for bad in (3, 10, -2, 1.5):
        with pytest.raises(gr.Error, match="class label must be"):
            _generate(model="user:conditional-test", n=10, label=bad, my_models=conditional_model)
    final = _generate(model="user:conditional-test", n=10, label=2, my_models=conditional_model)[-1]
    assert final.runs[final.run_id]["y"] == 2
    assert reverse.model_controls("user:conditional-test", conditional_model).label["visible"] is True


def test_menu_labels_say_schedule_and_conditioning_from_the_card():
    assert reverse.shipped_label("ddpm-moons-cosine") == TOY_TITLE
    assert reverse.shipped_label("ddpm-moons-cond") == "two moons · cosine schedule, class-conditional (shipped)"
    if HAVE_FASHION:  # two image recipes of one schedule: the label tells them apart by target and length
        assert reverse.shipped_label("ddpm-fashion-simple") == \
            "Fashion-MNIST · cosine schedule, class-conditional, ε-prediction, 4,000 steps (shipped)"
        assert reverse.shipped_label("ddpm-fashion-cosine") == \
            "Fashion-MNIST · cosine schedule, class-conditional, v-prediction, 7,000 steps (shipped)"


def test_show_frame_rejects_unknown_run(toy_run):
    for bad in ("no-such-run", None, ""):
        for runs in (None, {}, toy_run[2]):
            with pytest.raises(gr.Error, match="not in this browser's memory"):
                reverse.show_frame(bad, 0, runs)


# ---- the HTTP API -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


def _named(result_type, values):
    """An HTTP API result as the handler's named result (the API leaves out the session-state outputs)."""
    values = list(values)
    return result_type(*values, *[None] * (len(result_type._fields) - len(values)))


API_GOOD = dict(model=TOY, seed=0, sampler="ddim", steps=10, eta=0.0, n=16, label=-1, clipping="static", percentile=0.995)


def test_generate_and_frame_through_the_http_api(client):
    final = _named(reverse.Live, client.predict(*API_GOOD.values(), api_name="/reverse_generate"))  # the last output
    run_id = final.run_id
    assert re.fullmatch(r"[0-9a-f]{32}", run_id) and final.status.startswith("Done: ddim-10")
    for k in (0, 1):
        info = _named(reverse.FrameView, client.predict(run_id, k, api_name="/reverse_frame")).info
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
    with pytest.raises(AppError, match="not in this browser's memory") as info:
        client.predict("no-such-run", 0, api_name="/reverse_frame")
    assert "Traceback" not in str(info.value)


# ---- regressions: bugs found in review, now fixed ------------------------------------------------

def test_api_reaches_every_recorded_frame(client):
    run_id = _named(reverse.Live, client.predict(*API_GOOD.values(), api_name="/reverse_generate")).run_id
    assert "Finished sample" in _named(reverse.FrameView, client.predict(run_id, 10, api_name="/reverse_frame")).info


def test_another_api_client_cannot_reach_a_run(client, server_url):
    run_id = _named(reverse.Live, client.predict(*API_GOOD.values(), api_name="/reverse_generate")).run_id
    with pytest.raises(AppError, match="not in this browser's memory"):
        Client(server_url, verbose=False).predict(run_id, 0, api_name="/reverse_frame")


def test_api_samples_more_than_64_points_of_a_2d_model(client):
    final = _named(reverse.Live, client.predict(*{**API_GOOD, "n": 200}.values(), api_name="/reverse_generate"))
    assert final.status.startswith("Done")


def test_stop_after_training_has_finished_says_so():
    updates = list(reverse.run_job(reverse.make_job("moons", "linear", 20, 64, 1e-3, 0), {}, reverse.MENU))
    assert updates[-1].run is None  # the finished run is no longer "in progress"
    assert reverse.keep_stopped(updates[-1].run, {}, reverse.MENU).status == "Nothing is training."


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


@needs_chromium
@pytest.mark.parametrize("title, steps, picture", [
    (TOY_TITLE, None, "#reverse-live-points"),
    pytest.param(None, 10, "#reverse-live", marks=needs_fashion),  # the default model, Fashion-MNIST, DDIM-10
])
def test_browser_projector_first_screen(browser, server_url, artifacts_dir, title, steps, picture):
    """On a 1280×800 projector, after Generate, the live picture and Generate are on the first screen, and the
    step-through (the frame slider) follows right below the live picture."""
    from browsing import assert_in_first_screen
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        pg = context.new_page()
        pg.goto(server_url + "/reverse")
        if title:
            pg.locator("#reverse-model input").click()
            pg.get_by_role("option", name=title, exact=True).click()
        if steps:
            pg.locator("#reverse-steps input[type=number]").fill(str(steps))
            pg.locator("#reverse-steps input[type=number]").press("Tab")
        pg.locator("#reverse-generate").click()
        _wait_frame(pg, 0)
        pg.screenshot(path=os.path.join(artifacts_dir, f"reverse-projector-{picture.lstrip('#')}.png"))
        assert_in_first_screen(pg, picture, min_visible=250)
        assert_in_first_screen(pg, "#reverse-generate")
        live, frame = pg.locator(picture).bounding_box(), pg.locator("#reverse-frame").bounding_box()
        assert 0 < frame["y"] - (live["y"] + live["height"]) < 150  # the step-through follows directly
    finally:
        context.close()


@needs_chromium
@needs_fashion
def test_browser_two_sessions_step_through_their_own_runs(browser, server_url, artifacts_dir):
    """Two browsers at once (two contexts) generate with different seeds: each steps through its own run, sees
    its own pictures, and keeps them while the other makes a new run."""
    contexts = [browser.new_context(viewport={"width": 1300, "height": 1000}) for _ in range(2)]
    try:
        a, b = (context.new_page() for context in contexts)
        errors = []
        for pg in (a, b):
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            pg.on("pageerror", lambda e: errors.append(str(e)))
        for pg, seed in ((a, 1), (b, 2)):
            pg.goto(server_url + "/reverse")
            pg.locator("#reverse-seed input").fill(str(seed))
            pg.locator("#reverse-seed input").press("Tab")
        for pg in (a, b):  # both sample at the same time
            pg.locator("#reverse-generate").click()
        first = {}
        for name, pg in (("a", a), ("b", b)):
            _wait_frame(pg, 0)
            before = _src(pg, "reverse-xt")
            pg.locator("#reverse-next").click()
            _wait_frame(pg, 1)
            first[name] = _wait_src_change(pg, "reverse-xt", before)
        assert first["a"] != first["b"]  # different x_T, different frames
        a.locator("#reverse-seed input").fill("3")
        a.locator("#reverse-seed input").press("Tab")
        a.locator("#reverse-generate").click()  # a new run in A ...
        _wait_frame(a, 0)
        b.locator("#reverse-next").click()  # ... while B goes on stepping through its own
        _wait_frame(b, 2)
        b.locator("#reverse-prev").click()
        _wait_frame(b, 1)
        b.wait_for_function("([id, src]) => document.querySelector('#' + id + ' img')?.getAttribute('src') === src",
                            arg=["reverse-xt", first["b"]], timeout=30_000)
        a.locator("#reverse-next").click()
        _wait_frame(a, 1)
        assert _wait_src_change(a, "reverse-xt", first["a"]) not in (first["a"], first["b"])
        b.screenshot(path=os.path.join(artifacts_dir, "reverse-two-sessions.png"), full_page=True)
        assert errors == [], errors
    finally:
        for context in contexts:
            context.close()


@needs_fashion
def test_the_finished_run_says_which_precision_the_network_computed_in():
    """A Fashion model samples in bf16 on a CPU with native bf16 (docs/diffusion.md); the status says so, and a 2D
    model says float32."""
    from playground import nn as pnn
    fashion = _generate(model="ddpm-fashion-cosine", steps=2, n=2)[-1].status
    expected = "bfloat16 on this CPU" if pnn.cpu_has_fast_bfloat16() else "float32"
    assert f"(the network in {expected}" in fashion
    assert "(the network in float32)" in _generate(steps=2, n=10)[-1].status
