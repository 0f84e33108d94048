"""The DALL·E 2 (unCLIP) tab: a prompt through the prior, the decoder and the upsampler with every stage shown;
the prior measured against the baseline that skips it; variations of one image from its CLIP embedding; a slerp
path between two images; and the upsampler with and without noise augmentation."""
from __future__ import annotations

import time
from typing import Any, NamedTuple

import gradio as gr
import torch

from playground import systems, unclip
from playground.text_to_image import accuracy_of, describe, judge, prompt_facts
from playground.data.truth import scene_truth
from playground.viz import dalle as dalle_viz

from ..clip.shared import pick_scene, scene_picker
from ..common import EXPENSIVE, check_cost, check_float, check_int, check_seed, shipped, throttle, user_errors
from .shared import DEFAULT_PROMPT, card, check_prompt, check_scale, check_steps

UPDATE_EVERY_S = 0.3
EXPLAIN = ("**How DALL·E 2 (unCLIP) works.** CLIP's text encoder turns the prompt into a text embedding z_t (64 "
           "numbers here, unit length). The **prior**, a diffusion model over those 64 numbers, samples an image "
           "embedding ẑ_i that an image with this caption might have. The **decoder**, a diffusion model at 16×16, "
           "paints an image whose CLIP image embedding would be ẑ_i (guided by classifier-free guidance, trained by "
           "dropping the embedding 10% of the time). The **upsampler**, a third diffusion model, turns 16×16 into "
           "32×32 while reading the small image. The tiles show embeddings: 64 numbers as 8×8 cells, red > 0, "
           "blue < 0.")
PRIOR = ("**Why a prior?** CLIP puts a caption and its image near each other but not on top of each other (the "
         "modality gap), so decoding z_t directly asks the decoder for an embedding it never saw in training. The "
         "prior learns p(z_i | z_t): a diffusion model whose network predicts the clean z_i directly, MSE ‖z_i − "
         "f_θ(z_i^(t), t, z_t)‖² (Ramesh et al. 2022, §2.1). Measured: the cosine similarity of the embedding each "
         "way gives to the true image's embedding, on test pairs.")
UPSAMPLE = ("**Noise augmentation.** The upsampler learns from true 16×16 images, but in use it reads the decoder's, "
            "which are a little off. unCLIP and Imagen therefore corrupt the low-resolution input during training "
            "(here: noised by the forward process to a random level up to 0.3 T, and told the level), so the "
            "upsampler learns not to trust every pixel of it. `unclip-upsampler-noaug` is the same model trained "
            "on clean inputs. Both diffuse only the residual that bilinear upsampling misses, x − bilinear(low) "
            "(as SRDiff), so their output is bilinear(low) plus the sampled edges. Below, both upsample the "
            "decoder's output for the same test scenes.")


class Staged(NamedTuple):
    tiles: Any  # z_t and the ẑ_i as tiles
    grid: Any  # 16×16 then 32×32 rows
    text: str


def _parts(names=("clip-scenes", "unclip-prior", "unclip-decoder", "unclip-upsampler")):
    return [shipped(n) for n in names]


def _verdicts(images: torch.Tensor, prompt: str) -> tuple[list[bool], list[str]]:
    facts = prompt_facts(prompt)
    verdicts = [judge(x, facts) for x in images]
    return [v["shape_colour"] for v in verdicts], [describe(v["found"]) for v in verdicts]


@user_errors
def pipeline(prompt, use_prior, scale, steps, n, seed):
    """Prompt → z_t → prior → ẑ_i → decoder (streamed) → upsampler, every stage shown."""
    prompt, scale, steps = check_prompt(prompt), check_scale(scale), check_steps(steps)
    n, seed = check_int(n, "images", 1, 8), check_seed(seed)
    check_cost(n, 2 * steps + 50 + 25, "image", "This run")
    clip_m, prior, decoder, upsampler = _parts()
    times, began = {}, time.perf_counter()
    z_t = unclip.text_embeddings(clip_m, [prompt])
    z_i = unclip.prior_embeddings(prior, z_t.expand(n, -1), seed) if use_prior else z_t.expand(n, -1)
    times["prior"] = time.perf_counter() - began
    tiles = dalle_viz.embedding_tiles([z_t, z_i], side=56)
    ready, began, step = throttle(UPDATE_EVERY_S), time.perf_counter(), None
    for i, step in enumerate(unclip.decode_steps(decoder, z_i, seed, steps, scale), 1):
        if ready(force=i == steps):
            yield Staged(tiles, dalle_viz.stages_grid({"decoder x̂₀ now": step.x0.clamp(-1, 1).cpu()}),
                         f"Decoder step {i} of {steps}…")
    low = step.x_t.clamp(-1, 1).cpu()
    times["decoder"], began = time.perf_counter() - began, time.perf_counter()
    yield Staged(tiles, dalle_viz.stages_grid({"decoder 16×16": low}), "Upsampling 16×16 → 32×32…")
    images = unclip.upsample(upsampler, low, seed)
    times["upsampler"] = time.perf_counter() - began
    right, read = _verdicts(images, prompt)
    cos = (z_i @ z_t[0]).tolist()
    text = (f"Left tile: z_t, the prompt's CLIP text embedding; then the {n} image embedding"
            f"{'s the prior sampled' if use_prior else 's: z_t itself (no prior)'}, cos(ẑ_i, z_t) = "
            + ", ".join(f"{c:.2f}" for c in cos) + f". **Scene truth: {sum(right)}/{n}** have the prompt's shape and "
            f"colour. Time: prior {times['prior']:.2f} s, decoder {times['decoder']:.2f} s ({steps} DDIM steps, "
            f"w = {scale:g}), upsampler {times['upsampler']:.2f} s (25 steps). Read back: "
            + "; ".join(f"{k + 1}. {r}" for k, r in enumerate(read)) + ".")
    yield Staged(tiles, dalle_viz.stages_grid({"decoder 16×16": low, "upsampler 32×32": images}), text)


def prior_card_text() -> str:
    figures = card("unclip-prior").get("metrics", {})
    if not figures:
        return "The measured figures appear here once `unclip-prior` is trained."
    return (f"**Measured** on {figures['pairs']:,} test pairs (each scene's most specific caption), cosine "
            "similarity to the true image's CLIP embedding z_i: the prior's sample ẑ_i **"
            f"{figures['cos_prior_to_true_image']:.3f}**; the baseline that uses the text embedding z_t as ẑ_i **"
            f"{figures['cos_text_to_true_image']:.3f}**; a random other test image's z_i "
            f"{figures['cos_other_image_to_true_image']:.3f} (the floor).")


@user_errors
def measure_prior(n, seed):
    """The prior against the baseline, on n test pairs, here and now."""
    n, seed = check_int(n, "test pairs", 16, 500), check_seed(seed)
    clip_m, prior = _parts(("clip-scenes", "unclip-prior"))
    began = time.perf_counter()
    f = systems.prior_quality(prior, clip_m, n=n, seed=seed)
    return (f"On {n} test pairs (seed {seed}, {time.perf_counter() - began:.1f} s): cos(ẑ_i, z_i) with the prior "
            f"**{f['cos_prior_to_true_image']:.3f}**, with z_t as ẑ_i (no prior) **{f['cos_text_to_true_image']:.3f}**,"
            f" a random other image {f['cos_other_image_to_true_image']:.3f}.")


@user_errors
def variations(source, index, upload, light, n, scale, seed):
    """Decode one image's CLIP embedding n times from different noise."""
    image, what, _ = pick_scene(source, index, upload, light)
    n, scale, seed = check_int(n, "variations", 1, 8), check_scale(scale), check_seed(seed)
    clip_m, _, decoder, upsampler = _parts()
    out = unclip.variations(clip_m, decoder, upsampler, image, n, seed, scale)
    original = scene_truth(image)
    reads = [scene_truth(x) for x in out["images"]]
    keep = [bool(original.objects) and any(o.shape == original.objects[0].shape and o.colour == original.objects[0].colour
                                            for o in r.objects) for r in reads]
    place = [bool(original.objects) and any(o.position == original.objects[0].position for o in r.objects) for r in reads]
    picture = dalle_viz.stages_grid({"input": image[None].expand(n, -1, -1, -1), "decoder 16×16": out["low"],
                                     "upsampler 32×32": out["images"]})
    text = (f"{what}. Scene truth reads the input as **{describe(original)}**. Of {n} variations decoded from its CLIP "
            f"embedding: **{sum(keep)}/{n}** keep its first object's shape and colour, **{sum(place)}/{n}** its place. "
            "What stays is what CLIP's 64 numbers encode; what changes (exact position, size, jitter) is what they "
            "leave out. Read back: " + "; ".join(f"{k + 1}. {describe(r)}" for k, r in enumerate(reads)) + ".")
    return picture, text


@user_errors
def interpolate(index_a, index_b, k, scale, seed):
    """Decode k embeddings on the slerp path from test scene a to test scene b, all from the same noise."""
    a, what_a, _ = pick_scene("test scene", index_a, None, True)
    b, what_b, _ = pick_scene("test scene", index_b, None, True)
    k, scale, seed = check_int(k, "steps along the path", 2, 10), check_scale(scale), check_seed(seed)
    clip_m, _, decoder, upsampler = _parts()
    out = unclip.interpolation(clip_m, decoder, upsampler, a, b, k, seed, scale)
    captions = [f"s={s:.2f} cos A {c:.2f}" for s, c in zip(out["fractions"], out["cos_to_a"])]
    picture = dalle_viz.path_strip([a, *out["images"], b], ["A"] + captions + ["B"], side=88)
    reads = [describe(scene_truth(x)) for x in out["images"]]
    text = (f"A = {what_a}; B = {what_b}. Along the path ẑ(s) = slerp(z_A, z_B, s), every embedding of unit length; "
            "each image starts from the same noise, so only the embedding changes. Read back: "
            + "; ".join(f"s = {s:.2f}: {r}" for s, r in zip(out["fractions"], reads)) + ".")
    return picture, text


@user_errors
def compare_upsamplers(first, level, seed):
    """8 test scenes: their decoder 16×16 (from the true z_i), upsampled with and without augmentation."""
    first, level, seed = check_int(first, "first test scene", 0, 192), check_float(level, "noise level", 0.0, 0.29), check_seed(seed)
    from playground import data
    scenes = data.load("scenes", "test", n=first + 8, seed=0)
    x, prompts = scenes.x[first:first + 8], [c[0] for c in scenes.all_captions[first:first + 8]]
    clip_m, decoder = _parts(("clip-scenes", "unclip-decoder"))
    low = unclip.decode(decoder, unclip.image_embeddings(clip_m, x), seed, scale=3.0)
    plain = unclip.upsample(shipped("unclip-upsampler-noaug"), low, seed)
    augmented = unclip.upsample(shipped("unclip-upsampler"), low, seed, level=level)
    picture = dalle_viz.stages_grid({"true 32×32": x, "decoder 16×16": low, "upsampler, no augmentation": plain,
                                     f"upsampler, augmented (level {level:g})": augmented})
    a, b = accuracy_of(plain, prompts, clip_m.model), accuracy_of(augmented, prompts, clip_m.model)
    text = (f"Scene truth on these 8 (shape and colour right): without augmentation **{a['shape_colour']:.0%}**, with "
            f"**{b['shape_colour']:.0%}**; CLIP score {a['clip_score']:.2f} vs {b['clip_score']:.2f}. The level is "
            "the share of T the 16×16 input is noised to before the augmented model reads it (it was trained on 0 to "
            "0.3).")
    return picture, text


def upsampler_card_text() -> str:
    rows = []
    for name, what in (("unclip-upsampler-noaug", "no augmentation"), ("unclip-upsampler", "augmented")):
        f = card(name).get("metrics", {})
        if not f:
            continue
        true16, dec = f["from_true_16"], f.get("from_decoder_16", {})
        rows.append(f"| {what} | {true16['psnr_db']:.1f} dB (bilinear {true16['bilinear_psnr_db']:.1f}) | "
                    f"{true16['shape_colour']:.0%} | "
                    + (f"{dec['input']['shape_colour']:.0%} → {dec['output']['shape_colour']:.0%}" if dec else "–") + " |")
    if not rows:
        return "The measured figures appear here once the upsamplers are trained."
    return ("**Measured** on 128 test scenes when each was trained (scene truth: shape and colour right):\n\n"
            "| upsampler | PSNR from the true 16×16 | scene truth from the true 16×16 | from the decoder's 16×16 "
            "(input → output) |\n|---|---|---|---|\n" + "\n".join(rows))


def build(page: gr.Blocks) -> None:
    gr.Markdown(EXPLAIN)
    with gr.Tabs():
        with gr.Tab("Prompt → prior → decoder → upsampler", id="pipeline"):
            with gr.Row():
                prompt = gr.Textbox(DEFAULT_PROMPT, label="Prompt", elem_id="d2-prompt", scale=3, max_lines=1)
                use_prior = gr.Checkbox(True, label="Use the prior (off: decode z_t itself)", elem_id="d2-use-prior")
                button = gr.Button("Generate", variant="primary", elem_id="d2-run", scale=1)
                stop = gr.Button("Stop", elem_id="d2-stop", scale=0, min_width=80)
            with gr.Row():
                scale = gr.Slider(0, 10, value=3, step=0.5, label="Decoder guidance scale w", elem_id="d2-scale")
                steps = gr.Slider(5, 250, value=50, step=1, label="Decoder DDIM steps", elem_id="d2-steps")
                n = gr.Slider(1, 8, value=4, step=1, label="Images", elem_id="d2-n")
                seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="d2-seed")
            tiles = gr.Image(label="Embeddings: z_t (the prompt), then each ẑ_i", interactive=False, elem_id="d2-tiles",
                             height=90)
            grid = gr.Image(label="Stages", interactive=False, elem_id="d2-grid", height=260)
            info = gr.Markdown(elem_id="d2-info")
            go = button.click(pipeline, [prompt, use_prior, scale, steps, n, seed], [tiles, grid, info],
                              api_name="dalle2_generate", **EXPENSIVE)
            stop.click(None, None, None, cancels=[go], queue=False)
        with gr.Tab("The prior", id="prior"):
            gr.Markdown(PRIOR)
            gr.Markdown(prior_card_text(), elem_id="d2-prior-card")
            with gr.Row():
                p_n = gr.Slider(16, 500, value=200, step=1, label="Test pairs", elem_id="d2-prior-n")
                p_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
                p_button = gr.Button("Measure again", elem_id="d2-prior-run")
            p_info = gr.Markdown(elem_id="d2-prior-info")
            p_button.click(measure_prior, [p_n, p_seed], p_info, api_name="dalle2_prior", **EXPENSIVE)
        with gr.Tab("Variations", id="variations"):
            gr.Markdown("**Variations.** Encode an image with CLIP's image encoder and decode its embedding again "
                        "from fresh noise: the decoder inverts the encoder, so what comes back is what the 64 numbers "
                        "kept.")
            source, index, upload, light = scene_picker("d2-var")
            with gr.Row():
                v_n = gr.Slider(1, 8, value=6, step=1, label="Variations", elem_id="d2-var-n")
                v_scale = gr.Slider(0, 10, value=3, step=0.5, label="Decoder guidance scale w")
                v_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
                v_button = gr.Button("Make variations", variant="primary", elem_id="d2-var-run")
            v_grid = gr.Image(label="The input, then its variations", interactive=False, elem_id="d2-var-grid",
                              height=260)
            v_info = gr.Markdown(elem_id="d2-var-info")
            v_button.click(variations, [source, index, upload, light, v_n, v_scale, v_seed], [v_grid, v_info],
                           api_name="dalle2_variations", **EXPENSIVE)
        with gr.Tab("Interpolation", id="interpolation"):
            gr.Markdown("**Interpolation.** Two test scenes' CLIP image embeddings, and the great-circle path between "
                        "them (slerp keeps every point at unit length, as CLIP's embeddings are), each point decoded.")
            with gr.Row():
                a = gr.Number(0, precision=0, minimum=0, maximum=199, label="Scene A (test, 0–199)", elem_id="d2-int-a")
                b = gr.Number(5, precision=0, minimum=0, maximum=199, label="Scene B (test, 0–199)", elem_id="d2-int-b")
                k = gr.Slider(2, 10, value=6, step=1, label="Points on the path", elem_id="d2-int-k")
                i_scale = gr.Slider(0, 10, value=3, step=0.5, label="Decoder guidance scale w")
                i_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
                i_button = gr.Button("Interpolate", variant="primary", elem_id="d2-int-run")
            i_strip = gr.Image(label="A, the decoded path, B", interactive=False, elem_id="d2-int-strip")
            i_info = gr.Markdown(elem_id="d2-int-info")
            i_button.click(interpolate, [a, b, k, i_scale, i_seed], [i_strip, i_info], api_name="dalle2_interpolate",
                           **EXPENSIVE)
        with gr.Tab("Upsampler: noise augmentation", id="upsampler"):
            gr.Markdown(UPSAMPLE)
            gr.Markdown(upsampler_card_text(), elem_id="d2-up-card")
            with gr.Row():
                first = gr.Number(0, precision=0, minimum=0, maximum=192, label="First test scene (8 from here)",
                                  elem_id="d2-up-first")
                level = gr.Slider(0, 0.29, value=0.15, step=0.01, label="Noise level given to the augmented model",
                                  elem_id="d2-up-level")
                u_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
                u_button = gr.Button("Upsample both ways", variant="primary", elem_id="d2-up-run")
            u_grid = gr.Image(label="Rows: truth, decoder, both upsamplers", interactive=False, elem_id="d2-up-grid",
                              height=400)
            u_info = gr.Markdown(elem_id="d2-up-info")
            u_button.click(compare_upsamplers, [first, level, u_seed], [u_grid, u_info], api_name="dalle2_upsample",
                           **EXPENSIVE)


__all__ = ["build", "pipeline", "variations", "interpolate", "compare_upsamplers", "measure_prior"]
