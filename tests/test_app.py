"""The app: every route builds and serves; handlers return the right types; values sent straight
to the HTTP API, past the sliders, get a clear error and never a stack trace."""
import urllib.request
from pathlib import Path

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from pages import forward

FRAME = dict(source="Fashion-MNIST", label=7, index=0, upload=None, schedule_a="linear", schedule_b="cosine",
             T=1000, t=300, noise_seed=0)


def test_every_route_serves(server_url):
    for page in [{"route": "/"}] + app.PAGES:
        with urllib.request.urlopen(server_url + page["route"], timeout=30) as response:
            assert response.status == 200
            assert "<html" in response.read(2000).decode().lower()


def test_frame_handler_types_and_matched_noise():
    image_a, image_b, numbers = forward.frame(**FRAME)
    assert isinstance(image_a, np.ndarray) and image_a.dtype == np.uint8 and image_a.shape == image_b.shape
    assert "ᾱ_t" in numbers and "linear" in numbers and "cosine" in numbers
    same = forward.frame(**{**FRAME, "schedule_b": "linear"})
    assert np.array_equal(same[0], same[1])  # same schedule + same noise = same picture
    clean = forward.frame(**{**FRAME, "t": 0})
    assert np.array_equal(clean[0], clean[1])


def test_strips_plot_check_gif_and_toy_handlers(tmp_path):
    strip_a, strip_b, caption, table = forward.strips(**{k: v for k, v in FRAME.items() if k != "t"})
    assert strip_a.shape[1] > 8 * strip_a.shape[0] and "32.7%" in table and "6.5%" in table
    assert isinstance(forward.schedule_plot("linear", "cosine", 1000, 300), go.Figure)
    report = forward.closed_form_check("digits", 3, 0, None, "cosine", 100, 40, 0)
    assert "closed form" in report and "iterated" in report
    gif = forward.export_gif("shapes", 0, 0, None, "linear", "sigmoid", 50, 1)
    assert open(gif, "rb").read(6) in (b"GIF87a", b"GIF89a")
    figure, moments = forward.toy_cloud("ring8", "cosine", 1000, 500, 0)
    assert isinstance(figure, go.Figure) and "predicted" in moments


def test_the_schedule_table_shows_how_much_signal_is_left_at_T():
    import math

    from playground.diffusion import make_schedule
    from playground.diffusion.forward import schedule_summary
    # scaled_linear: √β linear from √0.00085 to √0.012 over T = 1000 steps; ᾱ_T = ∏ (1 − β_t), by hand
    lo, hi = math.sqrt(0.00085), math.sqrt(0.012)
    by_hand = math.prod(1 - (lo + (hi - lo) * k / 999) ** 2 for k in range(1000))
    summary = schedule_summary(make_schedule("scaled_linear", 1000))
    assert summary["alpha_bar_T"] == pytest.approx(by_hand, rel=1e-9) and by_hand == pytest.approx(4.66e-3, rel=0.01)
    assert summary["sqrt_alpha_bar_T"] == pytest.approx(math.sqrt(by_hand)) and 0.06 < summary["sqrt_alpha_bar_T"] < 0.075
    assert summary["terminal_snr"] == pytest.approx(by_hand / (1 - by_hand))
    table = forward.strips(**{**{k: v for k, v in FRAME.items() if k != "t"}, "schedule_b": "scaled_linear"})[3]
    row = next(line for line in table.splitlines() if line.startswith("| scaled_linear |"))
    assert f"| {by_hand:.2e} | {math.sqrt(by_hand):.2g} |" in row
    assert "Lin et al. 2024" in table and "mismatch" in table and f"scaled_linear {by_hand:.2e}" in table
    linear = schedule_summary(make_schedule("linear", 1000))["alpha_bar_T"]
    assert linear == pytest.approx(math.prod(1 - (1e-4 + (0.02 - 1e-4) * k / 999) for k in range(1000)), rel=1e-9)
    assert f"linear {linear:.2e}" in table


def test_the_zero_terminal_snr_rescale_ends_in_pure_noise():
    """Lin et al. 2024, Algorithm 1: √ᾱ_t is shifted and scaled, so √ᾱ_T = 0, √ᾱ_1 is kept, and every √ᾱ_t is the
    same affine function of the original; the page's last frame is then the noise itself."""
    import torch

    from playground.diffusion import make_schedule
    plain, rescaled = make_schedule("scaled_linear", 1000), make_schedule("scaled_linear", 1000, zero_terminal_snr=True)
    a, b = plain.alphas_cumprod.sqrt(), rescaled.alphas_cumprod.sqrt()
    assert float(b[-1]) == 0 and float(rescaled.betas[-1]) == 1 and float(b[0]) == pytest.approx(float(a[0]), rel=1e-12)
    torch.testing.assert_close(b, (a - a[-1]) * a[0] / (a[0] - a[-1]))
    assert bool(((rescaled.betas > 0) & (rescaled.betas <= 1)).all())
    table = forward.strips(**{**{k: v for k, v in FRAME.items() if k != "t"}, "schedule_b": "scaled_linear+zero-snr"})[3]
    row = next(line for line in table.splitlines() if line.startswith("| scaled_linear, zero terminal SNR |"))
    assert "| 0 (exactly) | 0 (exactly) | 0 (exactly) |" in row and "Lin et al. 2024, Algorithm 1" in row
    x_a, x_b, numbers = forward.frame(**{**FRAME, "schedule_a": "scaled_linear", "schedule_b": "scaled_linear+zero-snr",
                                         "t": 1000})
    assert "scaled_linear, zero terminal SNR" in numbers and "SNR = ᾱ_t/(1−ᾱ_t) = 0" in numbers
    with pytest.raises(gr.Error, match="schedule B"):
        forward.frame(**{**FRAME, "schedule_b": "cosine+zero-snr; drop"})


def test_the_film_lets_a_browser_draw_the_same_frames_as_the_server():
    """x_t = signal[t] · x_0 + noise[t] · ε from the film is the server's x_t at every t (up to the film's rounding)."""
    import torch

    from playground.diffusion.forward import noise_at
    data = forward.film_data(**{k: v for k, v in FRAME.items() if k != "t"})
    a, b = forward._schedules(FRAME["schedule_a"], FRAME["schedule_b"], FRAME["T"])
    x0, _ = forward.pick_x0(FRAME["source"], FRAME["label"], FRAME["index"], None)
    noise = forward._noise(x0, FRAME["noise_seed"])
    film_x0, film_noise = torch.tensor(data["x0"]), torch.tensor(data["noise"])
    for curve, schedule in zip(data["schedules"], (a, b)):
        assert curve["name"] == schedule.name and len(curve["signal"]) == FRAME["T"] + 1
        for t in (0, 1, 300, 1000):
            drawn = curve["signal"][t] * film_x0 + curve["noise"][t] * film_noise
            torch.testing.assert_close(drawn, noise_at(schedule, x0[None], t, noise[None])[0].flatten().float(),
                                       atol=1e-3, rtol=0)
    assert (data["channels"], data["height"], data["width"]) == tuple(x0.shape) and data["scale"] >= 1


def test_play_reaches_T():
    frames = list(forward.play(**{**FRAME, "T": 50, "t": 40}))
    assert [f[0] for f in frames][-1] == 50 and all(f[0] >= 40 for f in frames)


def test_upload_source(tmp_path):
    from PIL import Image
    path = tmp_path / "red.png"
    Image.new("RGBA", (300, 200), (255, 0, 0, 255)).save(path)
    image_a, _, _ = forward.frame(**{**FRAME, "source": "upload", "upload": str(path), "t": 0})
    assert image_a[..., 0].mean() > 250 and image_a[..., 1].mean() < 5
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(gr.Error, match="not an image"):
        forward.frame(**{**FRAME, "source": "upload", "upload": str(bad)})
    with pytest.raises(gr.Error, match="upload"):
        forward.frame(**{**FRAME, "source": "upload", "upload": None})


@pytest.mark.parametrize("change, message", [
    ({"t": 1001}, "t must be"), ({"t": -1}, "t must be"), ({"T": 10**9}, "T must be"), ({"T": 7}, "T must be"),
    ({"schedule_a": "quadratic"}, "schedule A must be one of"), ({"index": -1}, "index must be"),
    ({"index": 10**6}, "index must be"), ({"label": 10}, "class must be"), ({"source": "imagenet"}, "source must be"),
    ({"noise_seed": -5}, "noise seed"), ({"t": float("nan")}, "t must be"), ({"t": 2.5}, "t must be"),
])
def test_frame_rejects_bad_values(change, message):
    with pytest.raises(gr.Error, match=message):
        forward.frame(**{**FRAME, **change})


def test_bad_values_through_the_http_api(server_url):
    client = Client(server_url, verbose=False)
    ok = client.predict(*FRAME.values(), api_name="/forward_frame")
    assert len(ok) == 3
    # Gradio checks a value against its component (slider range, dropdown choices) before our handler
    # does; either way the caller gets a message that names the bad value.
    gradio_check = "|greater than maximum|less than minimum|not in the list of choices"
    for change, message in [({"t": 1001}, "t must be"), ({"T": 10**9}, "T must be"), ({"T": 100, "t": 500}, "t must be"),
                            ({"schedule_b": "unknown"}, "schedule B must be one of"), ({"index": -3}, "index must be"),
                            ({"index": 5000}, "index must be")]:
        with pytest.raises(AppError, match=message + gradio_check) as info:
            client.predict(*{**FRAME, **change}.values(), api_name="/forward_frame")
        assert "Traceback" not in str(info.value)
        assert str(next(iter(change.values()))) in str(info.value) or message in str(info.value)
    with pytest.raises(AppError, match="dataset must be one of" + gradio_check):
        client.predict("mnist", "linear", 1000, 10, 0, api_name="/forward_toy")
    with pytest.raises(AppError, match="t must be"):
        client.predict("moons", "linear", 100, 500, 0, api_name="/forward_toy")


def test_building_the_app_restores_gradio_and_launch_still_builds_every_page():
    """build_app skips Gradio's per-route rebuilds of the app's config while the pages are built; afterwards Gradio
    is as it was, and the served app (test_every_route_serves) has every page."""
    from gradio import routes
    get_config_file, create_app = gr.Blocks.get_config_file, routes.App.__dict__["create_app"]
    demo = app.build_app()
    assert gr.Blocks.get_config_file is get_config_file and routes.App.__dict__["create_app"] is create_app
    assert [path for path, _, _ in demo.pages][1:] == [page["route"].strip("/") for page in app.PAGES]
    assert demo.get_config_file()["page"]  # the config launch serves is made in one go, with the pages in it


def test_launch_keeps_one_config_equal_to_a_fresh_one_and_restores_gradio():
    """serve() lets launch compute the app's config once (Gradio computes it twice); what launch keeps must equal a
    config computed afresh after launch, and Gradio's method is back afterwards."""
    import json
    import socket
    get_config_file = gr.Blocks.get_config_file
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.serve(app.build_app(), "127.0.0.1", port, warm=False, prevent_thread_lock=True, quiet=True)
    try:
        assert gr.Blocks.get_config_file is get_config_file
        kept, fresh = json.dumps(demo.config, sort_keys=True, default=str), json.dumps(
            demo.get_config_file(), sort_keys=True, default=str)
        assert kept == fresh and len(kept) > 100_000
    finally:
        demo.close()


def test_starting_the_app_imports_neither_scipy_nor_matplotlib():
    """Part of the cold-start budget (≤ 5 s to serve /): scipy (0.3 s) and matplotlib (0.24 s) are imported where
    they are used, never while the app is imported and its pages built."""
    import subprocess
    import sys
    code = ("import sys, app; app.build_app(); "
            "print(sorted(m for m in ('scipy', 'matplotlib', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=str(Path(app.__file__).parent))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_serve_turns_garbage_collection_back_on_after_a_start_without_it():
    """`python app.py` imports and builds with the collector off (a second of the cold start); serve() must turn it
    back on, with start-up's objects frozen, or a long-running server would never collect a cycle."""
    import gc
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with gr.Blocks() as tiny:
        gr.Markdown("tiny")
    frozen_before = gc.get_freeze_count()
    gc.disable()
    try:
        demo = app.serve(tiny, "127.0.0.1", port, warm=False, prevent_thread_lock=True, quiet=True)
        assert gc.isenabled() and gc.get_freeze_count() > frozen_before
        demo.close()
    finally:
        gc.unfreeze()
        gc.enable()
