"""Procedural 32×32 RGB scenes whose every fact is known: one or two coloured shapes on a dark background.

Two datasets come from here:

- `load_shapes` ("shapes"): one shape per image, labelled by its shape, captioned "a small red circle at the top
  left". The class-conditional pages use it.
- `load_scenes` ("scenes"): one or two shapes per image, each scene a small scene graph (`Scene`: objects with
  shape, colour, size and grid position; for two objects the relation "left of" or "above"), with several
  captions per scene (`captions(scene)`: the grammar's templates) for text models such as mini-CLIP.

    >>> from playground import data
    >>> ds = data.load("scenes", "train", n=1000)        # a SceneDataset
    >>> ds.x.shape, ds.captions[0], ds.scenes[0]         # (1000, 3, 32, 32), its first caption, its Scene
    >>> ds.all_captions[0]                               # every template's caption of item 0
    >>> data.scene_truth(ds.x[0]) == ds.scenes[0]        # the judge reads the facts back (exact on clean renders)

Held-out combinations: the colour–shape pairs in `HELD_OUT` never appear in the "train" or "test" splits, only
in the "heldout" split (where every scene has at least one), to test compositional generalisation: a model has
seen green things and triangles, never a green triangle.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
from PIL import Image, ImageDraw

from .base import Dataset

SHAPE_CLASSES = ["circle", "square", "triangle", "diamond"]
COLOURS = {"red": (230, 50, 50), "green": (60, 200, 70), "blue": (60, 110, 240),
           "yellow": (240, 220, 60), "magenta": (220, 70, 220), "cyan": (70, 220, 230)}
BACKGROUND = (20, 20, 28)
SIZES = {"small": 0.22, "large": 0.36}  # half-width as a share of the image side
ROWS, COLS = ("top", "middle", "bottom"), ("left", "centre", "right")
CELL = 0.27  # distance between grid cells as a share of the image side
JITTER = 0.03  # each object moves up to this share of the side off its cell's centre
RELATIONS = {"left of": "right of", "above": "below"}  # objects[0] RELATION objects[1], and the inverse words
HELD_OUT = frozenset({("green", "triangle"), ("cyan", "square"), ("red", "diamond"), ("yellow", "circle")})
SPLITS = ("train", "test", "heldout")
_SEED_OFFSET = {"train": 0, "test": 10_000, "heldout": 20_000}
_TEST_SEED_OFFSET = _SEED_OFFSET["test"]
_SUPERSAMPLE = 4  # draw at 4× and downsample: anti-aliased edges


@dataclass(frozen=True)
class SceneObject:
    """One shape in a scene."""

    shape: str  # one of SHAPE_CLASSES
    colour: str  # a key of COLOURS
    size: str  # "small" or "large"
    row: int  # 0 top, 1 middle, 2 bottom
    col: int  # 0 left, 1 centre, 2 right

    @property
    def position(self) -> str:
        """Where it is, in words: "at the top left", "in the centre", "on the right"."""
        return _position_words(self.row, self.col)


@dataclass(frozen=True)
class Scene:
    """A scene graph. Two objects sit on opposite cells of one row ("left of") or one column ("above"), and are
    listed in reading order, so that `objects[0] relation objects[1]` holds."""

    objects: tuple[SceneObject, ...]  # one or two (the judge may report more, or none, for a generated image)
    relation: str | None = None  # two objects: "left of" or "above"; otherwise None

    def to_dict(self) -> dict:
        return {"objects": [vars(o) for o in self.objects], "relation": self.relation}


@dataclass
class SceneDataset(Dataset):
    """A `Dataset` of scenes: y is the shape of the first object, `captions` the first template's caption."""

    scenes: list[Scene] = field(default_factory=list)  # the scene graph of each image
    all_captions: list[tuple[str, ...]] = field(default_factory=list)  # every template's caption of each image

    def subset(self, index: torch.Tensor) -> "SceneDataset":
        rows = index.tolist()
        base = super().subset(index)
        return SceneDataset(**vars(base), scenes=[self.scenes[i] for i in rows],
                            all_captions=[self.all_captions[i] for i in rows])


def _position_words(row: int, col: int) -> str:
    if row == 1 and col == 1:
        return "in the centre"
    if row == 1:
        return f"on the {COLS[col]}"
    if col == 1:
        return f"at the {ROWS[row]}"
    return f"at the {ROWS[row]} {COLS[col]}"


def _draw(draw: ImageDraw.ImageDraw, shape: str, colour: str, r: float, cx: float, cy: float) -> None:
    """One filled shape of "radius" r centred at (cx, cy) (the triangle's box centre is 0.1 r above it)."""
    fill = COLOURS[colour]
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        draw.rectangle([cx - 0.85 * r, cy - 0.85 * r, cx + 0.85 * r, cy + 0.85 * r], fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def render(scene: Scene, jitter: np.ndarray | None = None, side: int = 32) -> np.ndarray:
    """A scene as a (side, side, 3) uint8 array; jitter (objects, 2) moves each object off its cell's centre."""
    big = side * _SUPERSAMPLE
    image = Image.new("RGB", (big, big), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for k, o in enumerate(scene.objects):
        dx, dy = (0.0, 0.0) if jitter is None else jitter[k]
        _draw(draw, o.shape, o.colour, SIZES[o.size] * big / 2,
              big * (0.5 + (o.col - 1) * CELL + dx), big * (0.5 + (o.row - 1) * CELL + dy))
    return np.asarray(image.resize((side, side), Image.Resampling.BOX))


def draw_shape(shape: str, colour: str, size: str, row: int, col: int, side: int = 32,
               jitter: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """One shape as a (side, side, 3) uint8 array."""
    return render(Scene((SceneObject(shape, colour, size, row, col),)), np.array([jitter]), side)


def captions(scene: Scene) -> tuple[str, ...]:
    """The caption grammar: eight captions of a scene, the most specific first. Every word any caption can
    use is in `VOCABULARY`."""
    if len(scene.objects) == 1:
        (o,) = scene.objects
        z, c, s, p = o.size, o.colour, o.shape, o.position
        return (f"a {z} {c} {s} {p}", f"a {c} {s} {p}", f"a {z} {c} {s}", f"a {c} {s}",
                f"a photo of a {z} {c} {s}", f"a {s} {p}", f"a {s}", f"a {c} shape")
    a, b = scene.objects
    rel, inv = scene.relation, RELATIONS[scene.relation]
    return (f"a {a.size} {a.colour} {a.shape} {rel} a {b.size} {b.colour} {b.shape}",
            f"a {a.colour} {a.shape} {rel} a {b.colour} {b.shape}", f"a {b.colour} {b.shape} {inv} a {a.colour} {a.shape}",
            f"a {a.colour} {a.shape} and a {b.colour} {b.shape}", f"a {b.colour} {b.shape} and a {a.colour} {a.shape}",
            f"a photo of a {a.colour} {a.shape} and a {b.colour} {b.shape}", f"a {a.shape} {rel} a {b.shape}",
            f"a {a.colour} shape and a {b.colour} shape")


def swap_colours(scene: Scene) -> Scene:
    """The same two shapes with their colours exchanged (the attribute-binding test's wrong caption)."""
    a, b = scene.objects
    return replace(scene, objects=(replace(a, colour=b.colour), replace(b, colour=a.colour)))


VOCABULARY: tuple[str, ...] = tuple(sorted(
    {"a", "photo", "of", "shape", "and", "at", "the", "on", "in", *SHAPE_CLASSES, *COLOURS, *SIZES, *ROWS, *COLS}
    | {word for words in RELATIONS.items() for phrase in words for word in phrase.split()}))


def is_held_out(o: SceneObject) -> bool:
    return (o.colour, o.shape) in HELD_OUT


def random_scene(rng: np.random.Generator, split: str = "train", two_objects: bool | None = None) -> Scene:
    """A random scene of a split: "train"/"test" never hold a HELD_OUT pair; in "heldout" one object is one.
    Two objects always differ in shape and in colour, so that swapping their colours changes the scene."""
    if two_objects is None:
        two_objects = bool(rng.random() < 0.5)
    colours, sizes = list(COLOURS), list(SIZES)
    while True:
        if two_objects:
            relation = list(RELATIONS)[rng.integers(2)]
            lane = int(rng.integers(3))  # the shared row ("left of") or column ("above")
            cells = [(lane, 0), (lane, 2)] if relation == "left of" else [(0, lane), (2, lane)]
            shapes = rng.choice(len(SHAPE_CLASSES), 2, replace=False)
            tints = rng.choice(len(colours), 2, replace=False)
            objects = tuple(SceneObject(SHAPE_CLASSES[shapes[k]], colours[tints[k]], sizes[rng.integers(2)], *cells[k])
                            for k in range(2))
            scene = Scene(objects, relation)
        else:
            scene = Scene((SceneObject(SHAPE_CLASSES[rng.integers(4)], colours[rng.integers(6)], sizes[rng.integers(2)],
                                       int(rng.integers(3)), int(rng.integers(3))),))
        held = [is_held_out(o) for o in scene.objects]
        if (split == "heldout") == any(held):
            return scene


def load_scenes(split: str = "train", n: int = 4096, seed: int = 0, two_object_share: float = 0.5) -> SceneDataset:
    """n captioned scenes of a split ("train", "test" or "heldout"), deterministic given the seed."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    rng = np.random.default_rng(seed + _SEED_OFFSET[split])
    scenes = [random_scene(rng, split, bool(rng.random() < two_object_share)) for _ in range(n)]
    images = [render(s, rng.uniform(-JITTER, JITTER, (len(s.objects), 2))) for s in scenes]
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (N, 3, 32, 32)
    y = torch.tensor([SHAPE_CLASSES.index(s.objects[0].shape) for s in scenes], dtype=torch.long)
    texts = [captions(s) for s in scenes]
    return SceneDataset("scenes", x, y, list(SHAPE_CLASSES),
                        f"procedural captioned scenes of one or two shapes ({split}, {n:,} images, seed {seed})",
                        [t[0] for t in texts], scenes=scenes, all_captions=texts)


def load_shapes(split: str = "train", n: int = 2048, seed: int = 0) -> Dataset:
    """One shape per image, labelled by its shape (SHAPE_CLASSES) and captioned."""
    rng = np.random.default_rng(seed + (_TEST_SEED_OFFSET if split == "test" else 0))
    images, labels, texts = [], [], []
    for _ in range(n):
        label = int(rng.integers(len(SHAPE_CLASSES)))
        colour = list(COLOURS)[rng.integers(len(COLOURS))]
        size = list(SIZES)[rng.integers(len(SIZES))]
        row, col = int(rng.integers(3)), int(rng.integers(3))
        jitter = tuple(rng.uniform(-JITTER, JITTER, 2))
        images.append(draw_shape(SHAPE_CLASSES[label], colour, size, row, col, jitter=jitter))
        labels.append(label)
        texts.append(f"a {size} {colour} {SHAPE_CLASSES[label]} {_position_words(row, col)}")
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (N, 3, 32, 32)
    return Dataset("shapes", x, torch.tensor(labels, dtype=torch.long), list(SHAPE_CLASSES),
                   f"procedural shapes scenes ({split}, {n:,} images, seed {seed})", texts)
