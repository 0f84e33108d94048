"""The VQ family: a VQ-VAE (van den Oord et al. 2017) and its Gumbel-softmax cousin, the dVAE of DALL·E
(Ramesh et al. 2021). The encoder turns an image into a grid of vectors z_e (7×7 for Fashion-MNIST); each is
replaced by a code from a learned codebook e_1..e_K, so the image becomes a grid of K-way tokens.

    VQ     k = argmin_j ‖z_e − e_j‖²,  z_q = e_k                    nearest neighbour (eq. 1–2): k-means in disguise
           z_q ← z_e + sg[z_q − z_e]                                straight-through: the decoder's gradient is copied to z_e
           L = ‖x − D(z_q)‖² + ‖sg[z_e] − e‖² + β‖z_e − sg[e]‖²     eq. 3: reconstruction + codebook + commitment
                                         (each term a mean here, not a sum: see VectorQuantizer.forward)
    EMA    N_k ← γN_k + (1−γ)n_k,  m_k ← γm_k + (1−γ)Σ z_e,  e_k = m_k / N_k     Appendix A.1 (replaces the codebook loss)
    restart a code whose usage fell below a threshold jumps to a random z_e of the batch   (Dhariwal et al. 2020, Jukebox §3)
    Gumbel z_q = Σ_k y_k e_k,  y = softmax((logits + g) / τ),  g ~ Gumbel(0, 1)        Jang et al. 2017; DALL·E §2.1
           L = ‖x − D(z_q)‖² + w·KL(softmax(logits) ‖ uniform(K))

    >>> from playground import vq, data
    >>> spec = vq.VQSpec(codebook_size=64, code_dim=16)
    >>> model = spec.build(); x = data.load("fashion", "test", n=8).x
    >>> tokens = vq.tokens(model, x)            # (8, 7, 7) integers in [0, 64)
    >>> x_hat = vq.decode_tokens(model, tokens)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

QUANTIZERS = ("vq", "gumbel")
QUANTIZER_TITLES = {"vq": "VQ-VAE (nearest code, straight-through)", "gumbel": "dVAE (Gumbel-softmax relaxation)"}


@dataclass
class VQSpec:
    """Everything that defines a VQ-VAE / dVAE and how it is trained (saved in its checkpoint card)."""

    quantizer: str = "vq"  # "vq" (nearest code + straight-through) or "gumbel" (the dVAE's relaxation)
    codebook_size: int = 64  # K, the number of codes (the token vocabulary)
    code_dim: int = 16  # D, the length of each code vector
    downsample: int = 4  # image side / token-grid side: 4 (28×28 → 7×7) or 2 (8×8 digits → 4×4)
    in_channels: int = 1
    image_size: int = 28
    width: int = 32  # channels of the first conv; doubled once
    commitment: float = 0.25  # β of eq. 3
    ema: bool = True  # codebook by exponential moving averages (Appendix A.1) instead of the codebook loss
    ema_gamma: float = 0.99  # γ of the EMA codebook update
    restart: bool = True  # dead-code restarts
    restart_below: float = 0.05  # a code is dead when it is used fewer times per batch than this (running average)
    kmeans_init: bool = False  # set the codebook by k-means of the first batch's z_e (scikit-learn)
    tau_start: float = 1.0  # Gumbel: relaxation temperature at step 0 ...
    tau_end: float = 0.1  # ... annealed exponentially to this ...
    tau_steps: int = 2000  # ... over this many steps
    kl_weight: float = 5e-4  # Gumbel: weight w of KL(q ‖ uniform), per token
    dataset: str = "fashion"  # what the previews reconstruct (playground.data name)
    batch_size: int = 128
    lr: float = 1e-3
    ema_decay: float = 0.0  # no weight averaging (the training loop's EMA of weights; not the codebook's)
    grad_clip: float = 0.0
    family: str = "vq"  # checkpoint family tag

    def __post_init__(self):
        if self.quantizer not in QUANTIZERS:
            raise ValueError(f"quantizer must be one of {QUANTIZERS}, got {self.quantizer!r}")
        for name, lo, hi in (("codebook_size", 2, 4096), ("code_dim", 1, 256), ("tau_steps", 1, 10**7)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
        if self.downsample not in (2, 4) or self.image_size % self.downsample:
            raise ValueError(f"downsample must be 2 or 4 and divide the image size; got {self.downsample!r} "
                             f"for {self.image_size}×{self.image_size}")
        for name, lo, hi in (("commitment", 0.0, 10.0), ("ema_gamma", 0.0, 0.9999), ("restart_below", 0.0, 100.0),
                             ("tau_start", 1e-3, 100.0), ("tau_end", 1e-3, 100.0), ("kl_weight", 0.0, 10.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not lo <= value <= hi:
                raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}")

    @property
    def grid(self) -> int:
        """The token grid's side (7 for 28×28 images)."""
        return self.image_size // self.downsample

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One decoded image (C, H, W)."""
        return (self.in_channels, self.image_size, self.image_size)

    def build(self) -> "VQVAE":
        return VQVAE(self)

    def loss(self, model: "VQVAE", x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        out = model.quantize(model.encode(x), generator)
        # ‖x − D(z_q)‖², a mean per pixel (eq. 3 sums it; see VectorQuantizer.forward for what the means change),
        # for the VQ-VAE and the dVAE alike: a Gaussian decoder. DALL·E's dVAE uses a logit-Laplace likelihood
        # instead (Ramesh et al. 2021, appendix A.3); this one does not.
        recon = F.mse_loss(model.decode(out["z_q"]), x)
        loss = recon + out["loss"]
        metrics = {"loss": loss.item(), "recon": recon.item(), **{k: float(v) for k, v in out["metrics"].items()}}
        return loss, metrics

    @torch.no_grad()
    def preview(self, model: "VQVAE", n: int, generator: torch.Generator) -> torch.Tensor:
        """2n images for the live view: n fixed test images and their reconstructions through the tokens."""
        from . import data
        x = data.load(self.dataset, "test", n=n, seed=0).x
        return torch.cat([x, reconstruct(model, x).cpu()])


def perplexity(counts: torch.Tensor) -> float:
    """exp(entropy) of the code-usage distribution p_k = counts_k / Σ counts: K when every code is used equally,
    1 when one code does all the work — "how many codes are effectively in use"."""
    p = counts.double() / counts.sum().clamp(min=1)
    return float(torch.exp(-(p * torch.log(p.clamp(min=1e-30))).sum()))


class VectorQuantizer(nn.Module):
    """Nearest-code lookup with the straight-through estimator; optional EMA codebook and dead-code restarts."""

    def __init__(self, spec: VQSpec):
        super().__init__()
        self.spec = spec
        k, d = spec.codebook_size, spec.code_dim
        # uniform(−1/K, 1/K), as in the paper's reference code (Sonnet)
        self.codebook = nn.Parameter(torch.empty(k, d).uniform_(-1 / k, 1 / k), requires_grad=not spec.ema)
        self.register_buffer("ema_count", torch.ones(k))  # N_k
        self.register_buffer("ema_sum", self.codebook.detach().clone())  # m_k, so that e_k = m_k / N_k at the start
        self.register_buffer("usage", torch.full((k,), 1.0))  # running uses per batch of each code (restarts, plots)
        self.register_buffer("restarts", torch.zeros(()))  # codes restarted so far
        self.register_buffer("initialised", torch.zeros(()))  # k-means initialisation done

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """argmin_j ‖z − e_j‖² for each row z of flat (N, D), via ‖z‖² − 2 z·e + ‖e‖²."""
        distance = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.T + self.codebook.pow(2).sum(1))
        return distance.argmin(1)

    def forward(self, z_e: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        """z_e (B, D, H, W) -> z_q (same shape, straight-through), indices (B, H, W), loss, metrics."""
        b, d, h, w = z_e.shape
        flat = rearrange(z_e, "b d h w -> (b h w) d")
        if self.training and self.spec.kmeans_init and not self.initialised:
            self.kmeans_(flat.detach())
        index = self.nearest(flat.detach())
        z_q = rearrange(self.codebook[index], "(b h w) d -> b d h w", b=b, h=h, w=w)
        # Eq. 3 sums each term; here each is a mean: the reconstruction over the P = C·H·W pixels (VQSpec.loss),
        # these two over the Q = D·h·w latent values. Times P, that is eq. 3 with the codebook and commitment terms
        # scaled by P/Q: an effective β of β·P/Q. P/Q = 1 for Fashion-MNIST at D = 16 (784 = 16·7·7), but 1/4 for
        # 8×8 digits at D = 16 (64 against 16·4·4), so there the encoder is held to its codes 4× more weakly than
        # β = 0.25 says; P/Q also changes with the D chosen on the page. (The codebook term alone moves the codes,
        # so under Adam its scale hardly matters, and with EMA it is not used at all.)
        commitment = F.mse_loss(z_e, z_q.detach())  # ‖z_e − sg[e]‖² / Q: keeps the encoder near its codes
        codebook = F.mse_loss(z_q, z_e.detach())  # ‖sg[z_e] − e‖² / Q: moves the codes to their z_e (not with EMA)
        loss = self.spec.commitment * commitment + (0 if self.spec.ema else codebook)
        counts = torch.bincount(index, minlength=self.spec.codebook_size).float()
        if self.training:
            self._update(flat.detach(), index, counts, generator)
        metrics = {"codebook": codebook.detach(), "commitment": commitment.detach(), "perplexity": perplexity(counts),
                   "codes_used": float((counts > 0).sum()), "dead_codes": float((self.usage < self.spec.restart_below).sum())}
        z_q = z_e + (z_q - z_e).detach()  # straight-through: forward is z_q, backward copies ∂L/∂z_q to z_e (eq. 3)
        return {"z_q": z_q, "indices": index.view(b, h, w), "loss": loss, "counts": counts, "metrics": metrics}

    @torch.no_grad()
    def _update(self, flat, index, counts, generator) -> None:
        gamma = self.spec.ema_gamma
        self.usage.mul_(0.9).add_(counts, alpha=0.1)
        if self.spec.ema:
            sums = torch.zeros_like(self.ema_sum).index_add_(0, index, flat)
            self.ema_count.mul_(gamma).add_(counts, alpha=1 - gamma)  # N_k ← γ N_k + (1 − γ) n_k
            self.ema_sum.mul_(gamma).add_(sums, alpha=1 - gamma)  # m_k ← γ m_k + (1 − γ) Σ_{z_e → k} z_e
            n = self.ema_count.sum()  # Laplace smoothing keeps N_k > 0 (as in the Sonnet reference code)
            smoothed = (self.ema_count + 1e-5) / (n + self.spec.codebook_size * 1e-5) * n
            self.codebook.copy_(self.ema_sum / smoothed[:, None])  # e_k = m_k / N_k
        if self.spec.restart:
            self.restart_(flat, generator)

    @torch.no_grad()
    def restart_(self, flat: torch.Tensor, generator: torch.Generator | None = None) -> int:
        """Move every dead code (running usage below `restart_below`) onto a random z_e of this batch; returns
        how many were moved. A revived code starts with an average usage, so it has time to win some z_e."""
        dead = (self.usage < self.spec.restart_below).nonzero().flatten()
        if len(dead) == 0:
            return 0
        pick = torch.randint(0, len(flat), (len(dead),), generator=generator).to(flat.device)
        self.codebook[dead] = flat[pick]
        self.ema_sum[dead], self.ema_count[dead] = flat[pick], 1.0
        self.usage[dead] = self.usage.mean()
        self.restarts.add_(len(dead))
        return len(dead)

    @torch.no_grad()
    def kmeans_(self, flat: torch.Tensor, seed: int = 0) -> None:
        """Set the codebook to the K k-means centres of these z_e (at most 20,000 of them)."""
        from sklearn.cluster import KMeans
        k = self.spec.codebook_size
        points = flat[torch.randperm(len(flat), generator=torch.Generator().manual_seed(seed))[:20000]].cpu().numpy()
        if len(points) < k:
            raise ValueError(f"k-means needs at least K = {k} vectors, got {len(points)}")
        centres = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(points).cluster_centers_
        self.codebook.copy_(torch.as_tensor(centres, dtype=self.codebook.dtype))
        self.ema_sum.copy_(self.codebook)
        self.ema_count.fill_(1.0)
        self.initialised.fill_(1.0)


class GumbelQuantizer(nn.Module):
    """The dVAE's relaxation: the encoder gives logits over the K codes; training mixes codes with weights
    y = softmax((logits + g) / τ); at test time (and for tokens) the argmax code is used."""

    def __init__(self, spec: VQSpec):
        super().__init__()
        self.spec = spec
        self.codebook = nn.Parameter(torch.randn(spec.codebook_size, spec.code_dim) / math.sqrt(spec.code_dim))
        self.register_buffer("step", torch.zeros(()))  # training steps taken (drives the τ anneal)
        self.register_buffer("usage", torch.full((spec.codebook_size,), 1.0))

    def tau(self) -> float:
        """τ annealed exponentially from tau_start to tau_end over tau_steps (DALL·E anneals 1 → 1/16)."""
        s = self.spec
        frac = min(1.0, float(self.step) / s.tau_steps)
        return s.tau_start * (s.tau_end / s.tau_start) ** frac

    def relaxed(self, logits: torch.Tensor, tau: float, generator: torch.Generator | None = None,
                noise: bool = True) -> torch.Tensor:
        """y = softmax((logits + g) / τ) over the code axis (dim 1); g ~ Gumbel(0, 1) = −log(−log U)."""
        if noise:
            u = torch.rand(logits.shape, generator=generator).to(logits.device).clamp(1e-9, 1 - 1e-9)
            logits = logits - torch.log(-torch.log(u))
        return F.softmax(logits / tau, dim=1)

    def embed(self, weights: torch.Tensor) -> torch.Tensor:
        """Σ_k y_k e_k: (B, K, H, W) weights -> (B, D, H, W)."""
        return torch.einsum("bkhw,kd->bdhw", weights, self.codebook)

    def forward(self, logits: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        k = self.spec.codebook_size
        index = logits.argmax(1)
        counts = torch.bincount(index.flatten(), minlength=k).float()
        q = F.softmax(logits, dim=1)
        # KL(q ‖ uniform) = Σ_k q_k log(q_k K), per token
        kl = (q * (torch.log(q.clamp(min=1e-12)) + math.log(k))).sum(1).mean()
        if self.training:
            tau = self.tau()
            z_q = self.embed(self.relaxed(logits, tau, generator))
            with torch.no_grad():
                self.step.add_(1)
                self.usage.mul_(0.9).add_(counts, alpha=0.1)
        else:
            tau, z_q = 0.0, self.embed(F.one_hot(index, k).permute(0, 3, 1, 2).float())
        metrics = {"kl": kl.detach(), "tau": tau, "perplexity": perplexity(counts), "codes_used": float((counts > 0).sum()),
                   "dead_codes": float((self.usage < self.spec.restart_below).sum())}
        return {"z_q": z_q, "indices": index, "loss": self.spec.kl_weight * kl, "counts": counts, "metrics": metrics}


class VQVAE(nn.Module):
    """Conv encoder (image → z_e on a grid, or the dVAE's logits), a quantiser, and a mirrored conv decoder."""

    def __init__(self, spec: VQSpec):
        super().__init__()
        self.spec = spec
        c, w, d, k = spec.in_channels, spec.width, spec.code_dim, spec.codebook_size
        downs = int(math.log2(spec.downsample))
        out = k if spec.quantizer == "gumbel" else d
        enc = [nn.Conv2d(c, w, 3, padding=1), nn.SiLU()]
        for i in range(downs):  # each halves the side
            enc += [nn.Conv2d(w if i == 0 else 2 * w, 2 * w, 4, stride=2, padding=1), nn.SiLU()]
        self.encoder = nn.Sequential(*enc, nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.SiLU(), nn.Conv2d(2 * w, out, 1))
        dec = [nn.Conv2d(d, 2 * w, 3, padding=1), nn.SiLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.SiLU()]
        for i in range(downs):
            dec += [nn.ConvTranspose2d(2 * w, 2 * w if i < downs - 1 else w, 4, stride=2, padding=1), nn.SiLU()]
        self.decoder = nn.Sequential(*dec, nn.Conv2d(w, c, 3, padding=1), nn.Tanh())
        self.quantizer = GumbelQuantizer(spec) if spec.quantizer == "gumbel" else VectorQuantizer(spec)

    @property
    def codebook(self) -> torch.Tensor:
        return self.quantizer.codebook

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z_e (B, D, H/4, W/4) for VQ; the dVAE's logits (B, K, H/4, W/4)."""
        if x.dim() != 4 or x.shape[1:] != (self.spec.in_channels, self.spec.image_size, self.spec.image_size):
            raise ValueError(f"expected images of shape (B, {self.spec.in_channels}, {self.spec.image_size}, "
                             f"{self.spec.image_size}), got {tuple(x.shape)}")
        return self.encoder(x)

    def quantize(self, z_e: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        return self.quantizer(z_e, generator)

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        return self.decoder(z_q)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.quantize(self.encode(x))["z_q"])


# ---- what the page and a notebook do with a trained model -------------------------------------------------

@torch.no_grad()
def tokens(model: VQVAE, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """The token grid of each image: (N, grid, grid) code indices, on the model's device (x may be anywhere)."""
    was, device = model.training, model.codebook.device
    model.eval()
    out = torch.cat([model.quantize(model.encode(chunk.to(device)))["indices"] for chunk in x.split(batch)])
    model.train(was)
    return out


def check_tokens(model: VQVAE, t: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t)
    g, k = model.spec.grid, model.spec.codebook_size
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3 or t.shape[1:] != (g, g):
        raise ValueError(f"a token grid must be {g}×{g}, got shape {tuple(t.shape)}")
    if t.dtype.is_floating_point or (t.numel() and (int(t.min()) < 0 or int(t.max()) >= k)):
        raise ValueError(f"tokens must be whole numbers from 0 to {k - 1} (the codebook has K = {k} codes)")
    return t.long()


@torch.no_grad()
def decode_tokens(model: VQVAE, t: torch.Tensor) -> torch.Tensor:
    """Images from token grids (N, grid, grid): look each index up in the codebook, then decode (on the model's
    device)."""
    t = check_tokens(model, t).to(model.codebook.device)
    return model.decode(rearrange(model.codebook[t], "b h w d -> b d h w"))


@torch.no_grad()
def reconstruct(model: VQVAE, x: torch.Tensor) -> torch.Tensor:
    """D(z_q(x)): through the tokens (the argmax code for the dVAE)."""
    return decode_tokens(model, tokens(model, x))


def edit_token(t: torch.Tensor, row: int, col: int, code: int, codebook_size: int) -> torch.Tensor:
    """A copy of one token grid (grid, grid) with the cell (row, col) set to `code`."""
    g = t.shape[-1]
    if not (0 <= row < g and 0 <= col < g):
        raise ValueError(f"the cell must be inside the {g}×{g} grid, got row {row}, column {col}")
    if not 0 <= code < codebook_size:
        raise ValueError(f"the code must be from 0 to {codebook_size - 1}, got {code}")
    out = t.clone()
    out[..., row, col] = code
    return out


@torch.no_grad()
def usage(model: VQVAE, x: torch.Tensor) -> dict:
    """Code usage over images x: counts per code, perplexity, dead codes (never used), and mean squared
    reconstruction error per pixel through the tokens (all on the CPU)."""
    t = tokens(model, x)
    counts = torch.bincount(t.flatten(), minlength=model.spec.codebook_size).cpu()
    error = float(torch.cat([((decode_tokens(model, tc) - xc.to(tc.device)) ** 2).mean(dim=(1, 2, 3))
                             for tc, xc in zip(t.split(1000), x.split(1000))]).mean())
    return {"counts": counts, "perplexity": perplexity(counts), "dead_codes": int((counts == 0).sum()),
            "test_mse_per_pixel": error, "tokens": t.cpu()}


def mse(x_hat: torch.Tensor, x: torch.Tensor) -> float:
    """Mean squared error per pixel on the [−1, 1] scale."""
    return float(((x_hat.cpu() - x.cpu()) ** 2).mean())


@torch.no_grad()
def decode_edit(model: VQVAE, x: torch.Tensor, original, edited) -> dict:
    """What editing one token grid does: decode(original tokens) and its MSE against the image x, decode(edited
    tokens), and how many cells differ. Pictures on the CPU."""
    original, edited = torch.as_tensor(original), torch.as_tensor(edited)
    recon, after = decode_tokens(model, torch.stack([original, edited])).cpu()
    return {"recon": recon, "edited": after, "mse": mse(recon, x), "changed": int((original != edited).sum())}


@torch.no_grad()
def nearest_code_plane(model: VQVAE, x: torch.Tensor) -> dict:
    """Quantisation as a picture: every z_e of images x and every code e_k in one plane, that of z_e's first two
    principal components (the codes' own axes when D ≤ 2), with the index of each z_e's nearest code in all D
    dimensions (eq. 1). Returns z (N, 2), codes (K, 2), index (N,), explained: the share of z_e's variance the
    plane holds."""
    z, e = encoder_outputs(model, x), model.codebook.detach().cpu()
    index = torch.cdist(z, e).argmin(1).numpy()
    z, e = z.double().numpy(), e.double().numpy()
    if z.shape[1] <= 2:
        pad = ((0, 0), (0, 2 - z.shape[1]))  # D = 1: the second axis is 0
        return {"z": np.pad(z, pad), "codes": np.pad(e, pad), "index": index, "explained": 1.0}
    from sklearn.decomposition import PCA
    pca = PCA(n_components=2).fit(z)
    return {"z": pca.transform(z), "codes": pca.transform(e), "index": index,
            "explained": float(pca.explained_variance_ratio_.sum())}


def code_usage(model: VQVAE) -> np.ndarray:
    """The quantiser's running usage of each code during training (uses per batch, averaged), (K,)."""
    return model.quantizer.usage.detach().cpu().numpy().copy()


@torch.no_grad()
def encoder_outputs(model: VQVAE, x: torch.Tensor) -> torch.Tensor:
    """Every z_e vector of images x, (N·grid², D) on the CPU; for the dVAE, the code mixture Σ softmax(logits)_k e_k."""
    z = model.encode(x.to(model.codebook.device))
    if model.spec.quantizer == "gumbel":
        z = model.quantizer.embed(F.softmax(z, dim=1))
    return rearrange(z, "b d h w -> (b h w) d").cpu()


@torch.no_grad()
def kmeans_distortion(model: VQVAE, x: torch.Tensor, seed: int = 0) -> dict:
    """Quantisation is k-means: the mean ‖z_e − nearest code‖² with the learned codebook, next to what
    scikit-learn's k-means with the same K reaches on the same z_e."""
    from sklearn.cluster import KMeans
    flat, codebook = encoder_outputs(model, x), model.codebook.detach().cpu()
    learned = float(((flat - codebook[torch.cdist(flat, codebook).argmin(1)]) ** 2).sum(1).mean())
    fit = KMeans(n_clusters=model.spec.codebook_size, n_init=1, random_state=seed).fit(flat.numpy())
    return {"learned_codebook": learned, "kmeans": float(fit.inertia_ / len(flat)), "vectors": len(flat)}


@torch.no_grad()
def gumbel_decode(model: VQVAE, x: torch.Tensor, tau: float, generator: torch.Generator | None = None,
                  noise: bool = True) -> torch.Tensor:
    """The dVAE's decode of the relaxed mixture y = softmax((logits + g)/τ) at temperature τ."""
    if model.spec.quantizer != "gumbel":
        raise ValueError("only a dVAE (Gumbel quantiser) has a relaxation temperature")
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"the temperature τ must be a positive number, got {tau!r}")
    weights = model.quantizer.relaxed(model.encode(x.to(model.codebook.device)), float(tau), generator, noise)
    return model.decode(model.quantizer.embed(weights))


@torch.no_grad()
def code_confidence(model: VQVAE, x: torch.Tensor) -> torch.Tensor:
    """The dVAE encoder's top probability max_k softmax(logits)_k at each cell, (N, grid, grid)."""
    return F.softmax(model.encode(x.to(model.codebook.device)), dim=1).amax(1).cpu()


@torch.no_grad()
def decoded_colours(model: VQVAE) -> np.ndarray:
    """One RGB colour (K, 3) uint8 per code of a colour tokenizer: the mean colour the decoder paints for a token
    grid holding only that code."""
    k, g = model.spec.codebook_size, model.spec.grid
    grids = torch.arange(k, device=model.codebook.device)[:, None, None].expand(k, g, g)
    mean = decode_tokens(model, grids).clamp(-1, 1).mean((2, 3)).cpu()
    return ((mean + 1) * 127.5).round().byte().numpy()


def codebook_colours(codebook: torch.Tensor) -> np.ndarray:
    """One RGB colour (K, 3) uint8 per code: the codebook's first three principal components scaled to
    [40, 230], so codes that are close in the codebook get similar colours."""
    e = codebook.detach().cpu().double().numpy()
    e = e - e.mean(0)
    if e.shape[1] < 3 or not np.isfinite(e).all():
        e = np.pad(e, ((0, 0), (0, max(0, 3 - e.shape[1]))))
    u, s, _ = np.linalg.svd(e, full_matrices=False)
    pcs = u[:, :3] * s[:3]
    lo, hi = pcs.min(0), pcs.max(0)
    scaled = (pcs - lo) / np.where(hi - lo > 1e-12, hi - lo, 1.0)
    return (40 + 190 * scaled).round().astype(np.uint8)


@torch.no_grad()
@torch.no_grad()
def gumbel_max_tokens(model: VQVAE, x: torch.Tensor, generator: torch.Generator | None = None,
                      noise: bool = True) -> torch.Tensor:
    """argmax_k (logits + g)_k per cell, (N, grid, grid): the one code the relaxed mixture tends to as τ → 0, drawn
    with the same Gumbel noise g as `gumbel_decode` for the same generator. With noise it is a *sample* from
    softmax(logits) (the Gumbel-max trick), not the argmax of the logits; without noise it is that argmax."""
    logits = model.encode(x.to(model.codebook.device))
    return model.quantizer.relaxed(logits, 1.0, generator, noise).argmax(1).cpu()  # softmax keeps the argmax


@torch.no_grad()
def relaxation_sweep(model: VQVAE, x: torch.Tensor, taus, seed: int = 0, noise: bool = True) -> dict:
    """The dVAE's decode error (MSE per pixel) on images x through the relaxed mixture at each temperature τ, the
    same Gumbel noise for each; through the one-hot codes argmax(logits + g) that the mixture tends to as τ → 0
    (`gumbel_max`); through the argmax codes (`argmax`, the tokens); and the fraction of cells where those two
    codes differ (`differ`, 0 without noise)."""
    relaxed = [mse(gumbel_decode(model, x, tau, torch.Generator().manual_seed(seed), noise), x) for tau in taus]
    drawn = gumbel_max_tokens(model, x, torch.Generator().manual_seed(seed), noise)
    argmax = tokens(model, x).cpu()
    return {"relaxed": relaxed, "gumbel_max": mse(decode_tokens(model, drawn), x),
            "argmax": mse(decode_tokens(model, argmax), x), "differ": float((drawn != argmax).float().mean())}
