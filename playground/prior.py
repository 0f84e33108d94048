"""An autoregressive prior over a VQ-VAE's token grid: a tiny causal transformer that reads the tokens in
raster order and predicts the next one, p(t) = Π_i p(t_i | t_<i, class). Sampling draws one token at a time
(van den Oord et al. 2017 §3.3 used a PixelCNN; DALL·E 1 and VQGAN use a transformer, as here).

    >>> from playground import checkpoints, prior, vq
    >>> p = checkpoints.load("prior-fashion")
    >>> grid = prior.sample(p.model, n=4, temperature=1.0, top_k=0, generator=torch.Generator().manual_seed(0))
    >>> images = vq.decode_tokens(checkpoints.load(p.spec.vq).model, grid)

The prior trains on token grids, not images: `tokenise(dataset, tokenizer)` turns a dataset into its tokens
once, with the tokenizer the caller loaded. The spec records the tokenizer's checkpoint name for the card.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from . import vq
from .data import Dataset


@dataclass
class TokenPriorSpec:
    """A causal transformer over the tokens of the VQ-VAE checkpoint `vq` (saved in its checkpoint card)."""

    vq: str = "vq-fashion"  # the shipped tokenizer whose tokens it models
    codebook_size: int = 64  # K: must match the tokenizer
    grid: int = 7  # tokens per side: must match the tokenizer
    d_model: int = 128
    layers: int = 4
    heads: int = 4
    num_classes: int = 10  # the first position holds a class token, or "any class" (index num_classes)
    label_dropout: float = 0.1  # share of training sequences that get "any class"
    dataset: str = "fashion"
    batch_size: int = 128
    lr: float = 5e-4
    ema_decay: float = 0.0
    grad_clip: float = 1.0
    family: str = "token-prior"

    def __post_init__(self):
        for name, lo, hi in (("codebook_size", 2, 4096), ("grid", 1, 32), ("d_model", 8, 1024), ("layers", 1, 24),
                             ("heads", 1, 32), ("num_classes", 0, 1000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of heads ({self.heads})")
        if not 0 <= self.label_dropout <= 1:
            raise ValueError(f"label_dropout must be from 0 to 1, got {self.label_dropout!r}")

    @property
    def length(self) -> int:
        return self.grid * self.grid

    def to_dict(self) -> dict:
        return asdict(self)

    def build(self) -> "TokenPrior":
        return TokenPrior(self)

    @property
    def sample_shape(self) -> tuple[int, int]:
        """One sample: a (grid, grid) token map."""
        return (self.grid, self.grid)

    def null_condition(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """The "any class" token for n sequences."""
        return torch.full((n,), self.num_classes, dtype=torch.long, device=device)

    def loss(self, model: "TokenPrior", x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        """Cross-entropy of each token given the ones before it: −(1/L) Σ_i log p(t_i | t_<i, class), in nats.
        x: token grids (B, grid, grid), from `tokenise`."""
        t = rearrange(x, "b h w -> b (h w)")
        drop = torch.rand(len(y), generator=generator).to(y.device) < self.label_dropout
        labels = torch.where(drop, torch.full_like(y, self.num_classes), y)
        nll = F.cross_entropy(rearrange(model(t, labels), "b l k -> b k l"), t)
        return nll, {"loss": nll.item(), "bits_per_image": nll.item() * self.length / math.log(2)}

    @torch.no_grad()
    def preview(self, model: "TokenPrior", n: int, generator: torch.Generator) -> torch.Tensor:
        """n sampled token grids (n, grid, grid); decode them with the tokenizer to see them."""
        return sample(model, n, generator=generator)


def tokenise(ds: Dataset, tokenizer: vq.VQVAE) -> Dataset:
    """The dataset with each image replaced by its token grid (N, grid, grid), the prior's training data."""
    device = next(tokenizer.parameters()).device
    grids = vq.tokens(tokenizer, ds.x.to(device)).cpu()
    return Dataset(ds.name, grids, ds.y, ds.class_names, f"{ds.source}, as tokens", ds.captions)


class Block(nn.Module):
    """Pre-norm transformer block: x + attention(LN(x)) with a causal mask, then x + MLP(LN(x))."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.maps: list | None = None  # set to [] to record each call's attention weights (B, heads, L_new, L)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        """x (B, L_new, d). With a `cache` (a dict, empty at first) the keys and values of earlier calls are kept
        there, so x may be just the newest position: sampling then costs one position per token, not the whole
        prefix again. Either the cache is empty or x is one position."""
        q, k, v = rearrange(self.qkv(self.norm1(x)), "b l (three h e) -> three b h l e", three=3, h=self.heads)
        if cache is not None:
            if "k" in cache:
                if x.shape[1] != 1:
                    raise ValueError("with a filled cache, pass one new position at a time")
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        causal = q.shape[2] > 1  # one new position may see every earlier one
        if self.maps is None:
            # softmax(q kᵀ/√e + mask) v, the mask hiding every later position (Vaswani et al. 2017, eq. 1)
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        else:  # the same, written out to keep the weights
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            if causal:
                scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), float("-inf"))
            weights = scores.softmax(-1)
            self.maps.append(weights.detach())
            attended = weights @ v
        x = x + self.out(rearrange(attended, "b h l e -> b l (h e)"))
        return x + self.mlp(self.norm2(x))


class TokenPrior(nn.Module):
    """Position 0 holds the class (or "any class") token; position i ≥ 1 holds token t_{i−1}; the output at
    position i is the distribution of t_i."""

    def __init__(self, spec: TokenPriorSpec):
        super().__init__()
        self.spec = spec
        d = spec.d_model
        self.start = nn.Embedding(spec.num_classes + 1, d)
        self.token = nn.Embedding(spec.codebook_size, d)
        self.position = nn.Parameter(torch.randn(spec.length, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, spec.heads) for _ in range(spec.layers))
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, spec.codebook_size)

    def forward(self, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Logits (B, L', K) for positions 0..L'−1 given tokens t (B, L' or more; only t[:, :L'−1] is read)."""
        length = min(t.shape[1] + 1, self.spec.length)
        x = torch.cat([self.start(labels)[:, None], self.token(t[:, : length - 1])], dim=1) + self.position[:length]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def _labels(model: TokenPrior, n: int, label) -> torch.Tensor:
    k, device = model.spec.num_classes, model.position.device
    if label is None:
        return model.spec.null_condition(n, device)
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < k:
        raise ValueError(f"the class must be a whole number from 0 to {k - 1}, or None for any class; got {label!r}")
    return torch.full((n,), label, dtype=torch.long, device=device)


def next_token_probs(logits: torch.Tensor, temperature: float, top_k: int) -> torch.Tensor:
    """softmax(logits / T), keeping only the top_k most likely tokens (0 keeps all)."""
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"the temperature must be a positive number, got {temperature!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top-k must be a whole number ≥ 0 (0 keeps every token), got {top_k!r}")
    logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return F.softmax(logits, dim=-1)


@torch.no_grad()
def sample_steps(model: TokenPrior, n: int, temperature: float = 1.0, top_k: int = 0, label: int | None = None,
                 generator: torch.Generator | None = None) -> Iterator[dict]:
    """Fill n token grids in raster order, one token per step. After each step yields {position, tokens
    (n, grid, grid) with −1 where not yet sampled, probs: the distribution the token was drawn from (n, K),
    chosen: the drawn tokens (n,)}."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 4096:
        raise ValueError(f"n must be a whole number from 1 to 4096, got {n!r}")
    spec, labels = model.spec, _labels(model, n, label)
    next_token_probs(torch.zeros(1, 2), temperature, top_k)  # check the settings before the first step
    t = torch.full((n, spec.length), -1, dtype=torch.long, device=labels.device)
    for i in range(spec.length):
        logits = model(t[:, :i].clamp(min=0), labels)[:, i]  # position i predicts t_i
        probs = next_token_probs(logits, temperature, top_k)
        # drawn on the CPU with the (CPU) generator, so a seed gives the same tokens on every device
        t[:, i] = torch.multinomial(probs.cpu(), 1, generator=generator)[:, 0].to(t.device)
        yield {"position": i, "tokens": t.view(n, spec.grid, spec.grid).clone(), "probs": probs, "chosen": t[:, i].clone()}


@torch.no_grad()
def fill_steps(model: TokenPrior, tokenizer: vq.VQVAE, temperature: float = 1.0, top_k: int = 0,
               label: int | None = None, generator: torch.Generator | None = None, blank: int = 0,
               top: int = 5) -> Iterator[dict]:
    """One image written token by token, as `sample_steps`, with what the decoder draws after each token (a cell
    not yet sampled decodes as the code `blank`). Yields, on the CPU: {position, tokens (grid, grid) with −1 where
    not yet sampled, image (C, H, W), chosen: the drawn code, p: its probability, top: the `top` likeliest
    (code, probability) pairs}."""
    for step in sample_steps(model, 1, temperature, top_k, label, generator):
        t = step["tokens"][0]
        image = vq.decode_tokens(tokenizer, torch.where(t < 0, blank, t))[0].cpu()
        probs, chosen = step["probs"][0].cpu(), int(step["chosen"][0])
        best = probs.topk(min(top, len(probs)))
        yield {"position": step["position"], "tokens": t.cpu().numpy(), "image": image, "chosen": chosen,
               "p": float(probs[chosen]), "top": [(int(k), float(q)) for q, k in zip(best.values, best.indices)]}


def sample(model: TokenPrior, n: int, temperature: float = 1.0, top_k: int = 0, label: int | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """n token grids (n, grid, grid), sampled token by token."""
    for step in sample_steps(model, n, temperature, top_k, label, generator):
        pass
    return step["tokens"]


@torch.no_grad()
def nll(model: TokenPrior, t: torch.Tensor, labels: torch.Tensor | None = None, batch: int = 500) -> float:
    """Mean −log p(t_i | t_<i) in nats per token over token grids t (N, grid, grid); "any class" if no labels."""
    flat = rearrange(t, "b h w -> b (h w)")
    labels = labels if labels is not None else model.spec.null_condition(len(flat), flat.device)
    total = sum(F.cross_entropy(rearrange(model(tb, lb), "b l k -> b k l"), tb, reduction="sum").item()
                for tb, lb in zip(flat.split(batch), labels.split(batch)))
    return total / flat.numel()
