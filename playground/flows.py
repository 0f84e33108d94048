"""Flows: RealNVP, whose log-likelihood is exact, and flow matching, which learns the velocity of straight paths
from data to noise and samples by solving an ODE.

RealNVP (Dinh et al. 2017) is an invertible map f: x → z built from affine coupling layers. Each layer keeps
half of the coordinates and scales and shifts the other half by functions of the kept half, so its Jacobian is
triangular and log|det J| is the sum of the log-scales. With z ~ N(0, I) the change of variables gives the exact
log p(x) = log N(f(x); 0, I) + Σ_k log|det ∂f_k / ∂h_{k−1}|, trained by maximum likelihood.

Flow matching with straight paths (Lipman et al. 2023; Liu et al. 2022, rectified flow) pairs each data point x_0
with noise ε along x_t = (1 − t) x_0 + t ε, t ∈ [0, 1], and regresses a network v_θ(x_t, t) onto the path's
velocity dx_t/dt = ε − x_0. Sampling integrates dx/dt = v_θ(x, t) from t = 1 (noise) to t = 0 with Euler or Heun
steps (`flow_steps`, which yields the same `Step` as the diffusion samplers, so step-through and guidance work
alike). The network is the diffusion page's UNet or MLP; t enters it as t · TIME_SCALE, the range of the
diffusion models' step index, so the same time embedding serves both.
"""
from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import torch
from einops import reduce
from torch import nn

from .diffusion.ddpm import drop_labels
from .diffusion.samplers import Step
from .nn import NetworkSpec

TIME_SCALE = 1000.0  # t ∈ [0, 1] enters the network as t · 1000, the range of a diffusion model's step index
SOLVERS = {"euler": 1, "heun": 2}
REFLOW_TOYS = ("moons", "ring8")  # toy sets with a shipped reflowed model (fm-NAME-reflow)  # ODE solver → network evaluations per step
MAX_ODE_STEPS = 1000
LOG_2PI = math.log(2 * math.pi)


# ---- RealNVP -----------------------------------------------------------------------------------


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) per example: −½ (‖z‖² + D log 2π)."""
    return -0.5 * (z.flatten(1).pow(2).sum(1) + z[0].numel() * LOG_2PI)


class ActNorm(nn.Module):
    """A per-dimension affine map h ↦ (h − b) · exp(−log s), initialised from the first batch it sees in training so
    that its output has zero mean and unit variance (Kingma & Dhariwal 2018, Glow, §3.1). log|det| = −Σ log s."""

    def __init__(self, dim: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialised", torch.zeros(()))  # a float flag, so the checkpoint keeps it

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not self.initialised.item():  # once, on the first training batch
            with torch.no_grad():
                self.bias.copy_(h.mean(0))
                self.log_scale.copy_(h.std(0).clamp(min=1e-3).log())
                self.initialised.fill_(1.0)
        z = (h - self.bias) * torch.exp(-self.log_scale)
        return z, (-self.log_scale.sum()).expand(h.shape[0])

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.exp(self.log_scale) + self.bias


class AffineCoupling(nn.Module):
    """One affine coupling layer (Dinh et al. 2017, eq. 4–6): the coordinates where `mask` is 1 pass unchanged and
    condition a scale and a shift of the others:

        z = m ⊙ h + (1 − m) ⊙ (h ⊙ exp(s(m ⊙ h)) + t(m ⊙ h)),   log|det ∂z/∂h| = Σ_(1−m) s(m ⊙ h)

    s is a tanh-bounded log-scale (as in RealNVP's implementation), so one layer scales by at most e^±SCALE."""

    SCALE = 2.0

    def __init__(self, dim: int, mask: torch.Tensor, hidden_dim: int, hidden_layers: int):
        super().__init__()
        self.register_buffer("mask", mask.float())
        layers, width = [], dim
        for _ in range(hidden_layers):
            layers += [nn.Linear(width, hidden_dim), nn.SiLU()]
            width = hidden_dim
        self.net = nn.Sequential(*layers, nn.Linear(width, 2 * dim))
        nn.init.zeros_(self.net[-1].weight)  # every layer starts as the identity
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_s, shift = self.net(kept).chunk(2, dim=1)
        s = self.SCALE * torch.tanh(raw_s / self.SCALE) * (1 - self.mask)
        return s, shift * (1 - self.mask)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, shift = self._scale_shift(h * self.mask)
        # z = m ⊙ h + (1 − m) ⊙ (h ⊙ exp(s) + t)   — Dinh et al. 2017, eq. 9
        z = h * self.mask + (1 - self.mask) * (h * torch.exp(s) + shift)
        # the Jacobian is triangular: log|det| = Σ_j s_j   — eq. 6
        return z, s.sum(1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        s, shift = self._scale_shift(z * self.mask)  # the kept half is the same on both sides
        # h = m ⊙ z + (1 − m) ⊙ (z − t) ⊙ exp(−s)   — eq. 8
        return z * self.mask + (1 - self.mask) * (z - shift) * torch.exp(-s)


class RealNVP(nn.Module):
    """f: x → z, a stack of (ActNorm, coupling) pairs whose masks alternate, so every coordinate is transformed."""

    def __init__(self, spec: "RealNVPSpec"):
        super().__init__()
        dim = spec.data_dim
        layers = []
        for k in range(spec.num_layers):
            if spec.actnorm:
                layers.append(ActNorm(dim))
            mask = (torch.arange(dim) % 2 == k % 2)  # alternate which half is kept
            layers.append(AffineCoupling(dim, mask, spec.hidden_dim, spec.hidden_layers))
        self.layers = nn.ModuleList(layers)
        self.data_dim = dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, D) → (z (B, D), Σ log|det J| (B,))."""
        logdet = torch.zeros(x.shape[0], device=x.device)
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) in nats, per example."""
        z, logdet = self(x)
        # log p(x) = log p(z) + Σ_k log|det ∂f_k/∂h_{k−1}|   — Dinh et al. 2017, eq. 3
        return standard_normal_log_prob(z) + logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """z → x = f⁻¹(z)."""
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def inverse_trace(self, z: torch.Tensor) -> list[torch.Tensor]:
        """z, then the points after each coupling layer on the way back to x (ActNorms folded into the next step)."""
        trace = [z]
        for layer in reversed(self.layers):
            z = layer.inverse(z)
            if isinstance(layer, AffineCoupling):
                trace.append(z)
        trace[-1] = z  # x itself, after the first ActNorm's inverse too
        return trace

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """x = f⁻¹(z) for n draws z ~ N(0, I) from the (CPU) generator."""
        device = next(self.parameters()).device
        return self.inverse(torch.randn(n, self.data_dim, generator=generator).to(device))


@dataclass
class RealNVPSpec:
    """A RealNVP for points, trained by maximum likelihood (saved in its checkpoint card)."""

    num_layers: int = 8  # coupling layers (each preceded by an ActNorm when actnorm is on)
    hidden_dim: int = 128  # width of each coupling layer's scale-and-shift MLP
    hidden_layers: int = 2  # hidden layers of that MLP
    actnorm: bool = True  # Glow's ActNorm before every coupling layer
    data_dim: int = 2
    batch_size: int = 256
    lr: float = 1e-3
    ema_decay: float = 0.0
    grad_clip: float = 10.0
    family: str = "realnvp"

    def __post_init__(self):
        for name, lo, hi in (("num_layers", 1, 32), ("hidden_dim", 4, 1024), ("hidden_layers", 1, 6), ("data_dim", 2, 64)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.data_dim,)

    def build(self) -> RealNVP:
        return RealNVP(self)

    def loss(self, model, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        """The negative log-likelihood in nats per example (maximum likelihood, no bound)."""
        nll = -model.log_prob(x).mean()
        return nll, {"loss": nll.item()}

    def preview(self, model, n: int, generator: torch.Generator) -> torch.Tensor:
        return model.sample(n, generator)


def brute_force_logdet(model: RealNVP, x: torch.Tensor) -> torch.Tensor:
    """log|det ∂f/∂x| at each point from the full Jacobian, computed by autograd and `slogdet`: the check of the
    layers' closed-form sum (their triangular Jacobians)."""
    out = []
    for point in x:
        jacobian = torch.autograd.functional.jacobian(lambda p: model(p[None])[0][0], point)  # (D, D)
        out.append(torch.linalg.slogdet(jacobian)[1])
    return torch.stack(out)


def logdet_check(model: RealNVP, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ of the layers' log|det|, log|det J| from the brute-force Jacobian) at the points x, both in float64 on a
    copy of the model, so that what differs is the formula and not float32 rounding."""
    exact = copy.deepcopy(model).double().eval()
    x = x.double().to(next(exact.parameters()).device)
    with torch.no_grad():
        layers = exact(x)[1]
    return layers.cpu(), brute_force_logdet(exact, x).cpu()


def density_grid(model: RealNVP, limit: float = 1.25, size: int = 120) -> tuple[torch.Tensor, torch.Tensor]:
    """The flow's exact log p(x) on a size × size grid over [−limit, limit]²: (axis (size,), log p (size, size)),
    row i at y = axis[i]."""
    axis = torch.linspace(-limit, limit, size)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    device = next(model.parameters()).device
    with torch.no_grad():
        logp = model.log_prob(torch.stack([xx.flatten(), yy.flatten()], 1).to(device)).cpu()
    return axis, logp.reshape(size, size)


def deformation(model: RealNVP, lines: int = 13, limit: float = 3.0, points: int = 80) -> torch.Tensor:
    """A grid of straight lines in z-space pushed back through the flow one coupling layer at a time:
    (layers + 1, 2 · lines, points, 2), frame 0 the lines in z and the last frame their image in x-space."""
    offsets, along = torch.linspace(-limit, limit, lines), torch.linspace(-limit, limit, points)
    horizontal = torch.stack([along.expand(lines, points), offsets[:, None].expand(lines, points)], -1)
    grid = torch.cat([horizontal, horizontal.flip(-1)])  # (2 · lines, points, 2): horizontal, then vertical lines
    device = next(model.parameters()).device
    with torch.no_grad():
        trace = model.inverse_trace(grid.reshape(-1, 2).to(device))
    return torch.stack([frame.cpu().reshape(grid.shape) for frame in trace])


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---- flow matching -----------------------------------------------------------------------------


@dataclass
class FlowMatchingSpec(NetworkSpec):
    """A velocity network (the diffusion UNet or MLP: `NetworkSpec`) trained by conditional flow matching on straight
    paths (saved in its checkpoint card)."""

    label_dropout: float = 0.1  # share of labels replaced by the null class, so classifier-free guidance works
    batch_size: int = 128
    lr: float = 2e-4
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    # reflow (Liu et al. 2022, §2.2): the name of the flow-matching checkpoint whose ODE made the training pairs
    # (`reflow_set`); the model then learns straight lines between each noise and the sample it led to
    reflow_from: str | None = None
    family: str = "flow-matching"

    def to_dict(self) -> dict:
        return asdict(self)

    def build(self) -> nn.Module:
        return self.build_network()

    def loss(self, model, x0: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        """The flow-matching loss; for a reflow model x0 holds (B, 2, …) pairs: the teacher's sample, its noise."""
        labels = drop_labels(y, self.num_classes, self.label_dropout, generator)
        if self.reflow_from:
            loss = flow_matching_loss(model, x0[:, 0], labels, generator, noise=x0[:, 1])
        else:
            loss = flow_matching_loss(model, x0, labels, generator)
        return loss, {"loss": loss.item()}

    def preview(self, model, n: int, generator: torch.Generator, num_steps: int = 20) -> torch.Tensor:
        device = next(model.parameters()).device
        x_1 = torch.randn((n, *self.sample_shape), generator=generator).to(device)
        y = (torch.arange(n, device=device) % self.num_classes) if self.num_classes else None
        return flow_sample(model, x_1, "euler", num_steps, y=y)


def reflow_set(teacher: Callable, n: int, shape: tuple[int, ...], solver: str = "heun", num_steps: int = 50,
               seed: int = 0, batch: int = 2048) -> torch.Tensor:
    """Reflow's training pairs (n, 2, *shape) on the CPU: [the teacher's ODE sample, the noise it started from].
    Trained on these, a new model's straight-line targets no longer cross, so its paths straighten (Liu et al. 2022,
    Theorem 3.3) and few steps suffice."""
    noise = torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))
    device = next(teacher.parameters()).device
    samples = torch.cat([flow_sample(teacher, chunk.to(device), solver, num_steps).cpu() for chunk in noise.split(batch)])
    return torch.stack([samples, noise], 1)


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 − t) x_0 + t ε, with t (B,) broadcast over each example."""
    t = t.reshape(-1, *[1] * (x0.dim() - 1))
    return (1 - t) * x0 + t * noise


def flow_matching_loss(net, x0: torch.Tensor, condition, generator: torch.Generator,
                       noise: torch.Tensor | None = None) -> torch.Tensor:
    """E_{t, x_0, ε} ‖v_θ(x_t, t) − (ε − x_0)‖² with t ~ U(0, 1). `noise`: a given ε per example (reflow's pairs);
    default a fresh draw."""
    t = torch.rand(x0.shape[0], generator=generator).to(x0.device)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    x_t = interpolate(x0, noise, t)
    # L_CFM = E ‖v_θ(x_t, t) − (ε − x_0)‖², x_t = (1 − t) x_0 + t ε   — Lipman et al. 2023, eq. 23 with σ_min = 0;
    # Liu et al. 2022, eq. 1 (rectified flow)
    return reduce((net(x_t, t * TIME_SCALE, condition) - (noise - x0)) ** 2, "b ... -> b", "mean").mean()


def ode_times(num_steps: int) -> list[float]:
    """t_0 = 1 > t_1 > … > t_K = 0, evenly spaced."""
    return torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64).tolist()


def _check_flow_args(x_1, solver, num_steps, y):
    if solver not in SOLVERS:
        raise ValueError(f"unknown ODE solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or not 1 <= num_steps <= MAX_ODE_STEPS:
        raise ValueError(f"num_steps must be an integer from 1 to {MAX_ODE_STEPS}, got {num_steps!r}")
    if not isinstance(x_1, torch.Tensor) or not x_1.is_floating_point() or x_1.dim() < 2:
        raise ValueError(f"x_1 must be a float tensor (B, C, H, W) or (B, D), got {type(x_1).__name__}")
    if isinstance(y, int) and not isinstance(y, bool):
        y = torch.full((x_1.shape[0],), y, dtype=torch.long, device=x_1.device)
    if y is not None and (not isinstance(y, torch.Tensor) or y.dim() != 1 or y.shape[0] != x_1.shape[0]):
        raise ValueError(f"y must be an int or labels ({x_1.shape[0]},), got "
                         f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
    return y.to(x_1.device).long() if y is not None else None


def _velocity(model, x, t: float, y, guidance) -> tuple[torch.Tensor, dict]:
    """v_θ(x, t), guided if guidance is given; the guidance objects combine the model's outputs linearly, so
    classifier-free guidance on the velocity is ṽ = v_uncond + w (v_cond − v_uncond)."""
    t_batch = torch.full((x.shape[0],), t * TIME_SCALE, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        return guidance(model, x, t_batch, y, None) if guidance is not None else (model(x, t_batch, y), {})


def flow_steps(model: Callable, x_1: torch.Tensor, solver: str = "euler", num_steps: int = 20,
               y: torch.Tensor | int | None = None, guidance: Callable | None = None) -> Iterator[Step]:
    """Integrate dx/dt = v_θ(x, t) from t = 1 (x_1, noise) to t = 0, yielding one `Step` per ODE step.

    Step.t is the time t the step started from (a float in (0, 1]); Step.x_t the new x; Step.x0 the clean sample
    the straight path predicts, x̂_0 = x − t v; Step.eps the noise it predicts, ε̂ = x + (1 − t) v (and, with
    classifier-free guidance, eps_cond / eps_uncond from the conditional and unconditional velocities).
    "euler" calls the network once per step, "heun" twice (SOLVERS)."""
    y = _check_flow_args(x_1, solver, num_steps, y)
    times = ode_times(num_steps)

    def run() -> Iterator[Step]:
        x = x_1
        for t, s in zip(times[:-1], times[1:]):
            v, extras = _velocity(model, x, t, y, guidance)
            if solver == "euler":
                # x_{t−h} = x_t − h v_θ(x_t, t)
                x_next = x + (s - t) * v
            else:
                # Heun: x' = x_t − h v_θ(x_t, t);  x_{t−h} = x_t − h/2 (v_θ(x_t, t) + v_θ(x', t − h))
                v2, _ = _velocity(model, x + (s - t) * v, s, y, guidance)
                x_next = x + (s - t) * 0.5 * (v + v2)
            # the straight path through x_t with velocity v: x̂_0 = x_t − t v, ε̂ = x_t + (1 − t) v
            eps_of = {key: x + (1 - t) * value for key, value in extras.items() if key in ("eps_cond", "eps_uncond")}
            yield Step(t=t, x_t=x_next, eps=x + (1 - t) * v, x0=x - t * v, **eps_of)
            x = x_next

    return run()


def flow_sample(model: Callable, x_1: torch.Tensor, solver: str = "euler", num_steps: int = 20,
                y: torch.Tensor | int | None = None, guidance: Callable | None = None) -> torch.Tensor:
    """Run `flow_steps` to the end and return x at t = 0."""
    return deque(flow_steps(model, x_1, solver, num_steps, y, guidance), maxlen=1)[0].x_t


@dataclass
class FlowPath:
    """A recorded ODE run (CPU tensors): the states and, per step, the x̂_0 it predicted."""

    times: list[float]  # t at each state: 1, …, 0
    states: torch.Tensor  # (K + 1, B, …): x_1, then x after each step
    x0: torch.Tensor  # (K, B, …): x̂_0 = x − t v at the start of each step
    solver: str
    nfe: int  # network evaluations it took (per sample, without guidance's second pass)

    @property
    def straightness(self) -> torch.Tensor:
        return straightness(self.states)


def record_path(model: Callable, x_1: torch.Tensor, solver: str = "euler", num_steps: int = 20,
                y: torch.Tensor | int | None = None, guidance: Callable | None = None) -> FlowPath:
    """Run `flow_steps` and keep every state and prediction (on the CPU), for step-through and measurement."""
    steps = list(flow_steps(model, x_1, solver, num_steps, y, guidance))
    return FlowPath(ode_times(num_steps), torch.stack([x_1.cpu(), *(s.x_t.cpu() for s in steps)]),
                    torch.stack([s.x0.cpu() for s in steps]), solver, num_steps * SOLVERS[solver])


def comparison_models(dataset: str) -> dict[str, tuple[str, str]]:
    """The flow-matching against DDIM comparison on `dataset`: label → (checkpoint, sampler). The flow-matching models
    copy the DDPMs' network and training recipe (playground.recipes)."""
    fm = f"fm-{dataset}"
    models = {"flow matching, Euler": (fm, "euler"), "flow matching, Heun": (fm, "heun")}
    if dataset == "fashion":  # fm-fashion copies ddpm-fashion-simple's recipe; the shipped DDPMs train longer
        models |= {"DDPM (cosine), same recipe, DDIM": ("ddpm-fashion-simple", "ddim"),
                   "DDPM (cosine), v-prediction, 7,000 steps, DDIM": ("ddpm-fashion-cosine", "ddim")}
    else:
        models |= {"DDPM (cosine), DDIM": (f"ddpm-{dataset}-cosine", "ddim"),
                   "DDPM (linear), DDIM": (f"ddpm-{dataset}-linear", "ddim")}
    if dataset in REFLOW_TOYS:
        models["flow matching reflowed once, Euler"] = (f"fm-{dataset}-reflow", "euler")
    return models


def straightness(path: torch.Tensor) -> torch.Tensor:
    """Per example, the length of a sampled path divided by the distance between its ends (1: a straight line).
    path (K + 1, B, …): the start, then the state after each step."""
    flat = path.flatten(2)
    length = (flat[1:] - flat[:-1]).norm(dim=-1).sum(0)
    return length / (flat[-1] - flat[0]).norm(dim=-1).clamp(min=1e-12)


def log_likelihood_check(model: RealNVP, test: torch.Tensor, train: torch.Tensor, true_log_prob=None) -> dict:
    """Mean test log-likelihood (nats) under the flow, a Gaussian kernel density estimate fitted to `train`
    (scipy, Scott's bandwidth) and, when given, the true density; with the flow's gap to the truth."""
    from scipy.stats import gaussian_kde

    with torch.no_grad():
        flow = model.log_prob(test).double().cpu()
    kde = torch.as_tensor(gaussian_kde(train.double().cpu().numpy().T).logpdf(test.double().cpu().numpy().T))
    out = {"flow_nats": float(flow.mean()), "kde_nats": float(kde.mean()), "points": len(test),
           "flow_vs_kde_correlation": float(torch.corrcoef(torch.stack([flow, kde]))[0, 1])}
    if true_log_prob is not None:
        truth = true_log_prob(test.double().cpu())
        # E_p[log p − log q] ≥ 0: the KL divergence from the data's density to the flow's, estimated on the test points
        out.update(true_nats=float(truth.mean()), kl_true_to_flow=float((truth - flow).mean()),
                   kl_true_to_kde=float((truth - kde).mean()),
                   flow_vs_true_correlation=float(torch.corrcoef(torch.stack([flow, truth]))[0, 1]))
    return out


@dataclass
class FlowReport:
    """What the flows page shows about one RealNVP, all measured (CPU tensors)."""

    samples: torch.Tensor  # (n, 2) x = f⁻¹(z), z ~ N(0, I)
    z: torch.Tensor  # (N, 2) the test points pushed to the base space
    axis: torch.Tensor  # density grid axis (size,)
    log_density: torch.Tensor  # exact log p on the grid (size, size)
    frames: torch.Tensor  # `deformation`: the z grid through each coupling layer
    gaussianity: dict  # of z
    sw_to_normal: float  # sliced distance of z to N(0, I) samples
    sw_normal_vs_normal: float  # … and of N(0, I) to itself (the floor at this many points)
    likelihood: dict  # `log_likelihood_check`
    check_points: torch.Tensor  # (k, 2) the points of the log-det check
    logdet_layers: torch.Tensor  # (k,) Σ of the layers' log-scales (float64)
    logdet_brute: torch.Tensor  # (k,) log|det J| from the full Jacobian (float64)
    parameters: int


def realnvp_report(model: RealNVP, test: torch.Tensor, train: torch.Tensor, true_log_prob=None, n_samples: int = 1000,
                   check: int = 6, seed: int = 0) -> FlowReport:
    """Measure a RealNVP against held-out points `test` (a KDE fitted to `train`, the true density if given)."""
    from .metrics import sliced_wasserstein

    device = next(model.parameters()).device
    test_d = test.to(device)
    with torch.no_grad():
        samples = model.sample(n_samples, torch.Generator().manual_seed(seed)).cpu()
        z = model(test_d)[0].cpu()
    layers, brute = logdet_check(model, test[:check])
    axis, logp = density_grid(model)
    normal_a, normal_b = (torch.randn(len(z), z.shape[1], generator=torch.Generator().manual_seed(seed + k)) for k in (1, 2))
    return FlowReport(samples, z, axis, logp, deformation(model), gaussianity(z), sliced_wasserstein(z, normal_a),
                      sliced_wasserstein(normal_b, normal_a), log_likelihood_check(model, test_d, train, true_log_prob),
                      test[:check], layers, brute, parameter_count(model))


def ring8_log_prob(x: torch.Tensor, radius: float = 0.75, std: float = 0.05) -> torch.Tensor:
    """The true density of the ring of 8 Gaussians (playground.data's "ring8"): an equal mixture of N(c_k, σ² I) with
    c_k on a circle. (The loader clips to [−1, 1], 5σ beyond the outermost centre: a negligible share of mass.)"""
    angles = torch.arange(8, dtype=x.dtype) * (2 * math.pi / 8)
    centres = radius * torch.stack([angles.cos(), angles.sin()], 1)  # (8, 2)
    sq = ((x[:, None, :] - centres[None]) ** 2).sum(-1)  # (B, 8)
    # log p(x) = log (1/8) Σ_k N(x; c_k, σ² I)
    return torch.logsumexp(-sq / (2 * std**2), dim=1) - math.log(8) - math.log(2 * math.pi * std**2)


TRUE_LOG_PROB = {"ring8": ring8_log_prob}


def gaussianity(z: torch.Tensor) -> dict:
    """How close points pushed to the base space are to N(0, I): their mean, covariance and the largest deviation of
    the covariance from I."""
    z = z.double()
    cov = torch.cov(z.T)
    return {"mean": z.mean(0).tolist(), "covariance": cov.tolist(),
            "max_abs_mean": float(z.mean(0).abs().max()), "max_abs_cov_minus_identity": float((cov - torch.eye(z.shape[1], dtype=z.dtype)).abs().max())}


__all__ = ["RealNVPSpec", "RealNVP", "ActNorm", "AffineCoupling", "FlowMatchingSpec", "flow_steps", "flow_sample",
           "flow_matching_loss", "interpolate", "ode_times", "straightness", "brute_force_logdet", "logdet_check", "parameter_count",
           "log_likelihood_check", "comparison_models", "reflow_set", "FlowPath", "record_path", "FlowReport", "realnvp_report", "density_grid", "deformation", "ring8_log_prob", "TRUE_LOG_PROB", "gaussianity", "standard_normal_log_prob",
           "SOLVERS", "TIME_SCALE", "MAX_ODE_STEPS"]
