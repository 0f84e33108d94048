"""Helpers the browser tests share."""


def assert_in_first_screen(pg, selector: str, min_visible: int = 200) -> None:
    """The element is on the first screen: the page was not scrolled, its top is inside the viewport, and at
    least `min_visible` pixels of its height (or all of it, if it is smaller) can be seen without scrolling."""
    box = pg.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    height = pg.viewport_size["height"]
    scrolled = pg.evaluate("() => window.scrollY")
    visible = min(box["y"] + box["height"], height) - max(box["y"], 0)
    assert scrolled == 0 and 0 <= box["y"] < height, f"{selector} starts at y = {box['y']:.0f} (viewport {height})"
    assert visible >= min(min_visible, box["height"]), f"only {visible:.0f} px of {selector} can be seen"
