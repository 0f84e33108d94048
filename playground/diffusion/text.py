"""Text-to-image diffusion, Stable Diffusion in miniature (Rombach et al. 2022, "High-Resolution Image Synthesis
with Latent Diffusion Models"), in its four ideas:

1. Diffusion runs in the latent space of a first-stage autoencoder (`playground.latent`, 32×32×3 → 8×8×4), not on
   pixels; the same parts with `first_stage=None` make the pixel-space model it is compared with.
2. Text enters the UNet through cross-attention to the token states of a frozen text encoder (mini-CLIP's, as SD
   uses CLIP ViT-L/14's), and its pooled state joins the time embedding (`nn.UNet` with `context_dim`).
3. Classifier-free guidance, trained by caption dropout (the empty prompt), and sampled with a negative prompt in
   place of the empty one: ε̃ = ε(neg) + w (ε(prompt) − ε(neg)) — `ClassifierFree(w, null=ids(neg))`.
4. img2img (SDEdit, Meng et al. 2022): noise an image's latent to t = strength · T, then denoise with a prompt;
   inpainting: regenerate only a masked region (`denoise_steps(..., known=...)`, RePaint's simple form).

The denoiser follows the library's contract `model(x_t, t, y) -> ε`, with y the prompts' token ids (B, L):

    >>> m = checkpoints.load("ldm-scenes")
    >>> ids = text.prompt_ids(m, ["a small red circle at the top left"] * 4)
    >>> z = sample(m.model, m.schedule, m.noise(4, seed=0), "ddim", 50, y=ids,
    ...            guidance=ClassifierFree(3.0, null=m.null_condition(4)), clip_x0=m.spec.clip_x0)
    >>> images = text.decode(m.model, z)                       # (4, 3, 32, 32) in [-1, 1]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..clip.model import CLIPSpec, TextEncoder
from ..clip.text import PAD, Tokenizer
from ..data import Dataset, SceneDataset
from ..autoencoders import reparameterise
from ..latent import KLAutoencoder, KLAutoencoderSpec, moments_of, spread
from ..nn import UNet, UNetConfig
from .ddpm import simple_loss
from .samplers import ClassifierFree, sample
from .schedules import make_schedule


@dataclass
class TextDiffusionSpec:
    """A text-conditional diffusion model, in a latent space (first_stage set) or on pixels (first_stage None)."""

    unet: UNetConfig = field(default_factory=lambda: UNetConfig(image_size=8, in_channels=4, context_dim=64))
    clip: dict = field(default_factory=lambda: CLIPSpec().to_dict())  # the frozen text encoder's CLIP spec
    text_encoder_from: str | None = "clip-scenes"  # the checkpoint whose text encoder it uses (None: random; tests)
    first_stage: dict | None = field(default_factory=lambda: KLAutoencoderSpec().to_dict())  # None: pixel space
    first_stage_from: str | None = "kl-scenes"  # the checkpoint of the first stage (None: random; tests)
    schedule: str = "cosine"
    num_steps: int = 1000  # T
    caption_dropout: float = 0.1  # share of captions replaced by the empty prompt, so CFG works
    latent_bound: float = 4.5  # samplers clip a latent x̂₀ to [−B, B]: 99.9 % of kl-scenes' scaled latents lie within
    batch_size: int = 128
    lr: float = 5e-4
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    family: str = "text-diffusion"  # checkpoint family tag

    def __post_init__(self):
        if isinstance(self.unet, dict):
            self.unet = UNetConfig(**{**self.unet, "channel_mults": tuple(self.unet["channel_mults"])})
        if self.unet.context_dim != self.clip["d_model"]:
            raise ValueError(f"the UNet's context_dim ({self.unet.context_dim}) must be the text encoder's width "
                             f"({self.clip['d_model']})")
        if self.first_stage is None and self.first_stage_from is not None:
            raise ValueError("a pixel-space model (first_stage None) takes no first_stage_from")
        if not 0 < self.latent_bound < 100:
            raise ValueError(f"latent_bound must be a positive number, got {self.latent_bound!r}")
        if not 0 <= self.caption_dropout < 1:
            raise ValueError(f"caption_dropout must be in [0, 1), got {self.caption_dropout!r}")
        make_schedule(self.schedule, self.num_steps)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def latent(self) -> bool:
        return self.first_stage is not None

    @property
    def clip_x0(self) -> bool | float:
        """How samplers clip x̂₀: pixels to [−1, 1] (True), where they live; latents to [−B, B] with B =
        `latent_bound`. Latents have unit variance and no [−1, 1] range, so clipping them there squashes every
        colour (scene truth 8 % right on 48 prompts), and not clipping them lets the first steps' x̂₀ at ᾱ ≈ 0
        run wild (38 %); B = 3 to 5 gives 98 %."""
        return self.latent_bound if self.latent else True

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """What the sampler draws: the latent (4, 8, 8), or the image (3, 32, 32) for a pixel model."""
        return (self.unet.in_channels, self.unet.image_size, self.unet.image_size)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """One decoded image (3, 32, 32)."""
        if self.first_stage is None:
            return self.sample_shape
        stage = KLAutoencoderSpec(**self.first_stage)
        return (stage.in_channels, stage.image_size, stage.image_size)

    @property
    def tokenizer(self) -> Tokenizer:
        return CLIPSpec(**self.clip).tokenizer

    def null_condition(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """The empty prompt's token ids for n examples (what caption dropout trained): `<eot>`, then padding."""
        return self.tokenizer.ids([""]).repeat(n, 1).to(device)

    def pretrained(self) -> dict[str, tuple[str, str]]:
        """The frozen parts, loaded from other checkpoints before training: {submodule: (checkpoint, its part)}."""
        parts = {"text": (self.text_encoder_from, "text_encoder")} if self.text_encoder_from is not None else {}
        if self.first_stage_from is not None:
            parts["first_stage"] = (self.first_stage_from, "")
        return parts

    def build(self) -> "TextToImage":
        return TextToImage(self)

    def loss(self, model: "TextToImage", x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        """x: images (B, 3, 32, 32), or for a latent model the first stage's moments (B, 8, 8, 8) (`training_set`);
        y: the token ids of every caption template of each image (B, K, L), of which one is drawn per example."""
        pick = torch.randint(0, y.shape[1], (len(y),), generator=generator).to(y.device)
        ids = y[torch.arange(len(y), device=y.device), pick]  # (B, L)
        drop = torch.rand(len(y), generator=generator).to(y.device) < self.caption_dropout
        ids = torch.where(drop[:, None], self.null_condition(1, y.device), ids)  # the empty prompt for dropped ones
        x0 = model.latents_from_moments(x, generator) if self.latent else x
        loss = simple_loss(model, make_schedule(self.schedule, self.num_steps), x0, ids, generator)
        return loss, {"loss": loss.item(), "x0_std": float(x0.std())}

    @torch.no_grad()
    def preview(self, model: "TextToImage", n: int, generator: torch.Generator) -> torch.Tensor:
        """n images for n fixed test captions, guidance 3, 25 DDIM steps, decoded."""
        from .. import data
        device = next(model.parameters()).device
        prompts = [c[0] for c in data.load("scenes", "test", n=n, seed=0).all_captions]
        ids = self.tokenizer.ids(prompts).to(device)
        x_T = torch.randn((n, *self.sample_shape), generator=generator).to(device)
        z = sample(model, make_schedule(self.schedule, self.num_steps), x_T, "ddim", 25, y=ids,
                   guidance=ClassifierFree(3.0, null=self.null_condition(n, device)), generator=generator,
                   clip_x0=self.clip_x0)
        return model.decode(z)


class TextToImage(nn.Module):
    """The frozen text encoder, the frozen first stage (latent models), and the trained UNet."""

    def __init__(self, spec: TextDiffusionSpec):
        super().__init__()
        self.spec = spec
        self.null_class = None  # no label: the unconditional input is the empty prompt (spec.null_condition)
        self.text = TextEncoder(CLIPSpec(**spec.clip)).requires_grad_(False)
        self.first_stage = (KLAutoencoder(KLAutoencoderSpec(**spec.first_stage)).requires_grad_(False)
                            if spec.first_stage is not None else None)
        self.unet = UNet(spec.unet)

    def train(self, mode: bool = True):
        """Only the UNet trains; the frozen parts stay in eval mode."""
        super().train(mode)
        self.text.eval()
        if self.first_stage is not None:
            self.first_stage.eval()
        return self

    @torch.no_grad()
    def encode_text(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(token states (B, L, d), mask (B, L): the words and `<eot>`, pooled: the `<eot>` state (B, d))."""
        states = self.text.states(ids)
        mask = ids != PAD
        eot = mask.sum(1) - 1  # the last non-padding position is <eot>
        return states, mask, states[torch.arange(len(ids), device=ids.device), eot]

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """ε̂(x_t, t, prompt): y the prompts' token ids (B, L); None means the empty prompt."""
        if y is None:
            y = self.spec.null_condition(len(x_t), x_t.device)
        return self.unet(x_t, t, self.encode_text(y))

    def latents_from_moments(self, moments: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """z = (μ + σ ε) / latent_std from the first stage's stacked (μ, log σ²)."""
        return reparameterise(*moments.chunk(2, dim=1), generator) / spread(self.first_stage)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, 32, 32) to what the sampler works on: scaled latents μ / latent_std, or x itself."""
        if self.first_stage is None:
            return x
        return self.first_stage.moments(x)[0] / spread(self.first_stage)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """What the sampler made, as images (B, 3, 32, 32) in [-1, 1]."""
        if self.first_stage is None:
            return z.clamp(-1, 1)
        return self.first_stage.decoder(z * spread(self.first_stage))

    def cross_attention(self) -> list:
        """The UNet's cross-attention layers, in the order the forward pass calls them."""
        from ..nn import CrossAttention
        return [m for m in self.unet.modules() if isinstance(m, CrossAttention)]


def training_set(scenes: SceneDataset, spec: TextDiffusionSpec, first_stage: KLAutoencoder | None = None) -> Dataset:
    """What `train_steps` trains a TextDiffusionSpec on: x the images (pixel model) or the first stage's moments
    (latent model, encoded once here), y the token ids (N, K, L) of every caption template of each scene."""
    if not isinstance(scenes, SceneDataset) or not scenes.all_captions:
        raise ValueError("text-to-image models train on captioned scenes: pass data.load('scenes', 'train')")
    if spec.latent and first_stage is None:
        raise ValueError("a latent model's training set is encoded by its first stage: pass first_stage")
    k = len(scenes.all_captions[0])
    ids = spec.tokenizer.ids([c for texts in scenes.all_captions for c in texts]).view(len(scenes), k, -1)
    x = moments_of(first_stage, scenes.x) if spec.latent else scenes.x
    return Dataset(scenes.name, x, ids, scenes.class_names, f"{scenes.source}, {k} captions each", scenes.captions)
