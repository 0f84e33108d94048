"""/gan: a 2D GAN trained live (D as a heat map, the force −∇ₓ L_G as arrows, pause and single D/G steps), mode
collapse counted on the ring of 8 Gaussians, a shipped DCGAN on Fashion-MNIST, its patch discriminator, and
GAN samples next to VAE and DDPM samples with one diversity figure each. One module per tab."""
from __future__ import annotations

import gradio as gr

from ..common import about
from . import collapse, compare, dcgan, live, patches
from .collapse import collapse_side_by_side
from .compare import compare_families
from .dcgan import CAPS, MENU, dcgan_interpolate, dcgan_samples, make_job
from .live import MAX_ITERS, PRESETS, TOYS, paused, preset, reset2d, single_step, train2d
from .patches import patch_maps

__all__ = ["build", "demo", "collapse_side_by_side", "compare_families", "CAPS", "MENU", "dcgan_interpolate",
           "dcgan_samples", "make_job", "MAX_ITERS", "PRESETS", "TOYS", "paused", "preset", "reset2d", "single_step",
           "train2d", "patch_maps"]

ABOUT = ("A **generator** G turns noise z into a sample; a **discriminator** D looks at a sample and says how real it "
         "seems. They are trained in turn against each other: D to tell real from generated, G to fool D. Nothing "
         "ever computes a probability of a sample — a GAN is not a density model — so the only signal G gets is D's "
         "gradient. The green arrows below are $-\\nabla_x L_G$ at each generated point: the *force* on it, not its "
         "motion. A point moves only through G's weights, which all points' forces pull on at once (and Adam "
         "rescales), so after a G step it can move at an angle to its arrow. Training is a game, not a descent, so "
         "it can circle, stall, or *collapse* onto a few modes of the data.")
TABS = ((live, "2D: train live", "live"), (collapse, "Mode collapse, measured", "collapse"),
        (dcgan, "DCGAN on Fashion-MNIST", "dcgan"), (patches, "Patch discriminator", "patches"),
        (compare, "GAN vs VAE vs DDPM", "compare"))


def build(page: gr.Blocks) -> None:
    about("GANs: a generator against a discriminator", ABOUT,
          "$\\min_G \\max_D\\ \\mathbb{E}_{x}[\\log D(x)] + \\mathbb{E}_{z}[\\log(1 - D(G(z)))]$; in practice G "
          "minimises $-\\log D(G(z))$ (non-saturating).",
          "Goodfellow et al. 2014, eq. 1 and §3 · Radford et al. 2016 (DCGAN) · Gulrajani et al. 2017 (WGAN-GP) · "
          "Miyato et al. 2018 (spectral norm, hinge) · Isola et al. 2017 (patch discriminator)")
    with gr.Tabs():
        for module, title, tab_id in TABS:
            with gr.Tab(title, id=tab_id):
                module.build_tab(page)


def demo() -> gr.Blocks:
    with gr.Blocks(title="GANs") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
