"""Mini-CLIP (Radford et al. 2021): an image encoder and a text encoder trained contrastively on the captioned
scenes of `playground.data` ("scenes"), so that an image and a caption of it land close in one embedding space.

Train (the one training loop; the spec's loss is the symmetric InfoNCE of the paper's Figure 3):

    >>> from playground import clip, data
    >>> from playground.train import train_steps
    >>> spec = clip.CLIPSpec(batch_size=64)
    >>> train = clip.training_set(data.load("scenes", "train", n=4096), spec)   # y: token ids of 8 captions each
    >>> for event in train_steps(spec, train, 300, preview_every=50):
    ...     event.losses          # {"loss", "temperature" τ = 1/s, "accuracy": in-batch top-1, both directions}
    ...     event.preview         # every 50 steps: cos-similarity matrix (16, 16) of clip.preview_scenes(16)

Use (every function takes the network, e.g. `checkpoints.load("clip-scenes").model`, and returns CPU tensors):

    >>> m = checkpoints.load("clip-scenes").model
    >>> test = data.load("scenes", "test", n=500)                   # .x, .captions, .scenes, .all_captions
    >>> clip.zero_shot(m, test.x[:4], ["a circle", "a square"])       # (4, 2), rows sum to 1
    >>> clip.unknown_words(m, ["a photograph of a red circle"])       # ["photograph"]: read as <unk>
    >>> clip.retrieval_recall(m, test.x, test.captions, ks=(1, 5))    # {"text_to_image_R@1", …, "chance_R@1"}
    >>> clip.clip_score(m, test.x, "a red circle")                    # (500,) CLIPScore = 2.5·max(cos, 0)
    >>> clip.similarity(m, test.x, ["a red circle", "a blue square"]) # (500, 2) cosines, for top-k retrieval
    >>> clip.binding_test(m, test.x, test.scenes).prefers_truth       # share preferring the true binding
    >>> clip.modality_gap(m, test.x, test.captions)                   # ‖mean I_e − mean T_e‖
    >>> clip.project_pairs(m, test.x, test.captions)                  # 2D PCA of both embeddings
    >>> clip.project_pairs(m, test.x, test.captions, axes="gap")      # x along the modality gap
    >>> clip.encode_images(m, test.x), clip.encode_texts(m, test.captions)   # unit vectors (N, 64)
    >>> x, changed = clip.on_scene_background(data.load_image("drawing.png"))  # white paper -> the scenes' dark

The CLIP score here is Hessel et al. 2021's CLIPScore, w · max(cos, 0) with w = 2.5: from 0 to 2.5, and HIGHER
means the image matches the text better.

Limits (a ValueError with a clear sentence otherwise): a text is non-empty, at most 200 characters and 15
words; zero-shot takes 2 to 32 prompts; a call takes 1 to 10,000 images (N, 3, 32, 32) in [-1, 1] and as
many texts. Unknown words are read as `<unk>` and listed by `unknown_words` (strict=True refuses them).
"""
from .measure import (MAX_IMAGES, Binding, binding_test, card_metrics, check_images, clip_score, encode_images,
                      encode_texts, modality_gap, project_pairs, retrieval_recall, similarity, unknown_words, zero_shot)
from .model import CLIPSpec, MiniCLIP, info_nce, preview_scenes, training_set
from .text import (MAX_PROMPT_CHARS, MAX_PROMPTS, MAX_TEXTS, MIN_PROMPTS, Tokenizer, check_prompts, check_text,
                   check_texts)
from .uploads import on_scene_background

__all__ = [
    "CLIPSpec", "MiniCLIP", "Tokenizer", "Binding", "info_nce", "training_set", "preview_scenes",
    "encode_images", "encode_texts", "similarity", "zero_shot", "clip_score", "retrieval_recall", "binding_test",
    "modality_gap", "project_pairs", "unknown_words", "card_metrics", "on_scene_background",
    "check_images", "check_prompts", "check_text", "check_texts",
    "MAX_IMAGES", "MAX_PROMPT_CHARS", "MAX_PROMPTS", "MIN_PROMPTS", "MAX_TEXTS",
]
