"""Nothing silently stays on the CPU: samplers, guidance and every family's training step run with the model on
the "meta" device, where any tensor made on the CPU and mixed in raises. (Meta tensors have shapes but no values,
so this checks placement, not numbers; values are checked on the CPU everywhere else.)"""
import pytest
import torch

from playground import clip, dalle, data, gan, unclip, vq
from playground.autoencoders import AutoencoderSpec
from playground.diffusion import ClassifierFree, ClassifierGuidance, denoise_steps, make_schedule
from playground.diffusion.classifier import NoisyClassifierSpec
from playground.diffusion import text
from playground.diffusion.ddpm import DiffusionSpec
from playground.diffusion.text import TextDiffusionSpec
from playground.latent import KLAutoencoderSpec
from playground.diffusion.trajectory import record_steps
from playground.families import FAMILIES
from playground.flows import FlowMatchingSpec, RealNVPSpec, flow_steps
from playground.metrics import ClassifierSpec
from playground.nn import MLPConfig, UNetConfig
from playground.prior import TokenPriorSpec
from playground.train import train_steps
from tests.test_dalle import small_scenes, tiny_spec as tiny_dalle, tiny_tokenizer
from tests.test_text_to_image import tiny_spec
from tests.test_unclip import CLIP, tiny as tiny_unclip

META = torch.device("meta")


def unet_spec(**kw):
    return DiffusionSpec(network="unet", num_steps=20, batch_size=4, prediction=kw.pop("prediction", "eps"),
                         unet=UNetConfig(image_size=8, base_channels=8, num_res_blocks=1, channel_mults=(1, 2),
                                         num_classes=10), **kw)


@pytest.mark.parametrize("sampler, guidance", [("ddpm", None), ("ddim", "cfg"), ("ddim", "classifier")])
def test_sampler_keeps_every_tensor_on_the_models_device(sampler, guidance):
    spec = unet_spec()
    model = spec.build().to(META).eval()
    schedule = make_schedule(spec.schedule, spec.num_steps)
    x_T = torch.randn(3, 1, 8, 8).to(META)
    y = torch.tensor([1, 2, 3]).to(META)
    if guidance == "cfg":
        guide = ClassifierFree(2.0, null=spec.null_condition(3, META))
    elif guidance == "classifier":
        classifier = NoisyClassifierSpec(network="cnn", width=8, num_steps=20).build().to(META)
        guide = ClassifierGuidance(classifier, 1.0)
    else:
        guide = None
    steps = list(denoise_steps(model, schedule, x_T, sampler, None if sampler == "ddpm" else 4, eta=0.5, y=y,
                               guidance=guide, generator=torch.Generator().manual_seed(0)))
    assert len(steps) == (20 if sampler == "ddpm" else 4)
    for step in steps:
        for tensor in (step.x_t, step.eps, step.x0):
            assert tensor.device == META


@pytest.mark.parametrize("guided", [False, True])
def test_learned_variance_sampling_and_its_bound_stay_on_the_device(guided):
    """Respaced DDPM with the learned Σ_θ (guided or not) and the bound's terms, all on the model's device."""
    from playground.diffusion.variance import prior_term, vlb_term

    spec = unet_spec(learn_variance=True)
    model = spec.build().to(META).eval()
    schedule = make_schedule(spec.schedule, spec.num_steps)
    y = torch.tensor([1, 2, 3]).to(META)
    guide = ClassifierFree(2.0, null=spec.null_condition(3, META)) if guided else None
    steps = list(denoise_steps(model, schedule, torch.randn(3, 1, 8, 8).to(META), "ddpm", 5, y=y, guidance=guide,
                               variance="learned", generator=torch.Generator().manual_seed(0)))
    assert len(steps) == 5 and all(t.device == META for step in steps for t in (step.x_t, step.eps, step.x0, step.v))
    x0, t = torch.zeros(3, 1, 8, 8, device=META), torch.tensor([0, 7, 19], device=META)
    eps, v = model.eps_and_v(x0, t, y)
    for variance in ("posterior", "beta", "learned"):
        assert vlb_term(schedule, x0, x0, t, eps, variance, v).device == META
    assert prior_term(schedule, x0).device == META  # (L_hybrid trains on meta below: "ddpm-learned")


@pytest.mark.parametrize("prediction", ["x0", "v"])
def test_x0_and_v_models_convert_to_eps_on_the_device(prediction):
    spec = unet_spec(prediction=prediction)
    model = spec.build().to(META)
    out = model(torch.zeros(2, 1, 8, 8, device=META), torch.tensor([0, 5], device=META), None)
    assert out.device == META


def test_a_recording_comes_back_to_the_cpu_for_pictures():
    """The recorder keeps its frames on the CPU (pictures are made there), whatever device the model runs on."""
    spec = unet_spec()
    model = spec.build().eval()
    events = list(record_steps(model, make_schedule(spec.schedule, spec.num_steps), torch.randn(2, 1, 8, 8),
                               sampler="ddim", num_steps=3))
    trajectory = events[-1].trajectory
    assert [e.i for e in events] == [1, 2, 3] and all(e.trajectory is None for e in events[:-1])
    assert trajectory.x_t.device.type == "cpu" and trajectory.x_t.dtype == torch.float16 and len(trajectory) == 4


@pytest.mark.parametrize("latent", [False, True])
def test_text_to_image_sampling_with_a_negative_prompt_and_inpainting_stays_on_the_device(latent):
    spec = tiny_text_spec(latent)
    model = spec.build().to(META).eval()
    ids = spec.tokenizer.ids(["a red circle", "a blue square"]).to(META)
    known = torch.zeros(2, *spec.sample_shape, device=META)
    mask = torch.ones(1, 1, *spec.sample_shape[1:], device=META)
    steps = list(denoise_steps(model, make_schedule(spec.schedule, spec.num_steps), torch.randn(2, *spec.sample_shape).to(META),
                               "ddim", 3, y=ids, guidance=ClassifierFree(3.0, null=spec.tokenizer.ids(["red", "red"]).to(META)),
                               start=10, inpaint=(known, mask)))
    assert len(steps) == 3 and steps[-1].x_t.device == META and model.decode(steps[-1].x_t).shape == (2, 3, 32, 32)


def tiny_family_specs():
    return {
        "ddpm": unet_spec(),
        "ddpm-learned": unet_spec(learn_variance=True),
        "ddpm-points": DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=16, num_layers=2, num_classes=2),
                                     num_steps=20, batch_size=8, ema_decay=0.9),
        "autoencoder": AutoencoderSpec(kind="vae", latent_dim=3, image_size=8, width=4, hidden=8, dataset="digits",
                                       batch_size=8),
        "dae": AutoencoderSpec(kind="dae", latent_dim=3, image_size=8, width=4, hidden=8, dataset="digits",
                               batch_size=8, noise_std=0.5, mask_prob=0.3),
        "gan": gan.GANSpec(network="dcgan", image_size=8, width=8, latent_dim=4, batch_size=8, loss="wgan-gp"),
        "gan-points": gan.GANSpec(network="mlp", hidden=16, layers=2, batch_size=8, loss="hinge", spectral_norm=True),
        "classifier": ClassifierSpec(in_channels=1, image_size=8, width=8, feature_dim=16, batch_size=8),
        "noisy-classifier": NoisyClassifierSpec(network="cnn", width=8, num_steps=20, batch_size=8),
        # restarts pick dead codes with nonzero(), which has no meta kernel (data-dependent shape); tested on the CPU
        "vq": vq.VQSpec(codebook_size=8, code_dim=4, width=4, image_size=8, downsample=2, dataset="digits", batch_size=8,
                        restart=False),
        "dvae": vq.VQSpec(quantizer="gumbel", codebook_size=8, code_dim=4, width=4, image_size=8, downsample=2,
                          dataset="digits", batch_size=8),
        "token-prior": TokenPriorSpec(codebook_size=8, grid=4, d_model=16, layers=1, heads=2, batch_size=8),
        "clip": clip.CLIPSpec(width=4, image_features=8, d_model=8, layers=1, heads=2, embed_dim=4, batch_size=8),
        "kl-autoencoder": KLAutoencoderSpec(image_size=8, in_channels=1, downsample=2, width=4, dataset="digits",
                                            batch_size=8),
        "text-diffusion": tiny_text_spec(latent=False),
        "text-diffusion-latent": tiny_text_spec(latent=True),
        "dalle": tiny_dalle(),
        **{f"unclip-{stage}": tiny_unclip(stage) for stage in ("prior", "decoder", "upsampler")},
        "realnvp": RealNVPSpec(num_layers=2, hidden_dim=8, batch_size=8),
        "flow-matching": tiny_flow_matching(),
        "flow-matching-points": FlowMatchingSpec(network="mlp", mlp=MLPConfig(hidden_dim=16, num_layers=2), batch_size=8,
                                                 label_dropout=0.0),
    }


def tiny_flow_matching() -> FlowMatchingSpec:
    return FlowMatchingSpec(network="unet", batch_size=4, unet=UNetConfig(image_size=8, base_channels=8, num_res_blocks=1,
                                                                          channel_mults=(1, 2), num_classes=10))


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_flow_sampling_with_guidance_stays_on_the_device(solver):
    spec = tiny_flow_matching()
    model = spec.build().to(META).eval()
    steps = list(flow_steps(model, torch.randn(3, 1, 8, 8).to(META), solver, 3, y=torch.tensor([1, 2, 3]).to(META),
                            guidance=ClassifierFree(2.0, null=spec.null_condition(3, META))))
    assert len(steps) == 3
    for step in steps:
        for tensor in (step.x_t, step.eps, step.x0, step.eps_cond, step.eps_uncond):
            assert tensor.device == META


def tiny_text_spec(latent: bool) -> TextDiffusionSpec:
    """A text-to-image spec with a random tiny text encoder (and first stage), nothing loaded from checkpoints."""
    return tiny_spec(latent)


@pytest.mark.parametrize("name", list(tiny_family_specs()))
def test_every_family_trains_on_the_chosen_device(name, monkeypatch):
    """Two steps of the one training loop with device="meta": batches, noise, timesteps and losses all on meta."""
    spec = tiny_family_specs()[name]
    if spec.family == "token-prior":
        ds = data.Dataset("tokens", torch.randint(0, 8, (32, 4, 4)), torch.randint(0, 10, (32,)), [str(k) for k in range(10)], "test")
    elif spec.family == "clip":
        ds = clip.training_set(data.load("scenes", n=32), spec)
    elif spec.family == "text-diffusion":
        stage = spec.build().first_stage
        ds = text.training_set(data.load("scenes", n=32), spec, stage)
    elif spec.family == "dalle":
        ds = dalle.training_set(small_scenes(32), spec, tiny_tokenizer())
    elif spec.family == "unclip":
        ds = unclip.training_set(data.load("scenes", n=32), spec, CLIP.build().eval())
    elif spec.sample_shape == (2,):
        ds = data.load("moons", n=32)
    else:
        ds = data.load("digits", n=32)
    # meta tensors have no values: reading one as a number gives 0, and bincount (no meta kernel) gives zeros there
    item, as_float, bincount = torch.Tensor.item, torch.Tensor.__float__, torch.bincount
    monkeypatch.setattr(torch.Tensor, "item", lambda self: 0.0 if self.is_meta else item(self))
    monkeypatch.setattr(torch.Tensor, "__float__", lambda self: 0.0 if self.is_meta else as_float(self))
    monkeypatch.setattr(torch, "bincount", lambda x, weights=None, minlength=0: torch.zeros(
        minlength, dtype=torch.long, device=x.device) if x.is_meta else bincount(x, weights, minlength))
    events = list(train_steps(spec, ds, 2, device="meta"))
    assert all(p.device == META for p in events[-1].model.parameters())
    assert events[-1].step == 2


def test_every_registered_family_is_covered_above():
    assert {spec.family for spec in tiny_family_specs().values()} == set(FAMILIES)
