"""Simulated unlearning methods on top of toyworld, for the demo's scorecard.

SIMULATIONS, not unlearning: each "method" is toyworld (the original model, ORG) behind a prompt
rewrite and, for one of them, a pixel post-processing step. Toyworld draws a concept exactly when
the prompt names one of its aliases, so rewriting the prompt is all it takes to make a method
forget, over-forget or only pretend to. Each fails in its own way, so the demo can show each
metric catching its own failure:

- `erase_clean`: removes every alias of the erased concepts. The concept is gone; everything
  else is exactly what ORG draws for the reference prompt.
- `over_erase`: removes the concepts and the things near them too: the subjects of attribute
  concepts (the person of a nudity prompt, the sunflower vase of a style prompt) and the
  unrelated and neighbour entities of entity concepts (the cat of an unrelated prompt).
  Preservation metrics (FID, KID, LPIPS against ORG, subject kept, CSDR) catch it.
- `degrade`: erases cleanly, then blurs, posterises and adds noise to every image. FID and KID
  against ORG catch it.
- `word_hide`: removes only the words the concept's forget prompts use (its concept phrases),
  so the concept comes back under a synonym (another alias). Forgetting on a synonym prompt set
  (robustness) catches it.

`generation.generator: toyworld-unlearned` with `generation.model: <one of SIMULATED_METHODS>`;
the erased concepts are the concepts the generator is built with.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from PIL import Image, ImageFilter

from dataigm.errors import InputError
from dataigm.generators.base import GenerationOutput, GenerationSettings, Generator
from dataigm.prompts import strip_words
from dataigm.toyworld.generator import ToyWorldGenerator
from dataigm.toyworld.render import RENDERER_VERSION

if TYPE_CHECKING:
    from dataigm.taxonomy import ConceptSpec

# Bump when a simulation changes what it draws (recorded as model_revision).
SIMULATION_VERSION = "sim-1"

SIMULATED_METHODS: dict[str, str] = {
    "erase_clean": "erases every alias of the concept; everything else as ORG draws it",
    "over_erase": "erases the concept and the things near it (subjects, unrelated and neighbour entities)",
    "degrade": "erases cleanly, then blurs, posterises and adds noise to every image",
    "word_hide": "erases only the words of the forget prompts; the concept returns under a synonym",
}


def all_aliases(spec: "ConceptSpec") -> list[str]:
    return list(spec.aliases)


def forget_prompt_words(spec: "ConceptSpec") -> list[str]:
    """The aliases the concept's forget prompts use (those inside its concept phrases): all a
    method that learned only its training prompts' words would hide."""
    return [a for a in spec.aliases
            if any(re.search(rf"(?<!\w){re.escape(a)}(?!\w)", p, re.IGNORECASE) for p in spec.prompts.concept_phrases)]


def nearby_words(spec: "ConceptSpec") -> list[str]:
    """The concept's aliases plus what sits near it: subjects, unrelated and neighbour entities."""
    subjects = [s for group in spec.prompts.groups.values() for s in group]
    return list(spec.aliases) + subjects + list(spec.prompts.unrelated) + list(spec.prompts.neighbours)


_WORDS: dict[str, Callable[["ConceptSpec"], list[str]]] = {
    "erase_clean": all_aliases,
    "over_erase": nearby_words,
    "degrade": all_aliases,
    "word_hide": forget_prompt_words,
}


def degrade(image: Image.Image, seed: int) -> Image.Image:
    """Blur, posterise to 3 bits per channel and add noise drawn from the image's seed."""
    blurred = image.filter(ImageFilter.GaussianBlur(radius=1.5))
    arr = np.asarray(blurred, dtype=np.float64)
    arr = np.round(arr / 32.0) * 32.0
    arr = arr + np.random.default_rng(seed).normal(0.0, 18.0, size=arr.shape)
    return Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8), "RGB")


class SimulatedUnlearningGenerator(Generator):
    """Toyworld behind a simulated method's prompt rewrite (and pixel damage, for `degrade`)."""

    name = "toyworld-unlearned"

    def __init__(self, settings: GenerationSettings, concepts: Sequence["ConceptSpec"] = ()) -> None:
        method = settings.model or ""
        if method not in SIMULATED_METHODS:
            raise InputError(f"generation.model: '{method}' is not a simulated method "
                             f"(known: {', '.join(SIMULATED_METHODS)})")
        if not concepts:
            raise InputError("toyworld-unlearned: needs the concepts to erase")
        self.method = method
        self.settings = settings
        self.inner = ToyWorldGenerator(settings, concepts)
        self.words = sorted({w for spec in concepts for w in _WORDS[method](spec)}, key=len, reverse=True)

    def rewrite(self, prompt: str) -> str:
        return strip_words(prompt, self.words)

    def generate(self, prompts: list[str], seeds: list[int]) -> GenerationOutput:
        out = self.inner.generate([self.rewrite(p) for p in prompts], seeds)
        if self.method == "degrade":
            out.images = [degrade(image, seed) for image, seed in zip(out.images, seeds)]
        out.params.update(model_id=f"toyworld-unlearned:{self.method} (simulation)",
                          model_revision=f"{RENDERER_VERSION}+{SIMULATION_VERSION}")
        return out
