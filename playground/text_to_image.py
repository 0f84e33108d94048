"""What the /text-to-image page does with a text-to-image diffusion model (`diffusion.text`), as library functions:
prompts checked and tokenised, generation step by step, cross-attention maps, guidance grids, negative prompts,
img2img, inpainting, and the measurements of all of them by the scene-truth judge and the CLIP score.

Every prompt is read by the caption grammar: `prompt_facts("a small red circle at the top left")` lists what an
image must show, and `judge(image, facts)` says whether `data.scene_truth` finds it there.

    >>> m = checkpoints.load("ldm-scenes")
    >>> for step in generate_steps(m, "a red circle", seed=0, n=4): pass
    >>> images = m.model.decode(step.x_t)                         # (4, 3, 32, 32)
    >>> [judge(x, prompt_facts("a red circle"))["correct"] for x in images]
"""
from __future__ import annotations

import copy
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .data import COLOURS, HELD_OUT, SHAPE_CLASSES, SIZES, Scene, SceneObject, scene_truth
from .data.shapes import COLS, ROWS
from .diffusion.samplers import SAMPLERS, ClassifierFree, DynamicThreshold, Step, denoise_steps
from .data.truth import objects_with_masks
from .guidance import check_scales as guidance_scales

MAX_IMAGES = 16  # images per request
MAX_SCALE = 20.0  # the largest guidance scale accepted
MAX_STEPS = 1000  # DDIM steps (DDPM always takes T)
MAX_GRID_CELLS = 64  # scales × seeds of one grid


# ---- prompts --------------------------------------------------------------------------------------------


def prompt_ids(m, texts, what: str = "the prompt") -> torch.Tensor:
    """Token ids (N, L) on m's device for a prompt or a list of prompts, or a ValueError saying what is wrong:
    empty, too long, or with words the text encoder never learned (they would all read as `<unk>`)."""
    tokenizer = m.spec.tokenizer
    return tokenizer.ids(tokenizer.check(list(texts) if isinstance(texts, (list, tuple)) else [texts], what)).to(m.device)


def negative_ids(m, negative: str, n: int) -> torch.Tensor:
    """The unconditional input for CFG: the negative prompt's ids, or the empty prompt's when it is blank."""
    if negative is None or not str(negative).strip():
        return m.null_condition(n)
    return prompt_ids(m, str(negative), "the negative prompt").repeat(n, 1)


@dataclass(frozen=True)
class Facts:
    """What a prompt asks for: one or two objects, each with the fields it names (None: not named)."""

    objects: tuple[dict, ...]  # {"shape", "colour", "size", "row", "col"}: values or None
    relation: str | None = None  # "left of" / "above" (the order of `objects` made to match), or None


def _object_facts(words: list[str]) -> dict:
    facts = {"shape": None, "colour": None, "size": None, "row": None, "col": None}
    for w in words:
        if w in SHAPE_CLASSES:
            facts["shape"] = w
        elif w in COLOURS:
            facts["colour"] = w
        elif w in SIZES:
            facts["size"] = w
    text = " ".join(words)
    if "in the centre" in text:
        facts["row"], facts["col"] = 1, 1
    elif where := re.search(rf"\b(at|on) the(?: ({'|'.join(ROWS)}))?(?: ({'|'.join(COLS)}))?\b", text):
        row, col = where.group(2), where.group(3)
        if row or col:
            facts["row"] = ROWS.index(row) if row else 1  # "on the left": the middle row
            facts["col"] = COLS.index(col) if col else 1  # "at the top": the middle column
    return facts


def prompt_facts(prompt: str) -> Facts:
    """The objects and relation a prompt of the caption grammar names (words outside the grammar are ignored)."""
    from .clip.text import words as split
    words = split(prompt)
    text = " ".join(words)
    for word, relation, flip in ((" left of ", "left of", False), (" right of ", "left of", True),
                                 (" above ", "above", False), (" below ", "above", True)):
        if word in f" {text} ":
            a, b = f" {text} ".split(word, 1)
            objects = (_object_facts(a.split()), _object_facts(b.split()))
            return Facts(objects[::-1] if flip else objects, relation)
    if " and " in f" {text} ":
        a, b = f" {text} ".split(" and ", 1)
        return Facts((_object_facts(a.split()), _object_facts(b.split())))
    return Facts((_object_facts(words),))


def _fits(o: SceneObject, facts: dict) -> bool:
    return all(value is None or getattr(o, key) == value for key, value in facts.items())


def judge(image, facts: Facts) -> dict:
    """How an image (3, 32, 32) in [-1, 1] meets a prompt's facts, by `scene_truth`:
    shape_colour — every named object is there with its shape and colour (the others may differ);
    correct — every named object is there with every named attribute, and nothing else is;
    relation — for two objects with a relation, they stand that way round (None when not asked)."""
    scene = scene_truth(image)
    found = list(scene.objects)
    colour_shape = [{"shape": f["shape"], "colour": f["colour"]} for f in facts.objects]
    shape_colour = all(any(_fits(o, cs) for o in found) for cs in colour_shape)
    correct = len(found) == len(facts.objects) and all(any(_fits(o, f) for o in found) for f in facts.objects)
    relation = None
    if facts.relation is not None:
        relation = (len(found) == 2 and scene.relation == facts.relation and _fits(found[0], colour_shape[0])
                    and _fits(found[1], colour_shape[1]))
    return {"shape_colour": shape_colour, "correct": correct, "relation": relation, "found": scene}


def describe(scene: Scene) -> str:
    """What scene_truth read, in words: "a small red circle at the top left", or "nothing"."""
    if not scene.objects:
        return "nothing"
    return " and ".join(f"a {o.size} {o.colour} {o.shape} {o.position}" for o in scene.objects)


# ---- checks ----------------------------------------------------------------------------------------------


def check_settings(m, scale, steps, sampler, seed, n, eta=0.0) -> tuple[float, int | None, str, int, int]:
    """Guidance scale, steps, sampler, seed and the number of images, checked (a ValueError says what is wrong)."""
    scale = check_scale(scale)
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if sampler == "ddpm":
        steps = None  # ancestral sampling takes all T steps
    elif isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= min(MAX_STEPS, m.schedule.num_steps):
        raise ValueError(f"steps must be a whole number from 1 to {min(MAX_STEPS, m.schedule.num_steps)}, got {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise ValueError(f"the seed must be a whole number from 0 to {2**31 - 1}, got {seed!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"the number of images must be from 1 to {MAX_IMAGES}, got {n!r}")
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
        raise ValueError(f"eta must be a number from 0 to 1, got {eta!r}")
    return float(scale), steps, sampler, seed, n


def check_strength(strength) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not math.isfinite(strength) \
            or not 0 < strength <= 1:
        raise ValueError(f"the strength must be a number in (0, 1] (the share of the T noising steps), got {strength!r}")
    return float(strength)


def check_image(image) -> torch.Tensor:
    """One image (3, 32, 32) in [-1, 1] (read an upload with `data.load_image(path, size=32, channels=3)`)."""
    if not isinstance(image, torch.Tensor) or tuple(image.shape[-3:]) != (3, 32, 32) or image.dim() not in (3, 4) \
            or (image.dim() == 4 and len(image) != 1):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"the image must be one RGB 32×32 picture, (3, 32, 32); got {shape}")
    if not image.is_floating_point() or not torch.isfinite(image).all():
        raise ValueError("the image must hold finite numbers in [-1, 1]")
    return image.reshape(3, 32, 32).float().clamp(-1, 1)


def check_mask(mask) -> torch.Tensor:
    """A 32×32 inpainting mask: True (or > 0.5) where the image is to be regenerated."""
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(mask)
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (32, 32):
        shape = tuple(mask.shape) if hasattr(mask, "shape") else type(mask).__name__
        raise ValueError(f"the mask must be 32×32, the image's size; got {shape}")
    mask = mask.float() > 0.5
    if not mask.any():
        raise ValueError("the mask is empty: paint the region to regenerate")
    return mask


# ---- generation --------------------------------------------------------------------------------------------


CLIPPINGS = ("static", "dynamic")


def clipping(m, mode: str = "static"):
    """How the sampler clips x̂₀: "static" — to the data's range (pixels [−1, 1], latents [−B, B]: `spec.clip_x0`);
    "dynamic" — Imagen's dynamic thresholding at p = 0.995 within that range (`DynamicThreshold`)."""
    if mode not in CLIPPINGS:
        raise ValueError(f"clipping must be one of {CLIPPINGS}, got {mode!r}")
    if mode == "static":
        return m.spec.clip_x0
    return DynamicThreshold(0.995, bound=m.spec.latent_bound if m.spec.latent else 1.0)


def generate_steps(m, prompt: str, negative: str = "", scale: float = 3.0, steps: int | None = 50,
                   sampler: str = "ddim", seed: int = 0, n: int = 4, eta: float = 0.0,
                   x_T: torch.Tensor | None = None, start: int | None = None, inpaint=None,
                   clip: str = "static") -> Iterator[Step]:
    """Sample n images for a prompt, one `Step` per reverse step (x_t, ε̂ and x̂_0 in the model's space: latents
    for a latent model; decode with `m.model.decode`). Classifier-free guidance uses the negative prompt as
    its unconditional input:  ε̃ = ε(neg) + w (ε(prompt) − ε(neg))  (the empty prompt when it is blank).
    clip: "static" or "dynamic" (see `clipping`)."""
    scale, steps, sampler, seed, n = check_settings(m, scale, steps, sampler, seed, n, eta)
    ids = prompt_ids(m, prompt).repeat(n, 1)
    guidance = ClassifierFree(scale, null=negative_ids(m, negative, n))
    x_T = m.noise(n, seed) if x_T is None else x_T
    generator = torch.Generator().manual_seed(seed + 1)
    return denoise_steps(m.model, m.schedule, x_T, sampler, steps, eta, ids, guidance, generator,
                         clip_x0=clipping(m, clip), start=start, inpaint=inpaint)


def generate(m, prompt: str, **kw) -> torch.Tensor:
    """`generate_steps` to the end, decoded: images (n, 3, 32, 32) on the CPU."""
    step = None
    for step in generate_steps(m, prompt, **kw):
        pass
    return m.model.decode(step.x_t).cpu()


def stretch_channels(z: torch.Tensor) -> torch.Tensor:
    """Latents (…, C, h, w) with each channel scaled to [-1, 1] by its own range: how the page shows them."""
    lo, hi = z.amin(dim=(-2, -1), keepdim=True), z.amax(dim=(-2, -1), keepdim=True)
    return 2 * (z - lo) / (hi - lo).clamp(min=1e-6) - 1


def channels(z: torch.Tensor) -> torch.Tensor:
    """A latent (C, h, w) as C grey pictures side by side (h, C·w), each on its own range (`stretch_channels`)."""
    return torch.cat(list(stretch_channels(z)), dim=1)


# ---- cross-attention maps ------------------------------------------------------------------------------------


def attention_layers(m) -> list[str]:
    """Names of the UNet's cross-attention layers, in call order: "down 8×8 (1)", "middle 4×4", "up 8×8 (2)" …"""
    names, counts = [], {}
    for name, layer in m.model.unet.named_modules():
        if type(layer).__name__ != "CrossAttention":
            continue
        part = name.split(".")[0].replace("_cross", "")
        side = _layer_side(m, name)
        key = f"{'middle' if part == 'mid' else part} {side}×{side}"
        counts[key] = counts.get(key, 0) + 1
        names.append(key if part == "mid" else f"{key} ({counts[key]})")
    return names


def _layer_side(m, name: str) -> int:
    parts, sizes = name.split("."), m.model.unet.sizes
    if parts[0] == "mid_cross":
        return sizes[-1]
    level = int(parts[1])
    return sizes[level] if parts[0] == "down_cross" else sizes[len(sizes) - 1 - level]


def attention_maps(m, prompt: str, at_step: int, steps: int = 50, seed: int = 0, scale: float = 3.0,
                   negative: str = "") -> dict:
    """Where each prompt token looks at DDIM step `at_step` (1 … steps), for the first of one image's run:
    {"tokens": the words and <eot>, "layers": {layer name: (tokens, h, w) weights, averaged over heads},
    "mean": (tokens, 8, 8) the layers upsampled to the largest side and averaged, "image": the final image}."""
    if isinstance(at_step, bool) or not isinstance(at_step, int) or not 1 <= at_step <= steps:
        raise ValueError(f"the step must be from 1 to {steps}, got {at_step!r}")
    run = attention_maps_by_step(m, prompt, steps, seed, scale, negative)
    layers = {name: maps[at_step - 1] for name, maps in run["layers"].items()}
    return {"tokens": run["tokens"], "layers": layers, "mean": attention_mean(layers), "image": run["image"]}


# ---- guidance, negative prompts, img2img, inpainting -----------------------------------------------------


def check_scale(w) -> float:
    """One guidance scale: a finite number from 0 to MAX_SCALE."""
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or not 0 <= w <= MAX_SCALE:
        raise ValueError(f"the guidance scale must be a number from 0 to {MAX_SCALE:g}, got {w!r}")
    return float(w)


def check_scales(scales) -> list[float]:
    """1 … 8 guidance scales (guidance.check_scales: count and finiteness), each from 0 to MAX_SCALE."""
    scales = [scales] if isinstance(scales, (int, float)) else scales
    if not isinstance(scales, (list, tuple)) or len(scales) > 8:
        raise ValueError("give from 1 to 8 guidance scales")
    return [check_scale(w) for w in guidance_scales(scales)]


def measure(images: torch.Tensor, prompt: str, clip_model=None) -> dict:
    """Scene truth and CLIP score of images (N, 3, 32, 32) made for one prompt: the share with the right shape
    and colour, the share exactly right (every attribute, nothing extra), and the mean CLIPScore (0 to 2.5)."""
    facts = prompt_facts(prompt)
    verdicts = [judge(x, facts) for x in images]
    out = {"n": len(images), "shape_colour": float(np.mean([v["shape_colour"] for v in verdicts])),
           "correct": float(np.mean([v["correct"] for v in verdicts]))}
    if clip_model is not None:
        from .clip import clip_score
        out["clip_score"] = float(clip_score(clip_model, images, prompt).mean())
    return out


def scale_grid_steps(m, prompt: str, scales, seeds: int = 4, steps: int = 50, negative: str = "",
                     first_seed: int = 0, clip: str = "static") -> Iterator[tuple[int, torch.Tensor]]:
    """A fixed-seed grid: for each scale (a row), the same `seeds` starting noises. Yields (row, images of that
    row (seeds, 3, 32, 32)) as each row is done. clip: "static" or "dynamic" (see `clipping`)."""
    scales = check_scales(scales)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds * len(scales) <= MAX_GRID_CELLS:
        raise ValueError(f"a grid holds at most {MAX_GRID_CELLS} pictures (scales × seeds)")
    x_T = torch.cat([m.noise(1, first_seed + k) for k in range(seeds)])
    for row, w in enumerate(scales):
        yield row, generate(m, prompt, negative=negative, scale=w, steps=steps, seed=first_seed, n=seeds, x_T=x_T,
                            clip=clip)


def clipping_effect(m, prompts: list[str], scales=(3.0, 8.0, 15.0), steps: int = 50, seed: int = 0,
                    clip_model=None) -> dict:
    """Static clipping against dynamic thresholding as guidance grows: for each scale and each mode, one image per
    prompt (the same noises), judged as `accuracy_of` does. {mode: {w: figures}}."""
    out = {}
    for mode in CLIPPINGS:
        out[mode] = {}
        for w in scales:
            made = torch.cat([generate(m, p, scale=w, steps=steps, seed=seed + k, n=1, clip=mode)
                              for k, p in enumerate(prompts)])
            out[mode][f"{w:g}"] = accuracy_of(made, prompts, clip_model)
    return out


def negative_effect(m, prompt: str, negative: str, n: int = 8, scale: float = 3.0, steps: int = 50,
                    seed: int = 0) -> dict:
    """The same seeds with the empty prompt and with the negative prompt as CFG's unconditional input. For each
    side: the images, and the share of images showing what the negative prompt names (its colours, shapes
    and sizes, read by scene truth) and of images meeting the prompt."""
    if not str(negative).strip():
        raise ValueError("type a negative prompt, for example 'red'")
    unwanted = prompt_facts(negative).objects[0]
    unwanted = {k: v for k, v in unwanted.items() if k in ("shape", "colour", "size") and v is not None}
    if not unwanted:
        raise ValueError("the negative prompt names no colour, shape or size the judge can look for")
    x_T = m.noise(n, seed)
    out = {"unwanted": unwanted}
    for side, neg in (("without", ""), ("with", negative)):
        images = generate(m, prompt, negative=neg, scale=scale, steps=steps, seed=seed, n=n, x_T=x_T)
        scenes = [scene_truth(x) for x in images]
        shows = [any(all(getattr(o, k) == v for k, v in unwanted.items()) for o in s.objects) for s in scenes]
        out[side] = {"images": images, "shows_unwanted": float(np.mean(shows)),
                     "meets_prompt": measure(images, prompt)["shape_colour"]}
    return out


def noised(m, image: torch.Tensor, strength: float, seed: int) -> tuple[torch.Tensor, int]:
    """SDEdit's start: the image's latent (or pixels) noised to index t = round(strength · T) − 1,
    x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε   — Ho et al. 2020, eq. 4."""
    strength = check_strength(strength)
    x0 = m.model.encode(check_image(image)[None].to(m.device))
    t = max(1, round(strength * m.schedule.num_steps)) - 1
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed)).to(m.device)
    return m.schedule.q_sample(x0, torch.full((1,), t, dtype=torch.long, device=m.device), noise), t


def img2img_steps(m, image: torch.Tensor, prompt: str, strength: float = 0.6, scale: float = 3.0, steps: int = 50,
                  seed: int = 0, negative: str = "") -> Iterator[Step]:
    """img2img (SDEdit, Meng et al. 2022): noise the image to t = strength · T, then denoise it with the prompt;
    DDIM spreads about strength · steps steps over [t, 0]."""
    x_t, t = noised(m, image, strength, seed)
    return generate_steps(m, prompt, negative, scale, max(1, round(check_strength(strength) * steps)), "ddim", seed, 1,
                          x_T=x_t, start=t)


def strength_sweep(m, image: torch.Tensor, prompt: str, strengths=(0.2, 0.4, 0.6, 0.8, 1.0), scale: float = 3.0,
                   steps: int = 50, seeds: int = 4) -> dict:
    """img2img at several strengths, `seeds` runs each: the images (strengths, seeds, 3, 32, 32), the mean
    |pixel change| from the input (0: unchanged; on the [−1, 1] scale) and the share meeting the prompt."""
    image = check_image(image)
    rows, distance, follows = [], [], []
    for s in strengths:
        row = []
        for k in range(seeds):
            step = None
            for step in img2img_steps(m, image, prompt, s, scale, steps, seed=k):
                pass
            row.append(m.model.decode(step.x_t)[0].cpu())
        row = torch.stack(row)
        rows.append(row)
        distance.append(float((row - image).abs().mean()))
        follows.append(measure(row, prompt)["shape_colour"])
    return {"strengths": list(strengths), "images": torch.stack(rows), "distance": distance, "follows": follows}


def latent_mask(m, mask: torch.Tensor) -> torch.Tensor:
    """A 32×32 pixel mask at the sampler's resolution (1, 1, h, w): a latent cell is regenerated when any of
    its pixels is painted (max-pooling by the downsampling factor)."""
    mask = check_mask(mask).float()[None, None]
    side = m.sample_shape[-1]
    return F.adaptive_max_pool2d(mask, side).to(m.device) if side != mask.shape[-1] else mask.to(m.device)


def regenerated_pixels(m, mask) -> torch.Tensor:
    """The 32×32 pixels a mask really regenerates (CPU, bool): every pixel of every latent cell it touches."""
    cells = latent_mask(m, mask).float().cpu()
    return F.interpolate(cells, size=32, mode="nearest")[0, 0] > 0.5


def inpaint_steps(m, image: torch.Tensor, mask, prompt: str, scale: float = 3.0, steps: int = 50, seed: int = 0,
                  n: int = 4, negative: str = "") -> Iterator[Step]:
    """Regenerate only the masked region: after every step the known region is re-noised from the image to the
    current t (`denoise_steps(inpaint=...)`), so the model fills the hole in a way that fits around it."""
    known = m.model.encode(check_image(image)[None].to(m.device)).repeat(n, 1, 1, 1)
    return generate_steps(m, prompt, negative, scale, steps, "ddim", seed, n, inpaint=(known, latent_mask(m, mask)))


# ---- measured comparisons ------------------------------------------------------------------------------------


def single_object_prompts(n: int, split: str = "test", seed: int = 0) -> list[str]:
    """n single-object prompts of the grammar's most specific template ("a small red circle at the top left")."""
    from .data import load_scenes
    scenes = load_scenes(split, n, seed=seed, two_object_share=0.0)
    return [c[0] for c in scenes.all_captions]


def two_object_prompts(n: int, seed: int = 0) -> list[str]:
    """n two-object prompts ("a red circle left of a blue square")."""
    from .data import load_scenes
    return [c[1] for c in load_scenes("test", n, seed=seed, two_object_share=1.0).all_captions]


def prompt_accuracy(m, prompts: list[str], scale: float = 3.0, steps: int = 50, seed: int = 0, batch: int = 64,
                    clip_model=None) -> dict:
    """Each prompt once (its own seed): the share of images with the right shape and colour, exactly right, with
    the right relation (two objects), and the mean CLIP score."""
    return accuracy_of(images_for(m, prompts, scale, steps, seed, batch), prompts, clip_model)


def accuracy_of(images: torch.Tensor, prompts: list[str], clip_model=None) -> dict:
    """`prompt_accuracy`'s figures for images already made, one per prompt."""
    verdicts = [judge(x, prompt_facts(p)) for x, p in zip(images, prompts)]
    scores = []
    if clip_model is not None:
        from .clip import clip_score
        scores = clip_score(clip_model, images, prompts).tolist()
    out = {"n": len(prompts), "shape_colour": float(np.mean([v["shape_colour"] for v in verdicts])),
           "correct": float(np.mean([v["correct"] for v in verdicts]))}
    relations = [v["relation"] for v in verdicts if v["relation"] is not None]
    if relations:
        out["relation"] = float(np.mean(relations))
    if scores:
        out["clip_score"] = float(np.mean(scores))
    return out


def _one_object_prompts(pairs: list[tuple[str, str]], n: int, seed: int, cycle: bool) -> list[str]:
    """n prompts "a SIZE COLOUR SHAPE PLACE" of the given colour–shape pairs (in turn, or drawn at random)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        colour, shape = pairs[k % len(pairs)] if cycle else pairs[rng.integers(len(pairs))]
        size = list(SIZES)[rng.integers(2)]
        obj = SceneObject(shape, colour, size, int(rng.integers(3)), int(rng.integers(3)))
        out.append(f"a {size} {colour} {shape} {obj.position}")
    return out


def held_out_prompts(n: int, seed: int = 0) -> list[str]:
    """Single-object prompts whose colour–shape pair never appeared in training (`data.HELD_OUT`), in turn."""
    return _one_object_prompts(sorted(HELD_OUT), n, seed, cycle=True)


def seen_prompts(n: int, seed: int = 0) -> list[str]:
    """Single-object prompts like `held_out_prompts`, but of colour–shape pairs seen in training."""
    pairs = [(c, s) for c in COLOURS for s in SHAPE_CLASSES if (c, s) not in HELD_OUT]
    return _one_object_prompts(pairs, n, seed, cycle=False)


def images_for(m, prompts: list[str], scale: float = 3.0, steps: int = 50, seed: int = 0, batch: int = 64) -> torch.Tensor:
    """One image per prompt (prompt i from seed + i), decoded, on the CPU: what `prompt_accuracy` judges."""
    out = []
    for i in range(0, len(prompts), batch):
        chunk = prompts[i:i + batch]
        x_T = torch.cat([m.noise(1, seed + i + k) for k in range(len(chunk))])
        step = None
        for step in denoise_steps(m.model, m.schedule, x_T, "ddim", steps, 0.0, prompt_ids(m, chunk),
                                  ClassifierFree(scale, null=m.null_condition(len(chunk))), clip_x0=m.spec.clip_x0):
            pass
        out.append(m.model.decode(step.x_t).cpu())
    return torch.cat(out)


def network_cost(m) -> dict:
    """What one denoiser call costs per sample: parameters, the numbers the sampler holds per sample, FLOPs
    (torch's FlopCounterMode; CFG makes two calls per step) and activations (the sum of every layer's output, MB)."""
    from torch.utils.flop_counter import FlopCounterMode
    ids, x = m.null_condition(1), m.noise(1, 0)
    counter = FlopCounterMode(display=False)
    outputs = []  # bytes of every layer's output in one call: what the activations weigh
    hooks = [layer.register_forward_hook(lambda _, __, out: outputs.append(out.numel() * out.element_size()))
             for layer in m.model.unet.modules() if not list(layer.children())]
    try:
        with counter, torch.no_grad():
            m.model(x, torch.zeros(1, dtype=torch.long, device=m.device), ids)
    finally:
        for hook in hooks:
            hook.remove()
    return {"parameters": sum(p.numel() for p in m.model.unet.parameters()),
            "numbers_per_sample": int(np.prod(m.sample_shape)), "gflops_per_call": counter.get_total_flops() / 1e9,
            "activation_mb_per_call": sum(outputs) / 2**20}


def cost(m, steps: int = 50, n: int = 16, repeats: int = 1) -> dict:
    """`network_cost`, and the measured seconds per sample for `steps` DDIM steps with CFG, n at once (decoding
    included)."""
    prompt = single_object_prompts(1)[0]
    began = time.perf_counter()
    for _ in range(repeats):
        generate(m, prompt, steps=steps, n=n)
    return {**network_cost(m), "seconds_per_sample": (time.perf_counter() - began) / (repeats * n)}


def binding(images: torch.Tensor, prompts: list[str]) -> dict:
    """Two-object prompts ("a red circle left of a blue square"): how often each colour lands on its own shape.
    Per image, by scene truth: "bound" — both colour–shape pairs as asked; "swapped" — the two colours on each
    other's shapes; "one" — one pair right; "neither" — anything else. Returns the shares of each."""
    counts = {"bound": 0, "swapped": 0, "one": 0, "neither": 0}
    for image, prompt in zip(images, prompts):
        facts = prompt_facts(prompt)
        if len(facts.objects) != 2:
            raise ValueError(f"binding is measured on two-object prompts; {prompt!r} names {len(facts.objects)}")
        found = scene_truth(image).objects
        a, b = ({"shape": o["shape"], "colour": o["colour"]} for o in facts.objects)
        has = lambda pair: any(_fits(o, pair) for o in found)  # noqa: E731
        if has(a) and has(b):
            counts["bound"] += 1
        elif has({"shape": a["shape"], "colour": b["colour"]}) and has({"shape": b["shape"], "colour": a["colour"]}):
            counts["swapped"] += 1
        elif has(a) or has(b):
            counts["one"] += 1
        else:
            counts["neither"] += 1
    return {k: v / max(len(prompts), 1) for k, v in counts.items()}


def card_metrics(model, spec, n: int = 128) -> dict:
    """The figures a text-to-image checkpoint's card records (50 DDIM steps, one image per prompt):
    single-object accuracy per guidance scale, held-out colour–shape pairs, two-object binding, CLIP score."""
    from . import checkpoints
    from .models import Loaded
    m = Loaded("measured", model.eval(), spec)
    clip_model = checkpoints.load(spec.text_encoder_from, device=m.device).model if spec.text_encoder_from else None
    singles = single_object_prompts(n)
    per_scale = {str(w): prompt_accuracy(m, singles, scale=w, clip_model=clip_model) for w in (1.0, 3.0, 5.0)}
    pairs = two_object_prompts(n // 2)
    return {"single_object_by_scale": per_scale,
            "held_out_pairs": prompt_accuracy(m, held_out_prompts(n // 2), clip_model=clip_model),
            "seen_pairs_same_templates": prompt_accuracy(m, seen_prompts(n // 2), clip_model=clip_model),
            "two_objects": {**accuracy_of(made := images_for(m, pairs), pairs, clip_model), "binding": binding(made, pairs)},
            "note": "50 DDIM steps, η = 0, one image per prompt, judged by data.scene_truth; clip_score is CLIPScore "
                    "by clip-scenes (0 to 2.5)"}



# ---- cross-attention maps of a whole run, and where they fall ------------------------------------------------


def attention_maps_by_step(m, prompt: str, steps: int = 50, seed: int = 0, scale: float = 3.0,
                           negative: str = "") -> dict:
    """`attention_maps` for every DDIM step of one run at once (what the page keeps, so that another step or
    layer is shown without sampling again): {"tokens", "layers": {layer name: (steps, tokens, h, w) weights,
    averaged over heads, of the conditional half of the CFG batch}, "t": the schedule index of each step,
    "image": the final image}. Step k (1 … steps)
    of it equals `attention_maps(m, prompt, k, steps, ...)["layers"]`; `attention_mean` averages the layers."""
    m = copy.copy(m)  # a private copy of the network: recording on a model other users share would mix their runs
    m.model = copy.deepcopy(m.model)
    layers, names = m.model.cross_attention(), attention_layers(m)
    tokens = [m.spec.tokenizer.itos[i] for i in prompt_ids(m, prompt)[0].tolist() if i != 0]
    recorded, t = {name: [] for name in names}, []
    step = None
    try:
        for layer in layers:
            layer.maps = []
        for step in generate_steps(m, prompt, negative, scale, steps, "ddim", seed, 1):
            t.append(int(step.t))
            for name, layer in zip(names, layers):
                weights = layer.maps[0][0]  # this step's one call, the conditional half of the CFG batch: (h·w, L)
                side = int(round(math.sqrt(weights.shape[0])))
                recorded[name].append(weights[:, : len(tokens)].T.reshape(len(tokens), side, side))
                layer.maps = []
    finally:
        for layer in layers:
            layer.maps = None
    return {"tokens": tokens, "layers": {name: torch.stack(v) for name, v in recorded.items()}, "t": t,
            "image": m.model.decode(step.x_t)[0].cpu()}


def attention_mean(layers: dict) -> torch.Tensor:
    """The maps of several layers {name: (tokens, h, w)} upsampled to the largest side and averaged, as
    `attention_maps(...)["mean"]`."""
    big = max(v.shape[-1] for v in layers.values())
    return torch.stack([F.interpolate(v[None].float(), size=(big, big), mode="nearest")[0]
                        for v in layers.values()]).mean(0)


HALVES = ("left", "right", "top", "bottom")  # place words whose attention is measured by the half they name


def half_mask(word: str, side: int = 32) -> np.ndarray:
    """1 on the half of a (side, side) image that "left" / "right" / "top" / "bottom" names, 0 on the other."""
    mask = np.zeros((side, side))
    h = side // 2
    {"left": mask[:, :h], "right": mask[:, h:], "top": mask[:h], "bottom": mask[h:]}[word][...] = 1
    return mask


def attention_inside(maps: torch.Tensor, tokens: list[str], image) -> dict:
    """Where each colour, shape and place word of a prompt looks: for a colour (shape) word, the share of its
    attention that falls on the objects of that colour (shape) scene truth finds in the image, weighted by their
    coverage α; for "left" / "right" / "top" / "bottom", the share in that half of the image.
    maps: (tokens, h, w) of one step and layer. Returns {word: {"share", "chance": the share uniform attention
    would give (the objects' area share, or ½), "objects": how many objects it covers (None for a half)}};
    a colour or shape word with no such object found gets share None."""
    side = 32
    up = F.interpolate(maps[None].float(), size=(side, side), mode="nearest")[0]  # each cell's weight on its pixels
    found = objects_with_masks(image)
    out = {}
    for k, word in enumerate(tokens):
        if word in out:
            continue
        weights = up[k].numpy()
        total = max(float(weights.sum()), 1e-12)
        if word in COLOURS or word in SHAPE_CLASSES:
            key = "colour" if word in COLOURS else "shape"
            masks = [a for o, a in found if getattr(o, key) == word]
            if not masks:
                out[word] = {"share": None, "chance": None, "objects": 0}
                continue
            mask = np.clip(np.sum(masks, axis=0), 0, 1)
            out[word] = {"share": float((weights * mask).sum() / total), "chance": float(mask.mean()),
                         "objects": len(masks)}
        elif word in HALVES:
            half = half_mask(word, side)
            out[word] = {"share": float((weights * half).sum() / total), "chance": 0.5, "objects": None}
    return out
