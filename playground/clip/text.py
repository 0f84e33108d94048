"""The word tokenizer of mini-CLIP and the checks every text passes before it reaches the model.

The vocabulary is the caption grammar's words (`playground.data.VOCABULARY`, saved in the checkpoint's spec so a
checkpoint keeps its own) after three special tokens: `<pad>` (0), `<eot>` (1, end of text: the text encoder
reads its state, as CLIP does) and `<unk>` (2, any word the grammar never uses). A text is lower-cased, its
punctuation dropped, and split on spaces:

    "A red circle."  →  [a, red, circle, <eot>, <pad>, …]  (context_length ids)

Limits (a ValueError with a sentence a person can act on, for a page to show):
- a text is a non-empty string of at most MAX_PROMPT_CHARS characters and at most context_length − 1 words;
- a list of zero-shot prompts holds MIN_PROMPTS to MAX_PROMPTS texts (one prompt makes the softmax trivially 1);
- a batch of texts to encode holds at most MAX_TEXTS.
Unknown words are not an error: they become `<unk>`, and `Tokenizer.unknown_words(texts)` lists them so the page
can say "not in the vocabulary: 'photograph'" (the measuring functions also take strict=True to refuse them).
"""
from __future__ import annotations

import re

import torch

SPECIALS = ("<pad>", "<eot>", "<unk>")
PAD, EOT, UNK = 0, 1, 2
ALIASES = {"center": "centre", "an": "a"}  # spellings read as the grammar's own words
MAX_PROMPT_CHARS = 200  # the longest caption of the grammar has 59 characters
MIN_PROMPTS, MAX_PROMPTS = 2, 32  # zero-shot classification over this many prompts
MAX_TEXTS = 10_000  # texts encoded in one call (retrieval over a test set)


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped, aliases mapped ("center" → "centre")."""
    return [ALIASES.get(w, w) for w in re.findall(r"[^\W_]+", text.lower())]


def check_text(text, what: str = "the prompt") -> str:
    """The text, stripped, or a ValueError saying what is wrong with it."""
    if not isinstance(text, str):
        raise ValueError(f"{what} must be text, got {type(text).__name__}")
    text = text.strip()
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(f"{what} is {len(text):,} characters long; the limit is {MAX_PROMPT_CHARS} "
                         "(the captions this model learned have at most 60)")
    if not words(text):
        raise ValueError(f"{what} is empty: type a caption such as 'a red circle'")
    return text


def check_texts(texts, lo: int = 1, hi: int = MAX_TEXTS, what: str = "texts", item: str = "text") -> list[str]:
    """A list of lo…hi checked texts (a single string counts as a list of one); `what` and `item` name them in
    the messages ("prompts", "prompt")."""
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, (list, tuple)):
        raise ValueError(f"the {what} must be a list of strings, got {type(texts).__name__}")
    if not lo <= len(texts) <= hi:
        why = " (a softmax over one prompt is always 1)" if what == "prompts" and len(texts) < lo else ""
        count = f"exactly {lo}" if lo == hi else f"from {lo} to {hi}"
        raise ValueError(f"give {count} {what}; got {len(texts)}{why}")
    return [check_text(t, f"{item} {k + 1}" if len(texts) > 1 else item) for k, t in enumerate(texts)]


def check_prompts(prompts) -> list[str]:
    """Zero-shot prompts: MIN_PROMPTS to MAX_PROMPTS non-empty texts."""
    return check_texts(prompts, MIN_PROMPTS, MAX_PROMPTS, "prompts", "prompt")


class Tokenizer:
    """Words ↔ ids over a fixed vocabulary, with `<pad>`, `<eot>` and `<unk>`."""

    def __init__(self, vocabulary: tuple[str, ...], context_length: int):
        self.itos = list(SPECIALS) + list(vocabulary)  # id → token
        self.stoi = {w: i for i, w in enumerate(self.itos)}  # token → id
        self.context_length = context_length  # ids per text: words, then <eot>, then <pad>s

    def __len__(self) -> int:
        return len(self.itos)

    def unknown_words(self, texts) -> list[str]:
        """The words of `texts` (a string or a list) that are not in the vocabulary, each once, in order."""
        texts = [texts] if isinstance(texts, str) else texts
        seen = [w for t in texts for w in words(t) if w not in self.stoi]
        return list(dict.fromkeys(seen))

    def check(self, texts, what: str = "the prompt") -> list[str]:
        """Prompts (a string or a list), each checked (empty, too long) and refused with a ValueError naming the
        words the model never learned (they would all read as `<unk>`); returns them stripped."""
        texts = [check_text(t, what) for t in ([texts] if isinstance(texts, str) else list(texts))]
        if unknown := self.unknown_words(texts):
            raise ValueError(f"{what} has words the model never learned: {', '.join(map(repr, unknown[:5]))}. "
                             f"It knows: {', '.join(self.itos[len(SPECIALS):])}")
        return texts

    def encode(self, texts, strict: bool = False) -> torch.Tensor:
        """Ids (N, context_length): each text's words, `<eot>`, then `<pad>`. Unknown words become `<unk>`, or,
        with strict=True, a ValueError that names them."""
        texts = check_texts(texts)
        if strict and (unknown := self.unknown_words(texts)):
            raise ValueError(f"not in the vocabulary: {', '.join(map(repr, unknown))}; it knows "
                             f"{', '.join(self.itos[len(SPECIALS):])}")
        return self.ids(texts)

    def ids(self, texts: list[str]) -> torch.Tensor:
        """`encode` without the checks on the texts (for the training set's many captions)."""
        ids = torch.full((len(texts), self.context_length), PAD, dtype=torch.long)
        for i, text in enumerate(texts):
            tokens = [self.stoi.get(w, UNK) for w in words(text)]
            if len(tokens) >= self.context_length:
                shown = text if len(text) <= 40 else text[:40] + "…"
                raise ValueError(f"{shown!r} has {len(tokens)} words; the model reads at most {self.context_length - 1}")
            ids[i, : len(tokens) + 1] = torch.tensor(tokens + [EOT])
        return ids

    def decode(self, ids: torch.Tensor) -> str:
        """The words of one row of ids, up to `<eot>`."""
        out = []
        for i in ids.tolist():
            if i in (EOT, PAD):
                break
            out.append(self.itos[i])
        return " ".join(out)
