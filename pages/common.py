"""What every page shares: server-side checks of API parameters, and turning the
library's ValueErrors into messages the user sees (never a stack trace)."""
from __future__ import annotations

import contextlib
import functools
import inspect
import math
import queue
import threading
from collections import OrderedDict

import gradio as gr
import torch

from playground import checkpoints, data


MAX_SEED = 2**31 - 1  # the largest seed a page accepts


def check_int(value, name: str, lo: int, hi: int) -> int:
    """An integer in [lo, hi] (a whole float such as 3.0 counts, as sliders send floats)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value == int(value)
    if not ok or not lo <= int(value) <= hi:
        raise gr.Error(f"{name} must be a whole number from {lo} to {hi}; got {value!r}.")
    return int(value)


def check_float(value, name: str, lo: float, hi: float) -> float:
    """A finite number in [lo, hi]."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not lo <= value <= hi:
        raise gr.Error(f"{name} must be a number from {lo:g} to {hi:g}; got {value!r}.")
    return float(value)


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise gr.Error(f"{name} must be one of: {', '.join(map(str, choices))}; got {value!r}.")
    return value


def user_errors(fn):
    """Re-raise the library's ValueError (bad input, bad upload) as gr.Error, so its message reaches the user."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except ValueError as err:
                raise gr.Error(str(err.args[0]) if err.args else str(err)) from None
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ValueError as err:
            raise gr.Error(str(err.args[0]) if err.args else str(err)) from None
    return wrapper


def about(title: str, body: str, equation: str, citation: str) -> gr.Markdown:
    """The "what you are looking at" paragraph and the key equation every page opens with."""
    return gr.Markdown(f"# {title}\n\n{body}\n\n**Key equation.** {equation}\n\n<small>{citation}</small>",
                       latex_delimiters=[{"left": "$$", "right": "$$", "display": True},
                                         {"left": "$", "right": "$", "display": False}])


def in_thread(work, on_update, stop: threading.Event | None = None):
    """Run work(push, should_stop) in a thread; yield (False, on_update(item)) for what it pushes as it
    comes, then (True, work's result). Setting `stop`, or
    closing the generator (Gradio's cancel), makes the work end at its next step."""
    updates, stop, result = queue.Queue(), stop or threading.Event(), {}

    def target():
        try:
            result["value"] = work(updates.put, stop.is_set)
        except Exception as err:  # noqa: BLE001 - handed to the caller below
            result["error"] = err
        updates.put(None)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        while True:
            item = updates.get()
            if item is None:
                break
            update = on_update(item)
            if update is not None:
                yield False, update
    finally:
        stop.set()
    thread.join()
    if "error" in result:
        raise result["error"]
    yield True, result["value"]


TRAINING_STOPS: dict[str, threading.Event] = {}  # browser session -> its running training's Stop flag


def session_of(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "no-session"


@contextlib.contextmanager
def stoppable(request: gr.Request | None):
    """A Stop flag for this browser session's training, which `stop_training` sets; removed when the run ends."""
    session = session_of(request)
    stop = TRAINING_STOPS[session] = threading.Event()
    try:
        yield stop
    finally:
        if TRAINING_STOPS.get(session) is stop:
            del TRAINING_STOPS[session]


def stop_training(request: gr.Request = None) -> str:
    """Ask this session's training to stop after its current step; the model so far is kept."""
    event = TRAINING_STOPS.get(session_of(request))
    if event is None:
        return "Nothing is training."
    event.set()
    return "Stopping after this step… the model trained so far is kept."


@functools.lru_cache(maxsize=32)
def shipped(name: str):
    """(model, spec, card) of a shipped checkpoint, loaded once per process; a clear message if it is missing."""
    if name not in checkpoints.available():
        raise gr.Error(f"The model {name!r} is not shipped in this copy; create it with "
                       f"`python -m playground train {name}`.")
    return checkpoints.load(name)


def keep(store, key, value, limit: int):
    """Put value in an OrderedDict that holds at most `limit` items (the oldest go first); returns key."""
    store[key] = value
    while len(store) > limit:
        store.popitem(last=False)
    return key


def upload_path(upload) -> str | None:
    """The file path of a gr.File value (a path, a FileData or its dict), or None when nothing was uploaded."""
    if not upload:
        return None
    return upload if isinstance(upload, str) else getattr(upload, "path", None) or upload.get("path")


@functools.lru_cache(maxsize=1)
def metric_classifier():
    """The shipped Fashion-MNIST metric classifier (feature net), or None if it is not shipped."""
    if "classifier-fashion" not in checkpoints.available():
        return None
    return checkpoints.load("classifier-fashion")[0]


@functools.lru_cache(maxsize=16)
def real_data(name: str, split: str, n: int | None = None) -> data.Dataset:
    """A dataset the pages show or measure against, loaded once per process (seed 0)."""
    return data.load(name, split, n=n)


# ---- choosing an image: a test image by class and index, or an upload -------------------------------------

@functools.lru_cache(maxsize=16)
def _upload(path: str, size: int) -> tuple:
    x = data.load_image(path, size=size, channels=1)
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=-1)
    inverted = bool(border.mean() > 0)  # Fashion-MNIST and digits are light on black: flip dark-on-light pictures
    return (-x if inverted else x), inverted


def pick_image(source, label, index, upload, dataset: str = "fashion") -> tuple:
    """A (1, side, side) gray image in [-1, 1] of `dataset` (fashion 28×28, digits 8×8) and a line saying what it is."""
    check_choice(source, "source", ["Fashion-MNIST", "upload"])
    side = 28 if dataset == "fashion" else 8
    if source == "upload":
        path = upload_path(upload)
        if path is None:
            raise gr.Error("Choose an image file to upload first.")
        try:
            x, inverted = _upload(path, side)
        except data.ImageError as err:
            raise gr.Error(f"{err}. Try another file.") from None
        return x, (f"your upload, centre-cropped to {side}×{side} gray" +
                   (", and inverted (light on black, like the training images)" if inverted else ""))
    label = check_int(label, "class", 0, 9)
    index = check_int(index, "index", 0, data.class_count(dataset, label) - 1)
    return data.example(dataset, label, index)


def image_picker(prefix: str, default_label: int = 0):
    """Source (test image or upload), class, index and upload controls; returns the four components."""
    with gr.Row():
        source = gr.Radio(["Fashion-MNIST", "upload"], value="Fashion-MNIST", label="Image", scale=2)
        label = gr.Dropdown([(c, k) for k, c in enumerate(data.FASHION_CLASSES)], value=default_label,
                            label="Class", scale=2)
        index = gr.Number(0, precision=0, minimum=0, label="Index in its class (test set)", scale=1)
        upload = gr.File(label="Your image: any format, mode or size", type="filepath", visible=False, scale=3,
                         elem_id=f"{prefix}-upload")
    source.change(lambda s: (gr.update(visible=s == "upload"), gr.update(visible=s != "upload"),
                             gr.update(visible=s != "upload")), source, [upload, label, index], api_visibility="private")
    return source, label, index, upload


def train_controls(prefix: str, caps: dict, dataset, steps: int):
    """A training panel's capped steps and batch size, learning rate and seed, Train and Stop, and its status
    line; the steps slider's cap follows `dataset` (caps: dataset -> {"steps", "batch"}). Returns
    (steps, batch, lr, seed, train button, status)."""
    largest = max(cap["steps"] for cap in caps.values())
    with gr.Row():
        steps_in = gr.Slider(10, caps[dataset.value]["steps"] if dataset.value in caps else largest, value=steps,
                             step=10, label="Steps (capped)")
        batch = gr.Slider(8, max(cap["batch"] for cap in caps.values()), value=128, step=8, label="Batch size (capped)")
        lr = gr.Number(1e-3, label="Learning rate")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
    with gr.Row():
        button = gr.Button("Train", variant="primary", elem_id=f"{prefix}-train")
        stop = gr.Button("Stop", elem_id=f"{prefix}-train-stop")
    status = gr.Markdown(elem_id=f"{prefix}-train-text")
    stop.click(stop_training, None, status, api_visibility="private", queue=False)

    def on_dataset(name):
        cap = caps.get(name, {"steps": largest})["steps"]
        return gr.update(maximum=cap, value=min(steps, cap))
    dataset.input(on_dataset, dataset, steps_in, api_visibility="private")
    return steps_in, batch, lr, seed, button, status


class ModelMenu:
    """A page's model menu: its shipped checkpoints (name -> label) and the models users trained on it, kept by
    id in `user` (the last 32) and chosen as "user:ID"."""

    def __init__(self, labels: dict[str, str]):
        self.labels, self.user = labels, OrderedDict()

    def get(self, name) -> dict:
        """{"model", "spec", "card", "label"} of a user's model or a shipped one; a clear message for anything else."""
        if isinstance(name, str) and name.startswith("user:") and name[5:] in self.user:
            return self.user[name[5:]]
        check_choice(name, "model", list(self.labels))
        model, spec, card = shipped(name)
        return {"model": model, "spec": spec, "card": card, "label": self.labels[name]}

    def choices(self, my_models=()) -> list[tuple[str, str]]:
        """This browser's own models first, then the shipped ones present in this copy."""
        return [*(my_models or []), *((label, name) for name, label in self.labels.items()
                                      if name in checkpoints.available())]
