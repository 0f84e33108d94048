"""Shipped models: assets/checkpoints/NAME.safetensors (weights, never pickle) + NAME.json (the card)."""
from __future__ import annotations

import json
from pathlib import Path

CHECKPOINTS = Path(__file__).resolve().parents[1] / "assets" / "checkpoints"


def available() -> list[str]:
    """Names of the shipped checkpoints (those with both a card and weights)."""
    return sorted(p.stem for p in CHECKPOINTS.glob("*.json") if p.with_suffix(".safetensors").is_file())


def card(name: str) -> dict:
    path = CHECKPOINTS / f"{name}.json"
    if name not in available():
        raise ValueError(f"unknown model {name!r}; shipped models: {', '.join(available()) or 'none yet'}")
    return json.loads(path.read_text())
