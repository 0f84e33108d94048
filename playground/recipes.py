"""The recipe of every shipped checkpoint: `python -m playground train NAME` reproduces it."""
from __future__ import annotations

from dataclasses import dataclass, replace

from .autoencoders import AutoencoderSpec
from .clip import CLIPSpec
from .dalle import DalleSpec
from .data import TOY2D
from .diffusion.ddpm import DiffusionSpec
from .diffusion.classifier import NoisyClassifierSpec
from .diffusion.text import TextDiffusionSpec
from .flows import REFLOW_TOYS, FlowMatchingSpec, RealNVPSpec
from .gan import GANSpec
from .unclip import UnCLIPSpec
from .latent import KLAutoencoderSpec
from .metrics import ClassifierSpec
from .nn import MLPConfig, UNetConfig
from .prior import TokenPriorSpec
from .vq import VQSpec


@dataclass
class Recipe:
    spec: object  # a family spec (DiffusionSpec, ClassifierSpec)
    dataset: str  # playground.data name
    steps: int  # training steps
    summary: str  # one line for `list`
    seed: int = 0  # training seed
    n: int | None = None  # dataset size (toy 2D sets are drawn with this many points)


def _toy(name: str, schedule: str) -> Recipe:
    spec = DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=128, num_layers=4, input_features=32),
                         schedule=schedule, num_steps=1000, batch_size=256, lr=1e-3, ema_decay=0.999,
                         label_dropout=0.0)
    return Recipe(spec, name, steps=12000, n=8192, summary=f"2D MLP denoiser, {name}, {schedule} schedule, T=1000")


def _learned_variance(recipe: Recipe, what: str) -> Recipe:
    """Improved DDPM (Nichol & Dhariwal 2021): the cosine recipe with a learned variance and L_hybrid; everything
    else (network, batch, steps) as the fixed-variance model it is compared with."""
    return Recipe(replace(recipe.spec, learn_variance=True), recipe.dataset, steps=recipe.steps, n=recipe.n,
                  summary=f"{what}, learned variance Σ_θ trained with L_hybrid (λ = 0.001), cosine schedule, T=1000")


def _toy_conditional(name: str, num_classes: int) -> Recipe:
    spec = DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=128, num_layers=4, input_features=32, num_classes=num_classes),
                         schedule="cosine", num_steps=1000, batch_size=256, lr=1e-3, ema_decay=0.999, label_dropout=0.2)
    return Recipe(spec, name, steps=12000, n=8192,
                  summary=f"class-conditional 2D MLP denoiser (label dropout 20%), {name}, cosine schedule, T=1000")


def _toy_noisy_classifier(name: str, num_classes: int) -> Recipe:
    spec = NoisyClassifierSpec(network="mlp", num_classes=num_classes, mlp=MLPConfig(hidden_dim=128, num_layers=3, input_features=16),
                               schedule="cosine", num_steps=1000, batch_size=256, lr=1e-3)
    return Recipe(spec, name, steps=4000, n=8192, summary=f"noise-aware classifier p(y | x_t, t), {name}, cosine schedule")


def _fashion_simple(schedule: str) -> Recipe:
    """ε-prediction with L_simple (Ho et al. 2020) at a constant learning rate for 4,000 batches of 64: the recipe
    that the improved-DDPM model and the Fashion flow-matching model share (`ddpm-fashion-simple` is its cosine
    model, their baseline)."""
    spec = DiffusionSpec(network="unet", unet=UNetConfig(base_channels=24, num_res_blocks=1, num_classes=10),
                         schedule=schedule, num_steps=1000, batch_size=64, lr=5e-4, ema_decay=0.999,
                         label_dropout=0.15)
    return Recipe(spec, "fashion", steps=4000,
                  summary=f"class-conditional UNet (label dropout 15%), ε-prediction and L_simple, 4,000 steps, "
                          f"Fashion-MNIST, {schedule} schedule, T=1000")


def _fashion(schedule: str) -> Recipe:
    """The shipped Fashion DDPMs: the same UNet and batch as `_fashion_simple`, trained longer with v-prediction
    (Salimans & Ho 2022), min-SNR-5 weighting (Hang et al. 2023), and a learning-rate warm-up and cosine decay.
    Both schedules get exactly this recipe."""
    simple = _fashion_simple(schedule)
    spec = replace(simple.spec, prediction="v", min_snr_gamma=5.0, lr_warmup=250, lr_decay="cosine")
    return Recipe(spec, "fashion", steps=7000,
                  summary=f"class-conditional UNet (label dropout 15%), v-prediction, min-SNR-5, LR warm-up + cosine "
                          f"decay, 7,000 steps, Fashion-MNIST, {schedule} schedule, T=1000")


def _autoencoder(kind: str, latent_dim: int, what: str, steps: int = 4000, **spec) -> Recipe:
    return Recipe(AutoencoderSpec(kind=kind, latent_dim=latent_dim, **spec), "fashion", steps=steps,
                  summary=f"{what}, {latent_dim}-D latent, Fashion-MNIST")


AUTOENCODERS = {
    "ae-fashion": _autoencoder("ae", 16, "autoencoder"),
    "dae-fashion": _autoencoder("dae", 16, "denoising autoencoder (noise σ ≤ 0.8, up to 50% of pixels masked)",
                                noise_std=0.8, mask_prob=0.5),
    "vae-fashion": _autoencoder("vae", 16, "VAE, β = 1", beta=1.0),
    "vae-fashion-lowbeta": _autoencoder("vae", 16, "VAE, β = 0.1", beta=0.1),
    "ae2-fashion": _autoencoder("ae", 2, "autoencoder", steps=3000),
    "vae2-fashion": _autoencoder("vae", 2, "VAE, β = 1", steps=3000, beta=1.0),
}

def _vq(what: str, steps: int = 3000, **spec) -> Recipe:
    spec = VQSpec(width=16, **spec)
    return Recipe(spec, "fashion", steps=steps, summary=f"{what}, K = {spec.codebook_size} codes of D = {spec.code_dim}, "
                                                       f"{spec.grid}×{spec.grid} tokens, Fashion-MNIST")


VQS = {
    "vq-fashion": _vq("VQ-VAE, EMA codebook + dead-code restarts", codebook_size=64),
    "vq-k16-fashion": _vq("VQ-VAE, EMA codebook + dead-code restarts", codebook_size=16),
    "vq-k512-fashion": _vq("VQ-VAE, EMA codebook + dead-code restarts", codebook_size=512),
    "vq-k512-plain-fashion": _vq("VQ-VAE, plain codebook loss, no restarts", codebook_size=512, ema=False, restart=False),
    "dvae-fashion": _vq("dVAE, Gumbel-softmax relaxation (τ 1 → 0.1)", quantizer="gumbel", codebook_size=64),
}
VQS["vq-scenes"] = Recipe(VQSpec(in_channels=3, image_size=32, codebook_size=512, width=48, dataset="scenes", batch_size=64),
                          "scenes", steps=5000, n=16384,
                          summary="DALL·E 1's tokenizer in miniature: VQ-VAE, EMA codebook + dead-code restarts, "
                                  "K = 512 codes of D = 16, 32×32×3 scenes → 8×8 tokens")

GUIDED_TOYS = {"ring8": 8, "moons": 2}  # labelled toy sets with guidance models (name: classes)
LEARNED_VARIANCE = ("moons", "ring8", "fashion")  # sets with an improved-DDPM model, ddpm-NAME-learned
# each learned-variance model's L_simple baseline: the same recipe with a fixed variance and ε-prediction
LEARNED_BASELINES = {f"ddpm-{name}-learned": f"ddpm-{name}-cosine" for name in LEARNED_VARIANCE} \
    | {"ddpm-fashion-learned": "ddpm-fashion-simple"}

RECIPES: dict[str, Recipe] = {
    **{f"ddpm-{name}-{schedule}": _toy(name, schedule) for name in TOY2D for schedule in ("linear", "cosine")},
    **{f"ddpm-fashion-{schedule}": _fashion(schedule) for schedule in ("linear", "cosine")},
    **{f"ddpm-{name}-learned": _learned_variance(_toy(name, "cosine"), f"2D MLP denoiser, {name}")
       for name in LEARNED_VARIANCE if name != "fashion"},
    "ddpm-fashion-simple": _fashion_simple("cosine"),
    "ddpm-fashion-learned": _learned_variance(_fashion_simple("cosine"), "class-conditional UNet (label dropout 15%), "
                                                                  "Fashion-MNIST"),
    **{f"ddpm-{name}-cond": _toy_conditional(name, k) for name, k in GUIDED_TOYS.items()},
    **{f"noisy-classifier-{name}": _toy_noisy_classifier(name, k) for name, k in GUIDED_TOYS.items()},
    "noisy-classifier-fashion": Recipe(NoisyClassifierSpec(network="cnn", width=32, schedule="cosine", batch_size=128, lr=1e-3),
                                       "fashion", steps=3000,
                                       summary="noise-aware classifier p(y | x_t, t), Fashion-MNIST, cosine schedule"),
    **AUTOENCODERS,
    "gan-fashion": Recipe(GANSpec(network="dcgan", loss="nonsaturating", latent_dim=32, width=32, batch_size=64,
                                  lr=2e-4, d_lr=2e-4, adam_beta1=0.5), "fashion", steps=3000,
                          summary="DCGAN with a patch discriminator, non-saturating loss, Fashion-MNIST"),
    **VQS,
    "prior-fashion": Recipe(TokenPriorSpec(vq="vq-fashion", codebook_size=64, grid=7), "fashion", steps=4000,
                            summary="causal transformer prior over vq-fashion's 7×7 tokens, class token first "
                                    "(10% “any class”)"),
    "classifier-fashion": Recipe(ClassifierSpec(), "fashion", steps=1500,
                                 summary="metric classifier / feature net on real Fashion-MNIST"),
    "clip-scenes": Recipe(CLIPSpec(batch_size=128, lr=1e-3), "scenes", steps=3000, n=16384,
                          summary="mini-CLIP: CNN image encoder + causal transformer text encoder, symmetric InfoNCE, "
                                  "captioned scenes (4 colour–shape pairs held out)"),
    "kl-scenes": Recipe(KLAutoencoderSpec(width=16), "scenes", steps=3000, n=16384,
                        summary="latent diffusion's first stage: KL-regularised autoencoder, 32×32×3 scenes → 8×8×4 "
                                "latent (f = 4)"),
}


def _text_to_image(latent: bool) -> Recipe:
    """The miniature Stable Diffusion (latent) and the same parts on pixels, for the comparison: the same text
    encoder, schedule and caption dropout, cross-attention at the same 8×8 and 4×4 resolutions (the pixel UNet
    needs two more levels to reach them). The pixel UNet is narrower (base 32 against 64, one ResBlock per level
    against two, batch 64 against 128) and trains 1,500 steps against 4,000: at ldm-scenes' width and steps a
    pixel model costs about 10× more than this CPU can give it, so it gets about the same CPU time instead. Even
    so it costs more per sample (`python -m playground bench`)."""
    clip, stage = RECIPES["clip-scenes"].spec, RECIPES["kl-scenes"].spec
    if latent:
        unet = UNetConfig(image_size=8, in_channels=4, base_channels=64, channel_mults=(1, 2), num_res_blocks=2,
                          num_heads=4, context_dim=clip.d_model, cross_attention_max_size=8)
        spec = TextDiffusionSpec(unet=unet, clip=clip.to_dict(), first_stage=stage.to_dict(), first_stage_from="kl-scenes")
        what = "latent diffusion: text-conditional UNet over kl-scenes' 8×8×4 latents"
    else:
        unet = UNetConfig(image_size=32, in_channels=3, base_channels=32, channel_mults=(1, 2, 2, 2), num_res_blocks=1,
                          num_heads=4, context_dim=clip.d_model, cross_attention_max_size=8)
        spec = TextDiffusionSpec(unet=unet, clip=clip.to_dict(), first_stage=None, first_stage_from=None, batch_size=64)
        what = ("pixel-space text-conditional UNet on 32×32×3 scenes, half ldm-scenes' width, one block per level, half "
                "its batch and 1,500 steps (about the CPU time ldm-scenes took; the comparison for ldm-scenes)")
    return Recipe(spec, "scenes", steps=4000 if latent else 1500, n=32768,
                  summary=f"{what}, cross-attention to clip-scenes' frozen text encoder, caption dropout 10%, "
                          "cosine schedule, T=1000")


RECIPES["dalle-scenes"] = Recipe(
    DalleSpec(vq="vq-scenes", codebook_size=512, grid=8, clip=RECIPES["clip-scenes"].spec.to_dict(), batch_size=64),
    "scenes", steps=5000, n=32768, summary="DALL·E 1 in miniature: one causal transformer over 16 text tokens then vq-scenes' "
                                 "8×8 image tokens, text loss weighted 1/8")


def _unclip(stage: str, what: str, steps: int, augmentation: float = 0.0, **spec) -> Recipe:
    """A stage of the miniature DALL·E 2, on clip-scenes' embeddings. The prior is an MLP over 64 numbers; the
    decoder a 16×16 UNet (cross-attention at 8×8 and 4×4 to z_i's 4 tokens); the upsampler a 32×32 UNet."""
    clip = RECIPES["clip-scenes"].spec
    unet = {"prior": None,
            "decoder": UNetConfig(image_size=16, in_channels=3, base_channels=48, channel_mults=(1, 2, 2),
                                  num_res_blocks=1, num_heads=4, context_dim=clip.embed_dim, cross_attention_max_size=8),
            "upsampler": UNetConfig(image_size=32, in_channels=3 + 4, out_channels=3, base_channels=16,
                                    channel_mults=(1, 2, 2), num_res_blocks=1, num_heads=4)}[stage]
    return Recipe(UnCLIPSpec(stage=stage, clip=clip.to_dict(), unet=unet, augmentation=augmentation, **spec), "scenes",
                  steps=steps, n=32768, summary=f"DALL·E 2 (unCLIP) in miniature: {what}, clip-scenes' embeddings, "
                                                "cosine schedule, T=1000")


RECIPES["unclip-prior"] = _unclip("prior", "diffusion prior, text embedding → image embedding (residual MLP, "
                                            "predicts the clean embedding; text dropped 10%)", steps=6000,
                                  batch_size=256, lr=1e-3)
RECIPES["unclip-decoder"] = _unclip("decoder", "decoder, image embedding → 16×16 image (embedding dropped 10% for "
                                               "CFG)", steps=4000, batch_size=64)
RECIPES["unclip-upsampler"] = _unclip("upsampler", "upsampler 16×16 → 32×32, low-res input noised to a random level "
                                                   "up to 0.3 T in training", steps=2500, batch_size=64,
                                      augmentation=0.3)
RECIPES["unclip-upsampler-noaug"] = _unclip("upsampler", "upsampler 16×16 → 32×32 without noise augmentation (the "
                                                         "comparison)", steps=2500, batch_size=64)
RECIPES["ldm-scenes"] = _text_to_image(latent=True)
RECIPES["pixel-scenes"] = _text_to_image(latent=False)


FLOW_TOYS = ("moons", "ring8", "checkerboard", "spirals")  # toy sets with a shipped RealNVP and flow-matching model


def _realnvp(name: str) -> Recipe:
    """12 layers and 16,000 steps: with 8 layers and 8,000 the ring of 8 Gaussians kept KL(data ‖ flow) at 0.53 nats
    (0.18 with these)."""
    return Recipe(RealNVPSpec(num_layers=12, hidden_dim=128, hidden_layers=2, batch_size=256, lr=1e-3), name,
                  steps=16000, n=8192,
                  summary=f"RealNVP, 12 affine coupling layers with ActNorm, exact maximum likelihood, {name}")


def _flow_matching_toy(name: str) -> Recipe:
    """The same MLP, batch, learning rate and steps as the toy DDPMs (`_toy`), so that the comparison with DDIM is
    between the objectives alone."""
    toy = _toy(name, "cosine")
    spec = FlowMatchingSpec(network="mlp", mlp=toy.spec.mlp, batch_size=toy.spec.batch_size, lr=toy.spec.lr,
                            ema_decay=toy.spec.ema_decay, label_dropout=0.0)
    return Recipe(spec, name, steps=toy.steps, n=toy.n,
                  summary=f"2D MLP velocity field, conditional flow matching on straight paths, {name}")


def _flow_matching_fashion() -> Recipe:
    """The same UNet, batch, learning rate, label dropout and steps as `ddpm-fashion-simple` (`_fashion_simple`)."""
    ddpm = _fashion_simple("cosine")
    spec = FlowMatchingSpec(network="unet", unet=ddpm.spec.unet, batch_size=ddpm.spec.batch_size, lr=ddpm.spec.lr,
                            ema_decay=ddpm.spec.ema_decay, label_dropout=ddpm.spec.label_dropout)
    return Recipe(spec, "fashion", steps=ddpm.steps,
                  summary="class-conditional UNet velocity field (label dropout 15%), flow matching on straight paths, "
                          "Fashion-MNIST; the Fashion DDPMs' network and recipe")


RECIPES.update({f"realnvp-{name}": _realnvp(name) for name in FLOW_TOYS})
RECIPES.update({f"fm-{name}": _flow_matching_toy(name) for name in FLOW_TOYS})
for _name in REFLOW_TOYS:  # one round of reflow: the same MLP and steps, on 8,192 pairs from fm-NAME's Heun-50 ODE
    _teacher = RECIPES[f"fm-{_name}"]
    RECIPES[f"fm-{_name}-reflow"] = Recipe(replace(_teacher.spec, reflow_from=f"fm-{_name}"), _name, steps=_teacher.steps,
                                           n=_teacher.n, summary=f"2D MLP velocity field, flow matching reflowed once "
                                                                 f"on 8,192 (sample, noise) pairs of fm-{_name}, {_name}")
RECIPES["fm-fashion"] = _flow_matching_fashion()


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"no recipe {name!r}; recipes: {', '.join(RECIPES)}")
    return RECIPES[name]
