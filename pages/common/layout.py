"""What every page's frame shares: the title, a one-line lead, the "about" text with the key equation and its
citation, and the "Next" link of the journey."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]

# The journey, in order: ((route, title), ...), set once by app.py. Every page's "Next" link follows it.
_journey: tuple[tuple[str, str], ...] = ()


def set_journey(pages: list[tuple[str, str]]) -> None:
    """The pages in journey order, as (route, title): read-only once the app is built."""
    global _journey
    _journey = tuple(pages)


def _lead(body: str) -> str:
    """The first sentence of a page's explanation: the line shown above its controls."""
    end = body.find(". ")
    return body if end < 0 else body[: end + 1]


def about(title: str, body: str, equation: str, citation: str) -> gr.Markdown:
    """The page's title and a one-line lead, then "About this page" (closed): what you are looking at, the key
    equation, and the paper it comes from. Closed, it keeps the main picture and its control on a projector's
    first screen."""
    lead = gr.Markdown(f"## {title}\n{_lead(body)}", latex_delimiters=LATEX, elem_classes="page-lead")
    with gr.Accordion("About this page: what you are looking at, and the key equation", open=False,
                      elem_classes="about-page"):
        gr.Markdown(f"{body}\n\n**Key equation.** {equation}\n\n<small>{citation}</small>", latex_delimiters=LATEX)
    return lead


def next_link(route: str) -> gr.Markdown:
    """"Next: …" to the page after `route` in the journey (or back home from the last one)."""
    routes = [r for r, _ in _journey]
    if route not in routes:
        return gr.Markdown("")
    k = routes.index(route)
    if k + 1 < len(_journey):
        target, title = _journey[k + 1]
        return gr.Markdown(f"---\n**Next: [{title} →]({target.lstrip('/')})**", elem_classes="next-link")
    return gr.Markdown("---\n**That is the whole journey. [Back to the map ↩](./)**", elem_classes="next-link")


DOCS = Path(__file__).resolve().parents[2] / "docs"


def findings(doc: str | None) -> None:
    """The family's measured findings (docs/NAME.md, also linked from the README) in a closed accordion."""
    path = DOCS / f"{doc}.md" if doc else None
    if path is None or not path.is_file():
        return
    text = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("!["))  # pictures: README
    with gr.Accordion("Measured: what these models do, in numbers (docs/" + path.name + ")", open=False):
        gr.Markdown(text.split("\n", 1)[1], latex_delimiters=LATEX)  # without the file's own title
