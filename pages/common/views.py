"""One view object per modality, so a page never branches on "is this 2D?". A view turns samples into what the
page shows (a picture for images, a figure for points) and says which of the page's two output components is the
visible one. The pictures and figures themselves are made by `playground.viz`, on the CPU."""
from __future__ import annotations

import gradio as gr
import numpy as np
import torch

from playground import viz


class ImageView:
    """Images (B, C, H, W): a square grid picture."""

    modality = "image"

    def samples(self, x: torch.Tensor, target_px: int = 300) -> np.ndarray:
        x = x.detach().float().cpu().clamp(-1, 1)
        nrow = int(np.ceil(np.sqrt(x.shape[0])))
        return viz.image_grid(x, nrow=nrow, scale=viz.fit_scale(x.shape[-1] * nrow, target_px), pad=1)

    def show(self, x: torch.Tensor, title: str = "") -> tuple:
        """(picture, figure) for a pair of outputs (image component, plot component)."""
        return self.samples(x), None

    def live(self, x: torch.Tensor, title: str = "") -> tuple:
        """What a live view streams while sampling runs: the same as `show`."""
        return self.show(x, title)

    def visibility(self) -> tuple:
        """gr.update()s for (the image component, the plot component)."""
        return gr.update(visible=True), gr.update(visible=False)


class PointsView:
    """2D points (B, 2): a scatter figure."""

    modality = "points"
    LIVE_POINTS = 400

    def samples(self, x: torch.Tensor, title: str = "", reference: np.ndarray | None = None, limit: float = 2.5):
        return viz.points_frame(x.detach().float().cpu().numpy(), title=title, reference=reference, limit=limit)

    def show(self, x: torch.Tensor, title: str = "") -> tuple:
        return None, self.samples(x, title)

    def live(self, x: torch.Tensor, title: str = "") -> tuple:
        """While sampling runs, at most LIVE_POINTS points: the browser redraws an SVG scatter of 2,000 points too
        slowly to keep up with a stream (measured in `bench`), and the finished run shows them all."""
        shown = x[:self.LIVE_POINTS]
        return self.show(shown, title + (f" (first {len(shown):,} of {len(x):,} points while it runs)"
                                          if len(shown) < len(x) else ""))

    def visibility(self) -> tuple:
        return gr.update(visible=False), gr.update(visible=True)


VIEWS = {"image": ImageView(), "points": PointsView()}


def view_for(modality: str):
    """The view of a modality ("image" or "points")."""
    return VIEWS[modality]
