"""The Generative Models Playground: `python app.py [--host 127.0.0.1] [--port 7860] [--device cpu|cuda|mps]`.

PLAYGROUND_HOST / PLAYGROUND_PORT (or Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT) set the address too, and
PLAYGROUND_DEVICE the device (default: cuda, then mps, then cpu). The server and the page send no request off
this machine.
"""
from __future__ import annotations

import gc
import os

if __name__ == "__main__":  # `python app.py`: no garbage collection while importing and building, about 1 s of the
    gc.disable()            # cold start here (millions of objects made, none of them garbage); serve() turns it on

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry, no version check
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import functools  # noqa: E402
import importlib.abc  # noqa: E402
import importlib.machinery  # noqa: E402
import sys  # noqa: E402


class _CachedArgspecs:
    """`inspect` as Gradio's component wrapper sees it, with `getfullargspec` cached: the wrapper asks it of the
    same few `__init__`s for every component built (826 here, about 0.3 s of the cold start); a function's
    signature does not change."""

    def __init__(self, module):
        self._module = module
        self.getfullargspec = functools.lru_cache(maxsize=None)(module.getfullargspec)

    def __getattr__(self, name):
        return getattr(self._module, name)


class _NoStubWriting(importlib.abc.MetaPathFinder):
    """Gradio's ComponentMeta parses each component's source and rewrites its .pyi type stub (for editors) every
    time a component class is defined, at every import: about 1 s of the cold start here (`bench`'s startup
    figure). Those stubs do nothing at run time, so for the app that step is made a no-op as Gradio loads (and
    its component wrapper gets `_CachedArgspecs`)."""

    done = False

    def find_spec(self, name, path, target=None):
        if name != "gradio.component_meta" or self.done:
            return None
        self.done = True
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            exec_module = spec.loader.exec_module

            def exec_without_stubs(module):
                exec_module(module)
                module.create_or_modify_pyi = lambda *args, **kwargs: None
                module.inspect = _CachedArgspecs(module.inspect)

            spec.loader.exec_module = exec_without_stubs
        return spec


if "gradio" not in sys.modules:
    sys.meta_path.insert(0, _NoStubWriting())

import gradio as gr  # noqa: E402

from pages import autoencoders, clip, dalle, flows, forward, gan, guidance, home, reverse, text_to_image, vq  # noqa: E402
from pages.common import findings, next_link, set_journey  # noqa: E402
from pages.common.jobs import CACHE_AGE_S, CACHE_SWEEP_S, sweep_cache  # noqa: E402

# Every page the app serves, in the order of the journey. The home page lists exactly these.
PAGES = [
    dict(route="/autoencoders", docs="autoencoders", title="Autoencoders", module=autoencoders, family="AE, DAE, VAE",
         teaches="Squeeze Fashion-MNIST through a 16-D or 2-D bottleneck: reconstructions with error maps, a denoising "
                 "AE undoing noise and masking, clickable latent maps, z ~ N(0, I) decoded by an AE and a VAE (measured), "
                 "the reparameterisation trick, interpolation, the β trade-off, and training your own."),
    dict(route="/vq", docs="vq", title="VQ-VAE", module=vq, family="VQ-VAE, dVAE, token prior",
         teaches="An image as a 7×7 grid of tokens you can hover and edit; encoder outputs snapping to their nearest "
                 "code (k-means, measured); codebook health (perplexity, dead codes) for a plain codebook against "
                 "EMA + restarts; K = 16, 64, 512; a transformer prior writing images token by token with temperature "
                 "and top-k; DALL·E's Gumbel-softmax dVAE; and training your own."),
    dict(route="/gan", docs="gan", title="GANs", module=gan, family="GAN (MLP, DCGAN, patch discriminator)",
         teaches="Train a 2D GAN live: D as a heat map, G's push as arrows, pause and single D / G steps, four losses. "
                 "Mode collapse counted on the ring of 8 Gaussians with two presets; a DCGAN on Fashion-MNIST, its "
                 "patch discriminator's verdicts, and GAN vs VAE vs DDPM samples with one diversity figure each."),
    dict(route="/forward", docs="diffusion", title="Forward diffusion", module=forward, family="diffusion",
         teaches="A real image or a 2D cloud dissolving into Gaussian noise under two schedules side by side "
                 "(linear, cosine, sigmoid, scaled-linear, each also rescaled to zero terminal SNR), with ᾱ_t, SNR "
                 "and the share of steps spent in near-pure noise measured."),
    dict(route="/reverse", docs="diffusion", title="Reverse diffusion", module=reverse, family="diffusion (DDPM, DDIM)",
         teaches="A trained denoiser pulls Fashion-MNIST items or 2D clouds out of pure noise. Step through every "
                 "recorded step (x_t, the predicted noise ε̂, the predicted x̂₀), compare DDPM-1000 with DDIM-5…100 "
                 "and linear- with cosine-trained models, with measured quality; improved DDPM's learned variance "
                 "against fixed β̃ and β at 25–1000 respaced steps, with its likelihood in bits/dim; and train your "
                 "own."),
    dict(route="/guidance", docs="diffusion", title="Guidance", module=guidance, family="diffusion (CFG, classifier guidance)",
         teaches="Classifier-free guidance and classifier guidance side by side: rows are scales, columns are seeds "
                 "sharing x_T. The fidelity / diversity trade-off is measured from the samples, negative scales push "
                 "away from a class, and 2D densities show samples pulled toward the class's mode."),
    dict(route="/flows", docs="flows", title="Flows", module=flows, family="normalizing flow (RealNVP), flow matching",
         teaches="A RealNVP's exact density on toy sets, its grid deformed layer by layer, its likelihood checked "
                 "against the true density and its log-det against a brute-force Jacobian; flow matching's ODE paths "
                 "drawn step by step, a class-conditional Fashion-MNIST model with guidance, and flow matching against "
                 "DDIM on the same network: quality against steps and how straight the paths are, measured."),
    dict(route="/clip", docs="clip", title="CLIP", module=clip, family="CLIP (contrastive image–text)",
         teaches="Images and captions in one space, on scenes whose every fact is known: prompts as a zero-shot "
                 "classifier, retrieval both ways with R@1 against chance, the modality gap, attribute binding "
                 "(the true caption against colours swapped: where CLIP fails), the CLIP score calibrated (higher = "
                 "a better match), and a mini-CLIP trained live with its similarity matrix lighting up."),
    dict(route="/text-to-image", docs="text_to_image", title="Text to image", module=text_to_image,
         family="latent diffusion (a miniature Stable Diffusion)",
         teaches="Prompts to images through an autoencoder's latent space and cross-attention to mini-CLIP's text "
                 "encoder: images streaming out of noise, where each word looks, guidance scales and negative "
                 "prompts measured by a scene judge, img2img and inpainting, latent against pixel diffusion "
                 "(time, FLOPs, quality), and held-out colour–shape pairs."),
    dict(route="/dalle", docs="dalle", title="DALL·E 1 and 2", module=dalle,
         family="autoregressive transformer over tokens; unCLIP (prior, decoder, upsampler)",
         teaches="DALL·E 1 writing a prompt into 64 image tokens one at a time (where each token looked, the sparse "
                 "masks of the real model) with CLIP reranking measured against N; DALL·E 2's prior, decoder and "
                 "upsampler stage by stage, variations and slerp paths through CLIP's embedding space, noise "
                 "augmentation; and five text-to-image systems on the same prompts, measured."),
]

THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = """
.gradio-container {max-width: 1600px !important; width: 100% !important; margin: 0 auto !important;}
/* presenter mode (?present=1, or the toggle; remembered in this browser): big text, full width, no side panels */
html.present .gradio-container {max-width: 1920px !important; width: 100% !important; margin: 0 auto !important;}
html.present .gradio-container :is(p, li, label, span, input, textarea, button, td, th, small, .prose) {
  font-size: max(18px, 1em) !important;}
html.present .gradio-container :is(h1, h2) {font-size: 30px !important;}
html.present .gradio-container h3 {font-size: 24px !important;}
html.present .js-plotly-plot text {font-size: 18px !important;}
html.present :is(.about-page, .presenter-hide, .next-link, footer) {display: none !important;}
/* the toggle sits at the right end of the title's line, below the navigation bar, and scrolls away with the page */
#present-toggle {position: absolute; right: 16px; top: 64px; z-index: 1000; padding: 4px 10px; border-radius: 6px;
  border: 1px solid #bbb; background: #fff; font: 14px system-ui, sans-serif; cursor: pointer;}
html.present #present-toggle {font-size: 16px;}
"""
# Presenter mode: ?present=1 (or ?present=0) in the address, or the toggle in the corner; kept in localStorage.
JS = """
() => {
  const params = new URLSearchParams(window.location.search);
  if (params.has('present')) localStorage.setItem('playground-present', params.get('present') === '1' ? '1' : '0');
  const apply = () => document.documentElement.classList.toggle('present', localStorage.getItem('playground-present') === '1');
  apply();
  if (!document.getElementById('present-toggle')) {
    const button = document.createElement('button');
    button.id = 'present-toggle';
    button.textContent = 'Presenter mode';
    button.title = 'Big text and full width for a projector (remembered in this browser; ?present=1 also turns it on)';
    button.onclick = () => {
      localStorage.setItem('playground-present', localStorage.getItem('playground-present') === '1' ? '0' : '1');
      apply();
    };
    document.body.appendChild(button);
  }
}
"""


set_journey([(page["route"], page["title"]) for page in PAGES])  # the order of every page's "Next" link


@contextlib.contextmanager
def _one_app_config():
    """Gradio 6 rebuilds the whole app's config and its web app at the end of every `with gr.Blocks()` and `with
    demo.route(...)`, and once more in `queue()`: 13 rebuilds of a growing app (measured: about half of the cold
    start), where `launch()` builds both again anyway. While the app is built and queued, those intermediate
    rebuilds are skipped; launch makes the one that is used."""
    from gradio import routes

    get_config_file, create_app = gr.Blocks.get_config_file, routes.App.__dict__["create_app"]
    gr.Blocks.get_config_file = lambda self: None
    routes.App.create_app = staticmethod(lambda *args, **kwargs: None)
    try:
        yield
    finally:
        gr.Blocks.get_config_file, routes.App.create_app = get_config_file, create_app


@contextlib.contextmanager
def _config_computed_once():
    """`launch()` computes the app's whole config (1.5 MB here) and then again, unchanged, while it sets up its MCP
    route (even with MCP off): about 0.3 s of the cold start. During launch the second computation reuses the
    first (a test checks the config launch keeps equals a fresh one)."""
    get_config_file, made = gr.Blocks.get_config_file, {}

    def once(self):  # what launch changes between the two that shows in the config is part of the key
        key = (id(self), getattr(self, "mcp_server", None), id(getattr(self, "i18n_instance", None)))
        if key not in made:
            made[key] = get_config_file(self)
        return made[key]
    gr.Blocks.get_config_file = once
    try:
        yield
    finally:
        gr.Blocks.get_config_file = get_config_file


def build_app() -> gr.Blocks:
    # Gradio's cache of files sent to browsers: every 5 minutes, delete what is older than 10 (disk stays bounded),
    # with the walker that survives a class's load (pages.common.jobs.sweep_cache) in place of Gradio's own
    from gradio import route_utils
    route_utils.delete_files_created_by_app = sweep_cache
    with _one_app_config():
        with gr.Blocks(title="Generative Models Playground", analytics_enabled=False,
                       delete_cache=(CACHE_SWEEP_S, CACHE_AGE_S)) as demo:
            home.build(demo, PAGES)
        for page in PAGES:
            with demo.route(page["title"], page["route"]) as route:
                page["module"].build(route)
                findings(page.get("docs"))
                next_link(page["route"])
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("PLAYGROUND_HOST", os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PLAYGROUND_PORT", os.environ.get("GRADIO_SERVER_PORT", 7860))))
    parser.add_argument("--device", default=os.environ.get("PLAYGROUND_DEVICE"),
                        help="where models run: cpu, cuda, cuda:N or mps (default: cuda, then mps, then cpu)")
    args = parser.parse_args(argv)
    if args.device:
        from playground.devices import check_device
        check_device(args.device)  # a clear message now rather than at the first model load
        os.environ["PLAYGROUND_DEVICE"] = args.device
    serve(build_app(), args.host, args.port)


def warm_up() -> None:
    """Load the shipped models and the caches pages read on their first visit, in the background after the server
    answers: `/` is served at once, and a page's first visit finds its models loaded."""
    from pages.common import metric_classifier, real_data, shipped
    from pages.vq import menu as vq_menu
    from playground import checkpoints

    import time

    began = time.perf_counter()
    import scipy.linalg, scipy.ndimage, scipy.spatial, scipy.stats  # noqa: E401, F401 - imported where used
    from playground.viz import gan as gan_viz
    gan_viz.losses_figure({"it": [], "d_loss": [], "g_loss": []})  # plotly's first figure imports its validators
    real_data("fashion", "test")
    metric_classifier()
    for name in checkpoints.available():
        handle = shipped(name)
        if handle.family == "vq" and name in vq_menu.SHIPPED:
            vq_menu.colours(handle)
    from pages.flows import realnvp
    for name in realnvp.REALNVP_MENU.available():  # a shipped flow's view is the same for everyone: made once, here
        realnvp.show_flow(name, None)
    print(f"warm-up done in {time.perf_counter() - began:.1f} s: the shipped models are loaded", flush=True)


def serve(demo: gr.Blocks, host: str, port: int, warm: bool = True, **launch) -> gr.Blocks:
    """Queue and launch the app as a class uses it: torch threads × expensive jobs ≤ cores (pages.common.jobs);
    then warm the caches in the background."""
    import threading

    import torch

    from pages.common import TORCH_THREADS
    torch.set_num_threads(TORCH_THREADS)
    block = not launch.pop("prevent_thread_lock", False)
    with _one_app_config():
        demo.queue(default_concurrency_limit=4)
    with _config_computed_once():
        demo.launch(server_name=host, server_port=port, max_file_size="50mb", ssr_mode=False, theme=THEME, css=CSS,
                    js=JS, footer_links=["api", "settings"], prevent_thread_lock=True, **launch)
    if not gc.isenabled():  # started without collection: what start-up made lives as long as the server, so it is
        gc.freeze()         # moved out of the collector's sight for good, and collection resumes for the rest
        gc.enable()
    if warm:
        threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    if block:
        demo.block_thread()
    return demo


if __name__ == "__main__":
    main()
