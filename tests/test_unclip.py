"""DALL·E 2 in miniature (playground.unclip): the three stages' specs, losses and samplers, noise augmentation,
slerp and the pipeline, on tiny random models (the shipped ones are tested in test_dalle_page.py)."""
import math

import numpy as np
import pytest
import torch

from playground import data, unclip
from playground.clip.model import CLIPSpec
from playground.diffusion.ddpm import EpsModel
from playground.diffusion.schedules import make_schedule
from playground.models import Loaded
from playground.nn import UNetConfig
from playground.train import train_steps

CLIP = CLIPSpec(width=4, image_features=8, d_model=8, layers=1, heads=2, embed_dim=16)


def tiny(stage: str, **kw) -> unclip.UnCLIPSpec:
    unet = {"prior": None,
            "decoder": UNetConfig(image_size=16, in_channels=3, base_channels=8, channel_mults=(1, 2), num_res_blocks=1,
                                  num_heads=2, context_dim=16, cross_attention_max_size=8),
            "upsampler": UNetConfig(image_size=32, in_channels=7, out_channels=3, base_channels=8, channel_mults=(1, 2),
                                    num_res_blocks=1, num_heads=2)}[stage]
    return unclip.UnCLIPSpec(stage=stage, clip=CLIP.to_dict(), unet=unet, prior_width=32, prior_layers=2, num_steps=50,
                             batch_size=16, lr=2e-3, ema_decay=0.0, **kw)


@pytest.fixture(scope="module")
def clip_model():
    torch.manual_seed(0)
    return CLIP.build().eval()


@pytest.fixture(scope="module")
def scenes():
    return data.load("scenes", "train", n=64, seed=0)


@pytest.mark.parametrize("kw, message", [(dict(stage="painter"), "stage"),
                                         (dict(stage="prior", unet=UNetConfig()), "UNet config"),
                                         (dict(stage="decoder", unet=UNetConfig(image_size=16, in_channels=3, context_dim=8)),
                                          "embed_dim"),
                                         (dict(augmentation=1.0), "augmentation")])
def test_spec_refuses_bad_settings(kw, message):
    with pytest.raises(ValueError, match=message):
        unclip.UnCLIPSpec(**{"clip": CLIP.to_dict(), "unet": UNetConfig(image_size=16, in_channels=3, context_dim=16),
                             **kw})


def test_each_stage_has_its_shape_prediction_and_null_condition():
    prior, decoder, upsampler = tiny("prior"), tiny("decoder"), tiny("upsampler")
    assert prior.sample_shape == (16,) and decoder.sample_shape == (3, 16, 16) and upsampler.sample_shape == (3, 32, 32)
    assert prior.prediction == "x0" and isinstance(prior.build(), EpsModel)  # unCLIP's prior predicts z_i itself
    assert decoder.prediction == "eps" and not isinstance(decoder.build(), EpsModel)
    assert torch.equal(decoder.null_condition(3), torch.zeros(3, 16)) and upsampler.null_condition(3) is None


@pytest.mark.parametrize("stage", unclip.STAGES)
def test_every_stage_learns_its_training_set(stage, clip_model, scenes):
    spec = tiny(stage)
    ds = unclip.training_set(scenes, spec, clip_model)
    expected = {"prior": ((64, 16), (64, 8, 16)), "decoder": ((64, 3, 16, 16), (64, 16)),
                "upsampler": ((64, 3, 32, 32), (64, 3, 16, 16))}[stage]
    assert (tuple(ds.x.shape), tuple(ds.y.shape)) == expected
    if stage == "prior":  # z_i scaled by √d: unit length becomes √d
        assert torch.allclose(ds.x.norm(dim=1), torch.full((64,), math.sqrt(16)), atol=1e-4)
    events = list(train_steps(spec, ds, 80, device="cpu"))
    losses = events[-1].history["loss"]
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])


def test_augment_noises_by_the_forward_process_and_states_the_level():
    schedule = make_schedule("cosine", 1000)
    low = torch.rand(2, 3, 16, 16) * 2 - 1
    same = unclip.augment(low, 0.0, schedule)
    assert torch.equal(same[:, :3], low) and (same[:, 3] == 0).all()
    out = unclip.augment(low, torch.tensor([0.0, 0.5]), schedule, torch.Generator().manual_seed(0))
    noise = torch.randn(low.shape, generator=torch.Generator().manual_seed(0))
    abar = schedule.alphas_cumprod[500]
    assert torch.equal(out[0, :3], low[0])
    # x_s = √ᾱ_s x + √(1 − ᾱ_s) ε at s = 0.5 · T
    assert torch.allclose(out[1, :3], abar.sqrt() * low[1] + (1 - abar).sqrt() * noise[1], atol=1e-5)
    assert (out[1, 3] == 0.5).all()
    with pytest.raises(ValueError, match="noise level"):
        unclip.augment(low, 1.0, schedule)


def test_the_upsampler_diffuses_what_bilinear_upsampling_misses(monkeypatch):
    """Its target is the scaled r = (x − bilinear(low)) · 10: an image that is its own low-res input upsampled has
    r = 0, and a step of 0.1 more becomes 1."""
    spec = tiny("upsampler", augmentation=0.3)
    low = torch.rand(4, 3, 16, 16) * 2 - 1
    x = unclip.bilinear(low, 32)
    seen = {}
    monkeypatch.setattr(unclip, "simple_loss", lambda net, schedule, x0, y, g, prediction: seen.update(x0=x0, y=y)
                        or torch.zeros(()))
    spec.loss(spec.build(), x, low, torch.Generator().manual_seed(0))
    assert torch.allclose(seen["x0"], torch.zeros_like(x), atol=1e-5)
    spec.loss(spec.build(), x + 0.1, low, torch.Generator().manual_seed(0))
    assert torch.allclose(seen["x0"], torch.ones_like(x), atol=1e-4)
    assert seen["y"].shape == (4, 4, 16, 16) and (seen["y"][:, 3] < 0.3).all()  # the noise level, below 0.3


def test_slerp_stays_on_the_sphere_between_its_ends():
    torch.manual_seed(0)
    a, b = torch.nn.functional.normalize(torch.randn(2, 8), dim=-1)
    path = unclip.slerp(a, b, [0, 0.5, 1])
    assert torch.allclose(path[0], a, atol=1e-6) and torch.allclose(path[2], b, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), torch.ones(3), atol=1e-6)
    theta = torch.arccos(a @ b)
    assert torch.allclose(path[1] @ a, torch.cos(theta / 2), atol=1e-6)  # halfway in angle
    assert torch.allclose(unclip.slerp(a, a, [0.3]), a[None])  # no angle: stays put


def _loaded(stage):
    torch.manual_seed(0)
    spec = tiny(stage)
    return Loaded(f"tiny-{stage}", spec.build().eval(), spec, {"family": "unclip"})


def test_the_pipeline_makes_every_stage_with_its_shape(clip_model):
    clip_m = Loaded("clip", clip_model, CLIP)
    prior, decoder, upsampler = _loaded("prior"), _loaded("decoder"), _loaded("upsampler")
    z_t = unclip.text_embeddings(clip_m, ["a red circle", "a blue square"])
    z_i = unclip.prior_embeddings(prior, z_t, seed=0, steps=5)
    assert z_i.shape == (2, 16) and torch.allclose(z_i.norm(dim=1), torch.ones(2), atol=1e-5)
    low = unclip.decode(decoder, z_i, seed=0, steps=4, scale=3.0)
    assert low.shape == (2, 3, 16, 16) and low.abs().max() <= 1
    images = unclip.upsample(upsampler, low, seed=0, steps=3)
    assert images.shape == (2, 3, 32, 32)
    out = unclip.generate_stages(clip_m, prior, decoder, upsampler, "a red circle", n=3, seed=1, steps=4)
    assert out["images"].shape == (3, 3, 32, 32) and len(out["cos_text_image"]) == 3
    without = unclip.generate_stages(clip_m, prior, decoder, upsampler, "a red circle", n=2, use_prior=False, steps=4)
    assert torch.allclose(without["z_i"], without["z_t"].expand(2, -1))  # the baseline decodes z_t itself


def test_variations_and_interpolation(clip_model):
    clip_m = Loaded("clip", clip_model, CLIP)
    _, decoder, upsampler = _loaded("prior"), _loaded("decoder"), _loaded("upsampler")
    image = data.load("scenes", "test", n=2, seed=0).x
    out = unclip.variations(clip_m, decoder, upsampler, image[0], n=3, steps=3)
    assert out["low"].shape == (3, 3, 16, 16) and out["images"].shape == (3, 3, 32, 32)
    assert not torch.equal(out["low"][0], out["low"][1])  # each from its own noise
    path = unclip.interpolation(clip_m, decoder, upsampler, image[0], image[1], k=4, steps=3)
    assert path["fractions"] == [0.0, pytest.approx(1 / 3), pytest.approx(2 / 3), 1.0]
    assert path["cos_to_a"][0] == pytest.approx(1.0, abs=1e-5) and path["cos_to_a"] == sorted(path["cos_to_a"], reverse=True)


@pytest.mark.parametrize("call, message", [
    (lambda c, d, u: unclip.variations(c, d, u, torch.zeros(3, 28, 28)), "32×32"),
    (lambda c, d, u: unclip.variations(c, d, u, torch.full((3, 32, 32), float("nan"))), "32×32"),
    (lambda c, d, u: unclip.variations(c, d, u, torch.zeros(3, 32, 32), n=0), "n must be"),
    (lambda c, d, u: unclip.decode(d, torch.zeros(1, 16), steps=0), "steps"),
    (lambda c, d, u: unclip.upsample(u, torch.zeros(1, 3, 16, 16), level=1.5), "noise level"),
    (lambda c, d, u: unclip.decode(u, torch.zeros(1, 16)), "not an unCLIP decoder"),
    (lambda c, d, u: unclip.text_embeddings(c, ["a purple circle"]), "unknown|vocabulary|never"),
])
def test_bad_input_is_refused_with_a_message(call, message, clip_model):
    clip_m = Loaded("clip", clip_model, CLIP)
    with pytest.raises(ValueError, match=message):
        call(clip_m, _loaded("decoder"), _loaded("upsampler"))


def test_sampling_stays_on_the_models_device():
    """Every stage's network and the sampler on the "meta" device: a CPU tensor mixed in would raise."""
    from playground.diffusion import denoise_steps
    from playground.diffusion.samplers import ClassifierFree
    meta = torch.device("meta")
    for stage, y in (("prior", torch.zeros(2, 16)), ("decoder", torch.zeros(2, 16)), ("upsampler", None)):
        spec = tiny(stage)
        model = spec.build().to(meta).eval()
        if stage == "upsampler":
            y = unclip.augment(torch.zeros(2, 3, 16, 16, device=meta), 0.1, make_schedule("cosine", 50))
        guidance = ClassifierFree(2.0, null=spec.null_condition(2, meta)) if stage != "upsampler" else None
        steps = list(denoise_steps(model, make_schedule("cosine", 50), torch.randn(2, *spec.sample_shape).to(meta),
                                   "ddim", 2, y=y.to(meta), guidance=guidance))
        assert steps[-1].x_t.device == meta
