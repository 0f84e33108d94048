"""Tab "Train one yourself": a denoiser from scratch with the shipped models' loop and loss, through the shared
training panel; the model joins this browser's model menus on the other tabs."""
from __future__ import annotations

import gradio as gr

from playground import data
from playground.diffusion import SCHEDULES
from playground.diffusion.ddpm import DiffusionSpec
from playground.nn import MLPConfig, UNetConfig

from ..common import TrainJob, TrainPanel, check_choice, check_float, check_int, check_seed, view_for
from .shared import DATASET_TITLES, MENU

TOY_CAPS, FASHION_CAPS = dict(steps=5000, batch=1024), dict(steps=1000, batch=64)
CAPS = {**{name: TOY_CAPS for name in data.TOY2D}, "fashion": FASHION_CAPS}  # dataset -> caps on steps and batch


def live_spec(dataset: str, schedule: str, batch: int, lr: float) -> DiffusionSpec:
    """A small denoiser that learns live: an MLP for 2D data, a class-conditional UNet for Fashion-MNIST."""
    if dataset == "fashion":
        return DiffusionSpec(network="unet", unet=UNetConfig(base_channels=16, num_res_blocks=1, num_classes=10),
                             schedule=schedule, batch_size=batch, lr=lr, ema_decay=0.99, label_dropout=0.15)
    return DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=128, num_layers=3), schedule=schedule,
                         batch_size=batch, lr=lr, ema_decay=0.99, label_dropout=0.0)


def make_job(dataset, schedule, steps, batch, lr, seed) -> TrainJob:
    """The panel's run: settings checked against the caps, the spec, the data and how previews are shown."""
    check_choice(dataset, "dataset", list(CAPS))
    check_choice(schedule, "schedule", list(SCHEDULES))
    steps = check_int(steps, "steps", 1, CAPS[dataset]["steps"])
    batch = check_int(batch, "batch size", 2, CAPS[dataset]["batch"])
    lr, seed = check_float(lr, "learning rate", 1e-5, 1e-1), check_seed(seed)
    images = dataset == "fashion"
    train_set = data.load(dataset, "train", n=None if images else 8192, seed=seed)
    view, real = view_for("image" if images else "points"), train_set.x[:500].numpy()

    def show_preview(preview, step):
        if images:
            return view.samples(preview), None
        return None, view.samples(preview, f"preview samples at step {step}", reference=real, limit=1.5)

    return TrainJob(live_spec(dataset, schedule, batch, lr), train_set, steps, seed,
                    title=f"yours: {DATASET_TITLES[dataset]} · {schedule} schedule",
                    curves={"loss": "loss (DDPM simple loss, eq. 14)"}, show_preview=show_preview,
                    preview_every=max(1, steps // 10), preview_n=16 if images else 500, card={"dataset": dataset})


def build(my_models: gr.State, menus: list[gr.Dropdown]) -> None:
    """The tab's layout and events; `menus` are the model menus a trained model joins."""
    gr.Markdown("Train a denoiser from scratch with the same loop and loss as the shipped models. A 2D model learns "
                "in seconds; a Fashion-MNIST UNet needs far more steps than the cap allows here, so expect blurry "
                "previews. Your model is kept for this browser session only and never replaces a shipped one; pick "
                "it in the model list of the first tab.")
    with gr.Row():
        dataset = gr.Dropdown([(DATASET_TITLES[d], d) for d in (*data.TOY2D, "fashion")], value="moons",
                              label="Dataset")
        schedule = gr.Dropdown(list(SCHEDULES), value="cosine", label="Schedule")
    panel = TrainPanel("reverse", CAPS, dataset, steps=1500, lr=2e-3, batch=256, preview="both", curve_label="Loss")
    dataset.input(lambda d: (gr.update(value=32 if d == "fashion" else 256, maximum=CAPS[d]["batch"]),
                             5e-4 if d == "fashion" else 2e-3),
                  dataset, [panel.batch, panel.lr], api_visibility="private")
    panel.wire(make_job, [dataset, schedule], MENU, menus, my_models, api_name="reverse_train")
