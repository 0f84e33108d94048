"""/flows: normalizing flows (RealNVP: exact likelihood) and flow matching (straight paths, an ODE sampler), and
flow matching against DDIM on the same data and network.

One module per tab: `realnvp`, `matching` and `compare`. What a browser makes (its sampled paths, its trained
models) lives in that browser's session state, never in this module."""
from __future__ import annotations

import gradio as gr

from ..common import about, session_state
from . import compare, matching, realnvp
from .compare import measure
from .matching import generate_fashion, sample_paths, show_frame
from .realnvp import show_flow

__all__ = ["build", "demo", "show_flow", "sample_paths", "show_frame", "generate_fashion", "measure"]

ABOUT = ("Flows are the generative family whose log-likelihood is exact. A **normalizing flow** (RealNVP) is an "
         "invertible map from data to Gaussian noise built so that its Jacobian's determinant is cheap; the change "
         "of variables then gives the density of every point, and training maximises it. **Flow matching** keeps "
         "the idea of a flow but not the invertible layers: a network learns the velocity that carries noise to "
         "data along straight lines, and an ODE solver follows it, as today's largest text-to-image models "
         "(Stable Diffusion 3) are trained. A diffusion model's deterministic sampler is such an ODE too, so the last "
         "tab measures the two side by side.")
EQUATION = ("$\\log p(x) = \\log \\mathcal{N}(f(x); 0, I) + \\sum_k \\log\\left|\\det \\frac{\\partial f_k}{\\partial "
            "h_{k-1}}\\right|$ (RealNVP) · $\\mathcal{L}_{\\mathrm{CFM}} = \\mathbb{E}_{t, x_0, \\varepsilon}\\,\\lVert "
            "v_\\theta((1-t)x_0 + t\\varepsilon, t) - (\\varepsilon - x_0)\\rVert^2$ (flow matching)")
CITATION = ("Dinh, Sohl-Dickstein & Bengio 2017, Density estimation using Real NVP, eq. 3–9 · Kingma & Dhariwal 2018, "
            "Glow, §3.1 · Lipman et al. 2023, Flow Matching for Generative Modeling, eq. 23 · Liu, Gong & Liu 2022, "
            "Flow Straight and Fast (rectified flow), eq. 1")


def build(page: gr.Blocks) -> None:
    about("Flows: exact likelihood, and straight paths from noise to data", ABOUT, EQUATION, CITATION)
    my_models = session_state({})  # this browser's trained flows {id: Loaded}
    with gr.Tabs():
        with gr.Tab("RealNVP: exact likelihood", id="realnvp"):
            realnvp.build(page, my_models)
        with gr.Tab("Flow matching", id="matching"):
            matching.build(my_models)
        with gr.Tab("Against diffusion", id="compare"):
            compare.build()


def demo() -> gr.Blocks:
    with gr.Blocks(title="Flows") as page:
        build(page)
    return page


if __name__ == "__main__":
    demo().launch()
