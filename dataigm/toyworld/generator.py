"""ToyWorld behind the Generator interface, as `generation.generator: toyworld` selects it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from dataigm.errors import InputError
from dataigm.generators.base import GenerationOutput, GenerationSettings, Generator
from dataigm.toyworld.render import RENDERER_VERSION, render

if TYPE_CHECKING:
    from dataigm.taxonomy import ConceptSpec


class ToyWorldGenerator(Generator):
    """The procedural demo world behind the Generator interface."""

    name = "toyworld"

    def __init__(self, settings: GenerationSettings, concepts: Sequence["ConceptSpec"] = ()) -> None:
        self.settings = settings
        self.concepts = list(concepts)

    def params(self) -> dict[str, object]:
        """What a manifest row records; toyworld has no scheduler, steps or guidance."""
        return {"model_id": "toyworld", "model_revision": RENDERER_VERSION, "scheduler": "none",
                "steps": 0, "guidance": 0.0, "height": self.settings.height,
                "width": self.settings.width, "dtype": "uint8"}

    def generate(self, prompts: list[str], seeds: list[int]) -> GenerationOutput:
        if len(prompts) != len(seeds):
            raise InputError(f"toyworld: {len(prompts)} prompts but {len(seeds)} seeds (one seed per image)")
        images = [render(p, s, self.settings.height, self.settings.width, self.concepts)
                  for p, s in zip(prompts, seeds)]
        return GenerationOutput(images=images, params=self.params())
