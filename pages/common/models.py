"""Shipped models (read-only, loaded once per process) and a page's model menu: its shipped checkpoints plus
the models this browser trained on the page (kept in the session, never shared, never written to assets/)."""
from __future__ import annotations

import functools

import gradio as gr

from playground import checkpoints, data
from playground.models import Loaded

from .checks import check_choice


@functools.lru_cache(maxsize=48)
def shipped(name: str) -> Loaded:
    """A shipped checkpoint's `Loaded` handle, loaded once per process; a clear message if it is missing."""
    if name not in checkpoints.available():
        raise gr.Error(f"The model {name!r} is not shipped in this copy; create it with "
                       f"`python -m playground train {name}`.")
    return checkpoints.load(name)


@functools.lru_cache(maxsize=1)
def metric_classifier():
    """The shipped Fashion-MNIST metric classifier (feature net) on the CPU, or None if it is not shipped."""
    if "classifier-fashion" not in checkpoints.available():
        return None
    return checkpoints.load("classifier-fashion", device="cpu").model


@functools.lru_cache(maxsize=16)
def real_data(name: str, split: str, n: int | None = None) -> data.Dataset:
    """A dataset the pages show or measure against, loaded once per process (seed 0)."""
    return data.load(name, split, n=n)


class ModelMenu:
    """A page's model menu: shipped checkpoints (name -> label) and this browser's own models, which live in the
    page's session state `my_models` ({id: Loaded}) and are chosen as "user:ID"."""

    def __init__(self, labels: dict[str, str]):
        self.labels = labels  # read-only: shipped names and how the menu shows them

    def get(self, name, my_models: dict | None = None) -> Loaded:
        """The `Loaded` handle of this browser's model or a shipped one; a clear message for anything else."""
        if isinstance(name, str) and name.startswith("user:") and name[5:] in (my_models or {}):
            return my_models[name[5:]]
        if isinstance(name, str) and name.startswith("user:"):
            raise gr.Error("That model was trained in another browser session or has been dropped; train it again "
                           "here (each browser keeps its own models).")
        check_choice(name, "model", self.available())
        handle = shipped(name)
        handle.label = self.labels[name]
        return handle

    def available(self) -> list[str]:
        return [name for name in self.labels if name in checkpoints.available()]

    def choices(self, my_models: dict | None = None) -> list[tuple[str, str]]:
        """This browser's own models first, then the shipped ones present in this copy."""
        mine = [(m.label, m.name) for m in reversed(list((my_models or {}).values()))]
        return [*mine, *((self.labels[name], name) for name in self.available())]
