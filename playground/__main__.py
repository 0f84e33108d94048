"""Command line: `python -m playground list | train NAME | sample NAME | clip-score NAME | compare-flows | gan-ablation |
bench | loadtest`."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


def cmd_list(args) -> int:
    from . import checkpoints, recipes

    names = checkpoints.available()
    if not names:
        print("No shipped models yet: assets/checkpoints/ holds no checkpoints.")
    for name in names:
        card = checkpoints.card(name)
        print(f"{name:28s} {card['family']:10s} {card['dataset']:10s} {card.get('summary', '')}")
    missing = [name for name in recipes.RECIPES if name not in names]
    if missing:
        print(f"Recipes not trained yet ({len(missing)}): {', '.join(missing)}")
    return 0


def _metric_classifier():
    from . import checkpoints

    return checkpoints.load("classifier-fashion", device="cpu").model if "classifier-fashion" in checkpoints.available() else None


GUIDED_SCALE = 3.0  # the class-conditional image models' cards also measure classifier-free guidance at this w


def card_metrics(name: str, model, spec, dataset_name: str, n: int | None, seed: int) -> dict:
    """The measured figures a recipe's card records, per family (measured on the CPU, the model moved there)."""
    from . import checkpoints, data, evaluate

    family, model = spec.family, model.cpu()
    if family == "classifier":
        test = data.load(dataset_name, "test")
        with torch.no_grad():
            return {"test_accuracy": float((model(test.x).argmax(1) == test.y).float().mean())}
    if family == "noisy-classifier":
        from .diffusion.classifier import accuracy_by_noise
        test = data.load(dataset_name, "test", n=n, seed=seed)
        return accuracy_by_noise(model, spec, test.x, test.y)
    if family == "autoencoder":
        return evaluate.autoencoder_quality(model, spec, _metric_classifier())
    if family == "gan":
        return evaluate.gan_quality(model, spec, _metric_classifier())
    if family == "vq":
        return evaluate.vq_quality(model, spec, _metric_classifier())
    if family == "clip":
        from . import clip
        return clip.card_metrics(model)
    if family == "text-diffusion":
        from . import text_to_image
        return text_to_image.card_metrics(model, spec)
    if family == "dalle":
        from . import systems
        return systems.dalle_card_metrics(model, spec)
    if family == "unclip":
        from . import systems
        return systems.unclip_card_metrics(model, spec)
    if family == "kl-autoencoder":
        from . import latent
        return latent.quality(model)
    if family == "token-prior":
        return evaluate.token_prior_quality(model, spec, checkpoints.load(spec.vq, device="cpu").model,
                                             _metric_classifier())
    if family == "realnvp":
        return evaluate.realnvp_quality(model, spec, dataset_name)
    classifier = None if spec.sample_shape == (2,) else _metric_classifier()
    if spec.sample_shape == (2,):
        out = evaluate.toy_quality(model, spec, dataset_name)
    else:
        out = evaluate.fashion_quality(model, spec, classifier) if classifier is not None else {}
        if classifier is not None and spec.num_classes and not getattr(spec, "learn_variance", False):
            out["guided"] = evaluate.fashion_quality(model, spec, classifier, guidance_scale=GUIDED_SCALE)
    if getattr(spec, "learn_variance", False):  # against the L_simple model of the same recipe
        from .recipes import LEARNED_BASELINES
        fixed = LEARNED_BASELINES.get(name, name.replace("-learned", "-cosine"))
        baseline = checkpoints.load(fixed, device="cpu") if fixed in checkpoints.available() else None
        out["baseline"] = fixed if baseline else None
        out.update(evaluate.learned_variance_quality(model, spec, dataset_name, baseline and (baseline.model, baseline.spec),
                                                     classifier=classifier))
    return out


def cmd_train(args) -> int:
    from . import checkpoints, data, recipes
    from .devices import check_device, default_device
    from .families import SteppedFamily
    from .prior import tokenise
    from .train import train_steps

    recipe = recipes.recipe(args.name)
    device = check_device(args.device) if args.device else default_device()
    steps = args.steps or recipe.steps
    dataset = data.load(recipe.dataset, "train", n=recipe.n, seed=recipe.seed)
    if recipe.spec.family == "token-prior":  # the prior learns the tokens of its tokenizer, made once here
        dataset = tokenise(dataset, checkpoints.load(recipe.spec.vq, device=device).model)
    if recipe.spec.family == "dalle":  # the tokenizer's codes of each scene, and its captions' token ids
        from . import dalle
        dataset = dalle.training_set(dataset, recipe.spec, checkpoints.load(recipe.spec.vq, device=device).model)
    if recipe.spec.family == "unclip":  # CLIP's embeddings of the scenes and captions, made once
        from . import unclip
        dataset = unclip.training_set(dataset, recipe.spec, checkpoints.load(recipe.spec.clip_from, device=device).model)
    if recipe.spec.family == "flow-matching" and recipe.spec.reflow_from:  # the teacher's (sample, noise) pairs
        from . import flows
        teacher = checkpoints.load(recipe.spec.reflow_from, device=device).model
        dataset = data.Dataset(dataset.name, flows.reflow_set(teacher, len(dataset), recipe.spec.sample_shape,
                                                              seed=recipe.seed),
                               torch.zeros(len(dataset), dtype=torch.long), dataset.class_names,
                               f"{len(dataset):,} (Heun-50 sample, noise) pairs of {recipe.spec.reflow_from}")
    if recipe.spec.family == "clip":  # CLIP learns from the token ids of every caption of each scene
        from . import clip
        dataset = clip.training_set(dataset, recipe.spec)
    if recipe.spec.family == "text-diffusion":  # captions' token ids; a latent model's images encoded once
        from .diffusion import text
        stage = checkpoints.load(recipe.spec.first_stage_from, device=device).model if recipe.spec.latent else None
        dataset = text.training_set(dataset, recipe.spec, stage)
    resume, done_before = None, 0
    if args.resume:  # go on from the checkpoint in --out (its weights; the optimizer starts afresh)
        previous = checkpoints.load(args.name, Path(args.out), device=device)
        model = previous.model.train()
        optimizers = (recipe.spec.optimizers(model) if isinstance(recipe.spec, SteppedFamily)
                      else [torch.optim.Adam(model.parameters(), lr=recipe.spec.lr)])
        resume, done_before = (model, optimizers), int(previous.card.get("steps_trained", 0))
    print(f"training {args.name} on {dataset.source} for {steps} steps on {device}"
          + (f", resuming after {done_before}" if resume else ""))
    last, event = time.perf_counter(), None
    for event in train_steps(recipe.spec, dataset, steps, seed=recipe.seed + done_before, device=device, resume=resume):
        if event.step % 100 == 0 or event.step == event.total:
            now = time.perf_counter()
            print(f"step {event.step}/{event.total} " + " ".join(f"{k}={v:.4f}" for k, v in event.losses.items())
                  + f" ({100 / (now - last):.2f} steps/s)", flush=True)
            last = now
    model, history = event.model.eval(), event.history
    metrics = card_metrics(args.name, model, recipe.spec, recipe.dataset, recipe.n, recipe.seed)
    final = {k: float(np.mean(v[-100:])) for k, v in history.items() if isinstance(v, list) and k != "step"}
    curves = {}
    if recipe.spec.family == "vq":  # how the codebook's health moved during training, per 50 steps
        curves = {k: [float(np.mean(v[i:i + 50])) for i in range(0, len(v), 50)] for k, v in history.items()
                  if k in ("recon", "perplexity", "codes_used", "dead_codes", "commitment", "codebook")}
        curves["step"] = [min(i + 50, len(history["step"])) for i in range(0, len(history["step"]), 50)]
    command = f"python -m playground train {args.name}" + (f" --steps {steps}" if args.steps else "") \
        + (" --resume" if args.resume else "")
    path = checkpoints.save(model, recipe.spec, args.name, Path(args.out), dataset=recipe.dataset, summary=recipe.summary,
                            data_source=dataset.source, steps_trained=done_before + len(history["step"]),
                            wall_time_s=round(history["wall_time_s"], 1), final_loss=final.get("loss", final.get("g_loss")),
                            final_metrics_last_100_steps=final, metrics=metrics, seed=recipe.seed, command=command,
                            torch=torch.__version__, threads=torch.get_num_threads(), device=str(device),
                            **({"curves": curves} if curves else {}))
    print(json.dumps(metrics, indent=2))
    print(f"wrote {path} and its .safetensors")
    return 0


def cmd_sample(args) -> int:
    from . import checkpoints
    from .diffusion.samplers import ClassifierFree, ClassifierGuidance, sample

    m = checkpoints.load(args.name, device=args.device)
    ddpm_steps, args.steps = args.steps, 50 if args.steps is None else args.steps  # DDPM: all T unless --steps
    if args.variance != "posterior" and args.sampler != "ddpm":
        raise ValueError("--variance sets DDPM's reverse variance: use it with --sampler ddpm")
    if m.family == "text-diffusion":
        return _sample_text(m, args)
    if m.family in ("dalle", "unclip"):
        return _sample_system(m, args)
    if m.family in ("flow-matching", "realnvp"):
        return _sample_flow(m, args)
    if args.rerank is not None or args.no_prior:
        raise ValueError("--rerank is for dalle-scenes and --no-prior for the unclip-* models")
    if args.prompt is not None or args.init is not None:
        raise ValueError(f"--prompt and --init need a text-to-image model; {args.name} is a {m.family}")
    if args.sampler not in ("ddpm", "ddim"):
        raise ValueError(f"--sampler {args.sampler} is an ODE solver for flow-matching models; {args.name} takes ddpm "
                         "or ddim")
    if m.family != "ddpm":
        raise SystemExit(f"{args.name} is a {m.family}, not a diffusion model")
    if args.classifier is not None and args.guidance is None:
        raise ValueError("--classifier needs --guidance S, the classifier guidance scale")
    if args.guidance is not None and args.label is None:
        raise ValueError("guidance needs a class: give --label K")
    if args.label is not None and not (m.num_classes and 0 <= args.label < m.num_classes):
        raise ValueError(f"--label must be a class from 0 to {(m.num_classes or 1) - 1} of {args.name}")
    if args.classifier is not None:  # classifier guidance of the unconditional (null-class) model
        c = checkpoints.load(args.classifier, device=m.device)
        if c.family != "noisy-classifier":
            raise ValueError(f"{args.classifier} is a {c.family}, not a noise-aware classifier")
        if (c.spec.schedule, c.spec.num_steps) != (m.spec.schedule, m.spec.num_steps):
            raise ValueError(f"{args.classifier} was trained with another schedule than {args.name}")
        guidance = ClassifierGuidance(c.model, args.guidance)
    else:
        guidance = ClassifierFree(args.guidance, null=m.null_condition(args.n)) if args.guidance is not None else None
    g = torch.Generator().manual_seed(args.seed)
    x = sample(m.model, m.schedule, m.noise(args.n, args.seed), args.sampler,
               args.steps if args.sampler == "ddim" else ddpm_steps, eta=args.eta,
               y=None if args.label is None else m.labels(args.n, args.label), guidance=guidance, generator=g,
               variance=args.variance).cpu()
    return _write_samples(x, args.out, m.modality)


def _sample_flow(m, args) -> int:
    """A RealNVP: x = f⁻¹(z). A flow-matching model: the ODE from noise with --sampler euler or heun (default euler),
    --steps K, and for a class-conditional one --label and classifier-free guidance --guidance w."""
    from .diffusion.samplers import ClassifierFree
    from .flows import flow_sample

    if args.prompt is not None or args.init is not None or args.classifier is not None or args.rerank is not None:
        raise ValueError(f"{args.name} is a {m.family}: --prompt, --init, --classifier and --rerank do not apply")
    if m.family == "realnvp":
        if args.label is not None or args.guidance is not None:
            raise ValueError(f"{args.name} is an unconditional RealNVP: no --label or --guidance")
        x = m.model.sample(args.n, torch.Generator().manual_seed(args.seed)).cpu()
        return _write_samples(x, args.out, m.modality)
    solver = "euler" if args.sampler == "ddim" else args.sampler  # ddim is the diffusion default: Euler here
    if solver not in ("euler", "heun"):
        raise ValueError(f"--sampler for a flow-matching model is euler or heun, got {args.sampler}")
    if args.guidance is not None and args.label is None:
        raise ValueError("guidance needs a class: give --label K")
    if args.label is not None and not (m.num_classes and 0 <= args.label < m.num_classes):
        raise ValueError(f"--label must be a class from 0 to {(m.num_classes or 1) - 1} of {args.name}")
    guidance = ClassifierFree(args.guidance, null=m.null_condition(args.n)) if args.guidance is not None else None
    x = flow_sample(m.model, m.noise(args.n, args.seed), solver, args.steps,
                    y=None if args.label is None else m.labels(args.n, args.label), guidance=guidance).cpu()
    return _write_samples(x, args.out, m.modality)


def _write_samples(x: torch.Tensor, out: str, modality: str) -> int:
    from . import viz

    out = Path(out)
    if out.suffix == ".npy":
        np.save(out, x.numpy())
    elif out.suffix == ".png":
        from PIL import Image
        if modality != "image":
            raise SystemExit("2D samples are points: write them to a .npy file")
        Image.fromarray(viz.image_grid(x, scale=2)).save(out)
    else:
        raise SystemExit("--out must end in .png (an image grid) or .npy (the raw samples)")
    print(f"wrote {len(x)} samples to {out}")
    return 0


def _sample_text(m, args) -> int:
    """A text-to-image model: decoded images (N, 3, 32, 32) in [-1, 1] for --prompt; img2img with --init."""
    from . import data, text_to_image as t2i

    if args.prompt is None:
        raise ValueError(f"{args.name} makes images from text: give --prompt \"a small red circle at the top left\"")
    if args.label is not None or args.classifier is not None:
        raise ValueError("--label and --classifier are for class-conditional models; a text model takes --prompt")
    scale = 3.0 if args.guidance is None else args.guidance
    if args.init is not None:
        if args.strength is None:
            raise ValueError("--init needs --strength S in (0, 1]: how far to noise the image (t = S · T)")
        image = data.load_image(args.init, size=32, channels=3)
        x_t, t = t2i.noised(m, image, args.strength, args.seed)
        steps = max(1, round(t2i.check_strength(args.strength) * args.steps))
        x = t2i.generate(m, args.prompt, negative=args.negative_prompt or "", scale=scale, steps=steps,
                         sampler="ddim", seed=args.seed, n=args.n, x_T=x_t.repeat(args.n, 1, 1, 1), start=t,
                         eta=args.eta)
    else:
        if args.strength is not None:
            raise ValueError("--strength goes with --init IMAGE (img2img)")
        x = t2i.generate(m, args.prompt, negative=args.negative_prompt or "", scale=scale, steps=args.steps,
                         sampler=args.sampler, seed=args.seed, n=args.n, eta=args.eta)
    return _write_samples(x, args.out, "image")


def _sample_system(m, args) -> int:
    """DALL·E 1 (dalle-scenes, --rerank N) or DALL·E 2 (any unclip-* name: prior, decoder and upsampler, all shipped,
    --no-prior for the baseline): n images (N, 3, 32, 32) for --prompt."""
    from . import checkpoints, dalle, unclip

    if args.prompt is None:
        raise ValueError(f"{args.name} makes images from text: give --prompt \"a small red circle at the top left\"")
    if args.init is not None or args.negative_prompt is not None or args.label is not None:
        raise ValueError("--init, --negative-prompt and --label are for other models")
    if not 1 <= args.n <= unclip.MAX_IMAGES:
        raise ValueError(f"--n must be from 1 to {unclip.MAX_IMAGES}")
    clip_m = checkpoints.load("clip-scenes", device=args.device)
    if m.family == "dalle":
        if args.no_prior:
            raise ValueError("--no-prior is for the unclip-* models (DALL·E 2)")
        tokenizer = checkpoints.load(m.spec.vq, device=args.device)
        if args.rerank is None:
            x = dalle.images_for(m, tokenizer, [args.prompt] * args.n, args.seed)
        else:
            dalle.check_candidates(args.rerank)
            x = torch.stack([dalle.rerank(m, tokenizer, clip_m, args.prompt, args.rerank, args.seed + k)["images"][0]
                             for k in range(args.n)])
        return _write_samples(x, args.out, "image")
    if args.rerank is not None:
        raise ValueError("--rerank is for dalle-scenes (DALL·E 1)")
    prior, decoder, upsampler = (checkpoints.load(n, device=args.device)
                                 for n in ("unclip-prior", "unclip-decoder", "unclip-upsampler"))
    out = unclip.generate_stages(clip_m, prior, decoder, upsampler, args.prompt, args.n, args.seed,
                                 use_prior=not args.no_prior, scale=3.0 if args.guidance is None else args.guidance,
                                 steps=args.steps)
    return _write_samples(out["images"], args.out, "image")


def cmd_clip_score(args) -> int:
    from . import checkpoints, clip, data

    folder = Path(args.folder)
    m = checkpoints.load(args.name, folder, device=args.device)
    if m.family != "clip":
        raise ValueError(f"{args.name} is a {m.family}, not a CLIP model; CLIP models: " + ", ".join(
            n for n in checkpoints.available(folder) if checkpoints.card(n, folder)["family"] == "clip"))
    text = clip.check_text(args.text)
    if unknown := clip.unknown_words(m.model, text):
        print(f"note: not in {args.name}'s vocabulary, read as <unk>: {', '.join(unknown)}", file=sys.stderr)
    images = torch.stack([data.load_image(path, size=m.spec.image_size, channels=3) for path in args.images])
    scores = clip.clip_score(m.model, images, text)
    print(f"CLIPScore = 2.5 · max(cos, 0), from 0 to 2.5; higher means a better match with {text!r}")
    for path, score in zip(args.images, scores.tolist()):
        print(f"{score:.4f}  {path}")
    return 0


def cmd_compare_flows(args) -> int:
    """Flow matching (Euler, Heun) against DDIM on the shipped models of each dataset: quality and straightness
    against the number of steps, from the same noise, as a Markdown table (and JSON with --out)."""
    from . import checkpoints, evaluate, flows

    results = {}
    for dataset in args.dataset or ["moons", "ring8", "checkerboard", "spirals", "fashion"]:
        names = flows.comparison_models(dataset)
        missing = sorted({name for name, _ in names.values() if name not in checkpoints.available()})
        if missing:
            raise ValueError(f"{dataset}: train {', '.join(missing)} first")
        loaded = {name: checkpoints.load(name, device=args.device) for name, _ in names.values()}
        entries = {label: (loaded[name].model, loaded[name].spec, sampler) for label, (name, sampler) in names.items()}
        n = args.n or (500 if dataset == "fashion" else 2000)
        rows = evaluate.steps_comparison(entries, dataset, tuple(args.steps), n, 0,
                                         _metric_classifier() if dataset == "fashion" else None)
        results[dataset] = rows
        quality = "accuracy" if dataset == "fashion" else "sliced_wasserstein"
        print(f"\n{dataset}, {n} samples: {quality} (and Fréchet distance) · straightness · seconds")
        print("| method | " + " | ".join(f"K = {k}" for k in args.steps) + " |")
        print("|---|" + "---|" * len(args.steps))
        for label in names:
            cells = []
            for r in (r for r in rows if r["method"] == label):
                q = (f"{r['accuracy']:.1%}, FD {r['frechet_distance']:.2f}" if dataset == "fashion"
                     else f"{r['sliced_wasserstein']:.4f}")
                cells.append(f"{q} · {r['straightness']:.3f} · {r['seconds']:.1f} s")
            print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def cmd_gan_ablation(args) -> int:
    """Mode collapse on the ring, counted: loss × spectral norm × learning rate over seeds, as a Markdown table."""
    from . import evaluate

    rows = evaluate.gan_ablation(seeds=tuple(range(args.seeds)), iterations=args.iterations)
    print("| loss | spectral norm on D | lr (G and D) | modes covered, per seed | mean | high-quality share, mean |")
    print("|---|---|---|---|---|---|")
    for key in dict.fromkeys((r["loss"], r["spectral_norm"], r["lr"]) for r in rows):
        mine = [r for r in rows if (r["loss"], r["spectral_norm"], r["lr"]) == key]
        covered = [r["modes_covered"] for r in mine]
        print(f"| {key[0]} | {'on' if key[1] else 'off'} | {key[2]:g} | {', '.join(map(str, covered))} | "
              f"{sum(covered) / len(covered):.1f} | {sum(r['high_quality'] for r in mine) / len(mine):.0%} |", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def cmd_bench(args) -> int:
    from . import bench

    if args.compare_diffusers or "diffusers_figures" in (args.only or ()):
        try:
            import diffusers  # noqa: F401 - optional: only this comparison uses it
        except ImportError:
            print("--compare-diffusers needs diffusers (pip install diffusers); it is not a dependency of the playground")
            return 2
    bench.run(args.only, args.compare_diffusers)
    return 0


def cmd_loadtest(args) -> int:
    from . import loadtest

    return loadtest.main(args.students, args.seconds, args.action, args.scenario, args.pause)


def main(argv: list[str] | None = None) -> int:
    from .checkpoints import CHECKPOINTS

    parser = argparse.ArgumentParser(prog="python -m playground", description="Generative Models Playground")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the shipped models").set_defaults(run=cmd_list)
    train = commands.add_parser("train", help="train a model from its recipe and write its checkpoint")
    train.add_argument("name")
    train.add_argument("--steps", type=int, help="override the recipe's number of steps")
    train.add_argument("--out", default=str(CHECKPOINTS), help="folder for NAME.safetensors + NAME.json")
    train.add_argument("--resume", action="store_true", help="go on from the checkpoint NAME in --out")
    train.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: $PLAYGROUND_DEVICE, else the best there is)")
    train.set_defaults(run=cmd_train)
    smp = commands.add_parser("sample", help="sample a shipped diffusion, flow or text-to-image model to .png or .npy")
    smp.add_argument("name")
    smp.add_argument("--n", type=int, default=16)
    smp.add_argument("--out", required=True)
    smp.add_argument("--sampler", choices=["ddpm", "ddim", "euler", "heun"], default="ddim",
                     help="diffusion: ddpm or ddim; flow matching: the ODE solver euler (the default) or heun")
    smp.add_argument("--steps", type=int, help="steps K (default 50); DDPM: all T by default, K < T respaced")
    smp.add_argument("--variance", choices=["posterior", "beta", "learned"], default="posterior",
                     help="DDPM's reverse variance: β̃ (posterior, the default), β, or the model's own (ddpm-*-learned)")
    smp.add_argument("--eta", type=float, default=0.0)
    smp.add_argument("--label", type=int)
    smp.add_argument("--guidance", type=float, help="guidance scale: CFG's w (1 = plain conditional), or s with --classifier")
    smp.add_argument("--classifier", help="a noisy-classifier checkpoint: use classifier guidance instead of CFG")
    smp.add_argument("--seed", type=int, default=0)
    smp.add_argument("--prompt", help="text-to-image models: what to draw, e.g. 'a small red circle at the top left'")
    smp.add_argument("--negative-prompt", help="text-to-image: CFG's unconditional input instead of the empty prompt")
    smp.add_argument("--init", help="text-to-image: an image file to start from (img2img, SDEdit)")
    smp.add_argument("--strength", type=float, help="img2img: how far to noise --init, in (0, 1] (t = strength · T)")
    smp.add_argument("--rerank", type=int, help="DALL·E 1 (dalle-scenes): draw N candidates per image, keep CLIP's best")
    smp.add_argument("--no-prior", action="store_true",
                     help="DALL·E 2 (unclip-*): decode the text embedding itself, skipping the prior (the baseline)")
    smp.add_argument("--device", help="cpu, cuda, cuda:N or mps")
    smp.set_defaults(run=cmd_sample)
    score = commands.add_parser("clip-score", help="CLIPScore of images against a text with a CLIP model (higher: better match)")
    score.add_argument("name")
    score.add_argument("--text", required=True, help="the caption, e.g. 'a red circle'")
    score.add_argument("images", nargs="+", help="image files (any size: centre-cropped and resized to 32×32 RGB)")
    score.add_argument("--folder", default=str(CHECKPOINTS), help="the folder holding NAME (default: the shipped models)")
    score.add_argument("--device", help="cpu, cuda, cuda:N or mps")
    score.set_defaults(run=cmd_clip_score)
    bench = commands.add_parser("bench", help="print speed figures measured on this machine")
    bench.add_argument("--only", nargs="+", metavar="GROUP", help="just these groups (e.g. sampling_figures)")
    bench.add_argument("--compare-diffusers", action="store_true",
                       help="also time the same DDIM-50 loop with diffusers' UNet2DModel + DDIMScheduler (if installed)")
    bench.set_defaults(run=cmd_bench)
    compare = commands.add_parser("compare-flows", help="flow matching against DDIM: quality against steps, measured")
    compare.add_argument("--dataset", action="append", choices=["moons", "ring8", "checkerboard", "spirals", "fashion"])
    compare.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50])
    compare.add_argument("--n", type=int, help="samples per row (default 2,000 points or 500 images)")
    compare.add_argument("--out", help="also write the rows as JSON here")
    compare.add_argument("--device", help="cpu, cuda, cuda:N or mps")
    compare.set_defaults(run=cmd_compare_flows)
    ablation = commands.add_parser("gan-ablation", help="mode collapse on the ring: loss × spectral norm × lr, over seeds")
    ablation.add_argument("--seeds", type=int, default=3)
    ablation.add_argument("--iterations", type=int, default=2000)
    ablation.add_argument("--out", help="also write the runs as JSON here")
    ablation.set_defaults(run=cmd_gan_ablation)
    load = commands.add_parser("loadtest", help="simulate a class against a fresh app on 127.0.0.1 (bounded, stops by itself)")
    load.add_argument("--students", type=int, default=30)
    load.add_argument("--seconds", type=float, default=60.0)
    load.add_argument("--action", action="append", help="only these actions (repeatable); default: all")
    load.add_argument("--scenario", choices=["mix", "generate"], default="mix",
                      help="mix: the common actions for --seconds; generate: everyone presses Generate at once")
    load.add_argument("--pause", type=float, help="each student's mean pause between actions in seconds "
                                                   "(default: 0.05–0.3 s, a stress test; a long soak uses a calmer class)")
    load.set_defaults(run=cmd_loadtest)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
