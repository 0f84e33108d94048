"""Shared sampling: concurrent DDIM (η = 0) requests of one model run as one batch, and each gets the very picture
it would have got alone."""
import threading

import torch

from playground.diffusion import make_schedule, sample
from playground.diffusion.samplers import denoise_steps
from playground.diffusion.batching import SharedSampler, Waiting
from playground.diffusion.samplers import DynamicThreshold, Step


class CountingModel(torch.nn.Module):
    """ε̂ = 0.1 x_t + 0.01 t, and how many examples each call saw."""

    def __init__(self):
        super().__init__()
        self.batch_sizes = []

    def forward(self, x_t, t, y=None):
        self.batch_sizes.append(len(x_t))
        return 0.1 * x_t + 0.01 * t.float().view(-1, *[1] * (x_t.dim() - 1))


def test_concurrent_requests_share_one_batch_and_get_their_own_pictures():
    schedule, model = make_schedule("cosine", 50), CountingModel()
    sampler = SharedSampler(window_s=0.2)
    inputs = [torch.randn(3, 2, generator=torch.Generator().manual_seed(k)) for k in range(4)]
    results, waited = [None] * 4, [False] * 4

    def request(k):
        for event in sampler.steps(("m", 10), model, schedule, inputs[k], None, num_steps=10):
            if isinstance(event, Waiting):
                waited[k] = True
            else:
                assert isinstance(event, Step) and event.x_t.shape == (3, 2)
                results[k] = event.x_t

    threads = [threading.Thread(target=request, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert model.batch_sizes == [12] * 10  # one batch of 4 × 3 for each of the 10 steps
    assert all(waited)  # every request was told it was waiting
    for k in range(4):
        torch.testing.assert_close(results[k], sample(model, schedule, inputs[k], "ddim", 10))


def test_a_batch_everyone_left_stops():
    schedule, model = make_schedule("cosine", 200), CountingModel()
    sampler = SharedSampler(window_s=0.01)
    run = sampler.steps(("m", 200), model, schedule, torch.randn(2, 2), None, num_steps=200)
    for event in run:
        if isinstance(event, Step):
            break
    run.close()
    import time
    time.sleep(0.5)
    assert len(model.batch_sizes) < 200


def test_requests_that_clip_differently_never_share_a_batch():
    """Same caller key, same moment, different clip_x0: separate batches, each the picture its own setting gives
    alone (and with its own share of clipped values)."""
    schedule, model = make_schedule("cosine", 50), CountingModel()
    sampler = SharedSampler(window_s=0.2)
    clips = [True, False, DynamicThreshold(0.9), DynamicThreshold(0.995), True]
    inputs = [3 * torch.randn(3, 2, generator=torch.Generator().manual_seed(k)) for k in range(len(clips))]
    results, shares = [None] * len(clips), [None] * len(clips)

    def request(k):
        for event in sampler.steps(("m", 10), model, schedule, inputs[k], None, num_steps=10, clip_x0=clips[k]):
            if isinstance(event, Step):
                results[k], shares[k] = event.x_t, event.clipped

    threads = [threading.Thread(target=request, args=(k,)) for k in range(len(clips))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # the two static requests (0 and 4) share one batch of 6; the other three run alone, 3 each
    assert sorted(model.batch_sizes) == sorted([6] * 10 + [3] * 30)
    for k, clip in enumerate(clips):
        alone = list(denoise_steps(model, schedule, inputs[k], "ddim", 10, clip_x0=clip))[-1]
        torch.testing.assert_close(results[k], alone.x_t)
        assert (shares[k] is None) == (clip is False)
        if clip is not False:
            torch.testing.assert_close(shares[k], alone.clipped)
    assert not torch.allclose(results[0], results[1])  # clipping acted here, so mixing the settings would show
