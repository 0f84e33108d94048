"""One "train it yourself" panel for every page: capped steps and batch size, learning rate, seed, Train and Stop,
a progress line, a live loss curve and preview samples. The trained model joins this browser's model menu.

A page describes its run as a `TrainJob`; `run_job` iterates the library's `train_steps` and yields a
`TrainUpdate` (named, in the outputs' order). Stop cancels the event through Gradio (`cancels=`), which closes the
generator; `keep_stopped` then adds the model as it was at the last update to the menu. No thread, no queue,
no global registry: the run in progress is this session's `gr.State`.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gradio as gr
import torch

from playground import viz
from playground.data import Dataset
from playground.models import Loaded
from playground.train import TrainEvent, train_steps

from .checks import user_errors
from .jobs import EXPENSIVE
from .models import ModelMenu
from .session import MAX_USER_MODELS, remember, session_state, throttle

UPDATE_EVERY_S = 0.25  # the panel redraws at most this often (and so answers Stop within about this long)


@dataclass
class TrainJob:
    """One run of the panel, as a page describes it (its settings already checked)."""

    spec: object  # the family spec to train
    data: Dataset  # what it trains on
    steps: int  # steps to run
    seed: int  # training seed
    title: str  # how the menu will show the model, e.g. "yours: two moons · cosine"
    curves: dict[str, str]  # metric key of the events -> its legend in the loss plot
    show_preview: Callable[[torch.Tensor, int], tuple] | None = None  # (preview, step) -> (picture | None, figure | None)
    describe: Callable[[TrainEvent], str] | None = None  # the progress line; default: step, loss, steps/s
    preview_every: int = 0  # preview every N steps (and at the end); 0: none
    preview_n: int = 16  # samples per preview
    card: dict = field(default_factory=dict)  # facts kept with the model (the dataset name at least)
    observe: Callable[[TrainEvent], None] | None = None  # sees every event first (e.g. to keep a history of usage)
    where: str = "the model menu"  # where the trained model appears, for the final status line


class TrainUpdate(NamedTuple):
    """What the panel shows, in the order of its outputs."""

    status: Any  # the progress line (Markdown)
    curve: Any  # the loss plot
    image: Any  # preview picture
    plot: Any  # preview figure (2D)
    run: dict | None  # this session's run in progress: {"model", "history", "job"}
    my_models: dict  # this session's models {id: Loaded}
    menu: Any  # the page's model menus: new choices and value


def _describe(event: TrainEvent, began: float) -> str:
    loss = event.losses.get("loss", next(iter(event.losses.values()), float("nan")))
    return (f"Step {event.step} of {event.total}: loss {loss:.4f}, "
            f"{event.step / max(time.perf_counter() - began, 1e-9):.1f} steps/s")


def _curve(job: TrainJob, history: dict):
    curves = {title: history[key] for key, title in job.curves.items() if key in history}
    positive = all(v > 0 for values in curves.values() for v in values if v == v)  # a log axis needs v > 0
    return viz.loss_figure(history["step"], curves, log=positive)


def _register(run: dict, my_models: dict | None, menu: ModelMenu, stopped: bool) -> TrainUpdate:
    """Add the run's model to this session's models and select it in the menu."""
    job, history = run["job"], run["history"]
    steps = len(history["step"])
    model_id = uuid.uuid4().hex[:12]
    label = f"{job.title} · {steps} steps ({model_id[:4]})"
    handle = Loaded.trained(run["model"], job.spec, job.card.get("dataset", job.data.name), label, model_id,
                            steps_trained=steps, **{k: v for k, v in job.card.items() if k != "dataset"})
    my_models, note = remember(my_models, model_id, handle, MAX_USER_MODELS, "trained models on this page")
    how = " (stopped early: the model so far is kept)" if stopped else ""
    status = (f"Done: {steps} steps in {history['wall_time_s']:.1f} s{how}. It is in {job.where} as “{label}”, "
              f"for this browser only.{note}")
    return TrainUpdate(status, gr.update(), gr.update(), gr.update(), None, my_models,
                       gr.update(choices=menu.choices(my_models), value=handle.name))


def run_job(job: TrainJob, my_models: dict | None, menu: ModelMenu) -> Iterator[TrainUpdate]:
    """Train, yielding the panel's updates at most every UPDATE_EVERY_S, then add the model to the menu."""
    began, ready, run = time.perf_counter(), throttle(UPDATE_EVERY_S), None
    for event in train_steps(job.spec, job.data, job.steps, seed=job.seed, preview_every=job.preview_every,
                             preview_n=job.preview_n):
        run = {"model": event.model, "history": event.history, "job": job}
        if job.observe is not None:
            job.observe(event)
        has_preview = event.preview is not None and job.show_preview is not None
        if not (ready(force=has_preview) or event.step == event.total):
            continue
        image = plot = gr.update()
        if has_preview:
            picture, figure = job.show_preview(event.preview, event.step)
            image = picture if picture is not None else gr.update()
            plot = figure if figure is not None else gr.update()
        status = job.describe(event) if job.describe else _describe(event, began)
        yield TrainUpdate(status, _curve(job, event.history), image, plot, run, my_models or {}, gr.update())
    yield _register(run, my_models, menu, stopped=False)


def keep_stopped(run: dict | None, my_models: dict | None, menu: ModelMenu) -> TrainUpdate:
    """After Stop: keep the model as it was at the run's last update."""
    if not run:
        return TrainUpdate("Nothing is training.", gr.update(), gr.update(), gr.update(), None, my_models or {},
                           gr.update())
    return _register(run, my_models, menu, stopped=True)


class TrainPanel:
    """The panel's controls. `caps`: dataset -> {"steps", "batch"}; the steps slider follows `dataset`."""

    def __init__(self, prefix: str, caps: dict, dataset: gr.Component, steps: int = 300, lr: float = 1e-3,
                 batch: int = 128, preview: str = "image", curve_label: str = "Training loss",
                 image_label: str = "Preview samples", plot_label: str = "Preview samples (grey: real data)"):
        largest = max(cap["steps"] for cap in caps.values())
        self.prefix, self.caps, self.default_steps = prefix, caps, steps
        with gr.Row():
            self.steps = gr.Slider(10, caps[dataset.value]["steps"] if dataset.value in caps else largest, value=steps,
                                   step=10, label="Steps (capped)")
            self.batch = gr.Slider(8, max(cap["batch"] for cap in caps.values()), value=batch, step=8,
                                   label="Batch size (capped)")
            self.lr = gr.Number(lr, label="Learning rate")
            self.seed = gr.Number(0, precision=0, minimum=0, label="Seed")
        with gr.Row():
            self.button = gr.Button("Train", variant="primary", elem_id=f"{prefix}-train")
            self.stop = gr.Button("Stop", elem_id=f"{prefix}-train-stop")
        self.status = gr.Markdown(elem_id=f"{prefix}-train-text")
        with gr.Row():
            self.curve = gr.Plot(label=curve_label)
            with gr.Column(visible=preview != "plot", min_width=200) as self.image_column:
                gr.Markdown(f"**{image_label}**")  # above the picture: a picture's own label covers its corner
                self.image = gr.Image(show_label=False, format="png", interactive=False,
                                      elem_id=f"{prefix}-train-preview")
            self.plot = gr.Plot(label=plot_label, visible=preview != "image")
        self.run = session_state(None)

        def on_dataset(name):
            cap = caps.get(name, {"steps": largest})["steps"]
            return gr.update(maximum=cap, value=min(steps, cap))
        dataset.input(on_dataset, dataset, self.steps, api_visibility="private")

    def wire(self, make_job: Callable[..., TrainJob], inputs: list, menu: ModelMenu, menus: list, my_models: gr.State,
             api_name: str):
        """Train: make_job(*inputs values, steps, batch, lr, seed) -> TrainJob; Stop cancels and keeps the model."""
        outputs = [self.status, self.curve, self.image, self.plot, self.run, my_models, *menus]

        def as_outputs(update: TrainUpdate) -> list:
            return [*update[:-1], *([update.menu] * len(menus))]

        @user_errors
        def train_handler(*values):
            *page_values, mine = values
            job = make_job(*page_values)
            for update in run_job(job, mine, menu):
                yield as_outputs(update)

        def stop_handler(run, mine):
            return as_outputs(keep_stopped(run, mine, menu))

        training = self.button.click(train_handler, [*inputs, self.steps, self.batch, self.lr, self.seed, my_models],
                                     outputs, api_name=api_name, **EXPENSIVE)
        self.stop.click(None, None, None, cancels=[training], queue=False).then(
            stop_handler, [self.run, my_models], outputs, api_visibility="private", queue=False)
        return training
