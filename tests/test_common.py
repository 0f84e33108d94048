"""What every page shares: checks that never echo a huge value, per-session stores with caps, the model menu
that keeps each browser's models apart, and the one training panel (run, stop, keep the model so far)."""
import gradio as gr
import pytest
import torch

from pages.common import (ModelMenu, TrainJob, check_choice, check_float, check_int, keep_stopped, lookup, quoted,
                          remember, run_job, throttle, view_for)
from playground import data
from playground.diffusion.ddpm import DiffusionSpec
from playground.nn import MLPConfig


def test_errors_quote_at_most_80_characters_of_a_huge_value():
    huge = "x" * 20_000_000
    for check in (lambda: check_choice(huge, "dataset", ["moons"]), lambda: check_int(huge, "steps", 1, 10),
                  lambda: check_float(huge, "lr", 0, 1)):
        with pytest.raises(gr.Error) as info:
            check()
        assert len(str(info.value)) < 400 and "20,000,002 characters" in str(info.value)
    assert quoted("short") == "'short'"


def test_remember_caps_a_sessions_store_and_says_so():
    store, note = {}, ""
    for k in range(3):
        store, note = remember(store, f"run{k}", k, limit=2)
    assert list(store) == ["run1", "run2"] and "oldest was dropped" in note
    assert remember({}, "a", 1, limit=2)[1] == ""
    assert lookup(store, "run2") == 2
    with pytest.raises(gr.Error, match="not in this browser"):
        lookup(store, "run0")


def test_throttle_says_yes_at_most_once_per_interval():
    ready = throttle(60.0)
    assert ready() is True and ready() is False and ready(force=True) is True
    assert ready(every=0.0) is True  # a new interval applies from then on


def _job(steps=30, seed=0):
    spec = DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=16, num_layers=2), num_steps=50, batch_size=32,
                         lr=5e-3, ema_decay=0.0, label_dropout=0.0)
    view = view_for("points")
    return TrainJob(spec, data.load("moons", n=256), steps, seed, "yours: moons", {"loss": "loss"},
                    show_preview=lambda x, step: view.show(x), preview_every=10, preview_n=8, card={"dataset": "moons"})


MENU = ModelMenu({"ddpm-moons-cosine": "two moons · cosine (shipped)"})


def test_run_job_trains_and_adds_the_model_to_this_sessions_menu_only():
    updates = list(run_job(_job(), {}, MENU))
    last = updates[-1]
    assert "Done: 30 steps" in last.status and last.run is None
    (model_id, handle), = last.my_models.items()
    assert handle.name == f"user:{model_id}" and handle.modality == "points" and handle.dataset == "moons"
    assert last.menu["value"] == handle.name and (handle.label, handle.name) in last.menu["choices"]
    assert MENU.get(handle.name, last.my_models) is handle
    other_browser = {}
    with pytest.raises(gr.Error, match="another browser"):
        MENU.get(handle.name, other_browser)
    assert handle.name not in [value for _, value in MENU.choices(other_browser)]
    assert any(u.plot is not None and not isinstance(u.plot, dict) for u in updates[:-1])  # a preview figure came


def test_stop_keeps_the_model_as_it_was_at_the_last_update():
    run = run_job(_job(steps=5000), {}, MENU)
    first = next(run)
    run.close()  # Gradio's cancel closes the handler's generator
    assert 1 <= len(first.run["history"]["step"]) < 5000
    kept = keep_stopped(first.run, {}, MENU)
    assert "stopped early" in kept.status and len(kept.my_models) == 1
    handle = next(iter(kept.my_models.values()))
    assert isinstance(handle.model, torch.nn.Module) and not handle.model.training
    assert keep_stopped(None, {}, MENU).status == "Nothing is training."


def test_bad_settings_are_refused_before_training():
    job = _job()
    job.steps = 0
    with pytest.raises(ValueError, match="positive integer"):
        next(run_job(job, {}, MENU))


def test_sweep_cache_deletes_old_files_keeps_kept_ones_and_survives_a_growing_set(tmp_path):
    """The cache sweep: files older than the age go with their emptied folder, kept files stay, missing files leave
    the sets, and a set that grows while the sweep runs (a class keeps sending files) raises nothing."""
    import threading
    from types import SimpleNamespace
    from pages.common.jobs import sweep_cache
    paths = []
    for k in range(3):
        (tmp_path / f"h{k}").mkdir()
        paths.append(str(tmp_path / f"h{k}" / "image.png"))
        open(paths[-1], "wb").write(b"x" * 10)
    files = set(paths) | {str(tmp_path / "gone" / "image.png")}
    blocks = SimpleNamespace(blocks={1: SimpleNamespace(keep_in_cache={paths[2]})}, temp_file_sets=[files])
    assert sweep_cache(blocks, age=3600) == 1 and files == set(paths)  # only the missing file left the set
    assert sweep_cache(blocks, age=0) == 2  # everything older than 0 s, except the kept file
    assert files == {paths[2]} and not (tmp_path / "h0").exists() and (tmp_path / "h2" / "image.png").exists()
    busy = set(str(tmp_path / f"none-{k}") for k in range(5_000))
    blocks.temp_file_sets.append(busy)
    stop = threading.Event()

    def keep_adding():  # the set's size keeps changing, within bounds
        k = 0
        while not stop.is_set():
            busy.add(str(tmp_path / f"new-{k % 100}"))
            busy.discard(str(tmp_path / f"new-{(k + 50) % 100}"))
            k += 1
    adder = threading.Thread(target=keep_adding)
    adder.start()
    try:
        for _ in range(3):
            sweep_cache(blocks, age=0)  # Gradio's walker raises "Set changed size during iteration" here
    finally:
        stop.set()
        adder.join()
