"""How the server shares its cores among a class: cheap events (a frame, a scrub, a click) never wait behind
expensive ones (sampling, training, measuring), which share one budget sized so that torch threads × concurrent
expensive jobs ≤ cores. Pass these as keyword arguments to an event listener:

    button.click(generate, inputs, outputs, api_name="reverse_generate", **EXPENSIVE)
    slider.input(frame, inputs, outputs, api_name="reverse_frame", **CHEAP)

Exports (GIFs, PNGs) go to one folder of this process and are deleted after EXPORT_TTL_S, and the files sent to
browsers after CACHE_AGE_S (`sweep_cache`), so the disk stays bounded however long the class runs."""
from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from playground.devices import cpu_budget
from playground.diffusion.batching import SharedSampler, Waiting

CORES, EXPENSIVE_JOBS, TORCH_THREADS = cpu_budget()  # torch threads × (expensive jobs + the sampler) ≤ cores
CHEAP_JOBS = 32  # cheap events at once (each takes milliseconds)

EXPENSIVE = dict(concurrency_id="expensive", concurrency_limit=EXPENSIVE_JOBS)
# Sampling requests all enter at once and wait inside the shared sampler, which batches them and runs one batch
# at a time; so its events have a high limit, and each request shows its own place in line.
SAMPLING = SharedSampler()
SAMPLING_EVENTS = dict(concurrency_id="sampling", concurrency_limit=128)


def waiting_text(event: Waiting, seconds: float) -> str:
    """What a waiting request shows: its place in line and the batch it will be sampled in."""
    ahead = ("your batch is next" if event.batches_ahead <= 1 else
             f"{event.batches_ahead - 1} batch{'es' if event.batches_ahead > 2 else ''} ahead of yours")
    return (f"In line for the sampler ({seconds:.0f} s): {ahead}. Your batch holds {event.requests_in_batch} "
            f"request{'s' if event.requests_in_batch > 1 else ''} ({event.images_in_batch} images), sampled together "
            "in one pass.")
CHEAP = dict(concurrency_id="cheap", concurrency_limit=CHEAP_JOBS)

EXPORT_TTL_S = 15 * 60  # an export is kept this long: enough to download it
_EXPORTS = Path(tempfile.mkdtemp(prefix="playground-exports-"))
atexit.register(shutil.rmtree, _EXPORTS, ignore_errors=True)


CACHE_SWEEP_S, CACHE_AGE_S = 300, 600  # every 5 minutes, the files sent to browsers more than 10 minutes ago go


def sweep_cache(blocks, age: float | None = CACHE_AGE_S) -> int:
    """Delete the files the app's components put in Gradio's cache (their `temp_files`) whose last use (ctime) is
    more than `age` seconds ago (None: all), except those a component keeps (`keep_in_cache`), and the folders left
    empty; returns how many went. Gradio's own walker (`route_utils.delete_files_created_by_app`) walks each live
    set while requests add to it, and the "set changed size" error that follows ends its `delete_cache` schedule for
    good (seen in an hour's soak: nothing was deleted after start-up). This walks snapshots, so a class adding files
    meanwhile changes nothing; app.py puts it in that walker's place, so Gradio's schedule runs it."""
    keep = set()
    for component in list(blocks.blocks.values()):
        keep.update(getattr(component, "keep_in_cache", ()))
    now, removed = time.time(), 0
    for files in list(blocks.temp_file_sets):
        gone = set()
        for file in list(files):  # a snapshot: list() copies the set in one step
            if file in keep:
                continue
            try:
                if age is None or now - os.lstat(file).st_ctime > age:
                    os.remove(file)
                    gone.add(file)
                    with contextlib.suppress(OSError):
                        os.rmdir(os.path.dirname(file))  # Gradio's per-file folder, if now empty
            except FileNotFoundError:
                gone.add(file)
            except OSError:
                continue
        files -= gone
        removed += len(gone)
    return removed


def export_path(prefix: str, suffix: str) -> str:
    """A fresh file path for an export; exports older than EXPORT_TTL_S are deleted first."""
    now = time.time()
    for old in _EXPORTS.glob("*"):
        try:
            if now - old.stat().st_mtime > EXPORT_TTL_S:
                old.unlink()
        except OSError:
            pass
    fd, path = tempfile.mkstemp(prefix=f"{prefix}-", suffix=suffix, dir=_EXPORTS)
    os.close(fd)
    return path


# What one request may cost, in samples × network calls, from measured cost: a DDIM-50 grid of 16 Fashion images
# (800) takes about 2.3 s on one core of the development machine, so 16,000 is about 45 s; 2D points cost about
# a hundredth of an image. PLAYGROUND_TEACHER=1 on the server allows ten times more (a teacher's demonstration).
TEACHER = os.environ.get("PLAYGROUND_TEACHER", "") == "1"
MAX_IMAGE_STEPS = 16_000 * (10 if TEACHER else 1)
POINTS_PER_IMAGE = 100


def check_cost(samples: int, calls: int, modality: str, what: str) -> None:
    """Refuse a request whose samples × network calls exceed this server's cap, saying the cap and how to lower it."""
    from gradio import Error

    cost = samples * calls / (POINTS_PER_IMAGE if modality == "points" else 1)
    if cost > MAX_IMAGE_STEPS:
        raise Error(f"{what} asks for {samples:,} samples × {calls:,} network calls; this server allows "
                    f"{MAX_IMAGE_STEPS * (POINTS_PER_IMAGE if modality == 'points' else 1):,} (about 45 s of one core"
                    f"{', teacher setting' if TEACHER else ''}). Use fewer samples or steps"
                    f"{'' if TEACHER else ', or start the server with PLAYGROUND_TEACHER=1'}.")
