"""A small CLIP BPE vocabulary kept in the repo, for tiny text encoders built offline.

It holds every byte-level character (with and without the end-of-word mark) plus a few merges
for common prompt words, so any prompt tokenizes, and the tiny pipelines and tiny CLIP judges
used in tests and the demo never download a tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VOCAB_DIR = Path(__file__).resolve().parent
MODEL_MAX_LENGTH = 77


def load_tiny_clip_tokenizer(model_max_length: int = MODEL_MAX_LENGTH) -> Any:
    """A transformers CLIPTokenizer over the in-repo vocabulary.

    model_max_length is set explicitly: pipelines pad to it, and an unset value is a huge
    sentinel that breaks padding. from_pretrained on the folder is the same call users make
    on a real tokenizer folder.
    """
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(VOCAB_DIR), model_max_length=model_max_length)


def vocab_size() -> int:
    return len(json.loads((VOCAB_DIR / "vocab.json").read_text(encoding="utf-8")))
