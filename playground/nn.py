"""Shared network blocks: time embedding, ResBlock, attention, a small UNet, and
an MLP denoiser for 2D points.

Both denoisers follow the contract `model(x_t, t, y=None) -> eps`. A class-
conditional model has `num_classes + 1` class embeddings: index `num_classes`
is the learned "null" class (attribute `null_class`), used for y=None and for
the unconditional half of classifier-free guidance (Ho & Salimans 2022).
"""
from __future__ import annotations

import contextlib
import contextvars
import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """(B,) timesteps -> (B, dim) features.

    Vaswani et al. 2017, §3.5, used for t by Ho et al. 2020, Appendix B.
    """
    half = dim // 2
    # ω_i = max_period^(−i / half), i = 0 … half − 1
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    # PE(t) = [sin(t ω_i), cos(t ω_i)]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    return F.pad(emb, (0, dim % 2))  # odd dim: one zero column


def _group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups (fewer when 8 does not divide the channels)."""
    groups = math.gcd(8, channels)
    return nn.GroupNorm(groups, channels)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, plus a projection of the time embedding, twice;
    with a 1×1 skip when the channels change (Ho et al. 2020, Appendix B, after Wide ResNet)."""

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.block1 = nn.Sequential(_group_norm(in_channels), nn.SiLU(), nn.Conv2d(in_channels, out_channels, 3, padding=1))
        self.emb_proj = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))
        self.block2 = nn.Sequential(
            _group_norm(out_channels), nn.SiLU(), nn.Dropout(dropout), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        )
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.block1(x)  # (B, C_out, H, W)
        h = h + rearrange(self.emb_proj(emb), "b c -> b c 1 1")
        return self.skip(x) + self.block2(h)


class NearestUpConv(nn.Conv2d):
    """Nearest-neighbour ×2 upsampling, then this 3×3 convolution (padding 1): the UNet's way up. When the target is
    exactly twice the input, it computes the same thing at the low resolution, with 2×2 kernels, one per output
    pixel's parity: 4·2·2 = 16 taps per input pixel instead of 9 at each of the four upsampled pixels (36), so 0.44 ×
    the multiply-adds, and no upsampled copy. For the output row 2i + a, the 3×3 window reads upsampled rows
    2i + a − 1 … 2i + a + 1, i.e. input rows (i − 1, i) with kernel rows (w₀, w₁ + w₂) when a = 0, and (i, i + 1)
    with (w₀ + w₁, w₂) when a = 1 (columns alike); the zero padding maps to zero padding. Same weights, same
    state_dict as the plain Conv2d."""

    # FOLD[a, p, k] = 1 when the 3×3 kernel's row k lands on tap p of the 2×2 kernel of output parity a
    FOLD = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, padding=padding, **kwargs)
        if (self.kernel_size, self.padding, self.stride, self.dilation, self.groups, self.padding_mode) != \
                ((3, 3), (1, 1), (1, 1), (1, 1), 1, "zeros"):
            raise ValueError("NearestUpConv folds only a plain 3×3 convolution with zero padding 1")

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        height, width = x.shape[-2:]
        if size is not None and tuple(size) != (2 * height, 2 * width):  # any other size: upsample, then convolve
            return super().forward(F.interpolate(x, size=tuple(size), mode="nearest"))
        bias = None if self.bias is None else self.bias.repeat(4)
        out = F.conv2d(x, self._kernels(), bias, padding=1)  # (B, 4·C_out, H + 1, W + 1): position p reads rows p − 1, p
        out = rearrange(out, "b (a c o) h w -> b a c o h w", a=2, c=2)
        up = out.new_empty(out.shape[0], out.shape[3], 2 * height, 2 * width)
        for a in (0, 1):  # parity a = 0 reads rows (i − 1, i): position i; a = 1 reads (i, i + 1): position i + 1
            for c in (0, 1):
                up[:, :, a::2, c::2] = out[:, a, c, :, a:a + height, c:c + width]
        return up

    def _kernels(self) -> torch.Tensor:
        """K[a, c] = F_a W F_cᵀ over the kernel's rows and columns, as (4·C_out, C_in, 2, 2), folded in the weights'
        own precision (autocast rounds them once, inside the convolution); kept between calls while the weights are
        unchanged and no gradient is wanted."""
        weight = self.weight
        cacheable = not (torch.is_grad_enabled() or weight.is_inference() or torch.compiler.is_compiling())
        cached = getattr(self, "_cached", None)  # read once: another thread may replace it meanwhile
        key = (weight._version, weight.data_ptr(), weight.dtype, weight.device) if cacheable else None
        if cached is not None and cached[0] == key:
            return cached[2]
        no_autocast = (torch.autocast(weight.device.type, enabled=False)
                       if torch.amp.is_autocast_available(weight.device.type) else contextlib.nullcontext())
        with no_autocast:
            fold = self.FOLD.to(weight)
            kernels = torch.einsum("apk,oikl,cql->acoipq", fold, weight, fold).flatten(0, 2)
        if cacheable:  # the detached weight keeps its memory alive, so no other weights can reuse its address
            self._cached = (key, weight.detach(), kernels)
        return kernels


class Attention(nn.Module):
    """Multi-head self-attention over the H·W positions, with a residual connection
    (used at the lowest resolution, as in Ho et al. 2020 at 16×16)."""

    def __init__(self, channels: int, num_heads: int = 1):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"channels ({channels}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.norm = _group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, height, width = x.shape
        q, k, v = rearrange(self.qkv(self.norm(x)), "b (three h d) x y -> three b h (x y) d", three=3, h=self.num_heads)
        # Attention(Q, K, V) = softmax(Q Kᵀ / √d) V   — Vaswani et al. 2017, eq. 1
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, H·W, d)
        out = rearrange(out, "b h (x y) d -> b (h d) x y", x=height, y=width)
        return x + self.proj(out)


class CrossAttention(nn.Module):
    """Attention from the image positions (queries) to a text's token states (keys and values), with a residual
    connection: how text enters the UNet of latent diffusion (Rombach et al. 2022, §3.3, eq. 3):

        Q = W_Q φ(z_t),  K = W_K τ(y),  V = W_V τ(y),  Attention(Q, K, V) = softmax(Q Kᵀ / √d) V

    Padding after the text's end is masked out. Set `maps` to a list to have every call append its attention
    weights, averaged over heads, (B, H·W, L) on the CPU (the page's cross-attention maps)."""

    def __init__(self, channels: int, context_dim: int, num_heads: int = 4):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"channels ({channels}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.norm = _group_norm(channels)
        self.q, self.out = nn.Linear(channels, channels), nn.Linear(channels, channels)
        self.kv = nn.Linear(context_dim, 2 * channels)
        self.maps: list | None = None

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W), context (B, L, D) token states, mask (B, L) True where a token may be attended to."""
        _, _, height, width = x.shape
        q = rearrange(self.q(rearrange(self.norm(x), "b c x y -> b (x y) c")), "b n (h d) -> b h n d", h=self.num_heads)
        k, v = rearrange(self.kv(context), "b l (two h d) -> two b h l d", two=2, h=self.num_heads)
        # softmax(Q Kᵀ / √d) over the text's tokens, padding masked out   — Vaswani et al. 2017, eq. 1
        logits = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5  # (B, heads, H·W, L)
        weights = logits.masked_fill(~mask[:, None, None, :], float("-inf")).softmax(-1)
        if self.maps is not None:
            self.maps.append(weights.mean(1).detach().float().cpu())  # (B, H·W, L)
        out = rearrange(weights @ v, "b h (x y) d -> b (x y) (h d)", x=height, y=width)
        return x + rearrange(self.out(out), "b (x y) c -> b c x y", x=height, y=width)


@dataclass
class UNetConfig:
    image_size: int = 28  # height = width of the input, e.g. 28 (Fashion-MNIST) or 32 (shapes)
    in_channels: int = 1  # 1 for grayscale, 3 for RGB
    base_channels: int = 32  # channels at the first resolution
    channel_mults: tuple[int, ...] = (1, 2, 2)  # channels per resolution = base × mult; one downsampling between levels
    num_res_blocks: int = 2  # ResBlocks per resolution on the way down (and up)
    attention: bool = True  # self-attention in the middle block, at the lowest resolution
    num_heads: int = 1  # heads of that attention
    num_classes: int | None = None  # None: unconditional; else labels 0 … num_classes−1 plus a null class
    dropout: float = 0.0  # dropout inside each ResBlock
    context_dim: int | None = None  # text conditioning: width of the token states y = (states, mask, pooled)
    cross_attention_max_size: int = 16  # cross-attention after every ResBlock at resolutions up to this side
    out_channels: int | None = None  # channels of the output; None: in_channels (an upsampler reads more than it makes)


class UNet(nn.Module):
    """A small UNet ε-predictor (Ronneberger et al. 2015; as adapted by Ho et al. 2020, Appendix B).

    Default config: 28×28×1 → 14 → 7, about 1.2M parameters.

    With `context_dim` set it is text-conditional, as latent diffusion's UNet: y = (token states (B, L, D), mask
    (B, L), pooled state (B, D)); every ResBlock at a resolution up to `cross_attention_max_size` is followed by
    cross-attention to the token states, and the pooled state is added to the time embedding (as GLIDE, Nichol
    et al. 2022 §2.3).
    """

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = config
        base, mults = config.base_channels, config.channel_mults
        emb_dim = 4 * base
        self.time_mlp = nn.Sequential(nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.null_class = config.num_classes  # index of the learned "no class" embedding; None if unconditional
        self.compute_dtype: torch.dtype | None = None  # None: float32; see use_bfloat16
        self.class_emb = nn.Embedding(config.num_classes + 1, emb_dim) if config.num_classes is not None else None
        self.conv_in = nn.Conv2d(config.in_channels, base, 3, padding=1)

        def res(c_in: int, c_out: int) -> ResBlock:
            return ResBlock(c_in, c_out, emb_dim, config.dropout)

        channels = [base * m for m in mults]
        sizes = [config.image_size]
        for _ in mults[1:]:
            sizes.append((sizes[-1] + 1) // 2)
        self.sizes = sizes  # the side of each level (28, 14, 7)
        text = config.context_dim is not None

        def cross(level: int) -> nn.Module:
            wanted = text and sizes[level] <= config.cross_attention_max_size
            return CrossAttention(channels[level], config.context_dim, config.num_heads) if wanted else nn.Identity()

        if text:
            self.text_pool = nn.Linear(config.context_dim, emb_dim)
            self.down_cross = nn.ModuleList(nn.ModuleList(cross(level) for _ in range(config.num_res_blocks))
                                            for level in range(len(channels)))
            self.mid_cross = cross(len(channels) - 1)
            self.up_cross = nn.ModuleList(nn.ModuleList(cross(level) for _ in range(config.num_res_blocks))
                                          for level in reversed(range(len(channels))))
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        c = base
        for level, c_out in enumerate(channels):
            self.down.append(nn.ModuleList([res(c if i == 0 else c_out, c_out) for i in range(config.num_res_blocks)]))
            last = level == len(channels) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c_out, c_out, 3, stride=2, padding=1))
            c = c_out
        attention = Attention(c, config.num_heads) if config.attention else nn.Identity()
        self.mid = nn.ModuleList([res(c, c), attention, res(c, c)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(channels))):
            c_skip = channels[level]
            lowest = level == len(channels) - 1
            self.upsample.append(nn.Identity() if lowest else NearestUpConv(c, c, 3, padding=1))
            self.up.append(nn.ModuleList([res(c + c_skip if i == 0 else c_skip, c_skip) for i in range(config.num_res_blocks)]))
            c = c_skip
        self.out = nn.Sequential(_group_norm(c), nn.SiLU(), nn.Conv2d(c, config.out_channels or config.in_channels, 3, padding=1))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x_t (B, C, H, W), t (B,) schedule indices, y (B,) labels or None (or, text-conditional, the tuple
        (states, mask, pooled)) -> ε (B, C, H, W), float32."""
        if self.compute_dtype is not None and not self.training and not _FULL_PRECISION.get():
            with torch.autocast(x_t.device.type, dtype=self.compute_dtype):
                return self._forward(x_t, t, y).float()
        return self._forward(x_t, t, y)

    def _forward(self, x_t: torch.Tensor, t: torch.Tensor, y) -> torch.Tensor:
        emb = self.time_mlp(sinusoidal_embedding(t, self.config.base_channels))  # (B, 4·base)
        text = self.config.context_dim is not None
        if text:
            states, mask, pooled = y
            emb = emb + self.text_pool(pooled)
        else:
            emb = emb + _class_embedding(self.class_emb, self.null_class, y, x_t.shape[0], x_t.device)

        def run(h, blocks, crosses):
            for k, block in enumerate(blocks):
                h = block(h, emb)
                if text and isinstance(crosses[k], CrossAttention):
                    h = crosses[k](h, states, mask)
            return h

        down_cross = self.down_cross if text else [None] * len(self.down)
        up_cross = self.up_cross if text else [None] * len(self.up)
        h = self.conv_in(x_t)
        skips = []
        for blocks, crosses, downsample in zip(self.down, down_cross, self.downsample):
            h = run(h, blocks, crosses)
            skips.append(h)  # (B, C_level, H_level, W_level)
            h = downsample(h)
        h = self.mid[1](self.mid[0](h, emb))
        if text and isinstance(self.mid_cross, CrossAttention):
            h = self.mid_cross(h, states, mask)
        h = self.mid[2](h, emb)
        for blocks, crosses, upsample in zip(self.up, up_cross, self.upsample):
            skip = skips.pop()
            if isinstance(upsample, NearestUpConv):  # 7 -> 14 -> 28: up to the skip's size (odd sizes too)
                h = upsample(h, skip.shape[-2:])
            h = torch.cat([h, skip], dim=1)
            h = run(h, blocks, crosses)
        return self.out(h)

    def use_bfloat16(self) -> "UNet":
        """Run `forward` in eval mode under bfloat16 autocast (convolutions, matmuls and the activations between them
        in bf16; GroupNorm accumulates in float32) and hand back float32. On a CPU with native bf16 (AVX512-BF16 or
        AMX) a forward pass of 16 Fashion images takes 0.62–0.63 × the float32 time (`bench`), with the same
        accuracy and FD on 500 samples (docs/diffusion.md). Training (train mode) and anything run inside
        `full_precision()` (the likelihood bound) stay float32. `checkpoints.load` turns it on where it was measured
        (`unets_in_bfloat16`)."""
        self.compute_dtype = torch.bfloat16
        return self


BFLOAT16_MIN_SIZE = 24  # measured on the class-conditional Fashion UNets at 28×28; every other UNet stays float32
_FULL_PRECISION: contextvars.ContextVar[bool] = contextvars.ContextVar("full_precision", default=False)


@contextlib.contextmanager
def full_precision():
    """Inside this block (in this thread or task only), bf16 UNets compute in float32: for figures that were
    measured in float32, such as the likelihood bound."""
    token = _FULL_PRECISION.set(True)
    try:
        yield
    finally:
        _FULL_PRECISION.reset(token)


def cpu_has_fast_bfloat16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX): elsewhere bf16 is emulated and slower."""
    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(bool(check()) for check in checks if check is not None)


def compute_precision(model) -> str:
    """"bfloat16" when a UNet inside `model` samples in bf16 (`UNet.use_bfloat16`), else "float32": what pages say
    next to a sampling time."""
    modules = model.modules() if isinstance(model, nn.Module) else ()
    return "bfloat16" if any(isinstance(m, UNet) and m.compute_dtype == torch.bfloat16 for m in modules) else "float32"


def unets_in_bfloat16(model: nn.Module, device: torch.device | str = "cpu") -> nn.Module:
    """Every class-conditional image UNet inside `model` of side ≥ BFLOAT16_MIN_SIZE (the Fashion models, whose
    samples were measured in both precisions) switched to `UNet.use_bfloat16`, on a CPU with native bf16;
    everything else, and every other device, is left in float32."""
    if torch.device(device).type != "cpu" or not cpu_has_fast_bfloat16():
        return model
    for module in model.modules():
        if (isinstance(module, UNet) and module.config.image_size >= BFLOAT16_MIN_SIZE
                and module.config.num_classes is not None and module.config.context_dim is None):
            module.use_bfloat16()
    return model


def _class_embedding(class_emb: nn.Embedding | None, null_class: int | None, y, batch: int, device) -> torch.Tensor | float:
    """Class embedding to add to the time embedding; y=None means the null class. 0 for an unconditional model."""
    if class_emb is None:
        if y is not None:
            raise ValueError("this model is unconditional (num_classes=None) but got labels y")
        return 0.0
    if y is None:
        y = torch.full((batch,), null_class, dtype=torch.long, device=device)
    return class_emb(y)


@dataclass
class MLPConfig:
    data_dim: int = 2  # dimension of each point
    hidden_dim: int = 128  # width of the hidden layers
    num_layers: int = 3  # hidden layers, each Linear + time/class embedding → SiLU
    num_classes: int | None = None  # None: unconditional; else labels 0 … num_classes−1 plus a null class
    input_features: int = 0  # >0: each coordinate enters as this many sinusoidal features (sharp 2D shapes)
    input_scale: float = 25.0  # coordinates are multiplied by this before those features (as tiny-diffusion)
    out_dim: int | None = None  # outputs; None: data_dim (an ε-predictor). The noisy classifier sets it to its classes


class MLPDenoiser(nn.Module):
    """ε-predictor for 2D points: an MLP with the time (and class) embedding added to every hidden layer."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        d = config.hidden_dim
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.null_class = config.num_classes  # index of the learned "no class" embedding; None if unconditional
        self.class_emb = nn.Embedding(config.num_classes + 1, d) if config.num_classes is not None else None
        d_in = config.data_dim * config.input_features if config.input_features else config.data_dim
        self.layers = nn.ModuleList([nn.Linear(d_in if i == 0 else d, d) for i in range(config.num_layers)])
        self.out = nn.Linear(d, config.out_dim or config.data_dim)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x_t (B, D), t (B,), y (B,) or None -> ε (B, D) (or (B, out_dim))."""
        emb = self.time_mlp(sinusoidal_embedding(t, self.config.hidden_dim))  # (B, hidden)
        emb = emb + _class_embedding(self.class_emb, self.null_class, y, x_t.shape[0], x_t.device)
        h = x_t
        if self.config.input_features:  # Fourier features of each coordinate: (B, D · input_features)
            h = torch.cat([sinusoidal_embedding(x_t[:, i] * self.config.input_scale, self.config.input_features)
                           for i in range(x_t.shape[1])], dim=-1)
        for i, layer in enumerate(self.layers):
            update = F.silu(layer(h) + emb)
            h = update if i == 0 else h + update  # residual after the first layer
        return self.out(h)


@dataclass
class NetworkSpec:
    """The network part that a diffusion spec and a flow-matching spec share: a UNet for images or an MLP for 2D
    points, each with an optional class embedding and its learned null class. Both families' specs extend it."""

    network: str = "unet"  # "unet" for images, "mlp" for 2D points
    unet: UNetConfig = field(default_factory=UNetConfig)  # used when network == "unet"
    mlp: MLPConfig = field(default_factory=MLPConfig)  # used when network == "mlp"

    def __post_init__(self):
        if isinstance(self.unet, dict):  # from a checkpoint card
            self.unet = UNetConfig(**{**self.unet, "channel_mults": tuple(self.unet["channel_mults"])})
        if isinstance(self.mlp, dict):
            self.mlp = MLPConfig(**self.mlp)
        if self.network not in ("unet", "mlp"):
            raise ValueError(f"network must be 'unet' or 'mlp', got {self.network!r}")

    @property
    def num_classes(self) -> int | None:
        return (self.unet if self.network == "unet" else self.mlp).num_classes

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample: (2,) for points, (C, H, W) for images."""
        return (2,) if self.network == "mlp" else (self.unet.in_channels, self.unet.image_size, self.unet.image_size)

    def null_condition(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor | None:
        """The learned null class for n examples (what label dropout trained), or None for an unconditional model."""
        return None if self.num_classes is None else torch.full((n,), self.num_classes, dtype=torch.long, device=device)

    def build_network(self, outputs: int = 1) -> nn.Module:
        """The network; `outputs` = 2 doubles its output channels (coordinates), for ε and a learned variance."""
        if self.network == "unet":
            return UNet(replace(self.unet, out_channels=outputs * (self.unet.out_channels or self.unet.in_channels)))
        return MLPDenoiser(replace(self.mlp, out_dim=outputs * (self.mlp.out_dim or self.mlp.data_dim)))
