"""Per-browser state. What a user makes (recorded runs, grids, 2D GAN runs, token edits, trained models) lives in
that browser session's `gr.State`, which Gradio drops when the session ends (and after SESSION_TTL_S at the latest).
Each store is capped per session, and the page says when a cap pushes out the oldest item. Module-level
globals in pages/ hold only read-only shipped models and caches."""
from __future__ import annotations

import time

import gradio as gr

SESSION_TTL_S = 4 * 3600  # a session's state is dropped this long after it was last written, at the latest
MAX_RUNS = 8  # recorded runs / grids a session keeps (about 15 MB each at most)
MAX_USER_MODELS = 4  # models a session trains and keeps on one page


def session_state(value=None) -> gr.State:
    """A gr.State owned by one browser session, dropped with it."""
    return gr.State(value, time_to_live=SESSION_TTL_S)


def throttle(every_s: float):
    """A callable that says True at most once every `every_s` seconds (and on force=True): how often a streaming
    handler yields to the browser. Yielding at least every second also keeps Stop within a second.
    `ready(every=...)` changes the interval from then on (a run that learns it shares a batch redraws less)."""
    last, interval = [0.0], [every_s]

    def ready(force: bool = False, every: float | None = None) -> bool:
        if every is not None:
            interval[0] = every
        now = time.perf_counter()
        if force or now - last[0] >= interval[0]:
            last[0] = now
            return True
        return False
    return ready


def remember(store: dict | None, key: str, value, limit: int = MAX_RUNS, what: str = "runs") -> tuple[dict, str]:
    """store[key] = value in this session's store, keeping at most `limit` items (the oldest go first).
    Returns (the store, a note for the UI: empty unless the cap pushed something out)."""
    store = dict(store or {})
    store[key] = value
    dropped = 0
    while len(store) > limit:
        store.pop(next(iter(store)))
        dropped += 1
    note = (f" (This browser keeps its last {limit} {what}; the oldest was dropped to make room.)" if dropped else "")
    return store, note


def lookup(store: dict | None, key, what: str = "run"):
    """An item of this session's store, or a clear message if it is not there."""
    if not isinstance(key, str) or not store or key not in store:
        raise gr.Error(f"That {what} is not in this browser's memory: make one first (each browser keeps only its "
                       f"own last {MAX_RUNS}).")
    return store[key]
