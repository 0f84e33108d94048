"""A class on one server: Stop means stop (the cores go quiet within a second and the next job starts), and a
session's expensive work never holds up another student's cheap events."""
import time

import pytest
from gradio_client import Client

from playground import checkpoints

HAVE_FASHION = "ddpm-fashion-cosine" in checkpoints.available()


def _cpu_busy(seconds: float = 1.0) -> float:
    """Cores this process kept busy over the next `seconds` (server and tests share the process)."""
    began_cpu, began = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    return (time.process_time() - began_cpu) / (time.perf_counter() - began)


def _wait_until_sampling(job, timeout: float = 60.0) -> None:
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        outputs = job.outputs()
        if any("Sampling: step" in str(o) for o in outputs):
            return
        time.sleep(0.1)
    raise AssertionError(f"the job never started sampling: {job.status()}")


@pytest.mark.skipif(not HAVE_FASHION, reason="the Fashion-MNIST checkpoints are not shipped here")
def test_cancel_stops_a_long_sampling_run_within_a_second_and_the_next_job_starts(server_url):
    client = Client(server_url, verbose=False, download_files=False)
    long_job = client.submit("ddpm-fashion-cosine", 0, "ddpm", 1000, 0.0, 16, -1, api_name="/reverse_generate")
    _wait_until_sampling(long_job)
    busy = _cpu_busy(0.5)
    assert busy > 0.2  # it is computing (on a busy machine this process gets a share of the cores)
    long_job.cancel()
    time.sleep(1.0)
    assert _cpu_busy(1.0) < max(0.15, 0.4 * busy), "the cores stay busy after Stop"
    began = time.perf_counter()
    result = client.predict("ddpm-moons-cosine", 1, "ddim", 10, 0.0, 50, -1, api_name="/reverse_generate")
    assert "Done" in str(result) and time.perf_counter() - began < 30


def test_costly_settings_are_refused_with_the_cap_and_how_to_lower_it():
    import gradio as gr

    from pages import guidance, reverse
    with pytest.raises(gr.Error, match="2,000 samples × 1,000 network calls; this server allows 1,600,000"):
        list(reverse.generate("ddpm-moons-cosine", 0, "ddpm", 1000, 0.0, 2000, -1))  # 2D points: 100 × cheaper
    if HAVE_FASHION:
        with pytest.raises(gr.Error, match="64 samples × 1,000 network calls"):
            list(reverse.generate("ddpm-fashion-cosine", 0, "ddpm", 1000, 0.0, 64, -1))
        with pytest.raises(gr.Error, match="Measure asks for"):
            list(guidance.measure("fashion", 7, "0, 1, 2, 4, 8", 200, 0, "ddim", 200))
