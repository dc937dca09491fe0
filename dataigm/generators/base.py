"""The generator interface: a batch of prompts and one seed per image in; images and the
parameters actually used out.

One seed per image (never one global seed) is what makes any single image reproducible alone
from its manifest row: regenerate(prompt, seed) == the stored image.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from dataigm.devices import check_device
from dataigm.registry import Registry

if TYPE_CHECKING:
    from PIL import Image

    from dataigm.taxonomy import ConceptSpec


@dataclass
class GenerationSettings:
    """The `generation:` section of a preset."""

    # A registered generator (GENERATORS below): toyworld, tiny, diffusers, or a plug-in's name.
    generator: str = "toyworld"
    # diffusers: a hub id or a local folder that DiffusionPipeline.from_pretrained loads.
    # tiny: the folder the tiny pipeline is built into (created if missing).
    model: str | None = None
    revision: str | None = None
    # Component overrides (diffusers and tiny generators): the form most unlearning methods
    # release, a UNet or text encoder of their own on top of the original pipeline. Each is a
    # .safetensors file (a state dict in diffusers layout) or a folder saved with save_pretrained
    # (or a pipeline folder with a unet/ or text_encoder/ subfolder).
    unet: str | None = None
    text_encoder: str | None = None
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: str = "cpu"       # auto | cpu | cuda | cuda:N (auto: this process's GPU when there is one)
    # A diffusers scheduler class name (e.g. DPMSolverMultistepScheduler); None keeps the model's.
    scheduler: str | None = None
    steps: int = 25
    guidance: float = 7.5
    height: int = 512
    width: int = 512
    batch_size: int = 4
    images_per_prompt: int = 1
    # The safety checker stays on unless the config says otherwise (dataset builders for nsfw
    # concepts need the raw outputs, and must say so explicitly).
    disable_safety_checker: bool = False
    # Images per shard: the unit of work that is resumed and written atomically.
    shard_size: int = 64
    seed: int = 0
    # torch.compile the UNet and the VAE decode (channels_last, fixed batch shapes: the last
    # batch is padded). Pays a one-off compilation per process for faster batches on a GPU.
    compile: bool = False
    compile_backend: str = "inductor"
    # Threads that encode and write images while the generator makes the next batch.
    writer_threads: int = 4

    def validate(self) -> None:
        if self.generator not in GENERATORS:
            raise ValueError(f"generator: unknown generator '{self.generator}' "
                             f"(known: {', '.join(GENERATORS.names())})")
        if self.generator == "diffusers" and not self.model:
            raise ValueError("model: required when generator is 'diffusers' (a hub id or a local folder)")
        check_device(self.device)
        for name in ("unet", "text_encoder"):
            if getattr(self, name) and self.generator not in ("diffusers", "tiny"):
                raise ValueError(f"{name}: a component override needs a diffusers pipeline "
                                 f"(generator 'diffusers' or 'tiny'), not '{self.generator}'")
        for name in ("steps", "height", "width", "batch_size", "images_per_prompt", "shard_size", "writer_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.height % 8 or self.width % 8:
            raise ValueError(f"height: height and width must be multiples of 8, got {self.height}x{self.width}")
        if self.guidance < 0:
            raise ValueError(f"guidance: must be >= 0, got {self.guidance}")


@dataclass
class GenerationOutput:
    images: list["Image.Image"]
    # Parameters actually used, recorded in every manifest row: model_id, model_revision,
    # scheduler, steps, guidance, height, width, dtype.
    params: dict[str, Any] = field(default_factory=dict)


class Generator(abc.ABC):
    """Turns prompts into images, one seed per image. Built as `cls(settings, concepts)`."""

    name: str = "base"
    # Seconds the first compiled call took (compilation included); None when nothing compiled.
    compile_seconds: float | None = None

    @abc.abstractmethod
    def generate(self, prompts: list[str], seeds: list[int]) -> GenerationOutput:
        """Return one RGB PIL image per (prompt, seed), in order."""


# Generators by the name a preset's `generation.generator` gives; plug-ins register through the
# `dataigm.generators` entry-point group. Heavy imports happen only for the one chosen.
GENERATORS: Registry[type[Generator]] = Registry("generator", "dataigm.generators")
GENERATORS.register("toyworld", "dataigm.toyworld:ToyWorldGenerator")
GENERATORS.register("tiny", "dataigm.generators.tiny:TinyDiffusionGenerator")
GENERATORS.register("diffusers", "dataigm.generators.diffusers_gen:DiffusersGenerator")
# Simulated unlearning methods on top of toyworld (the demo's scorecard): generation.model names
# the simulated failure (dataigm.toyworld.simulated.SIMULATED_METHODS).
GENERATORS.register("toyworld-unlearned", "dataigm.toyworld.simulated:SimulatedUnlearningGenerator")


def make_generator(settings: GenerationSettings, concepts: list["ConceptSpec"]) -> Generator:
    """Build the generator a preset names."""
    return GENERATORS.get(settings.generator, "generation.generator")(settings, concepts)
