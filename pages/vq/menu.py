"""What the /vq tabs share: the model menu (the shipped tokenizers, and the models this browser trained, which
live in its session state `my_models`), and facts measured once per model (its codebook colours and its code
usage over the whole test set)."""
from __future__ import annotations

import math
import weakref

from playground import vq
from playground.models import Loaded

from ..common import ModelMenu, real_data

SHIPPED = {"vq-fashion": "VQ-VAE · K = 64 · EMA + restarts", "vq-k16-fashion": "VQ-VAE · K = 16 · EMA + restarts",
           "vq-k512-fashion": "VQ-VAE · K = 512 · EMA + restarts",
           "vq-k512-plain-fashion": "VQ-VAE · K = 512 · plain codebook loss", "dvae-fashion": "dVAE (Gumbel) · K = 64"}
MENU = ModelMenu(SHIPPED)

# A cache, not a store: keyed by the model handle itself, so a browser's model's facts go when its session drops it.
_FACTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def get_model(name, my_models: dict | None = None) -> Loaded:
    """A shipped VQ model or one this browser trained (a clear message for anything else)."""
    return MENU.get(name, my_models)


def _facts(handle: Loaded) -> dict:
    if handle not in _FACTS:
        _FACTS[handle] = {}
    return _FACTS[handle]


def colours(handle: Loaded):
    """One RGB colour per code (K, 3): close codes get close colours."""
    facts = _facts(handle)
    if "colours" not in facts:
        facts["colours"] = vq.codebook_colours(handle.model.codebook)
    return facts["colours"]


def test_usage(handle: Loaded) -> dict:
    """Code usage, perplexity, dead codes and MSE over the model's whole test set (measured once per model)."""
    facts = _facts(handle)
    if "usage" not in facts:
        facts["usage"] = vq.usage(handle.model, real_data(handle.dataset, "test").x)
    return facts["usage"]


def bits(spec) -> str:
    """How many bits a token grid holds: grid² tokens × log₂K."""
    return (f"{spec.grid}×{spec.grid} = {spec.grid ** 2} tokens × log₂{spec.codebook_size} = "
            f"{spec.grid ** 2 * math.log2(spec.codebook_size):.0f} bits")


def health_row(handle: Loaded) -> str:
    """One model's row of the codebook-health table."""
    use = test_usage(handle)
    return (f"| {handle.label} | {handle.spec.codebook_size} | {use['perplexity']:.1f} | {use['dead_codes']} | "
            f"{use['test_mse_per_pixel']:.4f} |")
