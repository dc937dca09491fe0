"""Simulated unlearning methods on top of toyworld, for the demo's scorecard.

SIMULATIONS, not unlearning: each "method" is toyworld (the original model, ORG) behind a prompt
rewrite and, for one of them, a pixel post-processing step. Toyworld draws a concept exactly when
the prompt names one of its aliases, so rewriting the prompt is all it takes to make a method
forget, over-forget or only pretend to. Each fails in its own way, so the demo can show each
metric catching its own failure:

- `erase_clean`: removes every word toyworld draws the erased concepts for (aliases, and the
  misspellings and translations of words.CONCEPT_VARIANTS). The concept is gone under any name;
  everything else is exactly what ORG draws for the reference prompt.
- `over_erase`: removes the concepts and the things near them too: the subjects of attribute
  concepts (the person of a nudity prompt, the sunflower vase of a style prompt), the
  unrelated and neighbour entities of entity concepts (the cat of an unrelated prompt) and the
  concept's declared neighbours (`neighbours:`; a neighbour concept under any of its aliases).
  Preservation metrics (FID, KID, LPIPS against ORG, subject kept, CSDR) and the neighbour
  matrix catch it.
- `degrade`: erases cleanly, then blurs, posterises and adds noise to every image. FID and KID
  against ORG catch it.
- `word_hide`: removes only the exact alias words the concept's forget prompts use (its concept
  phrases), so the concept comes back under a synonym (another alias), a misspelling or another
  language. Post-attack rates on those prompt sets (robustness) catch it.

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
from dataigm.toyworld.words import concept_variants

if TYPE_CHECKING:
    from dataigm.taxonomy import ConceptSpec

# Bump when a simulation changes what it draws (recorded as model_revision).
SIMULATION_VERSION = "sim-2"

SIMULATED_METHODS: dict[str, str] = {
    "erase_clean": "erases the concept under every name (aliases, misspellings, translations); the rest as ORG",
    "over_erase": "erases the concept and the things near it (subjects, unrelated and neighbour entities)",
    "degrade": "erases cleanly, then blurs, posterises and adds noise to every image",
    "word_hide": "erases only the alias words of the forget prompts; the concept returns under a synonym, "
                 "a misspelling or another language",
}


def all_names(spec: "ConceptSpec") -> list[str]:
    """Every word toyworld draws the concept for: its aliases and variant words."""
    return list(spec.aliases) + concept_variants(spec.concept)


def forget_prompt_words(spec: "ConceptSpec") -> list[str]:
    """The aliases the concept's forget prompts use (those inside its concept phrases): all a
    method that learned only its training prompts' words would hide."""
    return [a for a in spec.aliases
            if any(re.search(rf"(?<!\w){re.escape(a)}(?!\w)", p, re.IGNORECASE) for p in spec.prompts.concept_phrases)]


def nearby_words(spec: "ConceptSpec") -> list[str]:
    """The concept's names plus what sits near it: subjects, unrelated and neighbour entities, and
    its declared neighbours (a neighbour concept by all of its names)."""
    subjects = [s for group in spec.prompts.groups.values() for s in group]
    near = []
    for _, name in spec.neighbours.items():
        other = spec.neighbour_spec(name)
        near += all_names(other) if other is not None else [name]
    return all_names(spec) + subjects + list(spec.prompts.unrelated) + list(spec.prompts.neighbours) + near


_WORDS: dict[str, Callable[["ConceptSpec"], list[str]]] = {
    "erase_clean": all_names,
    "over_erase": nearby_words,
    "degrade": all_names,
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
