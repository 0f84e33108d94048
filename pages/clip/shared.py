"""What the /clip tabs share: the model menu (the shipped mini-CLIP and the models this browser trained, which live
in its session state `my_models`), the test scenes, picking a scene or an upload, the checks of typed text (with
unknown words reported, and a text with no word the model knows refused), and the retrieval figures of a model
(from its card, or measured once for a model trained here)."""
from __future__ import annotations

import functools
import itertools
import string
import weakref

import gradio as gr
import torch

from playground import clip, data
from playground.clip.text import words
from playground.models import Loaded

from ..common import ModelMenu, check_choice, check_int, quoted, real_data, upload_path

MENU = ModelMenu({"clip-scenes": "mini-CLIP (shipped, 3000 steps)"})
TEST_N = 1000  # test scenes the tabs search, score and project
SOURCES = ["test scene", "upload"]
FILLER = frozenset({"a", "the", "of", "and", "at", "in", "on", "photo"})  # words that name nothing in a scene
PLACEHOLDERS = {"shape": data.SHAPE_CLASSES, "colour": list(data.COLOURS), "color": list(data.COLOURS),
                "size": list(data.SIZES)}
MAX_PROMPT_TEXT = 20_000  # characters of the prompt box; a single prompt's limit (200) is the library's

# A cache, not a store: keyed by the model handle, so a browser's model's figures go when its session drops it.
_MEASURED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # {handle: {what: value}}


def default_model() -> str | None:
    return next(iter(MENU.available()), None)


def model_menu(elem_id: str, scale: int = 2) -> gr.Dropdown:
    """A tab's model menu: this browser's models first, then the shipped one."""
    return gr.Dropdown(MENU.choices(), value=default_model(), label="Model", elem_id=elem_id, scale=scale)


def get_model(name, my_models: dict | None = None) -> Loaded:
    if name is None and not MENU.available():
        raise gr.Error("The mini-CLIP is not shipped in this copy: make it with `python -m playground train "
                       "clip-scenes`, or train one in the last tab.")
    return MENU.get(name, my_models)


def test_scenes() -> data.SceneDataset:
    """The test scenes every tab uses (TEST_N of them, seed 0), loaded once."""
    return real_data("scenes", "test", TEST_N)


@functools.lru_cache(maxsize=4)
def caption_pool() -> tuple[str, ...]:
    """The distinct most specific captions of the test scenes: what image → text retrieval ranks."""
    return tuple(dict.fromkeys(test_scenes().captions))


# ---- an image: a test scene or an upload ------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def _upload(path: str, light_to_dark: bool) -> tuple[torch.Tensor, bool]:
    x = data.load_image(path, size=32, channels=3)
    return clip.on_scene_background(x) if light_to_dark else (x, False)


def pick_scene(source, index, upload, light_to_dark=True) -> tuple[torch.Tensor, str, str]:
    """(image (3, 32, 32) in [-1, 1], what it is in words, its true caption or "" for an upload)."""
    check_choice(source, "image source", SOURCES)
    if source == "upload":
        path = upload_path(upload)
        if path is None:
            raise gr.Error("Choose an image file to upload first (a drawing of one shape works).")
        try:
            x, changed = _upload(path, bool(light_to_dark))
        except data.ImageError as err:
            raise gr.Error(f"{err}. Try another file.") from None
        return x, ("your upload, centre-cropped to 32×32" +
                   (", its light background made dark like the scenes'" if changed else "")), ""
    index = check_int(index, "test scene", 0, TEST_N - 1)
    scenes = test_scenes()
    return scenes.x[index], f"test scene {index}: “{scenes.captions[index]}”", scenes.captions[index]


def scene_picker(prefix: str):
    """Source (a test scene or an upload), the scene's number, the upload and the light-background switch."""
    with gr.Row():
        source = gr.Radio(SOURCES, value="test scene", label="Image", elem_id=f"{prefix}-source", min_width=160)
        index = gr.Number(0, precision=0, minimum=0, maximum=TEST_N - 1, label=f"Test scene (0–{TEST_N - 1})",
                          elem_id=f"{prefix}-index", min_width=120)
    upload = gr.File(label="Your image (any format; a drawing of one shape works)", type="filepath", visible=False,
                     elem_id=f"{prefix}-upload", height=110)
    light = gr.Checkbox(True, label="Light background → the scenes' dark one", visible=False)
    source.change(lambda s: (gr.update(visible=s == "upload"), gr.update(visible=s == "upload"),
                             gr.update(visible=s != "upload")), source, [upload, light, index],
                  api_visibility="private")
    return source, index, upload, light


# ---- text --------------------------------------------------------------------------------------------------

def check_caption(handle: Loaded, text, what: str = "the caption") -> tuple[str, str]:
    """(the text, a note on its unknown words or ""); a ValueError for an empty or too long text, and for a text
    in which the model knows no word that names something (it would read only <unk>)."""
    text = clip.check_text(text, what)
    return text, unknown_note(handle, [text])


def unknown_note(handle: Loaded, texts: list[str]) -> str:
    """A sentence naming the words the model does not know (read as <unk>), or "". A text with no known word that
    names something is refused."""
    for text in texts:
        known = [w for w in words(text) if w not in FILLER and not clip.unknown_words(handle.model, [w])]
        if not known:
            raise ValueError(f"{quoted(text)} has no word this model knows that names a shape, colour, size or "
                             f"place, so it would read only <unk>. {vocabulary_hint(handle)}")
    unknown = clip.unknown_words(handle.model, texts)
    if not unknown:
        return ""
    return (f"⚠ Not in the vocabulary, read as <unk> (unknown): {', '.join(map(repr, unknown[:12]))}"
            f"{' …' if len(unknown) > 12 else ''}. {vocabulary_hint(handle)}")


def vocabulary_hint(handle: Loaded) -> str:
    return f"It knows: {', '.join(w for w in handle.spec.vocabulary if w not in FILLER)}."


def _placeholders(line: str) -> list[str]:
    """The {names} of a template line, each once, in order; a gr.Error for a stray brace or an unknown name."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(line) if name is not None]
    except ValueError:  # a lone "{" or "}"
        names = None
    unknown = [name for name in names or [] if name not in PLACEHOLDERS]
    if names is None or unknown:
        what = ", ".join("{" + name + "}" for name in unknown) or "a stray brace"
        raise gr.Error(f"A template can fill in {{shape}}, {{colour}} or {{size}}; {quoted(line)} has {what}.")
    return list(dict.fromkeys(names))


def expand_prompts(text) -> list[str]:
    """The prompt box as a list of prompts: one per line; a line with {shape}, {colour} or {size} stands for
    every way of filling it in ("a photo of a {colour} {shape}" → 24 prompts)."""
    if not isinstance(text, str):
        raise gr.Error(f"The prompts must be text, one per line; got {quoted(text)}.")
    if len(text) > MAX_PROMPT_TEXT:
        raise gr.Error(f"The prompt box holds {len(text):,} characters; the limit is {MAX_PROMPT_TEXT:,} "
                       f"(at most {clip.MAX_PROMPTS} prompts of {clip.MAX_PROMPT_CHARS} characters each).")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise gr.Error(f"The prompt box is empty: type {clip.MIN_PROMPTS} to {clip.MAX_PROMPTS} prompts, one per "
                       "line, such as “a circle” and “a square”.")
    if len(lines) > clip.MAX_PROMPTS:
        raise gr.Error(f"Give from {clip.MIN_PROMPTS} to {clip.MAX_PROMPTS} prompts, one per line; got "
                       f"{len(lines):,} lines.")
    prompts = []
    for k, line in enumerate(lines):
        clip.check_text(line, f"prompt {k + 1}")  # too long: said before anything is filled in
        names = _placeholders(line)
        for values in itertools.product(*(PLACEHOLDERS[name] for name in names)):
            prompts.append(line.format(**dict(zip(names, values))))
        if len(prompts) > clip.MAX_PROMPTS:
            raise gr.Error(f"The templates make more than {clip.MAX_PROMPTS} prompts (the limit); use fewer "
                           "lines or placeholders.")
    return clip.check_prompts(prompts)


# ---- retrieval figures ---------------------------------------------------------------------------------------

def recall(handle: Loaded) -> dict:
    """R@1 and R@5 both ways on test and held-out pairs, with chance: the card's figures for the shipped model,
    measured once (on TEST_N pairs of each) for a model trained here."""
    metrics = handle.card.get("metrics") or {}
    if "test_text_to_image_R@1" in metrics:
        return metrics

    def measure() -> dict:
        out = {}
        for split in ("test", "heldout"):
            pairs = test_scenes() if split == "test" else real_data("scenes", "heldout", TEST_N)
            found = clip.retrieval_recall(handle.model, pairs.x, pairs.captions)
            out.update({f"{split}_{k}": v for k, v in found.items()})
        return out
    return measured(handle, "recall", measure)


def measured(handle: Loaded, what: str, measure):
    """measure() for this model, computed once and kept while the model lives (a read-only cache)."""
    facts = _MEASURED.setdefault(handle, {})
    if what not in facts:
        facts[what] = measure()
    return facts[what]


def real_pair_scores(handle: Loaded) -> torch.Tensor:
    """CLIPScore of the TEST_N real test pairs (image, its caption), measured once per model."""
    scenes = test_scenes()
    return measured(handle, "real_scores", lambda: clip.clip_score(handle.model, scenes.x, scenes.captions))


def recall_table(handle: Loaded) -> str:
    """The retrieval figures as a Markdown table, next to chance."""
    m = recall(handle)
    where = ("from its card: 1,000 pairs of each" if "test_text_to_image_R@1" in (handle.card.get("metrics") or {})
             else f"measured here on {TEST_N:,} pairs of each")
    rows = []
    for split, title in (("test", "test scenes"),
                         ("heldout", "held-out colour–shape pairs (never seen in training)")):
        rows.append(f"| {title} | " + " | ".join(
            f"{m[f'{split}_{d}_R@{k}']:.1%}" for k in (1, 5) for d in ("text_to_image", "image_to_text"))
            + f" | {m[f'{split}_chance_R@1']:.2%} / {m[f'{split}_chance_R@5']:.1%} |")
    return (f"**Retrieval recall of this model** ({where}; a hit is any image or caption with the query's exact "
            "caption):\n\n| pairs | text→image R@1 | image→text R@1 | text→image R@5 | image→text R@5 | "
            "chance R@1 / R@5 |\n|---|---|---|---|---|---|\n" + "\n".join(rows))
