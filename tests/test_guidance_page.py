"""/guidance: both grids are built on the same seeds, cells step through the recording, the trade-off is
measured, and bad values (to the handlers, through the HTTP API) get a clear error."""
import os
import re

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from pages import guidance as page_guidance

GRADIO_CHECK = "|greater than maximum|less than minimum|not in the list of choices"
HAVE_FASHION = "fashion" in page_guidance.available_datasets()
needs_fashion = pytest.mark.skipif(not HAVE_FASHION, reason="the Fashion-MNIST guidance models are not shipped here")
GOOD = dict(dataset="ring8", label=2, scales="0, 1, 3", n_seeds=4, first_seed=0, sampler="ddim", steps=10)


@pytest.fixture(scope="module")
def toy_grid():
    updates = list(page_guidance.build_grids(*GOOD.values()))
    return updates, updates[-1][4]


def test_ring8_grid_streams_and_records_both_methods(toy_grid):
    updates, grid_id = toy_grid
    assert any("step" in str(u[3]) for u in updates[:-1])  # progress while it runs
    final = updates[-1]
    assert final[3].startswith("Done: 3 scales × 4 seeds × 2 methods with ddim-10")
    assert len(final[2].data) > 0  # the 2D figure of paths
    assert "| Ho & Salimans' w′ = w − 1 | -1 | 0 | 2 |" in final[5]  # the convention, for these scales
    grid = page_guidance.GRIDS[grid_id]
    cfg, cg = grid["trajectories"]["cfg"], grid["trajectories"]["classifier"]
    assert cfg.x_t.shape == cg.x_t.shape == (11, 12, 2)
    assert (cfg.x_t[0] == cg.x_t[0]).all()  # both methods start from the same x_T


def test_cell_step_through_reads_the_recording(toy_grid):
    _, grid_id = toy_grid
    rows, cols, frame = page_guidance._cell_choices(grid_id)
    assert [c[1] for c in rows["choices"]] == [0, 1, 2] and frame["maximum"] == 10
    _, plot, info = page_guidance.show_cell(grid_id, "cfg", 2, 1, 3)
    assert "Frame 3 of 10" in info and "w = 3" in info and "ε_cond − ε_uncond" in info
    _, plot, info = page_guidance.show_cell(grid_id, "classifier", 0, 0, 10)
    assert "Finished sample" in info and "s = 0" in info
    assert page_guidance._step(grid_id, "cfg", 10, 1) == 10 and page_guidance._step(grid_id, "cfg", 0, -1) == 0


@pytest.mark.parametrize("args, message", [
    (("cfg", 3, 0, 0), "row must be"), (("cfg", 0, 4, 0), "column must be"), (("cfg", 0, 0, 11), "frame must be"),
    (("magic", 0, 0, 0), "method must be"), (("cfg", 0.5, 0, 0), "row must be")])
def test_cell_rejects_bad_values(toy_grid, args, message):
    with pytest.raises(gr.Error, match=message):
        page_guidance.show_cell(toy_grid[1], *args)


def test_unknown_grid():
    with pytest.raises(gr.Error, match="not in memory"):
        page_guidance.show_cell("nope", "cfg", 0, 0, 0)


def test_measure_toy_tradeoff_shows_the_pull_toward_the_class():
    *_, last = page_guidance.measure("ring8", 2, "0, 1, 4", 100, 0, "ddim", 20)
    curves, densities, table, text = last
    rows = {(cells[0], cells[1]): [float(v) for v in cells[2:]] for cells in
            ([c.strip() for c in line.strip().strip("|").split("|")] for line in table.splitlines()[2:-1])}
    cfg0, cfg1, cfg4 = (rows[("classifier-free guidance", s)] for s in ("0", "1", "4"))
    assert cfg0[0] < 0.4 and cfg1[0] > 0.9 and cfg4[0] >= cfg1[0]  # accuracy: unconditional ≈ 1/8, then the class
    assert cfg4[2] < cfg0[2]  # diversity falls with the scale
    cg0, cg4 = rows[("classifier guidance", "0")], rows[("classifier guidance", "4")]
    assert cg4[0] > cg0[0] + 0.5  # classifier guidance moves samples toward the class too
    assert "100 samples per scale and method" in text
    assert len(curves.data) >= 6 and len(densities.data) > 0


@pytest.mark.parametrize("change, message", [
    ({"scales": "0, 1, two"}, "Could not read 'two'"), ({"scales": "nan, 1"}, "finite"),
    ({"scales": ", ".join(["1"] * 10)}, "1 to 9"), ({"scales": "1e9"}, "within"), ({"scales": ""}, "numbers separated"),
    ({"label": 8}, "class must be"), ({"label": -1}, "class must be"), ({"dataset": "mnist"}, "dataset must be"),
    ({"n_seeds": 9}, "number of seeds must be"), ({"n_seeds": 0}, "number of seeds must be"),
    ({"steps": 0}, "DDIM steps must be"), ({"steps": 10**6}, "DDIM steps must be"), ({"sampler": "euler"}, "sampler must be"),
    ({"first_seed": -1}, "first seed must be")])
def test_grid_rejects_bad_values(change, message):
    with pytest.raises(gr.Error, match=message):
        list(page_guidance.build_grids(*{**GOOD, **change}.values()))


def test_measure_rejects_too_many_samples():
    with pytest.raises(gr.Error, match="samples per scale must be"):
        list(page_guidance.measure("ring8", 0, "1", 10**6, 0, "ddim", 10))


def test_png_export_is_for_image_grids(toy_grid):
    with pytest.raises(gr.Error, match="image grids"):
        page_guidance.export_png(toy_grid[1])


@needs_fashion
def test_fashion_grids_and_png_export():
    updates = list(page_guidance.build_grids("fashion", 7, "0, 1, 3", 2, 5, "ddim", 5))
    cfg_picture, cg_picture, _, text, grid_id, _ = updates[-1]
    assert cfg_picture.shape[2] == 3 and cfg_picture.shape[0] > 3 * 84  # three rows of 28×3 px cells plus labels
    path = page_guidance.export_png(grid_id)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > cfg_picture.shape[1] + cg_picture.shape[1]
    strip, _, info = page_guidance.show_cell(grid_id, "classifier", 1, 1, 2)
    assert "seed 6" in info and strip["value"].shape[2] == 3


# ---- the HTTP API -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


def test_grid_and_cell_through_the_http_api(client):
    final = client.predict(*GOOD.values(), api_name="/guidance_grid")
    grid_id = final[4]
    assert re.fullmatch(r"[0-9a-f]{32}", grid_id) and final[3].startswith("Done: 3 scales")
    *_, info = client.predict(grid_id, "cfg", 1, 2, 4, api_name="/guidance_cell")
    assert "Frame 4 of 10" in info and "seed 2" in info


@pytest.mark.parametrize("change, message", [
    ({"scales": "1, nan"}, "finite"), ({"scales": ", ".join(map(str, range(50)))}, "1 to 9"),
    ({"label": 99}, "class must be"), ({"dataset": "mnist"}, "dataset must be"), ({"n_seeds": 100}, "number of seeds"),
    ({"steps": 10**9}, "DDIM steps must be")])
def test_grid_bad_values_through_the_http_api(client, change, message):
    with pytest.raises(AppError, match=message + GRADIO_CHECK) as info:
        client.predict(*{**GOOD, **change}.values(), api_name="/guidance_grid")
    assert "Traceback" not in str(info.value)


# ---- the browser --------------------------------------------------------------------------------

from test_browser import CHROMIUM, _src, _wait_src_change, browser, page  # noqa: E402,F401

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


@needs_chromium
@needs_fashion
def test_browser_builds_a_small_grid_and_steps_through_a_cell(page, server_url, artifacts_dir):
    page.goto(server_url + "/guidance")
    page.locator("#guidance-scales textarea, #guidance-scales input").first.fill("0, 1, 4")
    page.locator("#guidance-build").click()
    page.get_by_text(re.compile(r"Done: 3 scales × 4 seeds")).first.wait_for(timeout=120_000)
    for elem in ("guidance-cfg", "guidance-cg"):
        src = _src(page, elem)
        assert src and ("data:image/png" in src or "/file=" in src or "gradio_api/file" in src)
    page.get_by_text(re.compile(r"Frame 0 of \d+")).first.wait_for(timeout=60_000)
    before = _src(page, "guidance-cell")
    page.locator("#guidance-next").click()
    page.get_by_text(re.compile(r"Frame 1 of \d+")).first.wait_for(timeout=60_000)
    assert _wait_src_change(page, "guidance-cell", before) != before
    page.screenshot(path=os.path.join(artifacts_dir, "guidance.png"), full_page=True)
