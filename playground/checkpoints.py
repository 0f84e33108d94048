"""Checkpoints: NAME.safetensors (weights, never pickle) + NAME.json (the card: family, config,
dataset, schedule, steps, wall time, final loss, metrics, and the command that reproduces it).

Shipped models live in assets/checkpoints/ and are only ever written by `python -m playground train`.
A user's models go to their own folder (`user_dir()`), never into assets/.
"""
from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .devices import check_device, default_device
from .families import spec_from_card
from .models import Loaded
from .nn import unets_in_bfloat16

CHECKPOINTS = Path(__file__).resolve().parents[1] / "assets" / "checkpoints"


def available(folder: Path = CHECKPOINTS) -> list[str]:
    """Names of the checkpoints in `folder` that have both a card and weights (listed again only when the folder
    changed: pages ask this hundreds of times while they are built)."""
    try:
        changed = os.stat(folder).st_mtime_ns
    except OSError:
        return []
    return list(_listed(str(folder), changed))


@functools.lru_cache(maxsize=16)
def _listed(folder: str, changed: int) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in Path(folder).glob("*.json") if p.with_suffix(".safetensors").is_file()))


def card(name: str, folder: Path = CHECKPOINTS) -> dict:
    if name not in available(folder):
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available(folder)) or 'none yet'}")
    return json.loads((Path(folder) / f"{name}.json").read_text())


def save(model: torch.nn.Module, spec, name: str, folder: Path, **card_fields) -> Path:
    """Write NAME.safetensors and NAME.json into `folder`; returns the card's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / f"{name}.safetensors"))
    info = {"name": name, "family": spec.family, "spec": spec.to_dict(), **card_fields}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(info, indent=2, default=float) + "\n")
    return path


def load(name: str, folder: Path = CHECKPOINTS, device: str | torch.device | None = None) -> Loaded:
    """A checkpoint rebuilt from its card alone: a `Loaded` handle with the network in eval mode on `device`
    (default: `default_device()`), its spec and card, and the facts pages need."""
    info = card(name, folder)
    spec = spec_from_card(info)
    model = spec.build()
    model.load_state_dict(load_file(str(Path(folder) / f"{name}.safetensors")))
    device = default_device() if device is None else check_device(device)
    return Loaded(name, for_inference(model, device), spec, info, info.get("summary", name))


def for_inference(model: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """A network set up as a loaded checkpoint runs: its image UNets in bfloat16 where that was measured to pay
    (nn.unets_in_bfloat16), in eval mode, on `device`."""
    return unets_in_bfloat16(model, device).to(device).eval()


def user_dir() -> Path:
    """Where models a user trains are kept: $PLAYGROUND_USER_DIR, else a per-user cache folder."""
    root = os.environ.get("PLAYGROUND_USER_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "generative-playground")
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        return Path(root)
    except OSError:
        return Path(tempfile.mkdtemp(prefix="playground-"))
