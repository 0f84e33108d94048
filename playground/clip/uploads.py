"""An uploaded picture as the scenes look: the scenes are drawn on a dark background, so a drawing on white paper
is far from anything mini-CLIP saw in training. `on_scene_background` swaps a light background for the scenes' own
before the image is encoded."""
from __future__ import annotations

import torch

from ..data.shapes import BACKGROUND

LIGHT = 0.0  # a border brighter than this (mean over channels, in [-1, 1]) is a light background
NEAR, FAR = 0.15, 0.5  # a pixel this close to the background colour (max over channels) becomes background;
# from NEAR to FAR it is blended, so anti-aliased edges stay smooth


def on_scene_background(image: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """(3, S, S) in [-1, 1] -> (the image on the scenes' dark background, whether it was changed). The background
    colour is the median of the border pixels; only a light one (a drawing on paper, a screenshot) is replaced."""
    border = torch.cat([image[:, 0], image[:, -1], image[:, :, 0], image[:, :, -1]], dim=1)  # (3, 4S)
    colour = border.median(dim=1).values  # (3,)
    if float(colour.mean()) <= LIGHT:
        return image, False
    dark = torch.tensor(BACKGROUND, dtype=image.dtype) / 127.5 - 1.0  # (3,)
    distance = (image - colour[:, None, None]).abs().amax(0)  # (S, S)
    keep = ((distance - NEAR) / (FAR - NEAR)).clamp(0, 1)  # 0: background, 1: the drawing
    return keep * image + (1 - keep) * dark[:, None, None], True
