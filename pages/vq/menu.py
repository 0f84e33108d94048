"""What the /vq tabs share: the model menu (the shipped tokenizers, and the models this browser trained, which
live in its session state `my_models`), and facts measured once per model (its codebook colours and its code
usage over the whole test set)."""
from __future__ import annotations

import math
import weakref

import torch

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
    """Code usage (counts per code), perplexity, dead codes and MSE over the model's whole test set. A shipped
    model's card holds them (measured by the same `vq.usage` when it was trained: `evaluate.vq_quality`), so no
    visit waits for the test set's 10,000 images to be encoded and decoded (about 8 s a model on one thread); a
    model trained here is measured once."""
    facts = _facts(handle)
    if "usage" not in facts:
        m = handle.card.get("metrics", {})
        facts["usage"] = ({"counts": torch.tensor(m["test_code_counts"]), "perplexity": m["test_perplexity"],
                           "dead_codes": m["test_dead_codes"], "test_mse_per_pixel": m["test_mse_per_pixel"]}
                          if "test_code_counts" in m else vq.usage(handle.model, real_data(handle.dataset, "test").x))
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
