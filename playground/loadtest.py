"""`python -m playground loadtest [--students 30 --seconds 60] [--scenario mix|generate]`: a class on one machine,
simulated.

It starts the app (`python app.py`) on a free port of 127.0.0.1, sends requests only there, and stops by itself:
N students, each with its own session, repeat the common actions of the pages for a fixed time. It prints, per
action, the count, p50 / p95 / max latency and errors, whether each student saw a queue position, the server's
cold start, its peak resident memory, and how much its temp folder grew. Bounded: at most `--seconds` of load
(plus the requests in flight) and a hard timeout on every request.

Scenario "mix" (the default) repeats the actions below, weighted, for `--seconds`; `--action` picks some of them
(only the slider, say). Scenario "generate" has every student press Generate at the same moment and compares the
last one's wait with one batched run of all their images.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# The common actions of every page: (api_name, arguments given a random generator, weight). Cheap ones are frequent.
PROMPTS = ("a small red circle at the top left", "a large blue square", "a green triangle above a yellow diamond")
ACTIONS = {
    "forward: let go of the t slider (exact frame)": ("/forward_frame", lambda r: ["Fashion-MNIST", int(r.integers(10)), 0, None, "linear",
                                                                "cosine", 1000, int(r.integers(1001)), 0], 12),
    "forward: 2D cloud at t": ("/forward_toy", lambda r: ["moons", "cosine", 1000, int(r.integers(1001)), 0], 4),
    "reverse: generate 16 Fashion, DDIM-50": ("/reverse_generate",
                                              lambda r: ["ddpm-fashion-cosine", int(r.integers(1000)), "ddim", 50, 0.0,
                                                         16, -1], 1),
    "reverse: learned-variance card": ("/reverse_variance_card", lambda r: ["ddpm-moons-learned"], 2),
    "autoencoders: reconstruct a test item": ("/ae_reconstruct", lambda r: ["Fashion-MNIST", int(r.integers(10)),
                                                                          int(r.integers(50)), None], 4),
    "vq: tokens of a test item": ("/vq_tokens", lambda r: ["vq-fashion", "Fashion-MNIST", int(r.integers(10)),
                                                           int(r.integers(50)), None], 3),
    "gan: 40 Fashion samples": ("/gan_samples", lambda r: [40, int(r.integers(1000)), "gan-fashion"], 2),
    "guidance: 5 scales x 4 seeds, DDIM-50": ("/guidance_grid", lambda r: ["fashion", int(r.integers(10)),
                                                                          "0, 1, 2, 4, 8", 4, int(r.integers(1000)),
                                                                          "ddim", 50, "static", 0.995], 1),
    "flows: ODE paths on the plane": ("/flows_paths", lambda r: ["fm-moons", "euler", 10, 500, int(r.integers(1000))], 3),
    "clip: zero-shot a test scene": ("/clip_zero_shot", lambda r: ["a {shape}", "test scene", int(r.integers(100)), None,
                                                                   True, "clip-scenes"], 3),
    "text to image: 8 scenes, DDIM-50": ("/t2i_generate", lambda r: ["ldm-scenes", PROMPTS[int(r.integers(3))], "", 3, 50,
                                                                     "ddim", int(r.integers(1000)), 8], 1),
    "dalle: DALL·E 1 writes a prompt": ("/dalle1_write", lambda r: [PROMPTS[int(r.integers(3))], 1.0, 0,
                                                                     int(r.integers(1000)), 40], 1),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_peak_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _folder_mb(path: Path) -> float:
    """The size of the files under `path`; files the app deletes while they are counted count as 0."""
    def size(f: Path) -> int:
        try:
            return f.stat().st_size if f.is_file() else 0
        except OSError:
            return 0
    return sum(map(size, path.rglob("*"))) / 2**20 if path.exists() else 0.0


def start_app(port: int, temp: Path, warm_timeout: float = 180.0) -> tuple[subprocess.Popen, float]:
    """Start app.py on 127.0.0.1:port; returns (process, seconds until `/` answered). It then waits for the app's
    warm-up (the shipped models loaded), as a class's server has long finished it when students arrive."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(temp), "HF_HUB_OFFLINE": "1"}
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    warmed = threading.Event()

    def read_output() -> None:
        for line in process.stdout:
            if line.startswith("warm-up done"):
                process.warmed_after_s = time.perf_counter() - began  # from the start, as cold_start
                warmed.set()
    threading.Thread(target=read_output, daemon=True).start()
    cold_start = None
    while time.perf_counter() - began < 120:
        if process.poll() is not None:
            raise RuntimeError("the app exited before it answered")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                if response.status == 200:
                    cold_start = time.perf_counter() - began
                    break
        except OSError:
            time.sleep(0.1)
    if cold_start is None:
        process.kill()
        raise RuntimeError("the app did not answer within 120 s")
    warmed.wait(warm_timeout)
    return process, cold_start


@contextlib.contextmanager
def serving() -> Iterator[tuple[str, subprocess.Popen, float, Path]]:
    """A fresh, warmed app on a free port of 127.0.0.1: (url, process, cold start in s, its temp folder); stopped
    and its temp folder removed afterwards."""
    temp, port = Path(tempfile.mkdtemp(prefix="playground-loadtest-")), _free_port()
    process, cold_start = start_app(port, temp)
    try:
        yield f"http://127.0.0.1:{port}/", process, cold_start, temp
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(temp, ignore_errors=True)


def _client(url: str, timeout: float):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, analytics_enabled=False, httpx_kwargs={"timeout": timeout})


def _await(job, timeout: float) -> bool:
    """Wait for a submitted job; True if it was told its place in line (a queue rank, or the sampler's own line)."""
    began, told = time.perf_counter(), False
    while not job.done():
        status = job.status()
        told |= (getattr(status, "rank", None) or 0) > 0 or any("In line for the sampler" in str(o)
                                                                 for o in job.outputs()[-1:])
        if time.perf_counter() - began > timeout:
            job.cancel()
            raise TimeoutError(f"no answer within {timeout:.0f} s")
        time.sleep(0.1)
    job.result(timeout=timeout)
    return told


def run(students: int = 30, seconds: float = 60.0, actions: list[str] | None = None, seed: int = 0,
        request_timeout: float = 300.0, pause: float | None = None, disk_every: float = 60.0) -> dict:
    """Simulate `students` for `seconds`; returns the figures (also printed by `main`). Each student waits between
    actions 0.05–0.3 s (a stress test), or about `pause` seconds (0.5–1.5 × pause: a calmer class, for a long soak).
    The temp folder's growth is sampled every `disk_every` seconds (`temp_growth_mb_by_minute` with the default)."""
    if not 1 <= students <= 200 or not 1 <= seconds <= 3600:
        raise ValueError("students must be from 1 to 200 and seconds from 1 to 3600")
    if pause is not None and not 0 <= pause <= 600:
        raise ValueError("pause must be from 0 to 600 seconds")
    chosen = {name: ACTIONS[name] for name in (actions or ACTIONS)}
    latencies, errors, queued = defaultdict(list), defaultdict(list), set()
    lock = threading.Lock()
    with serving() as (url, process, cold_start, temp):
        disk_before, stop_at = _folder_mb(temp), time.perf_counter() + seconds

        def student(k: int) -> None:
            rng = np.random.default_rng(seed + k)
            client = _client(url, request_timeout)
            names, weights = list(chosen), np.array([chosen[n][2] for n in chosen], dtype=float)
            while time.perf_counter() < stop_at:
                name = names[rng.choice(len(names), p=weights / weights.sum())]
                api_name, make_args, _ = chosen[name]
                began = time.perf_counter()
                try:
                    told = _await(client.submit(*make_args(rng), api_name=api_name), request_timeout)
                    with lock:
                        latencies[name].append(time.perf_counter() - began)
                        if told:
                            queued.add(k)
                except Exception as err:  # noqa: BLE001 - every failure is counted and shown, never raised
                    with lock:
                        errors[name].append(f"{type(err).__name__}: {str(err)[:160]}")
                # a person's pause between actions (never past the end)
                wait = float(rng.uniform(0.05, 0.3) if pause is None else rng.uniform(0.5, 1.5) * pause)
                time.sleep(max(0.0, min(wait, stop_at - time.perf_counter())))

        by_minute, finished = [], threading.Event()

        def watch_disk() -> None:  # the temp folder's growth, every disk_every seconds, until the students are done
            while not finished.wait(disk_every):
                by_minute.append(_folder_mb(temp) - disk_before)

        threads = [threading.Thread(target=student, args=(k,), daemon=True) for k in range(students)]
        watcher = threading.Thread(target=watch_disk, daemon=True)
        watcher.start()
        for thread in threads:
            thread.start()
            time.sleep(0.02)
        for thread in threads:
            thread.join(timeout=seconds + request_timeout + 30)
        finished.set()
        watcher.join()
        figures = {"students": students, "seconds": seconds, "cold_start_s": cold_start,
                   "peak_rss_mb": _rss_peak_mb(process.pid), "temp_growth_mb": _folder_mb(temp) - disk_before,
                   "temp_growth_mb_by_minute": by_minute,
                   "students_who_saw_a_queue_position": len(queued), "actions": {}}
    for name in chosen:
        figures["actions"][name] = {"count": len(latencies[name]), "errors": len(errors[name]),
                                    "first_error": errors[name][0] if errors[name] else "",
                                    **_percentiles(latencies[name])}
    return figures


def _percentiles(times: list[float]) -> dict:
    times = np.array(times)
    if not len(times):
        return {"p50_s": float("nan"), "p95_s": float("nan"), "max_s": float("nan")}
    return {"p50_s": float(np.percentile(times, 50)), "p95_s": float(np.percentile(times, 95)),
            "max_s": float(times.max())}


def batched_reference(images: int, steps: int = 50) -> float:
    """Seconds for one batched DDIM run of `images` Fashion samples in this process, with the app's thread count:
    the cost a perfectly batched class would pay."""
    import torch

    from . import checkpoints
    from .devices import cpu_budget
    from .diffusion import sample

    torch.set_num_threads(cpu_budget()[2])
    m = checkpoints.load("ddpm-fashion-cosine")
    x_T, y = m.noise(images, 0), m.labels(images, None)
    began = time.perf_counter()
    sample(m.model, m.schedule, x_T, "ddim", steps, y=y)
    return time.perf_counter() - began


def generate_at_once(students: int = 30, request_timeout: float = 600.0) -> dict:
    """Every student presses Generate (16 Fashion samples, DDIM-50) at the same moment. Returns each finish time,
    whether each saw its place in line, and one batched run of all their images for comparison."""
    if not 1 <= students <= 200:
        raise ValueError("students must be from 1 to 200")
    finished, told, errors = [None] * students, [False] * students, []
    go = threading.Event()
    with serving() as (url, process, cold_start, _):
        clients = [_client(url, request_timeout) for _ in range(students)]

        def student(k: int) -> None:
            go.wait()
            began = time.perf_counter()
            try:
                job = clients[k].submit("ddpm-fashion-cosine", k, "ddim", 50, 0.0, 16, -1, api_name="/reverse_generate")
                told[k] = _await(job, request_timeout)
                finished[k] = time.perf_counter() - began
            except Exception as err:  # noqa: BLE001 - counted and shown
                errors.append(f"{type(err).__name__}: {str(err)[:160]}")

        threads = [threading.Thread(target=student, args=(k,), daemon=True) for k in range(students)]
        for thread in threads:
            thread.start()
        go.set()
        for thread in threads:
            thread.join(timeout=request_timeout + 30)
        peak = _rss_peak_mb(process.pid)
    done = [f for f in finished if f is not None]
    return {"students": students, "cold_start_s": cold_start, "peak_rss_mb": peak, "errors": errors,
            "finished": len(done), "told_their_place": int(sum(told)), **_percentiles(done),
            "batched_reference_s": batched_reference(16 * students)}


def main(students: int = 30, seconds: float = 60.0, actions: list[str] | None = None, scenario: str = "mix",
         pause: float | None = None) -> int:
    if scenario == "generate":
        print(f"loadtest: {students} students press Generate (16 Fashion samples, DDIM-50) at once", flush=True)
        f = generate_at_once(students)
        print(f"{f['finished']} of {students} finished, {len(f['errors'])} errors; {f['told_their_place']} saw their "
              f"place in line; p50 {f['p50_s']:.1f} s, last {f['max_s']:.1f} s; one batched run of all "
              f"{16 * students} images in one process: {f['batched_reference_s']:.1f} s (last ÷ batched = "
              f"{f['max_s'] / f['batched_reference_s']:.2f}); peak RSS {f['peak_rss_mb']:.0f} MB")
        for error in f["errors"][:3]:
            print(f"    error: {error}")
        return 0 if not f["errors"] else 1
    print(f"loadtest: {students} students for {seconds:g} s against 127.0.0.1 (a fresh app process)", flush=True)
    f = run(students, seconds, actions, pause=pause)
    print(f"cold start to serve /: {f['cold_start_s']:.1f} s; peak RSS {f['peak_rss_mb']:.0f} MB; "
          f"temp folder grew {f['temp_growth_mb']:.1f} MB; {f['students_who_saw_a_queue_position']} of {students} "
          "students saw a queue position")
    if f["temp_growth_mb_by_minute"]:
        print("temp folder growth by minute (MB): " + ", ".join(f"{mb:.1f}" for mb in f["temp_growth_mb_by_minute"])
              + f"; largest {max(f['temp_growth_mb_by_minute']):.1f}")
    print(f"{'action':42s} {'count':>6s} {'errors':>6s} {'p50 s':>7s} {'p95 s':>7s} {'max s':>7s}")
    for name, a in f["actions"].items():
        print(f"{name:42s} {a['count']:6d} {a['errors']:6d} {a['p50_s']:7.2f} {a['p95_s']:7.2f} {a['max_s']:7.2f}")
        if a["first_error"]:
            print(f"    first error: {a['first_error']}")
    return 0 if all(a["errors"] == 0 for a in f["actions"].values()) else 1
