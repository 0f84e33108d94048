"""Mini-CLIP's spec, networks and loss (Radford et al. 2021, "Learning Transferable Visual Models From Natural
Language Supervision"): an image encoder and a text encoder, each projected into one shared space and
L2-normalised, trained so that in a batch of N (image, caption) pairs the N true pairs score higher than the
N² − N false ones — the symmetric InfoNCE loss of the paper's Figure 3.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Dataset, SceneDataset, VOCABULARY, load_scenes
from ..prior import Block
from .text import EOT, Tokenizer


@dataclass
class CLIPSpec:
    """A mini-CLIP and how it is trained (saved in its checkpoint card)."""

    image_size: int = 32  # images are (3, image_size, image_size) in [-1, 1]
    width: int = 32  # channels of the image encoder's first conv (doubled once)
    image_features: int = 128  # I_f: the image encoder's output, before the projection W_i
    d_model: int = 64  # the text transformer's width (T_f, before the projection W_t)
    layers: int = 2  # text transformer blocks (causal self-attention, as CLIP's text encoder)
    heads: int = 4  # attention heads per block
    context_length: int = 16  # token ids per text: up to 15 words, <eot>, padding
    embed_dim: int = 64  # the shared embedding space's dimension
    vocabulary: tuple[str, ...] = VOCABULARY  # the tokenizer's words, after <pad>, <eot>, <unk>
    init_temperature: float = 0.07  # τ at step 0: logit scale 1/τ ≈ 14.3 (the paper's initialisation, §2.5)
    max_logit_scale: float = 100.0  # the logit scale 1/τ is clipped at this (§2.5), so τ ≥ 0.01
    batch_size: int = 128  # pairs per step: each image has batch_size − 1 negative captions, and vice versa
    lr: float = 1e-3
    ema_decay: float = 0.0  # no weight averaging
    grad_clip: float = 1.0
    family: str = "clip"  # checkpoint family tag

    def __post_init__(self):
        self.vocabulary = tuple(self.vocabulary)  # a card stores it as a JSON list
        for name, lo, hi in (("image_size", 8, 64), ("width", 4, 256), ("image_features", 4, 2048),
                             ("d_model", 8, 1024), ("layers", 1, 12), ("heads", 1, 32), ("context_length", 4, 77),
                             ("embed_dim", 2, 1024), ("batch_size", 2, 4096)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of heads ({self.heads})")
        if self.image_size % 8:
            raise ValueError(f"image_size must be a multiple of 8, got {self.image_size}")
        if not 0 < self.init_temperature <= 1 or not 1 <= self.max_logit_scale <= 1000:
            raise ValueError("init_temperature must be in (0, 1] and max_logit_scale in [1, 1000]")

    def to_dict(self) -> dict:
        return asdict(self)

    def build(self) -> "MiniCLIP":
        return MiniCLIP(self)

    @property
    def sample_shape(self) -> None:
        """CLIP makes no samples."""
        return None

    @property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.vocabulary, self.context_length)

    def loss(self, model: "MiniCLIP", x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        """Symmetric InfoNCE on a batch of images x (B, 3, H, W) and, for each, one of its captions drawn at
        random from y (B, K, L) — the K templates' token ids made by `training_set`."""
        pick = torch.randint(0, y.shape[1], (len(y),), generator=generator).to(y.device)
        ids = y[torch.arange(len(y), device=y.device), pick]  # (B, L)
        logits = model(x, ids)  # (B, B): row i is image i against every caption
        loss = info_nce(logits)
        # a "hit" is the best-scoring partner having the same caption text (a batch can repeat a caption)
        same = (ids[:, None, :] == ids[None, :, :]).all(-1)  # (B, B)
        rows = torch.arange(len(ids), device=ids.device)
        hits = (same[rows, logits.argmax(1)].float().mean() + same[rows, logits.argmax(0)].float().mean()) / 2
        scale = model.logit_scale_clipped()
        return loss, {"loss": loss.item(), "temperature": 1 / scale.item() if scale.item() else 0.0,
                      "accuracy": hits.item()}

    @torch.no_grad()
    def preview(self, model: "MiniCLIP", n: int, generator: torch.Generator) -> torch.Tensor:
        """The cosine similarity matrix (n, n) of n fixed test scenes (rows) and their captions (columns), the
        same scenes at every preview: `preview_scenes(n)` gives them, and the captions to label the heat map."""
        scenes = preview_scenes(n)
        device = model.logit_scale.device
        images = model.encode_image(scenes.x.to(device))
        texts = model.encode_text(self.tokenizer.encode(scenes.captions).to(device))
        return images @ texts.T


def info_nce(logits: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (Radford et al. 2021, Figure 3) of logits (N, N) = s · I_e T_eᵀ whose diagonal holds
    the true pairs: the mean of the cross-entropies of choosing the right caption for each image (rows) and
    the right image for each caption (columns)."""
    labels = torch.arange(len(logits), device=logits.device)
    # L = −(1/2N) Σ_i [ log e^{s I_i·T_i} / Σ_j e^{s I_i·T_j}  +  log e^{s I_i·T_i} / Σ_j e^{s I_j·T_i} ]
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


class ImageEncoder(nn.Module):
    """A small CNN: 32 → 16 → 8 → 4, then the flattened 4×4 map (which keeps where things are) to I_f."""

    def __init__(self, spec: CLIPSpec):
        super().__init__()
        w, side = spec.width, spec.image_size // 8
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 3, 2, 1), nn.GELU(),  # (B, w, 16, 16)
            nn.Conv2d(w, w, 3, 1, 1), nn.GELU(),
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.GELU(),  # (B, 2w, 8, 8)
            nn.Conv2d(2 * w, 2 * w, 3, 2, 1), nn.GELU(),  # (B, 2w, 4, 4)
            nn.Flatten(), nn.Linear(2 * w * side * side, spec.image_features), nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, image_features)


class TextEncoder(nn.Module):
    """A causal transformer over the token ids; the text's feature T_f is the final state at its `<eot>`
    (Radford et al. 2021 §2.4), which under the causal mask has seen every word and no padding."""

    def __init__(self, spec: CLIPSpec):
        super().__init__()
        d = spec.d_model
        self.token = nn.Embedding(len(spec.vocabulary) + 3, d)
        nn.init.normal_(self.token.weight, std=0.02)
        self.position = nn.Parameter(torch.randn(spec.context_length, d) * 0.01)
        self.blocks = nn.ModuleList(Block(d, spec.heads) for _ in range(spec.layers))
        self.norm = nn.LayerNorm(d)

    def states(self, ids: torch.Tensor) -> torch.Tensor:
        """Every position's final state (B, L, d): what a text-to-image UNet cross-attends to."""
        x = self.token(ids) + self.position[: ids.shape[1]]  # (B, L, d)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.states(ids)
        eot = (ids == EOT).int().argmax(1)  # (B,) position of <eot>
        return x[torch.arange(len(ids), device=ids.device), eot]  # (B, d)


class MiniCLIP(nn.Module):
    """Both encoders, their projections W_i and W_t, and the learned log logit scale t (s = e^t = 1/τ)."""

    def __init__(self, spec: CLIPSpec):
        super().__init__()
        self.spec, self.tokenizer = spec, spec.tokenizer
        self.image_encoder, self.text_encoder = ImageEncoder(spec), TextEncoder(spec)
        self.image_projection = nn.Linear(spec.image_features, spec.embed_dim, bias=False)  # W_i
        self.text_projection = nn.Linear(spec.d_model, spec.embed_dim, bias=False)  # W_t
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / spec.init_temperature)))  # t

    def logit_scale_clipped(self) -> torch.Tensor:
        # s = min(e^t, 100): "clipped to prevent scaling the logits by more than 100" (Radford et al. 2021 §2.5)
        return self.logit_scale.clamp(max=math.log(self.spec.max_logit_scale)).exp()

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        # I_e = l2_normalize(I_f · W_i)   (Figure 3)
        return F.normalize(self.image_projection(self.image_encoder(x)), dim=-1)

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        # T_e = l2_normalize(T_f · W_t)   (Figure 3)
        return F.normalize(self.text_projection(self.text_encoder(ids)), dim=-1)

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """logits (N_images, N_texts) = s · I_e T_eᵀ, the scaled cosine similarities."""
        return self.logit_scale_clipped() * self.encode_image(x) @ self.encode_text(ids).T


def training_set(scenes: SceneDataset, spec: CLIPSpec) -> Dataset:
    """What `train_steps` trains a CLIPSpec on: the scenes' images as x and, as y, the token ids (N, K, L) of
    every caption template of each scene (the loss draws one per image per step)."""
    if not isinstance(scenes, SceneDataset) or not scenes.all_captions:
        raise ValueError("CLIP trains on captioned scenes: pass data.load('scenes', 'train')")
    k = len(scenes.all_captions[0])
    ids = spec.tokenizer.ids([c for texts in scenes.all_captions for c in texts])
    return Dataset(scenes.name, scenes.x, ids.view(len(scenes), k, -1), scenes.class_names,
                   f"{scenes.source}, {k} captions each", scenes.captions)


def preview_scenes(n: int) -> SceneDataset:
    """The n test scenes a training preview shows (always the same ones for a given n)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 256:
        raise ValueError(f"the preview shows from 1 to 256 scenes, got {n!r}")
    return load_scenes("test", n, seed=0)
