"""What a trained mini-CLIP is used for and measured by: embeddings, zero-shot classification, retrieval, the
CLIP score, the attribute-binding test and the modality gap. Every function takes the network (a `MiniCLIP`,
e.g. `checkpoints.load("clip-scenes").model`), runs it on its own device and returns CPU tensors or floats.

Images are a float tensor (N, 3, 32, 32) or one (3, 32, 32) in [-1, 1], 1 to MAX_IMAGES of them (an upload:
`data.load_image(path, size=32, channels=3)`). Texts follow the limits of `clip.text`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import COLOURS, SHAPE_CLASSES, Scene, captions, load_scenes, swap_colours
from .text import check_prompts, check_texts

MAX_IMAGES = 10_000  # images per call
CLIPSCORE_W = 2.5  # w of CLIPScore (Hessel et al. 2021, eq. 1)
_CHUNK = 500  # images or texts per forward pass


def _device(model) -> torch.device:
    return model.logit_scale.device


def check_images(model, images) -> torch.Tensor:
    """(N, 3, S, S) float images in [-1, 1] for this model, or a ValueError that says what is wrong."""
    s = model.spec.image_size
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a tensor (N, 3, {s}, {s}) in [-1, 1], got {type(images).__name__}; "
                         f"read a file with data.load_image(path, size={s}, channels=3)")
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or tuple(images.shape[1:]) != (3, s, s):
        raise ValueError(f"images must be RGB {s}×{s}, shape (N, 3, {s}, {s}); got {tuple(images.shape)}")
    if not 1 <= len(images) <= MAX_IMAGES:
        raise ValueError(f"give from 1 to {MAX_IMAGES:,} images, got {len(images):,}")
    if not images.is_floating_point() or not torch.isfinite(images).all():
        raise ValueError("images must be finite floats in [-1, 1]")
    return images.float()


@torch.no_grad()
def encode_images(model, images) -> torch.Tensor:
    """I_e: unit-length image embeddings (N, embed_dim)."""
    model.eval()
    images = check_images(model, images)
    return torch.cat([model.encode_image(x.to(_device(model))).cpu() for x in images.split(_CHUNK)])


@torch.no_grad()
def encode_texts(model, texts, strict: bool = False) -> torch.Tensor:
    """T_e: unit-length text embeddings (N, embed_dim) of a text or a list of texts (unknown words → `<unk>`,
    or a ValueError naming them with strict=True)."""
    model.eval()
    ids = model.tokenizer.encode(texts, strict=strict)
    return torch.cat([model.encode_text(t.to(_device(model))).cpu() for t in ids.split(_CHUNK)])


def unknown_words(model, texts) -> list[str]:
    """The words of `texts` the model's vocabulary lacks (they are read as `<unk>`), for the page to report."""
    return model.tokenizer.unknown_words(texts)


def similarity(model, images, texts, strict: bool = False) -> torch.Tensor:
    """Cosine similarities cos(I_e, T_e), (N_images, N_texts), each in [−1, 1]."""
    return encode_images(model, images) @ encode_texts(model, texts, strict).T


def zero_shot(model, images, prompts, strict: bool = False) -> torch.Tensor:
    """p(prompt | image) = softmax_j(s · cos(I_e, T_e,j)) over 2 to 32 prompts, with the model's learned logit
    scale s (Radford et al. 2021 §3.1.2: the prompts are the classifier's weights). (N, P); each row sums to 1."""
    prompts = check_prompts(prompts)
    scale = float(model.logit_scale_clipped().detach())
    return torch.softmax(scale * similarity(model, images, prompts, strict), dim=1)


def clip_score(model, images, texts, strict: bool = False) -> torch.Tensor:
    """CLIPScore (Hessel et al. 2021, eq. 1): w · max(cos(I_e, T_e), 0) with w = 2.5, per image, (N,), from 0 to
    2.5. Higher means the image matches the text better. `texts` is one text for every image, or one per image."""
    images = check_images(model, images)
    texts = [texts] * len(images) if isinstance(texts, str) else check_texts(
        texts, len(images), len(images), "texts (one per image)")
    cos = (encode_images(model, images) * encode_texts(model, texts, strict)).sum(1)
    return CLIPSCORE_W * cos.clamp(min=0)


def _chance_recall(relevant: torch.Tensor, n: int, k: int) -> float:
    """Mean over queries of P(a random ranking puts ≥ 1 of the query's `relevant` items in its top k)."""
    # P(none in top k) = C(n − m, k) / C(n, k) = Π_{i<k} (n − m − i) / (n − i)
    miss = torch.ones(len(relevant), dtype=torch.float64)
    for i in range(min(k, n)):
        miss *= ((n - relevant - i).clamp(min=0) / (n - i)).double()
    return float(1 - miss.mean())


def retrieval_recall(model, images, captions, ks=(1, 5)) -> dict:
    """Recall@k both ways over N (image, caption) pairs: text→image ranks the N images for each caption,
    image→text the N captions for each image. Scenes repeat, so a retrieved item counts as right when its
    caption is the same text as the query's. Returns {"text_to_image_R@k", "image_to_text_R@k", "chance_R@k"}
    for each k (chance: a random ranking's expected recall, given how often each caption repeats)."""
    images = check_images(model, images)
    captions = check_texts(captions, len(images), len(images), "captions (one per image)", "caption")
    sim = similarity(model, images, captions)  # (N, N), row = image, column = caption
    code = {text: k for k, text in enumerate(dict.fromkeys(captions))}
    codes = torch.tensor([code[c] for c in captions])
    same = codes[:, None] == codes[None, :]  # (N, N): caption i is the same text as caption j
    out = {}
    for k in ks:
        k = min(int(k), len(captions))
        top_texts = sim.topk(k, dim=1).indices  # for each image, its k best captions
        top_images = sim.T.topk(k, dim=1).indices  # for each caption, its k best images
        out[f"text_to_image_R@{k}"] = float(same.gather(1, top_images).any(1).float().mean())
        out[f"image_to_text_R@{k}"] = float(same.gather(1, top_texts).any(1).float().mean())
        out[f"chance_R@{k}"] = _chance_recall(same.sum(1), len(captions), k)
    return out


@dataclass
class Binding:
    """The attribute-binding test on two-object scenes: the true caption against the colours-swapped one."""

    prefers_truth: float  # share of scenes whose true caption scores higher (chance: 0.5)
    true_captions: list[str]  # "a red circle and a blue square"
    swapped_captions: list[str]  # "a blue circle and a red square"
    true_scores: torch.Tensor  # cos(I_e, T_e) of each true caption (n,)
    swapped_scores: torch.Tensor  # … and of each swapped one (n,)
    index: list[int]  # which of the given images were two-object scenes


def binding_test(model, images, scenes: list[Scene]) -> Binding:
    """Does the model bind each colour to its shape? For every two-object scene, compare the caption "a red
    circle and a blue square" with "a blue circle and a red square": the same words, bound the other way."""
    images = check_images(model, images)
    index = [i for i, s in enumerate(scenes) if len(s.objects) == 2]
    if len(scenes) != len(images) or not index:
        raise ValueError("give one scene per image, with at least one two-object scene")
    true = [captions(scenes[i])[3] for i in index]
    swapped = [captions(swap_colours(scenes[i]))[3] for i in index]
    emb = encode_images(model, images[index])
    t_true, t_swapped = (emb * encode_texts(model, true)).sum(1), (emb * encode_texts(model, swapped)).sum(1)
    return Binding(float((t_true > t_swapped).float().mean()), true, swapped, t_true, t_swapped, index)


def modality_gap(model, images, captions) -> float:
    """‖mean I_e − mean T_e‖: the distance between the centres of the image and the text embeddings (Liang et al.
    2022, "Mind the Gap"). 0 would mean the two clouds share a centre; unit vectors keep it at most 2."""
    return float((encode_images(model, images).mean(0) - encode_texts(model, captions).mean(0)).norm())


def project_pairs(model, images, captions, axes: str = "pca") -> tuple[torch.Tensor, torch.Tensor]:
    """Image and text embeddings in one 2D plane, both centred on their joint mean: ((N, 2), (N, 2)).
    axes="pca": the two principal directions of both together. axes="gap": x along the modality gap (from the
    captions' centre to the images'), y the principal direction of what is left, so the gap shows as it is."""
    if axes not in ("pca", "gap"):
        raise ValueError(f"axes must be 'pca' or 'gap', got {axes!r}")
    i_e, t_e = encode_images(model, images), encode_texts(model, captions)
    both = torch.cat([i_e, t_e]).double()
    centred = both - both.mean(0)
    if axes == "gap":
        gap = (i_e.mean(0) - t_e.mean(0)).double()
        u = gap / gap.norm().clamp(min=1e-12)  # the gap's direction
        rest = centred - (centred @ u)[:, None] * u  # what the gap direction leaves
        _, _, v = torch.linalg.svd(rest, full_matrices=False)
        basis = torch.stack([u, v[0]])
    else:
        _, _, v = torch.linalg.svd(centred, full_matrices=False)  # rows of v: principal directions
        basis = v[:2]
    xy = (centred @ basis.T).float()
    return xy[: len(i_e)], xy[len(i_e):]


def _zero_shot_accuracy(model, scenes) -> dict:
    """Zero-shot shape and colour accuracy on one-object scenes, with the grammar's own prompts."""
    objects = [s.objects[0] for s in scenes.scenes]
    shape = zero_shot(model, scenes.x, [f"a {s}" for s in SHAPE_CLASSES]).argmax(1)
    colour = zero_shot(model, scenes.x, [f"a {c} shape" for c in COLOURS]).argmax(1)
    return {"shape_accuracy": float((shape == torch.tensor([SHAPE_CLASSES.index(o.shape) for o in objects]))
                                    .float().mean()),
            "colour_accuracy": float((colour == torch.tensor([list(COLOURS).index(o.colour) for o in objects]))
                                     .float().mean())}


def card_metrics(model, n: int = 1000, seed: int = 0) -> dict:
    """The figures a mini-CLIP's card records, on n scenes of each kind:
    zero-shot shape ("a circle" … "a diamond") and colour ("a red shape" …) accuracy on one-object scenes, test
    and held-out; retrieval R@1/R@5 both ways on n test pairs and n held-out pairs (mixed one- and two-object,
    the most specific caption), with chance; the binding test; the modality gap; and the mean CLIPScore of true
    pairs against shuffled ones (a calibration of what a good score is)."""
    out = {}
    for split in ("test", "heldout"):
        single = load_scenes(split, n, seed, two_object_share=0.0)
        out.update({f"{split}_zero_shot_{k}": v for k, v in _zero_shot_accuracy(model, single).items()})
        pairs = load_scenes(split, n, seed + 1)
        out.update({f"{split}_{k}": v for k, v in retrieval_recall(model, pairs.x, pairs.captions).items()})
    test = load_scenes("test", n, seed + 1)
    out["binding_prefers_truth"] = binding_test(model, test.x, test.scenes).prefers_truth
    out["modality_gap"] = modality_gap(model, test.x, test.captions)
    out["clipscore_true_pairs"] = float(clip_score(model, test.x, test.captions).mean())
    out["clipscore_shuffled_pairs"] = float(clip_score(model, test.x, test.captions[1:] + test.captions[:1]).mean())
    return out
