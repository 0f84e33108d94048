"""DALL·E 1 in miniature (Ramesh et al. 2021, "Zero-Shot Text-to-Image Generation"), in its three parts:

1. A discrete tokenizer turns a 32×32 scene into an 8×8 grid of codes (`vq-scenes`, a VQ-VAE from
   `playground.vq`; DALL·E's dVAE made 32×32 tokens of a 256×256 image).
2. One causal transformer models the text tokens followed by the image tokens as a single stream,
   p(text, image) = Π_i p(s_i | s_<i), with separate position embeddings for the text and the image positions.
3. At sampling time it draws N candidates after the prompt and CLIP reranks them (here mini-CLIP, `clip-scenes`).

    >>> m, tok, c = checkpoints.load("dalle-scenes"), checkpoints.load("vq-scenes"), checkpoints.load("clip-scenes")
    >>> grids = dalle.sample(m.model, ["a small red circle at the top left"] * 8, generator=torch.Generator().manual_seed(0))
    >>> images = vq.decode_tokens(tok.model, grids)                       # (8, 3, 32, 32)
    >>> best = dalle.rerank(m, tok, c, "a small red circle at the top left", n=16, seed=0)

The real model had 12 billion parameters over 256 text + 1024 image tokens and used sparse attention
(`sparse_masks` draws them); this one has about a million and uses dense causal attention over 16 + 64 tokens.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from . import vq
from .clip.model import CLIPSpec
from .data import Dataset, SceneDataset
from .prior import Block, next_token_probs

MAX_CANDIDATES = 64  # N of a rerank request


@dataclass
class DalleSpec:
    """A causal transformer over [text tokens, image tokens] (saved in its checkpoint card)."""

    vq: str = "vq-scenes"  # the tokenizer's checkpoint, whose codes it models
    codebook_size: int = 512  # K: must match the tokenizer
    grid: int = 8  # image tokens per side: must match the tokenizer
    clip: dict = field(default_factory=lambda: CLIPSpec().to_dict())  # its text tokenizer (words, context length)
    d_model: int = 128
    layers: int = 4
    heads: int = 4
    text_loss_weight: float = 1 / 8  # DALL·E weighted the text loss 1/8 and the image loss 7/8 (§2.2)
    dataset: str = "scenes"
    batch_size: int = 128
    lr: float = 5e-4
    ema_decay: float = 0.0
    grad_clip: float = 1.0
    family: str = "dalle"

    def __post_init__(self):
        for name, lo, hi in (("codebook_size", 2, 4096), ("grid", 1, 32), ("d_model", 8, 1024), ("layers", 1, 24),
                             ("heads", 1, 32)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of heads ({self.heads})")
        if not 0 <= self.text_loss_weight <= 1:
            raise ValueError(f"text_loss_weight must be from 0 to 1, got {self.text_loss_weight!r}")

    @property
    def tokenizer(self):
        return CLIPSpec(**self.clip).tokenizer

    @property
    def text_length(self) -> int:
        return self.clip["context_length"]

    @property
    def image_length(self) -> int:
        return self.grid * self.grid

    def to_dict(self) -> dict:
        return asdict(self)

    def build(self) -> "Dalle":
        return Dalle(self)

    @property
    def sample_shape(self) -> tuple[int, int]:
        """One sample: a (grid, grid) token map (decode it with the tokenizer)."""
        return (self.grid, self.grid)

    def loss(self, model: "Dalle", x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        """Cross-entropy of every next token of the stream: x the image token grids (B, grid, grid), y the token
        ids of every caption template of each image (B, K, L), of which one is drawn per example."""
        pick = torch.randint(0, y.shape[1], (len(y),), generator=generator).to(y.device)
        ids = y[torch.arange(len(y), device=y.device), pick]  # (B, L)
        image = rearrange(x, "b h w -> b (h w)")
        text_logits, image_logits = model(ids, image)
        text_nll = F.cross_entropy(rearrange(text_logits, "b l v -> b v l"), ids[:, 1:])
        image_nll = F.cross_entropy(rearrange(image_logits, "b l k -> b k l"), image)
        # L = λ · (text CE) + (1 − λ) · (image CE), λ = 1/8   (Ramesh et al. 2021, §2.2)
        loss = self.text_loss_weight * text_nll + (1 - self.text_loss_weight) * image_nll
        return loss, {"loss": loss.item(), "text_nll": text_nll.item(), "image_nll": image_nll.item(),
                      "bits_per_image": image_nll.item() * self.image_length / math.log(2)}

    @torch.no_grad()
    def preview(self, model: "Dalle", n: int, generator: torch.Generator) -> torch.Tensor:
        """n token grids for n fixed test captions; decode them with the tokenizer to see them."""
        from .data import load_scenes
        prompts = [c[0] for c in load_scenes("test", n, seed=0).all_captions]
        return sample(model, prompts, generator=generator)


class Dalle(nn.Module):
    """Text positions 0 … L−1 hold the prompt's ids (padding included, as DALL·E padded its 256 text positions);
    position L−1+j predicts image token j; text position i predicts text id i+1."""

    def __init__(self, spec: DalleSpec):
        super().__init__()
        self.spec = spec
        d = spec.d_model
        self.text = nn.Embedding(len(spec.tokenizer), d)
        self.text_position = nn.Parameter(torch.randn(spec.text_length, d) * 0.02)
        self.image = nn.Embedding(spec.codebook_size, d)
        self.image_position = nn.Parameter(torch.randn(spec.image_length, d) * 0.02)  # its own positions
        self.blocks = nn.ModuleList(Block(d, spec.heads) for _ in range(spec.layers))
        self.norm = nn.LayerNorm(d)
        self.text_head, self.image_head = nn.Linear(d, len(spec.tokenizer)), nn.Linear(d, spec.codebook_size)

    def run(self, x: torch.Tensor, caches: list[dict] | None = None) -> torch.Tensor:
        for k, block in enumerate(self.blocks):
            x = block(x, caches[k] if caches is not None else None)
        return self.norm(x)

    def embed_text(self, ids: torch.Tensor) -> torch.Tensor:
        return self.text(ids) + self.text_position[: ids.shape[1]]

    def embed_image(self, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        return self.image(tokens) + self.image_position[start:start + tokens.shape[1]]

    def forward(self, ids: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, L), image tokens (B, grid²) → (text logits (B, L−1, V) for ids[:, 1:], image logits
        (B, grid², K) for every image token)."""
        n_text = ids.shape[1]
        h = self.run(torch.cat([self.embed_text(ids), self.embed_image(image[:, :-1])], 1))
        return self.text_head(h[:, : n_text - 1]), self.image_head(h[:, n_text - 1:])


def training_set(scenes: SceneDataset, spec: DalleSpec, tokenizer: vq.VQVAE) -> Dataset:
    """x: each scene's token grid (N, grid, grid) by the tokenizer, made once; y: the token ids (N, K, L) of every
    caption template of each scene."""
    if not isinstance(scenes, SceneDataset) or not scenes.all_captions:
        raise ValueError("DALL·E trains on captioned scenes: pass data.load('scenes', 'train')")
    k = len(scenes.all_captions[0])
    ids = spec.tokenizer.ids([c for texts in scenes.all_captions for c in texts]).view(len(scenes), k, -1)
    grids = vq.tokens(tokenizer, scenes.x.to(next(tokenizer.parameters()).device)).cpu()
    return Dataset(scenes.name, grids, ids, scenes.class_names, f"{scenes.source}, as 8×8 tokens, {k} captions each",
                   scenes.captions)


def _device(model: Dalle) -> torch.device:
    return model.image_position.device


def prompt_ids(model: Dalle, prompts) -> torch.Tensor:
    """Token ids (N, L) of checked prompts, or a ValueError (empty, too long, unknown words)."""
    tokenizer = model.spec.tokenizer
    return tokenizer.ids(tokenizer.check(prompts)).to(_device(model))


@torch.no_grad()
def sample_steps(model: Dalle, prompts, temperature: float = 1.0, top_k: int = 0,
                 generator: torch.Generator | None = None, record: bool = False) -> Iterator[dict]:
    """Write one image per prompt, one token per step, each seeing the prompt and the tokens before it (the keys
    and values of earlier positions are cached, so a step costs one position). After each step yields
    {position, tokens (n, grid, grid) with −1 where not yet drawn, probs (n, K), chosen (n,)}, and with
    record=True also attention: the share of attention (mean over heads and layers) the position that drew
    this token paid to each text position and to the earlier image tokens, (n, L + 1)."""
    model.eval()
    spec, ids = model.spec, prompt_ids(model, prompts)
    next_token_probs(torch.zeros(1, 2), temperature, top_k)  # check the settings before the first step
    n, n_text = len(ids), ids.shape[1]
    for block in model.blocks:
        block.maps = [] if record else None
    try:
        caches = [{} for _ in model.blocks]
        h = model.run(model.embed_text(ids), caches)[:, -1]  # the last text position predicts image token 0
        tokens = torch.full((n, spec.image_length), -1, dtype=torch.long, device=ids.device)
        for j in range(spec.image_length):
            probs = next_token_probs(model.image_head(h), temperature, top_k)
            # drawn on the CPU with the (CPU) generator, so a seed gives the same tokens on every device
            tokens[:, j] = torch.multinomial(probs.cpu(), 1, generator=generator)[:, 0].to(tokens.device)
            step = {"position": j, "tokens": tokens.view(n, spec.grid, spec.grid).clone(), "probs": probs,
                    "chosen": tokens[:, j].clone()}
            if record:
                # the query that drew token j: the last text position (j = 0) or image position j − 1
                maps = torch.stack([b.maps[-1][:, :, -1] for b in model.blocks]).mean((0, 2))  # (n, keys)
                step["attention"] = torch.cat([maps[:, :n_text], maps[:, n_text:].sum(1, keepdim=True)], 1).cpu()
                for b in model.blocks:
                    b.maps.clear()
            yield step
            if j + 1 < spec.image_length:
                h = model.run(model.embed_image(tokens[:, j:j + 1], j), caches)[:, -1]
    finally:
        for block in model.blocks:
            block.maps = None


@torch.no_grad()
def fill_steps(m, tokenizer, prompt: str, temperature: float = 1.0, top_k: int = 0,
               generator: torch.Generator | None = None, blank: int = 0, top: int = 5) -> Iterator[dict]:
    """One image for the prompt, token by token, with what the tokenizer's decoder draws after each token (cells
    not yet drawn decode as the code `blank`). Yields, on the CPU: {position, tokens (grid, grid) with −1 where not
    yet drawn, image (3, 32, 32), chosen, p: its probability, top: the `top` likeliest (code, probability) pairs,
    attention: (L + 1,) as `sample_steps` records it}."""
    for step in sample_steps(m.model, [prompt], temperature, top_k, generator, record=True):
        t = step["tokens"][0]
        image = vq.decode_tokens(tokenizer.model, torch.where(t < 0, blank, t)[None])[0].clamp(-1, 1).cpu()
        probs, chosen = step["probs"][0].cpu(), int(step["chosen"][0])
        best = probs.topk(min(top, len(probs)))
        yield {"position": step["position"], "tokens": t.cpu().numpy(), "image": image, "chosen": chosen,
               "p": float(probs[chosen]), "top": [(int(k), float(q)) for q, k in zip(best.values, best.indices)],
               "attention": step["attention"][0]}


def attention_groups(model: Dalle, prompt: str, attention) -> tuple[list[str], torch.Tensor]:
    """Each image token's attention (grid², L + 1), or the list of each step's (L + 1,), gathered by what it fell
    on: each word of the prompt, its `<eot>`, the padding after it, and the earlier image tokens. Returns (labels,
    shares (grid², groups))."""
    attention = torch.stack(list(attention)) if not isinstance(attention, torch.Tensor) else attention
    ids = prompt_ids(model, prompt)[0].cpu()
    itos = model.spec.tokenizer.itos
    n_words = int((ids != 0).sum()) - 1  # positions before <eot>
    labels = [itos[int(i)] for i in ids[:n_words]] + ["<eot>", "(padding)", "(earlier image tokens)"]
    text = attention[:, : len(ids)]
    groups = [text[:, k] for k in range(n_words + 1)] + [text[:, n_words + 1:].sum(1), attention[:, -1]]
    return labels, torch.stack(groups, 1)


def sample(model: Dalle, prompts, temperature: float = 1.0, top_k: int = 0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Token grids (n, grid, grid), one per prompt."""
    step = None
    for step in sample_steps(model, prompts, temperature, top_k, generator):
        pass
    return step["tokens"]


def check_candidates(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n != int(n) or not 1 <= n <= MAX_CANDIDATES:
        raise ValueError(f"the number of candidates N must be a whole number from 1 to {MAX_CANDIDATES}, got {n!r}")
    return int(n)


@torch.no_grad()
def candidates(m, tokenizer, prompt: str, n: int, seed: int = 0, temperature: float = 1.0, top_k: int = 0,
               batch: int = 64) -> torch.Tensor:
    """n images (n, 3, 32, 32) on the CPU for one prompt, drawn with a generator seeded by `seed`."""
    n = check_candidates(n)
    g = torch.Generator().manual_seed(seed)
    out = []
    for k in range(0, n, batch):
        grids = sample(m.model, [prompt] * min(batch, n - k), temperature, top_k, g)
        out.append(vq.decode_tokens(tokenizer.model, grids).clamp(-1, 1).cpu())
    return torch.cat(out)


@torch.no_grad()
def images_for(m, tokenizer, prompts: list[str], seed: int = 0, batch: int = 64, **kw) -> torch.Tensor:
    """One image per prompt (n, 3, 32, 32) on the CPU, no reranking."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([vq.decode_tokens(tokenizer.model, sample(m.model, prompts[k:k + batch], generator=g, **kw))
                      .clamp(-1, 1).cpu() for k in range(0, len(prompts), batch)])


def rerank(m, tokenizer, clip_m, prompt: str, n: int, seed: int = 0, **kw) -> dict:
    """DALL·E's reranking: draw n candidates, score each against the prompt with CLIP, and sort.
    Returns {images (n, 3, 32, 32) best first, scores: their CLIPScores, order: each one's draw index}."""
    from .clip import clip_score
    images = candidates(m, tokenizer, prompt, n, seed, **kw)
    scores = clip_score(clip_m.model, images, [prompt] * len(images))
    order = scores.argsort(descending=True)
    return {"images": images[order], "scores": scores[order], "order": order}


def sparse_masks(text_length: int = 16, grid: int = 8, window: int = 3) -> dict[str, np.ndarray]:
    """The attention masks of DALL·E's sparse transformer, as (L, L) booleans (row: the query, column: the key;
    True: may attend), for a prompt of `text_length` tokens and a grid×grid image. Every mask lets text attend
    causally to text, and every image token attend to all text. Among image tokens (Ramesh et al. 2021, App. B.1,
    Fig. 11): "row" — earlier tokens of its own row; "column" — the same column in earlier rows; "convolutional" —
    earlier tokens within a window×window neighbourhood (the real model's last layer, 11×11 on a 32×32 grid).
    "dense" is the plain causal mask this miniature uses in every layer."""
    n = text_length + grid * grid
    causal = np.tril(np.ones((n, n), dtype=bool))
    out = {"dense": causal}
    rows, cols = np.divmod(np.arange(grid * grid), grid)
    same_row = rows[:, None] == rows[None, :]
    same_col = cols[:, None] == cols[None, :]
    near = (np.abs(rows[:, None] - rows[None, :]) <= window // 2) & (np.abs(cols[:, None] - cols[None, :]) <= window // 2)
    for name, allowed in (("row", same_row), ("column", same_col), ("convolutional", near)):
        mask = causal.copy()
        mask[text_length:, text_length:] &= allowed
        out[name] = mask
    return out
