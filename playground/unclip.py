"""DALL·E 2 in miniature (Ramesh et al. 2022, "Hierarchical Text-Conditional Image Generation with CLIP
Latents", called unCLIP): three diffusion models around a frozen CLIP (mini-CLIP, `clip-scenes`).

1. The prior maps a CLIP text embedding z_t to a CLIP image embedding z_i. It is a diffusion model over the
   64-number embedding, whose network predicts the clean z_i directly (§2.1; here a residual MLP, where unCLIP
   used a transformer). The baseline it beats uses z_t itself as z_i.
2. The decoder is a diffusion model making a 16×16 image from z_i: z_i is added to the time embedding and
   projected into 4 extra tokens the UNet cross-attends to (§2.1). z_i is dropped (set to 0) for 10 % of the
   training examples, so classifier-free guidance works.
3. The upsampler makes 32×32 from 16×16: a diffusion model of the residual x − bilinear(low), reading the
   low-resolution image next to its noisy input. In
   training the low-resolution image is first noised to a random level (Gaussian noise augmentation, unCLIP §2.1
   and Imagen §2.5), so that it learns to cope with the decoder's mistakes; `unclip-upsampler-noaug` is the same
   without it, for the comparison.

Because the decoder inverts CLIP's image encoder, an image's embedding decodes to variations of it, and a path
between two images' embeddings (slerp) decodes to a path between the images.

    >>> p, d, u = (checkpoints.load(n) for n in ("unclip-prior", "unclip-decoder", "unclip-upsampler"))
    >>> c = checkpoints.load("clip-scenes")
    >>> z_t = unclip.text_embeddings(c, ["a small red circle at the top left"] * 4)
    >>> z_i = unclip.prior_embeddings(p, z_t, seed=0)            # (4, 64), unit length
    >>> low = unclip.decode(d, z_i, seed=0, scale=3.0)             # (4, 3, 16, 16)
    >>> images = unclip.upsample(u, low, seed=0)                   # (4, 3, 32, 32)
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .clip.model import CLIPSpec
from .data import Dataset, SceneDataset
from .diffusion.ddpm import EpsModel, simple_loss
from .diffusion.samplers import ClassifierFree, DynamicThreshold, denoise_steps
from .diffusion.schedules import make_schedule
from .nn import UNet, UNetConfig, sinusoidal_embedding

STAGES = ("prior", "decoder", "upsampler")
CONTEXT_TOKENS = 4  # z_i becomes this many extra tokens of context for the decoder's cross-attention (unCLIP §2.1)
MAX_STEPS = 250  # DDIM steps a request may ask of one stage
MAX_IMAGES = 16


@dataclass
class UnCLIPSpec:
    """One stage of unCLIP: its network, and how it is trained (saved in its checkpoint card)."""

    stage: str = "decoder"  # "prior", "decoder" or "upsampler"
    clip: dict = field(default_factory=lambda: CLIPSpec().to_dict())  # the CLIP whose embeddings it reads or makes
    clip_from: str | None = "clip-scenes"  # that CLIP's checkpoint (its embeddings are the training data)
    unet: UNetConfig | None = field(default_factory=lambda: UNetConfig(image_size=16, in_channels=3, context_dim=64,
                                                                      cross_attention_max_size=8))
    # the decoder's or upsampler's network (None for the prior)
    prior_width: int = 256  # the prior's residual MLP: width ...
    prior_layers: int = 4  # ... and blocks
    schedule: str = "cosine"
    num_steps: int = 1000  # T
    condition_dropout: float = 0.1  # prior: z_t, decoder: z_i, replaced by 0 for this share of examples (CFG)
    augmentation: float = 0.0  # upsampler: the low-res input is noised to a level drawn from [0, this) of T
    batch_size: int = 128
    lr: float = 5e-4
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    family: str = "unclip"

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if isinstance(self.unet, dict):
            self.unet = UNetConfig(**{**self.unet, "channel_mults": tuple(self.unet["channel_mults"])})
        if (self.unet is None) != (self.stage == "prior"):
            raise ValueError("the decoder and the upsampler need a UNet config; the prior takes none")
        if self.stage == "decoder" and self.unet.context_dim != self.embed_dim:
            raise ValueError(f"the decoder's context_dim must be CLIP's embed_dim ({self.embed_dim})")
        if not 0 <= self.condition_dropout < 1 or not 0 <= self.augmentation < 1:
            raise ValueError("condition_dropout and augmentation must be in [0, 1)")
        make_schedule(self.schedule, self.num_steps)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def embed_dim(self) -> int:
        return self.clip["embed_dim"]

    @property
    def prediction(self) -> str:
        """The prior predicts the clean embedding ("we found it better to predict the unnoised z_i directly",
        §2.1); the decoder and upsampler predict ε."""
        return "x0" if self.stage == "prior" else "eps"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        if self.stage == "prior":
            return (self.embed_dim,)
        return (3, self.unet.image_size, self.unet.image_size)

    def null_condition(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor | None:
        """What condition dropout trained: a zero embedding (prior, decoder); the upsampler has none."""
        return None if self.stage == "upsampler" else torch.zeros(n, self.embed_dim, device=device)

    def build(self) -> nn.Module:
        net = {"prior": PriorNet, "decoder": EmbeddingDecoder, "upsampler": Upsampler}[self.stage](self)
        return EpsModel(net, self) if self.prediction != "eps" else net

    def loss(self, model, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        """x, y as `training_set` makes them for the stage."""
        n, device = len(x), x.device
        if self.stage == "prior":  # one caption template per example
            pick = torch.randint(0, y.shape[1], (n,), generator=generator).to(device)
            y = y[torch.arange(n, device=device), pick]
        if self.stage == "upsampler":  # it diffuses the residual the bilinear upsample misses (see `Upsampler`)
            x = (x - bilinear(y, x.shape[-1])) * RESIDUAL_SCALE
            levels = torch.rand(n, generator=generator).to(device) * self.augmentation
            y = augment(y, levels, make_schedule(self.schedule, self.num_steps), generator)
        else:
            drop = torch.rand(n, generator=generator).to(device) < self.condition_dropout
            y = torch.where(drop[:, None], torch.zeros_like(y), y)
        net = model.net if isinstance(model, EpsModel) else model
        # the prior: L = E ‖z_i − f_θ(z_i^(t), t, z_t)‖²   (unCLIP §2.1); the others: L_simple (Ho et al. 2020)
        loss = simple_loss(net, make_schedule(self.schedule, self.num_steps), x, y, generator, self.prediction)
        return loss, {"loss": loss.item()}


class PriorNet(nn.Module):
    """f_θ(z_i^(t), t, z_t) → ẑ_i: a residual MLP over [noisy image embedding, text embedding], the time
    embedding added in every block."""

    def __init__(self, spec: UnCLIPSpec):
        super().__init__()
        d, w = spec.embed_dim, spec.prior_width
        self.width = w
        self.time = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.inp = nn.Linear(2 * d, w)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(w), nn.Linear(w, 2 * w), nn.SiLU(), nn.Linear(2 * w, w))
                                    for _ in range(spec.prior_layers))
        self.out = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, d))
        self.null_class = None

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = torch.zeros_like(x_t) if y is None else y
        emb = self.time(sinusoidal_embedding(t, self.width))
        h = self.inp(torch.cat([x_t, y], -1))
        for block in self.blocks:
            h = h + block(h + emb)
        return self.out(h)


class EmbeddingDecoder(nn.Module):
    """ε̂(x_t, t, z_i): a UNet with z_i added to its time embedding and projected into 4 tokens of context."""

    def __init__(self, spec: UnCLIPSpec):
        super().__init__()
        self.tokens = nn.Linear(spec.embed_dim, CONTEXT_TOKENS * spec.embed_dim)
        self.unet = UNet(spec.unet)
        self.null_class = None

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = torch.zeros(len(x_t), self.tokens.in_features, device=x_t.device) if y is None else y
        tokens = rearrange(self.tokens(y), "b (k d) -> b k d", k=CONTEXT_TOKENS)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=y.device)
        return self.unet(x_t, t, (tokens, mask, y))


class Upsampler(nn.Module):
    """ε̂(r_t, t, low): a UNet reading the noisy residual r_t next to the (noised) low-resolution image, upsampled
    bilinearly, and a plane holding the noise level it was given. y: `augment`'s (B, 4, h, w).

    It diffuses the residual r = x − bilinear(low), what bilinear upsampling misses (edges), rather than x itself,
    as SRDiff does (Li et al. 2022), scaled to about unit variance (`RESIDUAL_SCALE`). (Trained on x itself, this
    model ignored its input at t > 0.9 T, ε error the same with shuffled inputs, and its samples drifted to 9 dB
    PSNR; on the unscaled residual, std 0.085, to 13 dB.)"""

    def __init__(self, spec: UnCLIPSpec):
        super().__init__()
        self.unet = UNet(spec.unet)
        self.null_class = None

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise ValueError("the upsampler needs its low-resolution image: y = unclip.augment(low, level)")
        return self.unet(torch.cat([x_t, bilinear(y, x_t.shape[-1])], 1), t)


def augment(low: torch.Tensor, levels, schedule, generator: torch.Generator | None = None) -> torch.Tensor:
    """The upsampler's condition: the low-res image noised by the forward process to t = level · T (level 0: as
    it is), x_s = √ᾱ_s x + √(1 − ᾱ_s) ε, with a plane holding the level. levels: a number or one per image."""
    levels = torch.as_tensor(levels, dtype=torch.float32)
    if not levels.is_meta and not ((levels >= 0).all() and (levels < 1).all()):  # meta tensors have no values
        raise ValueError("the noise level must be in [0, 1)")
    levels = levels.to(low.device).expand(len(low))
    t = (levels * schedule.num_steps).long().clamp(max=schedule.num_steps - 1)
    noise = torch.randn(low.shape, generator=generator).to(low.device)
    noised = torch.where((levels > 0)[:, None, None, None], schedule.q_sample(low, t, noise), low)
    return torch.cat([noised, levels[:, None, None, None].expand(-1, 1, *low.shape[-2:])], 1)


def downsample(images: torch.Tensor) -> torch.Tensor:
    """32×32 → 16×16 by averaging each 2×2 block: what the decoder learns to make."""
    return F.avg_pool2d(images, 2)


@torch.no_grad()
def training_set(scenes: SceneDataset, spec: UnCLIPSpec, clip_model) -> Dataset:
    """Per stage — prior: x the image embeddings z_i · √d (unit variance per number), y the text embeddings of
    every caption template (N, K, d); decoder: x the 16×16 images, y z_i (N, d); upsampler: x the 32×32 images,
    y the 16×16 ones. Embeddings are made once, here, by `clip_model` (a MiniCLIP)."""
    from .clip import encode_images, encode_texts
    if not isinstance(scenes, SceneDataset) or not scenes.all_captions:
        raise ValueError("unCLIP trains on captioned scenes: pass data.load('scenes', 'train')")
    source = scenes.source
    if spec.stage == "upsampler":
        return Dataset(scenes.name, scenes.x, downsample(scenes.x), scenes.class_names, f"{source}, 32×32 from 16×16",
                       scenes.captions)
    z_i = torch.cat([encode_images(clip_model, x) for x in scenes.x.split(8192)])
    if spec.stage == "decoder":
        return Dataset(scenes.name, downsample(scenes.x), z_i, scenes.class_names,
                       f"{source}, 16×16 from CLIP image embeddings", scenes.captions)
    k = len(scenes.all_captions[0])
    texts = [c for group in scenes.all_captions for c in group]
    z_t = torch.cat([encode_texts(clip_model, texts[i:i + 8192]) for i in range(0, len(texts), 8192)]).view(len(scenes), k, -1)
    return Dataset(scenes.name, z_i * math.sqrt(spec.embed_dim), z_t, scenes.class_names,
                   f"{source}, CLIP text → image embeddings", scenes.captions)


# ---- sampling each stage ---------------------------------------------------------------------------------------


def check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, float)) or steps != int(steps) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    return int(steps)


def check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level < 1:
        raise ValueError(f"the noise level must be a number in [0, 1), got {level!r}")
    return float(level)


def _stage(m, stage: str):
    if m.family != "unclip" or m.spec.stage != stage:
        raise ValueError(f"{m.name} is not an unCLIP {stage}")


def _noise(m, n: int, seed: int) -> torch.Tensor:
    return torch.randn((n, *m.sample_shape), generator=torch.Generator().manual_seed(seed)).to(m.device)


def text_embeddings(clip_m, prompts) -> torch.Tensor:
    """z_t (N, d): CLIP's unit-length text embeddings of checked prompts (unknown words refused)."""
    from .clip import encode_texts
    from .clip.text import check_texts
    return encode_texts(clip_m.model, check_texts(prompts, hi=MAX_IMAGES * 4, what="prompts", item="prompt"),
                        strict=True)


def image_embeddings(clip_m, images: torch.Tensor) -> torch.Tensor:
    """z_i (N, d): CLIP's unit-length image embeddings of 32×32 images."""
    from .clip import encode_images
    return encode_images(clip_m.model, images)


def _run(m, x_T, y, steps, scale, clip_x0) -> Iterator:
    guidance = ClassifierFree(scale, null=m.null_condition(len(x_T))) if scale != 1 else None
    return denoise_steps(m.model, m.schedule, x_T, "ddim", check_steps(steps), 0.0, y, guidance, clip_x0=clip_x0)


@torch.no_grad()
def prior_embeddings(m, z_t: torch.Tensor, seed: int = 0, steps: int = 50, scale: float = 1.0) -> torch.Tensor:
    """Sample ẑ_i from the prior for text embeddings z_t (N, d): DDIM, then scaled back to unit length."""
    _stage(m, "prior")
    step = None
    for step in _run(m, _noise(m, len(z_t), seed), z_t.to(m.device), steps, scale, False):
        pass
    return F.normalize(step.x_t, dim=-1).cpu()


def decode_steps(m, z_i: torch.Tensor, seed: int = 0, steps: int = 50, scale: float = 3.0) -> Iterator:
    """The decoder's DDIM steps (the sampler's `Step`s) from image embeddings z_i (N, d), with guidance scale w."""
    _stage(m, "decoder")
    return _run(m, _noise(m, len(z_i), seed), z_i.to(m.device), steps, scale, True)


@torch.no_grad()
def decode(m, z_i: torch.Tensor, seed: int = 0, steps: int = 50, scale: float = 3.0) -> torch.Tensor:
    """16×16 images (N, 3, 16, 16) on the CPU from image embeddings."""
    step = None
    for step in decode_steps(m, z_i, seed, steps, scale):
        pass
    return step.x_t.clamp(-1, 1).cpu()


# The residual x − bilinear(low) has std 0.085 on training scenes; diffusion's schedules assume data of about unit
# variance (at std 0.085 every t is 100× noisier for the model than for images), so it is scaled by 10, as Stable
# Diffusion scales its latents by 0.18215. Sampling bounds x̂₀ by Imagen's dynamic thresholding within ±2 (about
# 2.4 std of the scaled residual): on 32 test scenes that gives 30.0 dB PSNR (no augmentation) against 27.1 dB for
# bilinear upsampling, where static clipping at ±7 (the 99.9th percentile of |r|) drifted to 20.9 dB and at ±1 gave
# 28.1 dB (x̂₀ at high noise overshoots; the guess must be pulled back without flattening real edges).
RESIDUAL_SCALE = 10.0
RESIDUAL_CLIP = DynamicThreshold(0.995, bound=2.0)


def bilinear(low: torch.Tensor, side: int) -> torch.Tensor:
    return F.interpolate(low, size=(side, side), mode="bilinear", align_corners=False)


def upsample_steps(m, low: torch.Tensor, seed: int = 0, steps: int = 25, level: float | None = None) -> Iterator:
    """The upsampler's DDIM steps from 16×16 images, over the scaled residual r · RESIDUAL_SCALE (divide, and add
    `bilinear(low)`, to see images).
    level: the noise level given to the low-res input (default: half the model's training range; 0 for a model
    trained without augmentation)."""
    _stage(m, "upsampler")
    level = default_level(m) if level is None else check_level(level)
    y = augment(low.to(m.device), level, m.schedule, torch.Generator().manual_seed(seed + 1))
    return _run(m, _noise(m, len(low), seed), y, steps, 1.0, RESIDUAL_CLIP)


def default_level(m) -> float:
    return m.spec.augmentation / 2


@torch.no_grad()
def upsample(m, low: torch.Tensor, seed: int = 0, steps: int = 25, level: float | None = None) -> torch.Tensor:
    """32×32 images (N, 3, 32, 32) on the CPU: bilinear(low) + the sampled residual."""
    step = None
    for step in upsample_steps(m, low, seed, steps, level):
        pass
    return (bilinear(low.to(m.device), m.sample_shape[-1]) + step.x_t / RESIDUAL_SCALE).clamp(-1, 1).cpu()


def slerp(a: torch.Tensor, b: torch.Tensor, fractions) -> torch.Tensor:
    """Spherical interpolation between unit vectors a and b (d,): (len(fractions), d), each of unit length.
    slerp(a, b, s) = sin((1−s)θ)/sin θ · a + sin(sθ)/sin θ · b, θ = arccos(a·b)   (Shoemake 1985)."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    s = torch.as_tensor(fractions, dtype=a.dtype)[:, None]
    theta = torch.arccos((a @ b).clamp(-1, 1))
    if theta < 1e-4:
        return a.expand(len(s), -1).clone()
    return (torch.sin((1 - s) * theta) * a + torch.sin(s * theta) * b) / torch.sin(theta)


def check_image(image) -> torch.Tensor:
    """A (3, 32, 32) image in [-1, 1], or a ValueError saying what is wrong."""
    if not isinstance(image, torch.Tensor) or tuple(image.shape) != (3, 32, 32) or not image.is_floating_point() \
            or not torch.isfinite(image).all():
        raise ValueError("the image must be RGB 32×32 in [-1, 1]: read a file with data.load_image(path, 32, 3)")
    return image.clamp(-1, 1)


def variations(clip_m, decoder, upsampler, image: torch.Tensor, n: int = 8, seed: int = 0, scale: float = 3.0,
               steps: int = 50) -> dict:
    """n decodes of one image's CLIP embedding, each from its own noise: {z_i, low (n, 3, 16, 16), images}."""
    z_i = image_embeddings(clip_m, check_image(image)[None]).expand(_check_n(n), -1)
    low = decode(decoder, z_i, seed, steps, scale)
    return {"z_i": z_i[0], "low": low, "images": upsample(upsampler, low, seed)}


def interpolation(clip_m, decoder, upsampler, a: torch.Tensor, b: torch.Tensor, k: int = 8, seed: int = 0,
                  scale: float = 3.0, steps: int = 50) -> dict:
    """Decode k embeddings slerped from image a's to image b's, all from the same noise, so only the embedding
    changes along the path: {fractions, cos_to_a, low, images}."""
    z = image_embeddings(clip_m, torch.stack([check_image(a), check_image(b)]))
    fractions = torch.linspace(0, 1, _check_n(k, lo=2))
    path = slerp(z[0], z[1], fractions)
    x_T = _noise(decoder, 1, seed).expand(len(path), *decoder.sample_shape)
    step = None
    for step in _run(decoder, x_T, path.to(decoder.device), steps, scale, True):
        pass
    low = step.x_t.clamp(-1, 1).cpu()
    return {"fractions": fractions.tolist(), "cos_to_a": (path @ z[0]).tolist(), "low": low,
            "images": upsample(upsampler, low, seed)}


def _check_n(n, lo: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n != int(n) or not lo <= n <= MAX_IMAGES:
        raise ValueError(f"n must be a whole number from {lo} to {MAX_IMAGES}, got {n!r}")
    return int(n)


def generate_stages(clip_m, prior, decoder, upsampler, prompt: str, n: int = 4, seed: int = 0, use_prior: bool = True,
                    scale: float = 3.0, steps: int = 50) -> dict:
    """Prompt → z_t → (prior) ẑ_i → decoder 16×16 → upsampler 32×32, keeping every stage's output. Without the
    prior, z_t itself is decoded (the baseline). {z_t, z_i, cos_text_image, low, images}."""
    n = _check_n(n)
    z_t = text_embeddings(clip_m, [prompt])
    z_i = prior_embeddings(prior, z_t.expand(n, -1), seed) if use_prior else z_t.expand(n, -1)
    low = decode(decoder, z_i, seed, steps, scale)
    return {"z_t": z_t[0], "z_i": z_i, "cos_text_image": (z_i @ z_t[0]).tolist(), "low": low,
            "images": upsample(upsampler, low, seed)}


def images_for(clip_m, prior, decoder, upsampler, prompts: list[str], seed: int = 0, use_prior: bool = True,
               scale: float = 3.0, batch: int = 64) -> torch.Tensor:
    """One 32×32 image per prompt, through every stage (prior or not)."""
    out = []
    for k in range(0, len(prompts), batch):
        chunk = prompts[k:k + batch]
        z_t = text_embeddings(clip_m, chunk)
        z_i = prior_embeddings(prior, z_t, seed + k) if use_prior else z_t
        out.append(upsample(upsampler, decode(decoder, z_i, seed + k, scale=scale), seed + k))
    return torch.cat(out)
