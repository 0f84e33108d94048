"""DALL·E 1 in miniature (playground.dalle): the stream model, its cached sampler, the loss, reranking and the
sparse masks, on tiny random models (the shipped ones are tested in test_dalle_page.py)."""
import math

import numpy as np
import pytest
import torch
from einops import rearrange

from playground import dalle, data, vq
from playground.clip.model import CLIPSpec
from playground.models import Loaded
from playground.train import train_steps

CLIP = CLIPSpec(width=4, image_features=8, d_model=8, layers=1, heads=2, embed_dim=4)


def tiny_spec(**kw) -> dalle.DalleSpec:
    settings = dict(codebook_size=16, grid=4, clip=CLIP.to_dict(), d_model=32, layers=2, heads=2, batch_size=16)
    return dalle.DalleSpec(**{**settings, **kw})


def tiny_tokenizer() -> vq.VQVAE:
    return vq.VQSpec(in_channels=3, image_size=16, downsample=4, codebook_size=16, code_dim=4, width=4,
                     dataset="scenes").build().eval()


def small_scenes(n: int = 64):
    """Scenes at 16×16 (the tiny tokenizer's size), with their captions."""
    scenes = data.load("scenes", "train", n=n, seed=0)
    scenes.x = torch.nn.functional.avg_pool2d(scenes.x, 2)
    return scenes


@pytest.mark.parametrize("bad, message", [(dict(d_model=30, heads=4), "multiple"), (dict(grid=0), "grid"),
                                          (dict(text_loss_weight=2.0), "text_loss_weight")])
def test_spec_refuses_bad_settings(bad, message):
    with pytest.raises(ValueError, match=message):
        tiny_spec(**bad)


def test_cached_sampling_gives_the_same_logits_as_the_whole_stream():
    """Feeding one position at a time with the key/value cache equals one pass over the whole stream."""
    torch.manual_seed(0)
    spec = tiny_spec()
    model = spec.build().eval()
    ids = dalle.prompt_ids(model, ["a red circle", "a large blue square on the left"])
    image = torch.randint(0, spec.codebook_size, (2, spec.image_length))
    with torch.no_grad():
        _, whole = model(ids, image)
        caches = [{} for _ in model.blocks]
        h = model.run(model.embed_text(ids), caches)[:, -1]
        steps = [model.image_head(h)]
        for j in range(spec.image_length - 1):
            h = model.run(model.embed_image(image[:, j:j + 1], j), caches)[:, -1]
            steps.append(model.image_head(h))
    assert torch.allclose(torch.stack(steps, 1), whole, atol=1e-5)


def test_a_filled_cache_takes_one_position_at_a_time():
    model = tiny_spec().build()
    caches = [{} for _ in model.blocks]
    model.run(torch.randn(1, 3, 32), caches)
    with pytest.raises(ValueError, match="one new position"):
        model.run(torch.randn(1, 2, 32), caches)


def test_the_loss_weights_text_one_eighth_and_goes_down():
    spec = tiny_spec()
    ds = dalle.training_set(small_scenes(), spec, tiny_tokenizer())
    assert ds.x.shape == (64, 4, 4) and ds.y.shape[:2] == (64, 8)
    events = list(train_steps(spec, ds, 60, device="cpu"))
    first, last = events[0].losses, events[-1].losses
    assert first["loss"] == pytest.approx(first["text_nll"] / 8 + 7 * first["image_nll"] / 8, rel=1e-5)
    assert np.mean(events[-1].history["loss"][-10:]) < 0.7 * np.mean(events[0].history["loss"][:10])
    assert last["bits_per_image"] == pytest.approx(last["image_nll"] * 16 / math.log(2))


def test_sampling_draws_one_token_per_step_and_records_where_it_looked():
    torch.manual_seed(0)
    model = tiny_spec().build().eval()
    steps = list(dalle.sample_steps(model, ["a red circle"] * 3, generator=torch.Generator().manual_seed(1),
                                    record=True))
    assert [s["position"] for s in steps] == list(range(16))
    for j, s in enumerate(steps):
        flat = s["tokens"].flatten(1)
        assert (flat[:, : j + 1] >= 0).all() and (flat[:, j + 1:] == -1).all()
        # the shares over the 16 text positions and the earlier image tokens sum to 1
        assert s["attention"].shape == (3, 17) and torch.allclose(s["attention"].sum(1), torch.ones(3), atol=1e-5)
    assert steps[0]["attention"][:, -1].abs().max() < 1e-6  # token 0 has no earlier image token to look at
    assert all(b.maps is None for b in model.blocks)  # recording is switched off again
    again = dalle.sample(model, ["a red circle"] * 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again, steps[-1]["tokens"])


def test_attention_groups_sum_each_tokens_attention():
    torch.manual_seed(0)
    model = tiny_spec().build().eval()
    frames = list(dalle.sample_steps(model, ["a small red circle"], record=True))
    shares = torch.stack([f["attention"][0] for f in frames])
    labels, groups = dalle.attention_groups(model, "a small red circle", shares)
    assert labels == ["a", "small", "red", "circle", "<eot>", "(padding)", "(earlier image tokens)"]
    assert torch.allclose(groups.sum(1), torch.ones(16), atol=1e-5)


@pytest.mark.parametrize("prompt, message", [("", "empty"), ("a purple circle", "never learned"), ("x" * 2000, "long")])
def test_bad_prompts_are_refused_with_a_message(prompt, message):
    with pytest.raises(ValueError, match=message):
        dalle.prompt_ids(tiny_spec().build(), prompt)


@pytest.mark.parametrize("n", [0, 65, 1.5, True, "8", None])
def test_the_number_of_candidates_is_checked(n):
    with pytest.raises(ValueError, match="candidates"):
        dalle.check_candidates(n)


def test_rerank_sorts_candidates_by_clip_score():
    torch.manual_seed(0)
    spec = tiny_spec()
    m, tok = Loaded("d", spec.build().eval(), spec), Loaded("t", tiny_tokenizer(), None)
    clip_m = Loaded("c", CLIPSpec(image_size=16, width=4, image_features=8, d_model=8, layers=1, heads=2,
                                  embed_dim=4).build().eval(), None)
    out = dalle.rerank(m, tok, clip_m, "a red circle", 6, seed=3)
    assert out["images"].shape == (6, 3, 16, 16)
    assert (out["scores"][:-1] >= out["scores"][1:]).all() and sorted(out["order"].tolist()) == list(range(6))
    again = dalle.candidates(m, tok, "a red circle", 6, seed=3)
    assert torch.equal(again[out["order"]], out["images"])  # the same draws, reordered


def test_sparse_masks_match_their_definitions():
    masks = dalle.sparse_masks(text_length=4, grid=3, window=3)
    n = 4 + 9
    assert masks["dense"].sum() == n * (n + 1) // 2
    for name, mask in masks.items():
        assert not np.triu(mask, 1).any(), name  # nothing sees the future
        assert mask[4:, :4].all(), name  # every image token sees the whole prompt
    # image token 4 (row 1, column 1): the row mask allows tokens 3, 4; the column mask 1, 4
    row = masks["row"][4 + 4, 4:]
    col = masks["column"][4 + 4, 4:]
    conv = masks["convolutional"][4 + 4, 4:]
    assert np.flatnonzero(row).tolist() == [3, 4] and np.flatnonzero(col).tolist() == [1, 4]
    assert np.flatnonzero(conv).tolist() == [0, 1, 2, 3, 4]


def test_sampling_and_training_stay_on_the_models_device():
    """The cached sampler on the "meta" device: any CPU tensor mixed in would raise."""
    meta = torch.device("meta")
    model = tiny_spec().build().to(meta).eval()
    ids = dalle.prompt_ids(model, ["a red circle"])
    assert ids.device == meta
    caches = [{} for _ in model.blocks]
    h = model.run(model.embed_text(ids), caches)
    h = model.run(model.embed_image(torch.zeros(1, 1, dtype=torch.long, device=meta), 0), caches)
    assert h.device == meta and caches[0]["k"].shape[2] == 17
    logits = model(ids, torch.zeros(1, 16, dtype=torch.long, device=meta))[1]
    assert logits.device == meta and rearrange(logits, "b l k -> b k l").shape == (1, 16, 16)
