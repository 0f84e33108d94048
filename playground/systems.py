"""The text-to-image systems side by side: DALL·E 1 (with and without CLIP reranking), DALL·E 2 (with and without
its prior) and latent diffusion, on the same prompts, measured the same way.

    >>> parts = systems.load_parts(checkpoints.load)
    >>> for result in systems.compare_steps(parts, systems.PROMPTS, systems.PAIRS):
    ...     print(result["system"], result["measured"])
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from . import dalle, text_to_image as t2i, unclip, vq

SYSTEMS = ("DALL·E 1", "DALL·E 1 + rerank", "DALL·E 2", "DALL·E 2 without prior", "latent diffusion")
NEEDS = {"DALL·E 1": ("dalle-scenes", "vq-scenes", "clip-scenes"),
         "DALL·E 1 + rerank": ("dalle-scenes", "vq-scenes", "clip-scenes"),
         "DALL·E 2": ("unclip-prior", "unclip-decoder", "unclip-upsampler", "clip-scenes"),
         "DALL·E 2 without prior": ("unclip-decoder", "unclip-upsampler", "clip-scenes"),
         "latent diffusion": ("ldm-scenes", "clip-scenes")}
PROMPTS = ("a small red circle at the top left", "a large blue square in the centre",
           "a small green triangle at the bottom right", "a large yellow diamond on the left",
           "a small cyan circle at the top", "a large magenta square at the bottom left",
           "a small magenta triangle on the right", "a large red diamond at the top right")
PAIRS = ("a red circle left of a blue square", "a blue circle left of a red square",
         "a green triangle above a yellow diamond", "a yellow triangle above a green diamond",
         "a cyan square left of a magenta circle", "a magenta square left of a cyan circle",
         "a green diamond above a red triangle", "a red diamond above a green triangle")
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


# ---- what each part's checkpoint card records ---------------------------------------------------------------

def rerank_gain(m, tokenizer, clip_m, prompts: list[str], ns=(1, 2, 4, 8, 16, 32, 64), seed: int = 0) -> dict:
    """What reranking buys: for each prompt draw max(ns) candidates once, and judge each by scene truth. For each
    N the top-1 by CLIPScore among the first N is judged, next to a random candidate (the mean over all draws,
    which is what N = 1 gives in expectation). Returns {n: [...], top1: [...], random: float, per_prompt: ...}."""
    from .clip import clip_score
    top = max(ns)
    right, exact, scores = [], [], []
    for i, prompt in enumerate(prompts):
        images = dalle.candidates(m, tokenizer, prompt, top, seed + i)
        verdicts = [t2i.judge(x, t2i.prompt_facts(prompt)) for x in images]
        right.append([v["shape_colour"] for v in verdicts])
        exact.append([v["correct"] for v in verdicts])
        scores.append(clip_score(clip_m.model, images, [prompt] * top))
    right, exact, scores = np.array(right, dtype=float), np.array(exact, dtype=float), torch.stack(scores).numpy()

    def best_of(judged):  # the verdict on CLIP's favourite among the first k candidates, averaged over prompts
        return [float(np.mean([judged[p, scores[p, :k].argmax()] for p in range(len(prompts))])) for k in ns]
    return {"n": list(ns), "top1": best_of(right), "random": float(right.mean()),
            "top1_correct": best_of(exact), "random_correct": float(exact.mean()), "prompts": len(prompts),
            "measure": "share of prompts whose image has the asked shape and colour (top1, random), or everything "
                       "the prompt names and nothing else (*_correct), by data.scene_truth"}


def dalle_card_metrics(model, spec, n: int = 128) -> dict:
    """Test NLL of the image tokens; one sample per prompt judged by scene truth (single objects, held-out pairs,
    two objects with binding); and what CLIP reranking buys as N grows (64 prompts)."""
    from . import checkpoints
    from .data import load_scenes
    from .models import Loaded
    m = Loaded("measured", model.eval(), spec)
    tokenizer, clip_m = checkpoints.load(spec.vq, device="cpu"), checkpoints.load("clip-scenes", device="cpu")
    test = load_scenes("test", 1000, seed=0)
    grids = rearrange(vq.tokens(tokenizer.model, test.x), "b h w -> b (h w)")
    ids = spec.tokenizer.ids([c[0] for c in test.all_captions])
    with torch.no_grad():
        nll = float(np.mean([F.cross_entropy(rearrange(model(i, g)[1], "b l k -> b k l"), g).item()
                             for i, g in zip(ids.split(250), grids.split(250))]))

    def images(prompts):
        return dalle.images_for(m, tokenizer, prompts)

    singles, pairs = t2i.single_object_prompts(n), t2i.two_object_prompts(n // 2)
    return {"test_image_nll_nats_per_token": nll, "test_bits_per_image": nll * spec.image_length / math.log(2),
            "uniform_bits_per_image": spec.image_length * math.log2(spec.codebook_size),
            "single_object": t2i.accuracy_of(images(singles), singles, clip_m.model),
            "held_out_pairs": t2i.accuracy_of(images(held := t2i.held_out_prompts(n // 2)), held, clip_m.model),
            "two_objects": {**t2i.accuracy_of(made := images(pairs), pairs, clip_m.model),
                            "binding": t2i.binding(made, pairs)},
            "rerank": rerank_gain(m, tokenizer, clip_m, t2i.single_object_prompts(64, seed=1)),
            "note": "temperature 1, all tokens (no top-k), one sample per prompt unless reranked; judged by "
                    "data.scene_truth; clip_score is CLIPScore by clip-scenes (0 to 2.5)"}




def psnr(x: torch.Tensor, ref: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB on the [-1, 1] scale (peak-to-peak 2): 10 log₁₀(4 / MSE)."""
    return float(10 * torch.log10(4 / ((x - ref) ** 2).mean()))


@torch.no_grad()
def prior_quality(m, clip_m, n: int = 1000, seed: int = 0) -> dict:
    """cos(ẑ_i, z_i) of the prior's sample against the true image embedding on n test pairs (the most specific
    caption), next to the baseline ẑ_i = z_t, and to a random other test image's z_i."""
    from .data import load_scenes
    test = load_scenes("test", n, seed=seed)
    z_i = unclip.image_embeddings(clip_m, test.x)
    z_t = unclip.text_embeddings(clip_m, [c[0] for c in test.all_captions]) if n <= unclip.MAX_IMAGES * 4 else \
        torch.cat([unclip.text_embeddings(clip_m, [c[0] for c in test.all_captions[k:k + 64]]) for k in range(0, n, 64)])
    made = torch.cat([unclip.prior_embeddings(m, z_t[k:k + 250], seed + k) for k in range(0, n, 250)])
    other = z_i.roll(1, 0)
    return {"cos_prior_to_true_image": float((made * z_i).sum(1).mean()),
            "cos_text_to_true_image": float((z_t * z_i).sum(1).mean()),
            "cos_other_image_to_true_image": float((other * z_i).sum(1).mean()),
            "pairs": n, "sampler": "ddim-50, no guidance"}


def _judged(images: torch.Tensor, prompts: list[str], clip_m) -> dict:
    from .text_to_image import accuracy_of
    up = F.interpolate(images, size=32, mode="nearest") if images.shape[-1] != 32 else images
    return accuracy_of(up, prompts, clip_m.model)


@torch.no_grad()
def decoder_quality(m, clip_m, n: int = 128, seed: int = 0) -> dict:
    """Decode the true image embeddings of n test scenes; judge the 16×16 result (shown at 32×32 by repeating each
    pixel) against each scene's caption, per guidance scale."""
    from .data import load_scenes
    test = load_scenes("test", n, seed=seed)
    z_i, prompts = unclip.image_embeddings(clip_m, test.x), [c[0] for c in test.all_captions]
    return {f"from_true_z_i_scale_{w:g}": _judged(unclip.decode(m, z_i, seed, scale=w), prompts, clip_m) for w in (1.0, 3.0)}


@torch.no_grad()
def upsampler_quality(m, clip_m, n: int = 128, seed: int = 0) -> dict:
    """From the true 16×16 images of n test scenes: PSNR to the true 32×32 (next to bilinear upsampling) and the
    judged accuracy; and from the decoder's 16×16 images (`unclip-decoder`, if shipped): the judged accuracy."""
    from . import checkpoints
    from .data import load_scenes
    test = load_scenes("test", n, seed=seed)
    prompts, low = [c[0] for c in test.all_captions], unclip.downsample(test.x)
    made = unclip.upsample(m, low, seed)
    bilinear = F.interpolate(low, size=32, mode="bilinear", align_corners=False)
    out = {"from_true_16": {"psnr_db": psnr(made, test.x), "bilinear_psnr_db": psnr(bilinear, test.x),
                            **_judged(made, prompts, clip_m)}, "level": unclip.default_level(m)}
    if "unclip-decoder" in checkpoints.available():
        decoder = checkpoints.load("unclip-decoder", device=m.device)
        low = unclip.decode(decoder, unclip.image_embeddings(clip_m, test.x), seed, scale=3.0)
        out["from_decoder_16"] = {"input": _judged(low, prompts, clip_m), "output": _judged(unclip.upsample(m, low, seed), prompts, clip_m)}
    return out


def unclip_card_metrics(model, spec) -> dict:
    from . import checkpoints
    from .models import Loaded
    m = Loaded("measured", model.eval(), spec, {"family": "unclip"})
    clip_m = checkpoints.load(spec.clip_from, device="cpu")
    figures = {"prior": prior_quality, "decoder": decoder_quality, "upsampler": upsampler_quality}[spec.stage](m, clip_m)
    return {**figures, "note": "judged by data.scene_truth against each scene's most specific caption; clip_score is "
                               "CLIPScore by clip-scenes (0 to 2.5)"}
