"""`python -m playground bench`: speed figures measured on this machine (not timed tests)."""
from __future__ import annotations

import copy
import platform
import time

import torch

from . import data, viz
from .checkpoints import for_inference
from .devices import cpu_budget, default_device
from .diffusion import closed_form_vs_iterated, make_schedule
from .diffusion.forward import noise_at
from .nn import NearestUpConv, compute_precision

DEVICE = default_device()  # models and tensors of every figure run here ($PLAYGROUND_DEVICE overrides)


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def _best_ms(fn, repeat: int = 20) -> float:
    """The best of `repeat` runs, in milliseconds (best-of filters out the other processes' noise)."""
    fn()
    times = []
    for _ in range(repeat):
        _sync()
        began = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - began)
    return 1000 * min(times)


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
            f"device {DEVICE}" + (f" ({torch.cuda.get_device_name(DEVICE)})" if DEVICE.type == "cuda" else ""))


def forward_figures() -> dict[str, float]:
    x0 = data.example("fashion", 7, 0)[0][None]
    noise = torch.randn_like(x0)
    linear, cosine = make_schedule("linear", 1000), make_schedule("cosine", 1000)

    def one_frame():  # what the /forward slider and Play compute per frame: two schedules, upscaled to 224 px
        for s in (linear, cosine):
            viz.image_grid(noise_at(s, x0, 500, noise), pad=0, scale=8)

    frame_ms = _best_ms(one_frame)
    return {
        "forward frame, both schedules (ms)": frame_ms,
        "forward frames per second the server can render": 1000 / frame_ms,
        "make_schedule cosine T=1000 (ms)": _best_ms(lambda: make_schedule("cosine", 1000)),
        "closed form vs 500 iterated steps, 64 draws of 28x28 (ms)":
            _best_ms(lambda: closed_form_vs_iterated(linear, x0[0], 500, num_draws=64), repeat=3),
    }


def sampling_figures() -> dict[str, float]:
    """DDIM-50 for 16 Fashion samples, and how much the sampler loop adds to the bare network calls."""
    from .diffusion.samplers import sample
    from .diffusion.trajectory import record
    from .recipes import recipe

    spec = recipe("ddpm-fashion-cosine").spec
    model = for_inference(spec.build(), DEVICE)  # timing does not depend on the weights
    schedule = make_schedule(spec.schedule, spec.num_steps)
    x_T = torch.randn(16, 1, 28, 28, device=DEVICE)
    y = torch.arange(16, device=DEVICE) % 10
    t = torch.full((16,), 500, device=DEVICE)
    with torch.no_grad():
        forward_ms = _best_ms(lambda: model(x_T, t, y), repeat=10)
    ddim_ms = _best_ms(lambda: sample(model, schedule, x_T, "ddim", 50, y=y), repeat=3)
    threads, cores = torch.get_num_threads(), cpu_budget()[0]
    torch.set_num_threads(cores)  # one student alone, with every core (the app gives each job fewer)
    try:
        ddim_all_cores_ms = _best_ms(lambda: sample(model, schedule, x_T, "ddim", 50, y=y), repeat=3)
    finally:
        torch.set_num_threads(threads)
    inside = [0.0]

    def timed_model(*args):  # the same network, with the time spent inside it counted
        began = time.perf_counter()
        out = model(*args)
        inside[0] += time.perf_counter() - began
        return out

    began = time.perf_counter()
    sample(timed_model, schedule, x_T, "ddim", 50, y=y)
    loop_share = (time.perf_counter() - began) / inside[0]
    trajectory = record(model, schedule, x_T, sampler="ddim", num_steps=50, y=y)

    def scrub():  # what one scrub renders from the cache: three grids and the schedule plot
        for frames in (trajectory.x_t, trajectory.eps, trajectory.x0):
            viz.image_grid(frames[20].float().clamp(-1, 1), nrow=4, scale=3)
        viz.schedule_figure({"cosine": {"alpha_bar": schedule.alphas_cumprod.numpy(),
                                        "log_snr": schedule.snr.log().numpy()}}, ui_t=500)

    return {
        "UNet forward, 16 Fashion images (ms)": forward_ms,
        "DDIM-50, 16 Fashion samples (s)": ddim_ms / 1000,
        f"DDIM-50, 16 Fashion samples, all {cores} cores (s)": ddim_all_cores_ms / 1000,
        "sampler time / (50 x bare forward, timed apart)": ddim_ms / (50 * forward_ms),
        "sampler time / time inside the 50 network calls": loop_share,
        "one step-through scrub, server-side render (ms)": _best_ms(scrub, repeat=5),
    }


class _UpsampleThenConv(NearestUpConv):
    """The way up without folding (sampling_choices' baseline): nearest ×2 at full size, then the 3×3 convolution."""

    def forward(self, x: torch.Tensor, size=None) -> torch.Tensor:
        size = size or (2 * x.shape[-2], 2 * x.shape[-1])
        return torch.nn.Conv2d.forward(self, torch.nn.functional.interpolate(x, size=tuple(size), mode="nearest"))


def sampling_choices() -> dict[str, float]:
    """What each candidate speed-up does to DDIM-50 on 16 Fashion samples, against the sampler as shipped (a ratio
    below 1 is faster than shipped, above 1 slower): bfloat16 autocast (shipped where the CPU has native bf16:
    the ratio of float32), the folded upsampling convolution (the ratio of upsampling first), channels-last
    memory, inference mode, torch.compile (if it compiles here), and the share of the run that a cache of the
    50 time embeddings could save at most."""
    from .diffusion.samplers import sample
    from .nn import UNet, sinusoidal_embedding
    from .recipes import recipe

    spec = recipe("ddpm-fashion-cosine").spec
    model = for_inference(spec.build(), DEVICE)
    plain = spec.build().eval().to(DEVICE)  # float32
    unfolded = copy.deepcopy(plain)
    for module in unfolded.modules():
        if isinstance(module, NearestUpConv):
            module.__class__ = _UpsampleThenConv
    channels_last = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    schedule = make_schedule(spec.schedule, spec.num_steps)
    x_T, y = torch.randn(16, 1, 28, 28, device=DEVICE), torch.arange(16, device=DEVICE) % 10

    def ddim(net, x):
        return sample(net, schedule, x, "ddim", 50, y=y)

    def in_inference_mode():
        with torch.inference_mode():
            ddim(model, x_T)

    shipped, float32 = _best_ms(lambda: ddim(model, x_T), repeat=5), _best_ms(lambda: ddim(plain, x_T), repeat=5)
    figures = {f"DDIM-50, 16 Fashion samples, as shipped ({compute_precision(model)}) (s)": shipped / 1000,
               "float32 ÷ as shipped": float32 / shipped,
               "float32: upsample then 3×3 conv (not folded) ÷ folded":
                   _best_ms(lambda: ddim(unfolded, x_T), repeat=5) / float32,
               "float32, channels-last ÷ as shipped":
                   _best_ms(lambda: ddim(channels_last, x_T.contiguous(memory_format=torch.channels_last)), repeat=5)
                   / shipped,
               "torch.inference_mode around the run ÷ as shipped": _best_ms(in_inference_mode, repeat=5) / shipped}
    unet = next(m for m in model.modules() if isinstance(m, UNet))
    t = torch.full((16,), 500, device=DEVICE)
    with torch.no_grad():
        embedding = _best_ms(lambda: unet.time_mlp(sinusoidal_embedding(t, unet.config.base_channels)), repeat=20)
    figures["50 time embeddings ÷ the run (the most a cache could save)"] = 50 * embedding / shipped
    try:
        compiled = torch.compile(model)
        began = time.perf_counter()
        ddim(compiled, x_T)
        figures["torch.compile: first run, compiling included (s)"] = time.perf_counter() - began
        figures["torch.compile, warm ÷ as shipped"] = _best_ms(lambda: ddim(compiled, x_T), repeat=5) / shipped
    except Exception as err:  # noqa: BLE001 - a machine without a compiler: say so, measure the rest
        print(f"torch.compile does not run here: {type(err).__name__}: {str(err)[:120]}")
    return figures


def guidance_figures() -> dict[str, float]:
    """A 5 scales × 4 seeds grid with DDIM-50 on Fashion, each method, and what batching cond + uncond saves."""
    from . import guidance
    from .diffusion.samplers import ClassifierFree
    from .recipes import recipe

    spec = recipe("ddpm-fashion-cosine").spec
    model = for_inference(spec.build(), DEVICE)  # timing does not depend on the weights
    classifier = recipe("noisy-classifier-fashion").spec.build().eval().to(DEVICE)
    schedule = make_schedule(spec.schedule, spec.num_steps)
    scales, seeds = [0, 1, 2, 4, 8], [0, 1, 2, 3]
    figures = {}
    for method in ("cfg", "classifier"):
        figures[f"guidance grid 5 scales x 4 seeds, DDIM-50, {method} (s)"] = _best_ms(
            lambda: guidance.grid(model, schedule, (1, 28, 28), 7, scales, seeds, method, classifier), repeat=2) / 1000
    x, t, y = (torch.randn(20, 1, 28, 28, device=DEVICE), torch.full((20,), 500, device=DEVICE),
               torch.full((20,), 7, device=DEVICE))
    cfg = ClassifierFree(torch.tensor([float(w) for w in scales]).repeat_interleave(4))
    with torch.no_grad():
        batched = _best_ms(lambda: cfg(model, x, t, y, schedule), repeat=10)
        separate = _best_ms(lambda: (model(x, t, y), model(x, t, None)), repeat=10)
    figures["CFG on 20 images: two separate passes / one batched pass"] = separate / batched
    return figures


def training_figures(steps: int = 30) -> dict[str, float]:
    """Training steps per second of each kind of shipped recipe, at its own batch size (after 5 warm-up steps)."""
    from .recipes import RECIPES
    from .train import train_steps

    figures, seen = {}, set()
    for name, r in RECIPES.items():
        kind = (type(r.spec).__name__, getattr(r.spec, "network", ""))
        if kind in seen:  # the 12 toy recipes share one network and batch size
            continue
        seen.add(kind)
        ds = data.load(r.dataset, "train", n=r.n or 4096, seed=0)
        if r.spec.family == "token-prior":
            from . import prior
            from . import checkpoints
            if r.spec.vq not in checkpoints.available():
                continue
            ds = prior.tokenise(ds, checkpoints.load(r.spec.vq, device=DEVICE).model)
        if r.spec.family == "clip":  # CLIP trains on the token ids of each scene's captions
            from . import clip
            ds = clip.training_set(ds, r.spec)
        stamps = {}
        for event in train_steps(r.spec, ds, steps, device=DEVICE):
            _sync()
            stamps[event.step] = time.perf_counter()
        figures[f"training steps/s, {name} (batch {r.spec.batch_size})"] = (steps - 5) / (stamps[steps] - stamps[5])
    return figures


def gan_figures() -> dict[str, float]:
    """The live 2D GAN view: training iterations per second, and what one redraw of the view costs."""
    from . import gan
    from .viz import gan as gan_viz

    ds = data.load("ring8", "train", n=4096)
    run = gan.LiveRun.start(gan.GANSpec(network="mlp", batch_size=256, lr=1e-3, d_lr=1e-3), ds, seed=0, device=DEVICE)
    stamps = {}
    for _ in run.train(205):
        _sync()
        stamps[run.iteration] = time.perf_counter()
    real = ds.x[:800].numpy()

    def redraw():  # what the page computes per redraw: D on the plane, G's push at 400 points, mode count, picture
        run.count_modes()
        gan_viz.live_field(run.view(), real, "")

    return {"2D GAN training iterations/s (batch 256, 1 D + 1 G step)": 200 / (stamps[205] - stamps[5]),
            "one redraw of the live 2D GAN view (ms)": _best_ms(redraw, repeat=10)}


def vq_figures() -> dict[str, float]:
    """/vq: encoding one image into tokens and decoding it, and the prior writing one image token by token."""
    from . import checkpoints, prior, vq
    if not {"vq-fashion", "prior-fashion"} <= set(checkpoints.available()):
        return {}
    tokenizer, p = checkpoints.load("vq-fashion", device=DEVICE).model, checkpoints.load("prior-fashion", device=DEVICE).model
    x = data.example("fashion", 7, 0)[0][None].to(DEVICE)
    t = vq.tokens(tokenizer, x)
    flat = t.flatten(1)
    labels = p.spec.null_condition(1, DEVICE)
    with torch.no_grad():
        full = _best_ms(lambda: p(flat, labels))
    whole = _best_ms(lambda: prior.sample(p, 1, generator=torch.Generator().manual_seed(0)), repeat=5)
    return {"VQ: image -> 49 tokens -> decode, one image (ms)": _best_ms(lambda: vq.decode_tokens(tokenizer, vq.tokens(tokenizer, x))),
            "prior: one image, 49 tokens one at a time (ms)": whole,
            "prior: that ÷ 49 bare forward passes at full length": whole / (49 * full),
            "prior: 16 images at once, 49 tokens (ms)": _best_ms(lambda: prior.sample(p, 16), repeat=3)}


def text_to_image_figures() -> dict[str, float]:
    """/text-to-image: latent against pixel diffusion, per sample (16 at once, DDIM-50 with guidance, decoded)."""
    from . import checkpoints, text_to_image as t2i
    names = [n for n in ("ldm-scenes", "pixel-scenes") if n in checkpoints.available()]
    figures, costs = {}, {}
    for name in names:
        m = checkpoints.load(name, device=DEVICE)
        costs[name] = cost = t2i.cost(m, steps=50, n=16)
        figures[f"{name}: seconds per sample, DDIM-50 with CFG, 16 at once"] = cost["seconds_per_sample"]
        figures[f"{name}: GFLOPs per network call, per sample"] = cost["gflops_per_call"]
    if len(costs) == 2:
        latent, pixel = costs["ldm-scenes"], costs["pixel-scenes"]
        figures["pixel ÷ latent: seconds per sample"] = pixel["seconds_per_sample"] / latent["seconds_per_sample"]
        figures["pixel ÷ latent: FLOPs per call"] = pixel["gflops_per_call"] / latent["gflops_per_call"]
    return figures


def dalle_figures() -> dict[str, float]:
    """/dalle: seconds per image of each text-to-image system on the compare tab's 8 prompts (2 images each, everything
    included), and DALL·E 1's seconds per image token."""
    from . import checkpoints, dalle, systems
    lacking = systems.missing(checkpoints.available())
    load = lambda name: checkpoints.load(name, device=DEVICE)  # noqa: E731
    parts = systems.load_parts(load)
    figures = {}
    for system in systems.SYSTEMS:
        if lacking[system]:
            continue
        began = time.perf_counter()
        made = systems.images(parts, system, list(systems.PROMPTS), per_prompt=2)
        figures[f"{system}: seconds per image (8 prompts × 2)"] = (time.perf_counter() - began) / len(made)
    if not lacking["DALL·E 1"]:
        m = parts["dalle-scenes"]
        began = time.perf_counter()
        dalle.sample(m.model, list(systems.PROMPTS) * 2)
        figures["DALL·E 1: milliseconds per image token (16 images at once)"] = \
            1000 * (time.perf_counter() - began) / m.spec.image_length
    return figures


def flow_figures() -> dict[str, float]:
    """/flows: Euler-50 for 16 Fashion samples with the flow-matching UNet (the DDPMs' network) and what its loop adds
    to the network calls; the RealNVP tab's whole report (density grid, layers, KDE, brute-force log-dets)."""
    from . import checkpoints, data, flows
    from .recipes import recipe

    model = for_inference(recipe("fm-fashion").spec.build(), DEVICE)  # as shipped; timing does not depend on weights
    x_1, y = torch.randn(16, 1, 28, 28, device=DEVICE), torch.arange(16, device=DEVICE) % 10
    inside = [0.0]

    def timed_model(*args):
        began = time.perf_counter()
        out = model(*args)
        inside[0] += time.perf_counter() - began
        return out

    euler_ms = _best_ms(lambda: flows.flow_sample(model, x_1, "euler", 50, y=y), repeat=3)
    began = time.perf_counter()
    flows.flow_sample(timed_model, x_1, "euler", 50, y=y)
    figures = {"flow matching Euler-50, 16 Fashion samples (s)": euler_ms / 1000,
               "flow sampler time / time inside the 50 network calls": (time.perf_counter() - began) / inside[0]}
    if "realnvp-ring8" in checkpoints.available():
        nvp = checkpoints.load("realnvp-ring8", device=DEVICE).model
        test, train = data.load("ring8", "test", n=2000).x, data.load("ring8", "train", n=2000).x
        figures["/flows RealNVP report, ring8, 2,000 test points (s)"] = _best_ms(
            lambda: flows.realnvp_report(nvp, test, train, flows.ring8_log_prob), repeat=3) / 1000
    return figures


def startup_figures() -> dict[str, float]:
    """A fresh `python app.py`: seconds until `/` answers; then, once its warm-up has loaded the models, each page's first visit."""
    import urllib.request

    from .loadtest import serving

    with serving() as (url, process, cold, _):
        figures = {"cold start: seconds until / answers": cold,
                   "warm-up: seconds from the start until every shipped model is loaded":
                       getattr(process, "warmed_after_s", float("nan"))}
        for route in ("/autoencoders", "/vq", "/gan", "/forward", "/reverse", "/guidance", "/flows", "/clip",
                      "/text-to-image", "/dalle"):
            began = time.perf_counter()
            with urllib.request.urlopen(url.rstrip("/") + route, timeout=60) as response:
                response.read()
            figures[f"first visit to {route}, once warm (s)"] = time.perf_counter() - began
    return figures


def browser_figures() -> dict[str, float]:
    """A 2D reverse run (two moons, DDIM-50, 2,000 points) in headless Chromium against a fresh app: seconds from the
    click until the browser shows "Done" with its final plot, against the server's own time for the run (in that
    text). Needs Debian's chromium and playwright; skipped without them."""
    import re
    import shutil

    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        print("browser figures skipped: no chromium or playwright here")
        return {}
    from .loadtest import serving

    with serving() as (url, _, _, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url.rstrip("/") + "/reverse")
        page.locator("#reverse-model input").click()
        page.get_by_role("option", name="two moons · cosine schedule (shipped)").click()
        page.wait_for_timeout(1500)  # the model's change event sets the sample slider's range for points
        page.locator("#reverse-n input[type=number]").fill("2000")
        page.locator("#reverse-n input[type=number]").press("Enter")
        page.wait_for_timeout(500)
        figures = {}
        for attempt in range(2):  # the first run also loads the model and warms Plotly; the second is the figure
            began = time.perf_counter()
            page.locator("#reverse-generate").click()
            page.locator("#reverse-status").get_by_text("Sampling: step").wait_for(timeout=120_000)  # this run's own
            done = page.locator("#reverse-status").get_by_text(re.compile(r"Done: .* in [0-9.]+ s"))
            done.wait_for(timeout=120_000)
            page.locator("#reverse-live-points .js-plotly-plot").wait_for(timeout=60_000)
            shown = time.perf_counter() - began
            server = float(re.search(r"in ([0-9.]+) s", done.inner_text()).group(1))
            page.wait_for_timeout(500)
        browser.close()
    figures["2D reverse run, DDIM-50, 2,000 points: server time (s)"] = server
    figures["2D reverse run: seen in the browser ÷ server time"] = shown / server
    return figures


def diffusers_figures() -> dict[str, float]:
    """Our DDIM-50 (16 class-conditional Fashion samples, η = 0) beside the same loop with diffusers' `UNet2DModel`
    and `DDIMScheduler`, in this process, at about our UNet's parameter count (channels 24-40-40, one ResBlock per
    level, attention in the middle block only, as ours). Only with `bench --compare-diffusers` and diffusers installed:
    it is never a dependency of the playground."""
    from diffusers import DDIMScheduler, UNet2DModel

    from .diffusion.samplers import sample
    from .recipes import recipe

    spec = recipe("ddpm-fashion-cosine").spec
    ours = for_inference(spec.build(), DEVICE)  # as shipped; timing does not depend on the weights
    theirs = UNet2DModel(sample_size=28, in_channels=1, out_channels=1, layers_per_block=1,
                         block_out_channels=(24, 40, 40), down_block_types=("DownBlock2D",) * 3,
                         up_block_types=("UpBlock2D",) * 3, norm_num_groups=8, attention_head_dim=40,
                         num_class_embeds=spec.num_classes + 1).eval().to(DEVICE)
    scheduler = DDIMScheduler(num_train_timesteps=spec.num_steps, beta_schedule="squaredcos_cap_v2",
                              prediction_type={"eps": "epsilon", "v": "v_prediction"}.get(spec.prediction, "sample"))
    schedule = make_schedule(spec.schedule, spec.num_steps)
    x_T, y = torch.randn(16, 1, 28, 28, device=DEVICE), torch.arange(16, device=DEVICE) % 10
    t = torch.full((16,), 500, device=DEVICE)

    def diffusers_ddim():
        scheduler.set_timesteps(50)
        x = x_T
        with torch.no_grad():
            for step in scheduler.timesteps:
                x = scheduler.step(theirs(x, step.to(DEVICE), class_labels=y).sample, step, x).prev_sample
        return x

    with torch.no_grad():
        ours_forward = _best_ms(lambda: ours(x_T, t, y), repeat=10)
        theirs_forward = _best_ms(lambda: theirs(x_T, t, class_labels=y), repeat=10)
    ours_ddim = _best_ms(lambda: sample(ours, schedule, x_T, "ddim", 50, y=y), repeat=3)
    theirs_ddim = _best_ms(diffusers_ddim, repeat=3)
    return {
        "parameters, ours (thousands)": sum(p.numel() for p in ours.parameters()) / 1000,
        "parameters, diffusers UNet2DModel (thousands)": sum(p.numel() for p in theirs.parameters()) / 1000,
        "DDIM-50, 16 Fashion samples, ours (s)": ours_ddim / 1000,
        "DDIM-50, 16 Fashion samples, diffusers (s)": theirs_ddim / 1000,
        "DDIM-50: ours ÷ diffusers": ours_ddim / theirs_ddim,
        "one forward pass, 16 images: ours ÷ diffusers": ours_forward / theirs_forward,
    }


GROUPS = {group.__name__: group for group in (
    startup_figures, forward_figures, sampling_figures, sampling_choices, guidance_figures, gan_figures, vq_figures,
    flow_figures, text_to_image_figures, dalle_figures, browser_figures, training_figures)}


def run(only: list[str] | None = None, compare_diffusers: bool = False) -> None:
    """Print every group's figures (or the groups in `only`); with compare_diffusers also `diffusers_figures`."""
    torch.set_num_threads(cpu_budget()[2])  # as the app runs them (see devices.cpu_budget)
    print(f"machine: {machine()}")
    unknown = sorted(set(only or ()) - set(GROUPS) - {"diffusers_figures"})
    if unknown:
        raise ValueError(f"no bench group {', '.join(unknown)}; groups: {', '.join(GROUPS)}")
    groups = [group for name, group in GROUPS.items() if not only or name in only]
    if compare_diffusers or "diffusers_figures" in (only or ()):
        groups.append(diffusers_figures)
    for group in groups:
        for name, value in group().items():
            print(f"{name:62s} {value:10.2f}", flush=True)
