"""Command line: `python -m playground list | train NAME | sample NAME | bench`."""
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


def cmd_train(args) -> int:
    from . import checkpoints, data, evaluate, recipes
    from .train import train

    recipe = recipes.recipe(args.name)
    steps = args.steps or recipe.steps
    dataset = data.load(recipe.dataset, "train", n=recipe.n, seed=recipe.seed)
    print(f"training {args.name} on {dataset.source} for {steps} steps")
    last = [time.perf_counter()]

    def report(step, total, metrics, preview):
        if step % 100 == 0 or step == total:
            now = time.perf_counter()
            print(f"step {step}/{total} " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
                  + f" ({100 / (now - last[0]):.2f} steps/s)", flush=True)
            last[0] = now

    model, history = train(recipe.spec, dataset, steps, callback=report, seed=recipe.seed)
    metrics = {}
    if recipe.spec.family == "classifier":
        test = data.load(recipe.dataset, "test")
        with torch.no_grad():
            metrics["test_accuracy"] = float((model(test.x).argmax(1) == test.y).float().mean())
    elif recipe.spec.family == "noisy-classifier":
        from .diffusion.classifier import accuracy_by_noise
        test = data.load(recipe.dataset, "test", n=recipe.n, seed=recipe.seed)
        metrics = accuracy_by_noise(model, recipe.spec, test.x, test.y)
    elif recipe.spec.family in ("autoencoder", "gan"):
        classifier = checkpoints.load("classifier-fashion")[0] if "classifier-fashion" in checkpoints.available() else None
        quality = evaluate.autoencoder_quality if recipe.spec.family == "autoencoder" else evaluate.gan_quality
        metrics = quality(model, recipe.spec, classifier)
    elif recipe.spec.family in ("vq", "token-prior"):
        classifier = checkpoints.load("classifier-fashion")[0] if "classifier-fashion" in checkpoints.available() else None
        quality = evaluate.vq_quality if recipe.spec.family == "vq" else evaluate.token_prior_quality
        metrics = quality(model, recipe.spec, classifier)
    elif recipe.spec.network == "mlp":
        metrics = evaluate.toy_quality(model, recipe.spec, recipe.dataset)
    elif "classifier-fashion" in checkpoints.available():
        classifier, _, _ = checkpoints.load("classifier-fashion")
        metrics = evaluate.fashion_quality(model, recipe.spec, classifier)
    final = {k: float(np.mean(v[-100:])) for k, v in history.items() if isinstance(v, list) and k != "step"}
    curves = {}
    if recipe.spec.family == "vq":  # how the codebook's health moved during training, per 50 steps
        curves = {k: [float(np.mean(v[i:i + 50])) for i in range(0, len(v), 50)] for k, v in history.items()
                  if k in ("recon", "perplexity", "codes_used", "dead_codes", "commitment", "codebook")}
        curves["step"] = [min(i + 50, len(history["step"])) for i in range(0, len(history["step"]), 50)]
    command = f"python -m playground train {args.name}" + (f" --steps {steps}" if args.steps else "")
    path = checkpoints.save(model, recipe.spec, args.name, Path(args.out), dataset=recipe.dataset, summary=recipe.summary,
                            data_source=dataset.source, steps_trained=len(history["step"]),
                            wall_time_s=round(history["wall_time_s"], 1), final_loss=final.get("loss", final.get("g_loss")),
                            final_metrics_last_100_steps=final, metrics=metrics, seed=recipe.seed, command=command,
                            torch=torch.__version__, threads=torch.get_num_threads(), **({"curves": curves} if curves else {}))
    print(json.dumps(metrics, indent=2))
    print(f"wrote {path} and its .safetensors")
    return 0


def cmd_sample(args) -> int:
    from . import checkpoints, viz
    from .diffusion import make_schedule
    from .diffusion.samplers import ClassifierFree, ClassifierGuidance, sample

    model, spec, card = checkpoints.load(args.name)
    if card["family"] != "ddpm":
        raise SystemExit(f"{args.name} is a {card['family']}, not a diffusion model")
    g = torch.Generator().manual_seed(args.seed)
    shape = (args.n, 2) if spec.network == "mlp" else (args.n, spec.unet.in_channels, spec.unet.image_size, spec.unet.image_size)
    y = None if args.label is None else args.label
    if args.classifier is not None and args.guidance is None:
        raise ValueError("--classifier needs --guidance S, the classifier guidance scale")
    if args.guidance is not None and args.label is None:
        raise ValueError("guidance needs a class: give --label K")
    if args.classifier is not None:  # classifier guidance of the unconditional (null-class) model
        classifier, cspec, ccard = checkpoints.load(args.classifier)
        if ccard["family"] != "noisy-classifier":
            raise ValueError(f"{args.classifier} is a {ccard['family']}, not a noise-aware classifier")
        if (cspec.schedule, cspec.num_steps) != (spec.schedule, spec.num_steps):
            raise ValueError(f"{args.classifier} was trained with another schedule than {args.name}")
        guidance = ClassifierGuidance(classifier, args.guidance)
    else:
        guidance = ClassifierFree(args.guidance) if args.guidance is not None else None
    x = sample(model, make_schedule(spec.schedule, spec.num_steps), torch.randn(shape, generator=g), args.sampler,
               args.steps if args.sampler == "ddim" else None, eta=args.eta, y=y, guidance=guidance, generator=g)
    out = Path(args.out)
    if out.suffix == ".npy":
        np.save(out, x.numpy())
    elif out.suffix == ".png":
        from PIL import Image
        if spec.network == "mlp":
            raise SystemExit("2D samples are points: write them to a .npy file")
        Image.fromarray(viz.image_grid(x, scale=2)).save(out)
    else:
        raise SystemExit("--out must end in .png (an image grid) or .npy (the raw samples)")
    print(f"wrote {args.n} samples to {out}")
    return 0


def cmd_bench(args) -> int:
    from . import bench

    bench.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    from .checkpoints import CHECKPOINTS

    parser = argparse.ArgumentParser(prog="python -m playground", description="Generative Models Playground")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the shipped models").set_defaults(run=cmd_list)
    train = commands.add_parser("train", help="train a model from its recipe and write its checkpoint")
    train.add_argument("name")
    train.add_argument("--steps", type=int, help="override the recipe's number of steps")
    train.add_argument("--out", default=str(CHECKPOINTS), help="folder for NAME.safetensors + NAME.json")
    train.set_defaults(run=cmd_train)
    smp = commands.add_parser("sample", help="sample a shipped diffusion model to .png or .npy")
    smp.add_argument("name")
    smp.add_argument("--n", type=int, default=16)
    smp.add_argument("--out", required=True)
    smp.add_argument("--sampler", choices=["ddpm", "ddim"], default="ddim")
    smp.add_argument("--steps", type=int, default=50)
    smp.add_argument("--eta", type=float, default=0.0)
    smp.add_argument("--label", type=int)
    smp.add_argument("--guidance", type=float, help="guidance scale: CFG's w (1 = plain conditional), or s with --classifier")
    smp.add_argument("--classifier", help="a noisy-classifier checkpoint: use classifier guidance instead of CFG")
    smp.add_argument("--seed", type=int, default=0)
    smp.set_defaults(run=cmd_sample)
    commands.add_parser("bench", help="print speed figures measured on this machine").set_defaults(run=cmd_bench)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
