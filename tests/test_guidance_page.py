"""/guidance: both grids are built on the same seeds and kept in the browser's session, cells step through the
recording, the trade-off is measured, Stop ends the work, and bad values (to the handlers, through the HTTP API,
in the Scales box) get a clear error."""
import os
import re
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from pages import guidance as page_guidance
from pages.common import MAX_RUNS

GRADIO_CHECK = "|greater than maximum|less than minimum|not in the list of choices"
HAVE_FASHION = "fashion" in page_guidance.available_datasets()
needs_fashion = pytest.mark.skipif(not HAVE_FASHION, reason="the Fashion-MNIST guidance models are not shipped here")
GOOD = dict(dataset="ring8", label=2, scales="0, 1, 3", n_seeds=4, first_seed=0, sampler="ddim", steps=10)


def _grid(change=None, grids=None):
    """The final update of a grid built in the session whose store is `grids`."""
    *_, final = page_guidance.build_grids(*{**GOOD, **(change or {})}.values(), grids or {})
    return final


@pytest.fixture(scope="module")
def toy_grid():
    updates = list(page_guidance.build_grids(*GOOD.values(), {}))
    return updates, updates[-1].grid_id, updates[-1].grids


def test_ring8_grid_streams_and_records_both_methods(toy_grid):
    updates, grid_id, grids = toy_grid
    assert any("step" in str(u.progress) for u in updates[:-1])  # progress while it runs
    final = updates[-1]
    assert final.progress.startswith("Done: 3 scales × 4 seeds × 2 methods with ddim-10")
    assert len(final.points.data) > 0  # the 2D figure of paths
    assert "| Ho & Salimans' w′ = w − 1 | -1 | 0 | 2 |" in final.convention  # the convention, for these scales
    assert list(grids) == [grid_id]  # kept in this session's store, not in the page module
    cfg, cg = grids[grid_id].trajectories["cfg"], grids[grid_id].trajectories["classifier"]
    assert cfg.x_t.shape == cg.x_t.shape == (11, 12, 2)
    assert (cfg.x_t[0] == cg.x_t[0]).all()  # both methods start from the same x_T


def test_live_progress_and_cell_step_through_name_the_same_t(monkeypatch):
    """Issue 18, item 6: one convention, t = schedule index + 1, live and when stepping through a cell."""
    monkeypatch.setattr(page_guidance.grids, "UPDATE_EVERY_S", 0.0)  # a progress line after every step
    updates = list(page_guidance.build_grids(*{**GOOD, "scales": "1", "n_seeds": 1}.values(), {}))
    grid_id, grids = updates[-1].grid_id, updates[-1].grids
    live = [re.search(r"^(.+): step (\d+) of 10 \(t = (\d+)\)", str(u.progress)) for u in updates[:-1]]
    live = [m for m in live if m and m[1] == "classifier-free guidance"]
    assert len(live) == 9  # steps 1 … 9 of the CFG grid (the 10th is the finished grid)
    for m in live:  # step i looked at frame i − 1
        i, t = int(m[2]), int(m[3])
        assert f", t = {t} (ᾱ_t" in page_guidance.show_cell(grid_id, "cfg", 0, 0, i - 1, grids).info
    assert int(live[0][3]) == grids[grid_id].trajectories["cfg"].ts[0] + 1 > 1  # 1-based, not the index


def test_cell_step_through_reads_the_recording(toy_grid):
    _, grid_id, grids = toy_grid
    choices = page_guidance.cell_choices(grid_id, grids)
    assert [c[1] for c in choices.row["choices"]] == [0, 1, 2] and choices.frame["maximum"] == 10
    view = page_guidance.show_cell(grid_id, "cfg", 2, 1, 3, grids)
    assert "Frame 3 of 10" in view.info and "w = 3" in view.info and "ε_cond − ε_uncond" in view.info
    assert view.plot["visible"] and not view.strip["visible"]  # 2D: the cell is a figure
    view = page_guidance.show_cell(grid_id, "classifier", 0, 0, 10, grids)
    assert "Finished sample" in view.info and "s = 0" in view.info
    assert page_guidance.step_frame(grid_id, "cfg", 10, grids, delta=1) == 10
    assert page_guidance.step_frame(grid_id, "cfg", 0, grids, delta=-1) == 0


@pytest.mark.parametrize("args, message", [
    (("cfg", 3, 0, 0), "row must be"), (("cfg", 0, 4, 0), "column must be"), (("cfg", 0, 0, 11), "frame must be"),
    (("magic", 0, 0, 0), "method must be"), (("cfg", 0.5, 0, 0), "row must be")])
def test_cell_rejects_bad_values(toy_grid, args, message):
    with pytest.raises(gr.Error, match=message):
        page_guidance.show_cell(toy_grid[1], *args, toy_grid[2])


def test_unknown_grid():
    with pytest.raises(gr.Error, match="not in this browser's memory"):
        page_guidance.show_cell("nope", "cfg", 0, 0, 0, {})


def test_two_sessions_keep_their_own_grids(toy_grid):
    """Two browsers' stores: each builds and steps through its own grid; neither sees or changes the other's."""
    a_store = dict(toy_grid[2])
    b = _grid({"scales": "1, 4", "first_seed": 20, "n_seeds": 2}, {})
    assert list(b.grids) == [b.grid_id] and b.grid_id not in a_store and list(toy_grid[2]) == [toy_grid[1]]
    with pytest.raises(gr.Error, match="not in this browser's memory"):
        page_guidance.show_cell(toy_grid[1], "cfg", 0, 0, 0, b.grids)  # A's grid is not in B's session
    with pytest.raises(gr.Error, match="not in this browser's memory"):
        page_guidance.show_cell(b.grid_id, "cfg", 0, 0, 0, a_store)
    assert "w = 4, seed 21" in page_guidance.show_cell(b.grid_id, "cfg", 1, 1, 0, b.grids).info
    assert "w = 3, seed 1" in page_guidance.show_cell(toy_grid[1], "cfg", 2, 1, 0, a_store).info


def test_a_session_keeps_its_last_grids_and_says_so():
    change, grids = {"scales": "1", "n_seeds": 1, "steps": 2}, {}
    for k in range(MAX_RUNS):
        final = _grid(change, grids)
        grids = final.grids
        assert "oldest was dropped" not in final.progress
    first = next(iter(grids))
    final = _grid(change, grids)
    assert len(final.grids) == MAX_RUNS and first not in final.grids and "oldest was dropped" in final.progress
    assert first in grids  # the store the browser held before is not changed in place


@pytest.mark.parametrize("text, message", [
    ("200", "within ±100"), ("1e309", "finite"), (", ".join(["1"] * 10), "1 to 9"), ("abc", "Could not read 'abc'"),
    ("", "numbers separated"), ("x" * 5000, "5,002 characters")])
def test_scales_box_says_what_is_wrong(text, message):
    with pytest.raises(gr.Error, match=message) as info:
        page_guidance.show_convention(text)
    assert len(info.value.message) < 300
    assert "w′ = w − 1 | -1 | 1 |" in page_guidance.show_convention("0, 2")


@pytest.mark.parametrize("handler, library_generator", [
    (lambda: page_guidance.measure("ring8", 2, "0, 1, 4", 200, 0, "ddpm", 20), "sample_per_scale_steps"),
    (lambda: page_guidance.build_grids(*GOOD.values(), {}), "grid_steps")])
def test_stop_closes_the_library_generator(monkeypatch, handler, library_generator):
    """Stop cancels the event, and Gradio closes the handler's generator: that must end the sampling at once,
    so the handler iterates the library's generator itself and yields while it runs (no thread)."""
    pulled, closed = [], []

    def endless(*args, **kwargs):
        try:
            while True:
                pulled.append(1)
                yield SimpleNamespace(done=len(pulled), total=10**6, samples=None, trajectory=None, i=len(pulled),
                                      step=SimpleNamespace(t=999, x0=None))
        finally:
            closed.append(True)

    monkeypatch.setattr(f"playground.guidance.{library_generator}", endless)
    running = handler()
    next(running)  # the first progress update comes after the first network call
    running.close()
    assert closed == [True] and len(pulled) < 1000


def test_measure_toy_tradeoff_shows_the_pull_toward_the_class():
    *_, last = page_guidance.measure("ring8", 2, "0, 1, 4", 100, 0, "ddim", 20)
    rows = {(cells[0], cells[1]): [float(v) for v in cells[2:]] for cells in
            ([c.strip() for c in line.strip().strip("|").split("|")] for line in last.table.splitlines()[2:-1])}
    cfg0, cfg1, cfg4 = (rows[("classifier-free guidance", s)] for s in ("0", "1", "4"))
    assert cfg0[0] < 0.4 and cfg1[0] > 0.9 and cfg4[0] >= cfg1[0]  # accuracy: unconditional ≈ 1/8, then the class
    assert cfg4[2] < cfg0[2]  # diversity falls with the scale
    cg0, cg4 = rows[("classifier guidance", "0")], rows[("classifier guidance", "4")]
    assert cg4[0] > cg0[0] + 0.5  # classifier guidance moves samples toward the class too
    assert "100 samples per scale and method" in last.text
    assert len(last.curves.data) >= 6 and len(last.densities.data) > 0


@pytest.mark.parametrize("change, message", [
    ({"scales": "0, 1, two"}, "Could not read 'two'"), ({"scales": "nan, 1"}, "finite"),
    ({"scales": ", ".join(["1"] * 10)}, "1 to 9"), ({"scales": "1e9"}, "within"), ({"scales": ""}, "numbers separated"),
    ({"label": 8}, "class must be"), ({"label": -1}, "class must be"), ({"dataset": "mnist"}, "dataset must be"),
    ({"n_seeds": 9}, "number of seeds must be"), ({"n_seeds": 0}, "number of seeds must be"),
    ({"steps": 0}, "DDIM steps must be"), ({"steps": 10**6}, "DDIM steps must be"), ({"sampler": "euler"}, "sampler must be"),
    ({"first_seed": -1}, "first seed must be")])
def test_grid_rejects_bad_values(change, message):
    with pytest.raises(gr.Error, match=message):
        list(page_guidance.build_grids(*{**GOOD, **change}.values(), {}))


@pytest.mark.parametrize("clipping, percentile, message", [
    ("dynamic", 1.5, "percentile p must be"), ("dynamic", "0.99", "percentile p must be"),
    ("both", 0.995, "clipping of x̂₀ must be one of")])
def test_grid_rejects_bad_clipping(clipping, percentile, message):
    with pytest.raises(gr.Error, match=message):
        list(page_guidance.build_grids(*GOOD.values(), {}, clipping, percentile))


def test_grid_reports_clipping_per_scale_row():
    """Each clipping setting reaches the sampler, and the finished grid says per scale row how often it acted."""
    for clipping in ("off", "static", "dynamic"):
        *_, final = page_guidance.build_grids(*GOOD.values(), {}, clipping, 0.995)
        grid = final.grids[final.grid_id]
        if clipping == "off":
            assert grid.clip_x0 is False and "Clipping of x̂₀: off" in final.clipping
            assert all(tr.clipped is None for tr in grid.trajectories.values())
            continue
        assert "| scale (row) |" in final.clipping and "| scale (row) |" not in final.progress
        for w in ("0", "1", "3"):
            assert re.search(rf"\| {w} \| [0-9.]+ % \| [0-9.]+ % \|", final.clipping)
        view = page_guidance.show_cell(final.grid_id, "cfg", 2, 0, 1, final.grids)
        assert "of this cell's x̂₀ values at this step" in view.info


def test_measure_rejects_too_many_samples():
    with pytest.raises(gr.Error, match="samples per scale must be"):
        list(page_guidance.measure("ring8", 0, "1", 10**6, 0, "ddim", 10))


def test_png_export_is_for_image_grids(toy_grid):
    with pytest.raises(gr.Error, match="image grids"):
        page_guidance.export_png(toy_grid[1], toy_grid[2])


@needs_fashion
def test_fashion_grids_and_png_export():
    *_, final = page_guidance.build_grids("fashion", 7, "0, 1, 3", 2, 5, "ddim", 5, {})
    assert final.cfg_image.shape[2] == 3 and final.cfg_image.shape[0] > 3 * 84  # three rows of 28×3 px cells + labels
    path = page_guidance.export_png(final.grid_id, final.grids)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > final.cfg_image.shape[1] + final.cg_image.shape[1]
    view = page_guidance.show_cell(final.grid_id, "classifier", 1, 1, 2, final.grids)
    assert "seed 6" in view.info and view.strip["value"].shape[2] == 3 and not view.plot["visible"]


# ---- the HTTP API -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


def test_grid_and_cell_through_the_http_api(client):
    final = page_guidance.GridUpdate(*client.predict(*GOOD.values(), api_name="/guidance_grid"), grids=None)  # the
    # session's store stays on the server: the API returns the other outputs, in order
    assert re.fullmatch(r"[0-9a-f]{32}", final.grid_id) and final.progress.startswith("Done: 3 scales")
    *_, info = client.predict(final.grid_id, "cfg", 1, 2, 4, api_name="/guidance_cell")
    assert "Frame 4 of 10" in info and "seed 2" in info
    with pytest.raises(AppError, match="not in this browser's memory"):  # another client is another session
        Client(client.src, verbose=False).predict(final.grid_id, "cfg", 1, 2, 4, api_name="/guidance_cell")


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


def _fill(pg, elem_id, value):
    box = pg.locator(f"#{elem_id} textarea, #{elem_id} input[type=number], #{elem_id} input[type=text]").first
    box.fill(str(value))
    box.press("Tab")


def _ring8_grid(pg, server_url, scales, first_seed):
    """Open /guidance in this context, choose the 2D ring and set a small grid (5 DDIM steps, 2 seeds)."""
    pg.goto(server_url + "/guidance")
    pg.locator("#guidance-dataset input").wait_for(timeout=60_000)
    for attempt in range(3):  # choose the 2D ring; on a busy server the first choice may not take
        pg.locator("#guidance-dataset input").click()
        pg.get_by_role("option", name=page_guidance.settings.TITLES["ring8"]).click()
        try:
            pg.locator("#guidance-points").wait_for(state="attached", timeout=30_000)
            break
        except Exception:
            if attempt == 2:
                raise
    _fill(pg, "guidance-scales", scales)
    _fill(pg, "guidance-steps", 5)
    _fill(pg, "guidance-seeds", 2)
    _fill(pg, "guidance-first-seed", first_seed)


@needs_chromium
def test_browser_two_sessions_step_through_their_own_grids(browser, server_url, artifacts_dir):
    """Two browsers (two contexts) build different small 2D grids at once: each steps through its own cell and
    sees its own settings, before and after the other builds again."""
    contexts = [browser.new_context(viewport={"width": 1300, "height": 1000}) for _ in range(2)]
    try:
        a, b = (context.new_page() for context in contexts)
        errors = {a: [], b: []}
        for pg in (a, b):
            pg.on("pageerror", lambda e, pg=pg: errors[pg].append(str(e)))
        _ring8_grid(a, server_url, "0, 2", 3)
        _ring8_grid(b, server_url, "1, 4, 8", 10)
        for pg in (a, b):  # both build at the same time
            pg.locator("#guidance-build").click()
        expected = {a: ("Done: 2 scales × 2 seeds", "w = 2, seed 3"), b: ("Done: 3 scales × 2 seeds", "w = 4, seed 10")}
        for pg, (done, cell) in expected.items():
            pg.get_by_text(re.compile(done)).first.wait_for(timeout=120_000)
            pg.get_by_text(re.compile(r"Frame 0 of 5")).first.wait_for(timeout=60_000)
            assert cell in pg.locator("#guidance-cell-info").inner_text()
            pg.locator("#guidance-next").click()
            pg.get_by_text(re.compile(r"Frame 1 of 5")).first.wait_for(timeout=60_000)
        _fill(b, "guidance-first-seed", 5)
        b.locator("#guidance-build").click()  # B builds again ...
        a.locator("#guidance-next").click()  # ... while A steps on through its own grid
        a.get_by_text(re.compile(r"Frame 2 of 5")).first.wait_for(timeout=60_000)
        assert "w = 2, seed 3" in a.locator("#guidance-cell-info").inner_text()
        assert "Done: 2 scales × 2 seeds" in a.locator("#guidance-progress").inner_text()
        b.get_by_text(re.compile(r"Frame 0 of 5")).first.wait_for(timeout=60_000)
        b.wait_for_function("() => document.querySelector('#guidance-cell-info').innerText.includes('seed 5')",
                            timeout=60_000)
        assert "w = 4" in b.locator("#guidance-cell-info").inner_text()
        assert errors == {a: [], b: []}
        b.screenshot(path=os.path.join(artifacts_dir, "guidance-two-sessions.png"), full_page=True)
    finally:
        for context in contexts:
            context.close()


@needs_chromium
def test_browser_projector_first_screen(browser, server_url, artifacts_dir):
    """At 1280×800 (a projector), pressing Build shows its output without scrolling: the progress line and the top
    of the grids are on the first screen, and the dataset's name is not cut off."""
    from browsing import assert_in_first_screen

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        pg = context.new_page()
        pg.goto(server_url + "/guidance")
        if HAVE_FASHION:  # the first dataset: both image grids side by side
            for elem in ("#guidance-cfg", "#guidance-cg"):
                assert_in_first_screen(pg, elem)
        _ring8_grid(pg, server_url, "0, 1, 2, 4, 8", 0)
        name = pg.locator("#guidance-dataset input").first
        assert name.evaluate("e => e.scrollWidth <= e.clientWidth"), "the dataset's name is cut off"
        pg.evaluate("() => window.scrollTo(0, 0)")
        pg.locator("#guidance-build").click()
        pg.get_by_text(re.compile(r"Done: 5 scales × 2 seeds")).first.wait_for(timeout=120_000)
        pg.locator("#guidance-points .js-plotly-plot").first.wait_for(timeout=30_000)
        assert_in_first_screen(pg, "#guidance-progress")
        assert_in_first_screen(pg, "#guidance-points")
        pg.screenshot(path=os.path.join(artifacts_dir, "guidance-projector.png"))
    finally:
        context.close()
