"""Real-browser tests: Playwright drives Debian's Chromium, headless (Playwright's own browser download is never used)."""
import os
import shutil

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server_url):
    """A page that records console errors and every request that would leave the machine."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    pg = context.new_page()
    pg.console_errors, pg.outside_requests = [], []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    local = (server_url, "data:", "blob:")
    pg.on("request", lambda r: None if r.url.startswith(local) else pg.outside_requests.append(r.url))
    yield pg
    assert pg.console_errors == [], pg.console_errors
    assert pg.outside_requests == [], pg.outside_requests
    context.close()


def _src(pg, elem_id):
    img = pg.locator(f"#{elem_id} img")
    img.wait_for(state="visible", timeout=30_000)
    return img.get_attribute("src")


def _wait_src_change(pg, elem_id, old, timeout=30_000):
    pg.wait_for_function("([id, old]) => { const i = document.querySelector('#' + id + ' img');"
                         " return i && i.getAttribute('src') !== old; }", arg=[elem_id, old], timeout=timeout)
    return _src(pg, elem_id)


def test_home_links_to_every_page(page, server_url, artifacts_dir):
    import app
    page.goto(server_url + "/")
    page.get_by_text("Generative Models Playground").first.wait_for()
    for p in app.PAGES:
        assert page.locator(f"a[href$='{p['route'].lstrip('/')}']").count() >= 1, p["route"]
    page.screenshot(path=os.path.join(artifacts_dir, "home.png"), full_page=True)


def test_forward_slider_moves_the_picture_and_upload_works(page, server_url, artifacts_dir, tmp_path):
    page.goto(server_url + "/forward")
    before = _src(page, "forward-a")
    slider = page.locator("#forward-t input[type=range]")
    slider.fill("400")
    after = _wait_src_change(page, "forward-a", before)
    assert after != before
    page.get_by_text("t = 400 of 1000").first.wait_for(timeout=30_000)  # the numbers follow the slider
    page.screenshot(path=os.path.join(artifacts_dir, "forward.png"), full_page=True)

    x0_before = _src(page, "forward-x0")
    page.locator("#forward-source").get_by_text("upload", exact=True).click()
    picture = tmp_path / "photo.png"
    Image.new("RGBA", (640, 480), (250, 120, 0, 255)).save(picture)
    page.locator("#forward-upload input[type=file]").set_input_files(str(picture))
    _wait_src_change(page, "forward-x0", x0_before)
    page.get_by_text("your upload").first.wait_for(timeout=30_000)

    bad = tmp_path / "notes.png"
    bad.write_text("not an image at all")
    page.locator("#forward-upload button[aria-label='Clear']").first.click()
    page.locator("#forward-upload input[type=file]").set_input_files(str(bad))
    page.get_by_text("not an image that can be read").first.wait_for(timeout=30_000)  # a clear message, no crash
    page.screenshot(path=os.path.join(artifacts_dir, "forward-upload.png"), full_page=True)


def test_forward_scrubbing_is_drawn_in_the_browser_and_the_release_by_the_server(page, server_url):
    """While the t slider is dragged no request leaves the browser: it draws x_t from the film itself, with the
    numbers; letting go asks the server once for the exact frame and the plot's marker."""
    page.goto(server_url + "/forward")
    page.get_by_text("Does x_T reach pure noise").wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "gradio_api" in r.url else None)
    before = _src(page, "forward-a")
    box = page.locator("#forward-t input[type=range]").bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + box["height"] / 2)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * k / 20, box["y"] + box["height"] / 2)
        page.wait_for_timeout(30)
    dragged = _wait_src_change(page, "forward-a", before)
    assert dragged.startswith("data:image/png") and requests == []
    assert "t = 0 of" not in page.locator("#forward-numbers").inner_text()
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('#forward-a img').getAttribute('src').includes('file=')",
                           timeout=30_000)  # the server's exact frame
    assert any("run/predict" in url or "queue/join" in url for url in requests)


def test_forward_toy_tab(page, server_url, artifacts_dir):
    page.goto(server_url + "/forward")
    page.get_by_role("tab", name="A whole 2D distribution").click()
    page.locator("#toy-cloud .js-plotly-plot").wait_for(timeout=30_000)
    page.locator("#toy-t input[type=range]").fill("900")
    page.get_by_text("t = 900 of 1000").first.wait_for(timeout=30_000)
    page.screenshot(path=os.path.join(artifacts_dir, "forward-toy.png"), full_page=True)


@pytest.fixture
def projector(browser, server_url):
    """A page at a projector's 1280×800."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    assert errors == [], errors
    context.close()


def test_projector_forward_pictures_and_slider_on_the_first_screen(projector, server_url, artifacts_dir):
    from browsing import assert_in_first_screen
    projector.goto(server_url + "/forward")
    before = _src(projector, "forward-a")
    projector.locator("#forward-t input[type=range]").fill("300")
    _wait_src_change(projector, "forward-a", before)
    for selector in ("#forward-a", "#forward-b", "#forward-t", "#forward-play"):
        assert_in_first_screen(projector, selector)
    projector.screenshot(path=os.path.join(artifacts_dir, "forward-projector.png"))


def test_projector_autoencoders_reconstruction_on_the_first_screen(projector, server_url, artifacts_dir):
    from browsing import assert_in_first_screen
    projector.goto(server_url + "/autoencoders")
    before = _src(projector, "ae-rec-image")
    projector.locator("#ae-reconstruct").click()
    _src(projector, "ae-rec-image")  # the page shows its first reconstruction on load; Reconstruct redraws it
    for selector in ("#ae-rec-image", "#ae-reconstruct"):
        assert_in_first_screen(projector, selector)
    projector.screenshot(path=os.path.join(artifacts_dir, "autoencoders-projector.png"))


def test_presenter_mode_is_big_wide_and_remembered(browser, server_url, artifacts_dir):
    """?present=1 turns it on, it is remembered in the browser, the toggle turns it off; text ≥ 18 px, full width."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    pg = context.new_page()
    pg.goto(server_url + "/forward?present=1")
    pg.locator("#forward-a img").wait_for(timeout=30_000)
    assert pg.evaluate("() => document.documentElement.classList.contains('present')")
    width = pg.evaluate("() => document.querySelector('.gradio-container').getBoundingClientRect().width")
    assert width > 1800
    sizes = pg.evaluate("() => [...document.querySelectorAll('.gradio-container label span, .gradio-container p')]"
                        ".filter(e => e.offsetParent).map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert sizes and min(sizes) >= 18, sorted(sizes)[:5]
    pg.screenshot(path=os.path.join(artifacts_dir, "forward-presenter.png"))
    pg.goto(server_url + "/reverse")  # remembered across pages of this browser
    pg.locator("#present-toggle").wait_for(timeout=30_000)
    assert pg.evaluate("() => document.documentElement.classList.contains('present')")
    pg.locator("#reverse-model input").wait_for(timeout=30_000)
    toggle = pg.locator("#present-toggle").bounding_box()
    covered = pg.evaluate("""([x, y, w, h]) => [...document.querySelectorAll('nav a, h1, h2, button, label, img')]
        .filter(e => e.id !== 'present-toggle' && e.offsetParent).map(e => {
          if (!e.matches('h1, h2')) return e.getBoundingClientRect();
          const text = document.createRange(); text.selectNodeContents(e); return text.getBoundingClientRect(); })
        .filter(r => r.width && x < r.right && r.left < x + w && y < r.bottom && r.top < y + h).length""",
                          [toggle["x"], toggle["y"], toggle["width"], toggle["height"]])
    assert covered == 0  # beside the title, below the navigation: it covers no link, heading, control or picture
    pg.locator("#present-toggle").click()
    assert not pg.evaluate("() => document.documentElement.classList.contains('present')")
    context.close()
