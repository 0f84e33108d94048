"""The text-to-image systems side by side: DALL·E 1 (with and without CLIP reranking), DALL·E 2 (with and without
its prior) and latent diffusion, on the same prompts, measured the same way.

    >>> parts = systems.load_parts(checkpoints.load)
    >>> for result in systems.compare_steps(parts, systems.PROMPTS, systems.PAIRS):
    ...     print(result["system"], result["measured"])
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from . import dalle, text_to_image as t2i, unclip

SYSTEMS = ("DALL·E 1", "DALL·E 1 + rerank", "DALL·E 2", "DALL·E 2 without prior", "latent diffusion")
NEEDS = {"DALL·E 1": ("dalle-scenes", "vq-scenes", "clip-scenes"),
         "DALL·E 1 + rerank": ("dalle-scenes", "vq-scenes", "clip-scenes"),
         "DALL·E 2": ("unclip-prior", "unclip-decoder", "unclip-upsampler", "clip-scenes"),
         "DALL·E 2 without prior": ("unclip-decoder", "unclip-upsampler", "clip-scenes"),
         "latent diffusion": ("ldm-scenes", "clip-scenes")}
PROMPTS = ("a small red circle at the top left", "a large blue square in the centre",
           "a small green triangle at the bottom right", "a large yellow diamond on the left",
           "a small cyan circle at the top", "a large magenta square at the bottom left",
           "a small white triangle on the right", "a large red diamond at the top right")
PAIRS = ("a red circle left of a blue square", "a blue circle left of a red square",
         "a green triangle above a yellow diamond", "a yellow triangle above a green diamond",
         "a cyan square left of a magenta circle", "a magenta square left of a cyan circle",
         "a white diamond above a red triangle", "a red diamond above a white triangle")
RERANK_N = 16  # candidates per image for "DALL·E 1 + rerank"
SCALE = 3.0  # guidance of the diffusion decoders
MAX_PROMPTS = 8


@dataclass
class Parts:
    """The shipped models the systems use, each loaded when first asked for: parts["vq-scenes"] is load(name)."""

    load: Callable  # name -> Loaded (checkpoints.load, or a page's cached loader)

    def __getitem__(self, name: str):
        return self.load(name)


def load_parts(load: Callable) -> Parts:
    return Parts(load)


def missing(available, systems=SYSTEMS) -> dict[str, list[str]]:
    """For each system, the checkpoints it needs that are not among `available` (empty when it can run)."""
    return {s: [n for n in NEEDS[s] if n not in available] for s in systems}


def check_prompts(prompts, what: str = "prompts") -> list[str]:
    from .clip.text import check_texts
    return check_texts(prompts, 1, MAX_PROMPTS, what, "prompt")


def images(parts: Parts, system: str, prompts: list[str], seed: int = 0, per_prompt: int = 2) -> torch.Tensor:
    """per_prompt images for each prompt (prompt-major: prompt 0's images first), (N, 3, 32, 32) on the CPU."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; systems: {', '.join(SYSTEMS)}")
    many = [p for p in prompts for _ in range(per_prompt)]
    if system == "DALL·E 1":
        return dalle.images_for(parts["dalle-scenes"], parts["vq-scenes"], many, seed)
    if system == "DALL·E 1 + rerank":
        return torch.stack([dalle.rerank(parts["dalle-scenes"], parts["vq-scenes"], parts["clip-scenes"], p, RERANK_N,
                                         seed + k)["images"][0] for k, p in enumerate(many)])
    if system.startswith("DALL·E 2"):
        prior = parts["unclip-prior"] if system == "DALL·E 2" else None
        return unclip.images_for(parts["clip-scenes"], prior, parts["unclip-decoder"], parts["unclip-upsampler"], many,
                                 seed, use_prior=prior is not None, scale=SCALE)
    return t2i.images_for(parts["ldm-scenes"], many, scale=SCALE, seed=seed)


def diversity(clip_m, made: torch.Tensor, per_prompt: int) -> float:
    """Mean 1 − cos between the CLIP image embeddings of images made for the same prompt (0: identical)."""
    z = unclip.image_embeddings(clip_m, made)
    z = z.view(-1, per_prompt, z.shape[-1])
    sims = z @ z.transpose(1, 2)
    off = ~torch.eye(per_prompt, dtype=torch.bool)
    return float((1 - sims[:, off]).mean())


def measure(parts: Parts, system: str, prompts: list[str], pairs: list[str], seed: int = 0, per_prompt: int = 2) -> dict:
    """One system on the prompts (per_prompt images each) and the two-object pairs (one image each): images,
    scene-truth accuracy, CLIP score, diversity, seconds per image (the prompts' images), binding."""
    began = time.perf_counter()
    made = images(parts, system, prompts, seed, per_prompt)
    seconds = (time.perf_counter() - began) / len(made)
    clip_m = parts["clip-scenes"]
    many = [p for p in prompts for _ in range(per_prompt)]
    measured = t2i.accuracy_of(made, many, clip_m.model)
    out = {"shape_colour": measured["shape_colour"], "correct": measured["correct"],
           "clip_score": measured["clip_score"], "diversity": diversity(clip_m, made, per_prompt) if per_prompt > 1 else None,
           "seconds_per_image": seconds}
    bound = images(parts, system, pairs, seed, 1) if pairs else None
    if bound is not None:
        out["binding"] = t2i.binding(bound, list(pairs))
    return {"system": system, "images": made, "pairs_images": bound, "measured": out}


def compare_steps(parts: Parts, prompts=PROMPTS, pairs=PAIRS, seed: int = 0, per_prompt: int = 2,
                  systems=SYSTEMS) -> Iterator[dict]:
    """`measure` for each system in turn."""
    prompts, pairs = check_prompts(list(prompts)), check_prompts(list(pairs), "two-object prompts") if pairs else []
    for system in systems:
        yield measure(parts, system, prompts, pairs, seed, per_prompt)


def table(results: list[dict]) -> str:
    """The measured figures as a Markdown table, one row per system."""
    head = ("| system | right shape + colour | everything right | CLIP score | diversity | s / image | "
            "two objects: bound | swapped |\n|---|---|---|---|---|---|---|---|\n")
    rows = []
    for r in results:
        m = r["measured"]
        b = m.get("binding", {})
        rows.append(f"| {r['system']} | {m['shape_colour']:.0%} | {m['correct']:.0%} | {m['clip_score']:.2f} | "
                    + (f"{m['diversity']:.3f}" if m["diversity"] is not None else "–")
                    + f" | {m['seconds_per_image']:.3f} | "
                    + (f"{b['bound']:.0%} | {b['swapped']:.0%} |" if b else "– | – |"))
    return head + "\n".join(rows)


def summary(results: list[dict]) -> dict:
    """The figures without the images (for a card, a benchmark or the README)."""
    return {r["system"]: r["measured"] for r in results}
